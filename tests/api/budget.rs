//! The round-trip budget of a login, counted from what DynamoDB Local (through a counting proxy)
//! and the provider emulator received. Not timed: a later change that adds a request to the
//! login path fails here.

use emulator::OidcProvider;
use local_stack::budget::*;
use local_stack::counting_proxy::{CountingProxy, DynamoCall};
use local_stack::demo::{GITHUB_CLIENT_ID, GOOGLE_CLIENT_ID};
use serde_json::json;

use crate::helpers::*;

struct Counted {
    t: TestApp,
    proxy: CountingProxy,
}

impl Counted {
    async fn new() -> Counted {
        let (t, proxy) = spawn_app_behind_proxy().await;
        Counted { t, proxy }
    }

    /// Runs `login`, asserting it answers 200; returns the DynamoDB calls and provider requests
    /// it made.
    async fn count(
        &self,
        what: &str,
        login: impl std::future::Future<Output = (u16, serde_json::Value)>,
    ) -> (Vec<DynamoCall>, u64) {
        self.proxy.take();
        let asked = self.t.emulator.request_count();
        let (status, body) = login.await;
        assert_eq!(status, 200, "{what}: {body}");
        for secret in [&body["user_key"], &body["data"]["authToken"]] {
            self.t.remember(secret.as_str().unwrap_or_default());
        }
        (self.proxy.take(), self.t.emulator.request_count() - asked)
    }
}

fn ops(calls: &[DynamoCall]) -> Vec<&str> {
    calls.iter().map(|c| c.operation.as_str()).collect()
}

/// The writes of the user id counter (`USERIDS#`): the block's `ADD`.
fn counter_writes(calls: &[DynamoCall]) -> usize {
    calls.iter().filter(|c| c.operation == "UpdateItem" && c.keys.iter().any(|k| k.pk.starts_with("USERIDS#"))).count()
}

/// Issue 30: once an environment has checked the API key (and so read the instance's settings),
/// a login reads the instance's partition no more within `API_KEY_CACHE_SECS`.
fn assert_no_instance_read(calls: &[DynamoCall], what: &str) {
    let pk = format!("INST#{INSTANCE}");
    assert!(!calls.iter().any(|c| c.keys.iter().any(|k| k.pk == pk)), "{what} read {pk}: {:?}", ops(calls));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_stay_within_the_round_trip_budget() {
    let c = Counted::new().await;
    let t = &c.t;
    // This environment's first sign-up reserves its block of user ids (one `ADD`); the first
    // logins after it take their ids from the block, with no counter write (issue 30).
    let (_, token) = t.facebook_user("Budget Syncano", None);
    let syncano = || t.syncano_at("facebook", json!({ "access_token": token }));
    let (first, provider) = c.count("Syncano first login", syncano()).await;
    assert!(first.len() <= FIRST_DYNAMODB_MAX, "Syncano first login: {:?}", ops(&first));
    assert!(provider <= 1, "Syncano first login: {provider} provider requests");
    let (again, provider) = c.count("Syncano returning login", syncano()).await;
    // Issue 30: the environment keeps the API key's check; the identity lookup is all.
    assert!(again.len() <= CACHED_RETURNING_DYNAMODB_MAX, "Syncano returning login: {:?}", ops(&again));
    assert!(provider <= RETURNING_PROVIDER_MAX, "Syncano returning login: {provider} provider requests");

    let (_, token) = t.facebook_user("Budget Rocket", None);
    let rocketchat = || async { json(t.rocketchat_login(&token).await).await };
    let (first, _) = c.count("Rocket.Chat first login", rocketchat()).await;
    // The instance's settings are kept since the Syncano login's key check read them.
    assert!(first.len() <= CACHED_FIRST_DYNAMODB_MAX, "Rocket.Chat first login: {:?}", ops(&first));
    assert_no_instance_read(&first, "Rocket.Chat first login");
    assert!(first.len() <= FIRST_FROM_BLOCK_DYNAMODB_MAX, "Rocket.Chat first login: {:?}", ops(&first));
    assert_eq!(counter_writes(&first), 0, "Rocket.Chat first login: its id comes from the block: {:?}", ops(&first));
    let (again, provider) = c.count("Rocket.Chat returning login", rocketchat()).await;
    assert!(again.len() <= RETURNING_DYNAMODB_MAX, "Rocket.Chat returning login: {:?}", ops(&again));
    assert!(provider <= RETURNING_PROVIDER_MAX, "Rocket.Chat returning login: {provider} provider requests");

    // An ID token: the signing key is fetched once, then a returning login asks no provider.
    let sub = t.emulator.create_oidc_user(OidcProvider::Google, "Budget Google", None, false);
    let google = || {
        let token = t.emulator.issue_id_token(OidcProvider::Google, &sub, GOOGLE_CLIENT_ID, None);
        t.remember(&token);
        async move { t.syncano_at("google-oauth2", json!({ "access_token": token })).await }
    };
    let (first, _) = c.count("Google first login", google()).await;
    // A Syncano first login with the key and settings kept: no session write, one fewer.
    assert!(first.len() < CACHED_FIRST_DYNAMODB_MAX, "Google first login: {:?}", ops(&first));
    assert_no_instance_read(&first, "Google first login");
    assert!(first.len() <= FIRST_FROM_BLOCK_DYNAMODB_MAX, "Google first login: {:?}", ops(&first));
    assert_eq!(counter_writes(&first), 0, "Google first login: its id comes from the block: {:?}", ops(&first));
    let (again, provider) = c.count("Google returning login", google()).await;
    assert!(again.len() <= CACHED_RETURNING_DYNAMODB_MAX, "Google returning login: {:?}", ops(&again));
    assert_eq!(provider, 0, "an ID token with a cached key needs no provider round trip");

    // GitHub: its verified email (a second request) is read for a new user only.
    let id = t.emulator.create_github_user("budget", Some("Budget GitHub"), &[("budget@example.com", true, true)]);
    let token = t.emulator.issue_github_token(id, GITHUB_CLIENT_ID);
    t.remember(&token);
    let github = || t.syncano_at("github", json!({ "access_token": token }));
    let (first, provider) = c.count("GitHub first login", github()).await;
    assert!(first.len() < CACHED_FIRST_DYNAMODB_MAX, "GitHub first login: {:?}", ops(&first));
    assert_no_instance_read(&first, "GitHub first login");
    assert!(first.len() <= FIRST_FROM_BLOCK_DYNAMODB_MAX, "GitHub first login: {:?}", ops(&first));
    assert_eq!(provider, 2, "GitHub first login: token check and /user/emails");
    let (again, provider) = c.count("GitHub returning login", github()).await;
    assert!(again.len() <= CACHED_RETURNING_DYNAMODB_MAX, "GitHub returning login: {:?}", ops(&again));
    assert!(provider <= RETURNING_PROVIDER_MAX, "GitHub returning login: {provider} provider requests");

    // A new execution environment's first sign-up reserves its block: one `ADD` more.
    let base = crate::user_ids::environment(t).await;
    let (_, token) = t.facebook_user("Budget New Environment", None);
    let (first, _) =
        c.count("first login in a new environment", crate::user_ids::syncano_at_base(t, &base, &token)).await;
    assert!(first.len() <= FIRST_DYNAMODB_MAX, "first login in a new environment: {:?}", ops(&first));
    assert_eq!(counter_writes(&first), 1, "the block's ADD: {:?}", ops(&first));
    t.assert_logs_clean();
}

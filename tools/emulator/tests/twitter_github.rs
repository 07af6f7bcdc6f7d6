//! The Twitter/X and GitHub parts of the emulator over real HTTP, and social-login's verifiers
//! (`shared::providers::{TwitterVerifier, GitHubVerifier}`) against them.

mod common;

use std::num::NonZeroU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{start_with, Env};
use emulator::{EmulatorConfig, Fault, GitHubApp, TwitterApp};
use oauth1_request as oauth;
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use shared::config::{GitHubConfig, TwitterConfig};
use shared::domain::identity::Provider;
use shared::domain::secret::Secret;
use shared::providers::{Credentials, GitHubVerifier, ProviderError, TwitterVerifier};

const OUR_KEY: &str = "our-consumer-key";
const OUR_SECRET: &str = "our-consumer-secret";
const OTHER_KEY: &str = "other-consumer-key";
const OTHER_SECRET: &str = "other-consumer-secret";

const OUR_CLIENT: &str = "Iv1.0000000000000001";
const OUR_CLIENT_SECRET: &str = "our-client-secret";
const OTHER_CLIENT: &str = "Iv1.0000000000000002";
const OTHER_CLIENT_SECRET: &str = "other-client-secret";

const VERIFY_PATH: &str = "/twitter/1.1/account/verify_credentials.json";
const VERIFY_QUERY: [(&str, &str); 2] = [("include_email", "true"), ("skip_status", "true")];

async fn start() -> Env {
    start_with(EmulatorConfig {
        twitter_apps: vec![
            TwitterApp { consumer_key: OUR_KEY.into(), consumer_secret: OUR_SECRET.into() },
            TwitterApp { consumer_key: OTHER_KEY.into(), consumer_secret: OTHER_SECRET.into() },
        ],
        github_apps: vec![
            GitHubApp { client_id: OUR_CLIENT.into(), client_secret: OUR_CLIENT_SECRET.into() },
            GitHubApp { client_id: OTHER_CLIENT.into(), client_secret: OTHER_CLIENT_SECRET.into() },
        ],
        ..EmulatorConfig::default()
    })
    .await
}

async fn json_of(request: RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("request");
    let status = response.status();
    let body = response.json::<Value>().await.expect("a JSON body");
    (status, body)
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
}

/// How a test signs an OAuth 1.0a request.
struct Signing<'a> {
    consumer: (&'a str, &'a str),
    token: (&'a str, &'a str),
    /// The URL signed (defaults to the one requested).
    signed_url: Option<String>,
    nonce: Option<&'a str>,
    timestamp: Option<u64>,
}

impl<'a> Signing<'a> {
    fn new(consumer: (&'a str, &'a str), token: (&'a str, &'a str)) -> Signing<'a> {
        Signing { consumer, token, signed_url: None, nonce: None, timestamp: None }
    }
}

impl Env {
    fn twitter_config(&self, consumer_key: &str, consumer_secret: &str) -> TwitterConfig {
        TwitterConfig {
            consumer_key: consumer_key.into(),
            consumer_secret: Secret::new(consumer_secret),
            api_url: format!("{}/twitter", self.base),
            accept_oauth2_bearer: true,
        }
    }

    fn twitter(&self) -> TwitterVerifier {
        TwitterVerifier::new(&self.twitter_config(OUR_KEY, OUR_SECRET), self.client.clone())
    }

    fn github_with(&self, client_secret: &str) -> GitHubVerifier {
        let config = GitHubConfig {
            client_id: OUR_CLIENT.into(),
            client_secret: Secret::new(client_secret),
            api_url: format!("{}/github", self.base),
        };
        GitHubVerifier::new(&config, self.client.clone())
    }

    fn github(&self) -> GitHubVerifier {
        self.github_with(OUR_CLIENT_SECRET)
    }

    /// `GET verify_credentials` signed as `signing` says, with `query` (sorted by name).
    async fn verify_credentials(&self, signing: &Signing<'_>, query: &[(&str, &str)]) -> (StatusCode, Value) {
        let url = self.url(VERIFY_PATH);
        let token = oauth::Token::from_parts(signing.consumer.0, signing.consumer.1, signing.token.0, signing.token.1);
        let mut builder = oauth::Builder::with_token(token, oauth::HMAC_SHA1);
        builder.nonce(signing.nonce).timestamp(signing.timestamp.and_then(NonZeroU64::new));
        let signed = signing.signed_url.clone().unwrap_or_else(|| url.clone());
        let authorization = builder.get(&signed, &oauth::ParameterList::new(query.to_vec()));
        json_of(self.client.get(url).query(query).header("Authorization", authorization)).await
    }

    fn twitter_user_with_token(&self, consumer_key: &str) -> (String, String, String) {
        let user = self.emulator.create_twitter_user("Ada Lovelace", "ada", Some("ada@example.com"));
        let (token, secret) = self.emulator.issue_twitter_token(&user, consumer_key);
        (user, token, secret)
    }

    async fn check_github_token(&self, path_client: &str, auth: (&str, &str), token: &str) -> (StatusCode, Value) {
        let request = self
            .client
            .post(self.url(&format!("/github/applications/{path_client}/token")))
            .basic_auth(auth.0, Some(auth.1))
            .header("Accept", "application/vnd.github+json")
            .json(&json!({ "access_token": token }));
        json_of(request).await
    }

    fn github_user_with_token(&self, client_id: &str) -> (u64, String) {
        let user = self.emulator.create_github_user(
            "octocat",
            Some("The Octocat"),
            &[("1+octocat@users.noreply.github.com", true, false), ("octo@example.com", true, true)],
        );
        let token = self.emulator.issue_github_token(user, client_id);
        (user, token)
    }
}

fn pair(token: &str, secret: &str) -> Credentials {
    Credentials {
        access_token: Some(Secret::new(token)),
        token_secret: Some(Secret::new(secret)),
        ..Credentials::default()
    }
}

fn bearer(token: &str) -> Credentials {
    Credentials { access_token: Some(Secret::new(token)), ..Credentials::default() }
}

fn assert_twitter_error(body: &Value, code: u64) {
    assert_eq!(body["errors"][0]["code"], json!(code), "{body}");
    assert!(body["errors"][0]["message"].is_string(), "{body}");
}

// ---------------------------------------------------------------------------------------------
// Twitter over HTTP

#[tokio::test]
async fn verify_credentials_checks_a_real_signature_and_answers_the_user() {
    let env = start().await;
    let (user, token, secret) = env.twitter_user_with_token(OUR_KEY);
    assert!(token.starts_with(&format!("{user}-")), "{token}");
    assert_eq!(user.len(), 19, "{user}");

    let (status, body) =
        env.verify_credentials(&Signing::new((OUR_KEY, OUR_SECRET), (&token, &secret)), &VERIFY_QUERY).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id_str"], json!(user));
    assert_eq!(body["id"].as_u64().map(|id| id.to_string()), Some(user.clone()));
    assert_eq!(body["name"], "Ada Lovelace");
    assert_eq!(body["screen_name"], "ada");
    assert_eq!(body["email"], "ada@example.com");
    assert!(body.get("status").is_none(), "skip_status: {body}");
    let avatar = body["profile_image_url_https"].as_str().expect("avatar");
    assert!(avatar.starts_with("https://pbs.twimg.com/profile_images/"), "{avatar}");

    // Without include_email, no email; without skip_status, a status field.
    let (status, body) = env.verify_credentials(&Signing::new((OUR_KEY, OUR_SECRET), (&token, &secret)), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("email").is_none(), "{body}");
    assert!(body.get("status").is_some(), "{body}");

    // A user without an email: null.
    let quiet = env.emulator.create_twitter_user("Quiet", "quiet", None);
    let (token, secret) = env.emulator.issue_twitter_token(&quiet, OUR_KEY);
    let (status, body) =
        env.verify_credentials(&Signing::new((OUR_KEY, OUR_SECRET), (&token, &secret)), &VERIFY_QUERY).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], Value::Null, "{body}");
}

#[tokio::test]
async fn verify_credentials_refuses_what_twitter_refuses() {
    let env = start().await;
    let (_, token, secret) = env.twitter_user_with_token(OUR_KEY);
    let ours = (OUR_KEY, OUR_SECRET);

    // Wrong token secret, wrong consumer secret: code 32.
    let (status, body) = env.verify_credentials(&Signing::new(ours, (&token, "not-the-secret")), &VERIFY_QUERY).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_twitter_error(&body, 32);
    let (status, body) =
        env.verify_credentials(&Signing::new((OUR_KEY, "wrong"), (&token, &secret)), &VERIFY_QUERY).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_twitter_error(&body, 32);

    // Signed by another (known) consumer with its own secret: the token is not its: code 32.
    let (status, body) =
        env.verify_credentials(&Signing::new((OTHER_KEY, OTHER_SECRET), (&token, &secret)), &VERIFY_QUERY).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_twitter_error(&body, 32);

    // Unknown consumer key: code 32.
    let (status, body) = env.verify_credentials(&Signing::new(("nobody", "x"), (&token, &secret)), &VERIFY_QUERY).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_twitter_error(&body, 32);

    // Signed for another URL: without the mount prefix, another host spelling, other query.
    let port = env.base.rsplit(':').next().expect("port");
    for signed in [
        format!("{}/1.1/account/verify_credentials.json", env.base),
        format!("http://localhost:{port}{VERIFY_PATH}"),
        format!("https://127.0.0.1:{port}{VERIFY_PATH}"),
    ] {
        let signing = Signing { signed_url: Some(signed.clone()), ..Signing::new(ours, (&token, &secret)) };
        let (status, body) = env.verify_credentials(&signing, &VERIFY_QUERY).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{signed}: {body}");
        assert_twitter_error(&body, 32);
    }
    let request = {
        let t = oauth::Token::from_parts(OUR_KEY, OUR_SECRET, token.as_str(), secret.as_str());
        let authorization =
            oauth::get(env.url(VERIFY_PATH), &oauth::ParameterList::new(VERIFY_QUERY), &t, oauth::HMAC_SHA1);
        env.client
            .get(env.url(VERIFY_PATH))
            .query(&[("include_email", "false"), ("skip_status", "true")])
            .header("Authorization", authorization)
    };
    let (status, body) = json_of(request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "tampered query: {body}");
    assert_twitter_error(&body, 32);

    // A replayed nonce: code 32; a stale timestamp: code 135.
    let once = Signing { nonce: Some("fixed-nonce-1"), ..Signing::new(ours, (&token, &secret)) };
    assert_eq!(env.verify_credentials(&once, &VERIFY_QUERY).await.0, StatusCode::OK);
    let (status, body) = env.verify_credentials(&once, &VERIFY_QUERY).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_twitter_error(&body, 32);
    let stale = Signing { timestamp: Some(unix_now() - 3600), ..Signing::new(ours, (&token, &secret)) };
    let (status, body) = env.verify_credentials(&stale, &VERIFY_QUERY).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_twitter_error(&body, 135);

    // Unknown and revoked tokens: code 89.
    let (status, body) = env.verify_credentials(&Signing::new(ours, ("1-nope", &secret)), &VERIFY_QUERY).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_twitter_error(&body, 89);
    env.emulator.revoke_twitter_token(&token);
    let (status, body) = env.verify_credentials(&Signing::new(ours, (&token, &secret)), &VERIFY_QUERY).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_twitter_error(&body, 89);

    // No OAuth header at all: 400 code 215.
    let (status, body) = json_of(env.client.get(env.url(VERIFY_PATH))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_twitter_error(&body, 215);
}

#[tokio::test]
async fn users_me_answers_bearer_tokens_the_emulator_issued() {
    let env = start().await;
    let user = env.emulator.create_twitter_user("Grace Hopper", "grace", Some("grace@example.com"));
    let bearer = env.emulator.issue_twitter_bearer(&user, OUR_KEY);
    let me = |token: String, query: &'static [(&'static str, &'static str)]| {
        env.client.get(env.url("/twitter/2/users/me")).query(query).bearer_auth(token)
    };

    let (status, body) = json_of(me(bearer.clone(), &[("user.fields", "profile_image_url")])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["id"], json!(user));
    assert_eq!(body["data"]["name"], "Grace Hopper");
    assert_eq!(body["data"]["username"], "grace");
    assert!(body["data"]["profile_image_url"].as_str().is_some_and(|u| u.starts_with("https://")), "{body}");
    assert!(body["data"].get("email").is_none(), "{body}");

    let (status, body) = json_of(me(bearer.clone(), &[])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["data"].get("profile_image_url").is_none(), "only what was asked: {body}");

    let unauthorized = json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"});
    let (_, oauth1_token, _) = env.twitter_user_with_token(OUR_KEY);
    for token in ["garbage".to_string(), oauth1_token] {
        let (status, body) = json_of(me(token, &[])).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body, unauthorized);
    }
    env.emulator.revoke_twitter_token(&bearer);
    let (status, body) = json_of(me(bearer, &[])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body, unauthorized);
}

#[tokio::test]
async fn twitter_admin_routes_create_users_and_tokens() {
    let env = start().await;
    let admin = |path: &str, body: Value| env.client.post(env.url(path)).json(&body);
    let (status, body) = json_of(admin("/_emulator/twitter/users", json!({"name": "Ada", "screen_name": "ada"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let user = body["id_str"].as_str().expect("id_str").to_string();
    let (status, body) =
        json_of(admin("/_emulator/twitter/tokens", json!({"user": user, "consumer_key": OUR_KEY}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["oauth_token"].as_str().expect("token").to_string();
    let secret = body["oauth_token_secret"].as_str().expect("secret").to_string();
    let (status, _) = env.verify_credentials(&Signing::new((OUR_KEY, OUR_SECRET), (&token, &secret)), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) =
        json_of(admin("/_emulator/twitter/bearer", json!({"user": user, "consumer_key": OUR_KEY}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].as_str().is_some_and(|t| t.len() > 40), "{body}");
    let (status, _) = json_of(admin("/_emulator/twitter/tokens/revoke", json!({"token": token}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = env.verify_credentials(&Signing::new((OUR_KEY, OUR_SECRET), (&token, &secret)), &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_twitter_error(&body, 89);

    let (status, _) = json_of(admin("/_emulator/twitter/tokens", json!({"user": "1", "consumer_key": OUR_KEY}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = json_of(admin("/_emulator/twitter/tokens", json!({"user": user, "consumer_key": "nope"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = json_of(admin("/_emulator/twitter/users", json!({"name": 1}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

// ---------------------------------------------------------------------------------------------
// GitHub over HTTP

#[tokio::test]
async fn github_token_check_answers_only_the_apps_own_valid_tokens() {
    let env = start().await;
    let (user, token) = env.github_user_with_token(OUR_CLIENT);
    assert!(token.starts_with("gho_") && token.len() == 40, "{token}");
    assert!(token[4..].bytes().all(|b| b.is_ascii_alphanumeric()), "{token}");

    let (status, body) = env.check_github_token(OUR_CLIENT, (OUR_CLIENT, OUR_CLIENT_SECRET), &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["app"]["client_id"], OUR_CLIENT);
    assert_eq!(body["token"], json!(token));
    assert_eq!(body["user"]["id"], json!(user));
    assert_eq!(body["user"]["login"], "octocat");
    assert_eq!(body["user"]["name"], "The Octocat");
    assert_eq!(body["scopes"], json!(["read:user", "user:email"]));
    assert!(body["user"]["avatar_url"]
        .as_str()
        .is_some_and(|u| u.starts_with("https://avatars.githubusercontent.com/")));

    // Our app's credentials wrong or missing, or another app's on our path: 401 Bad credentials.
    for auth in [(OUR_CLIENT, "wrong"), (OTHER_CLIENT, OTHER_CLIENT_SECRET), (OUR_CLIENT, "")] {
        let (status, body) = env.check_github_token(OUR_CLIENT, auth, &token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["message"], "Bad credentials");
        assert!(body["documentation_url"].is_string(), "{body}");
    }
    let (status, body) = json_of(
        env.client
            .post(env.url(&format!("/github/applications/{OUR_CLIENT}/token")))
            .json(&json!({"access_token": token})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // Asked by the other app: our token is not its: 404.
    let (status, body) = env.check_github_token(OTHER_CLIENT, (OTHER_CLIENT, OTHER_CLIENT_SECRET), &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["message"], "Not Found");

    // Unknown and revoked tokens: 404; no token: 422; not JSON: 400.
    let (status, _) = env.check_github_token(OUR_CLIENT, (OUR_CLIENT, OUR_CLIENT_SECRET), "gho_unknown").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let request = env
        .client
        .post(env.url(&format!("/github/applications/{OUR_CLIENT}/token")))
        .basic_auth(OUR_CLIENT, Some(OUR_CLIENT_SECRET))
        .json(&json!({}));
    assert_eq!(json_of(request).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let request = env
        .client
        .post(env.url(&format!("/github/applications/{OUR_CLIENT}/token")))
        .basic_auth(OUR_CLIENT, Some(OUR_CLIENT_SECRET))
        .body("{");
    assert_eq!(json_of(request).await.0, StatusCode::BAD_REQUEST);
    env.emulator.revoke_github_token(&token);
    let (status, body) = env.check_github_token(OUR_CLIENT, (OUR_CLIENT, OUR_CLIENT_SECRET), &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn github_user_emails_needs_a_live_token_with_the_email_scope() {
    let env = start().await;
    let (user, token) = env.github_user_with_token(OUR_CLIENT);
    let emails = |token: Option<&str>| {
        let request = env.client.get(env.url("/github/user/emails"));
        match token {
            Some(t) => request.bearer_auth(t),
            None => request,
        }
    };
    let (status, body) = json_of(emails(Some(&token))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body.as_array().map(Vec::len), Some(2), "{body}");
    assert_eq!(
        body[1],
        json!({"email": "octo@example.com", "primary": true, "verified": true, "visibility": "private"})
    );

    let (status, body) = json_of(emails(None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["message"], "Requires authentication");
    let (status, body) = json_of(emails(Some("gho_nope"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["message"], "Bad credentials");

    let narrow = env.emulator.issue_github_token_with_scopes(user, OUR_CLIENT, &["read:user"]);
    let (status, body) = json_of(emails(Some(&narrow))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let (status, body) =
        json_of(env.client.get(env.url("/github/user")).header("Authorization", format!("token {token}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], json!(user));
    assert_eq!(body["login"], "octocat");

    env.emulator.revoke_github_token(&token);
    assert_eq!(json_of(emails(Some(&token))).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn github_admin_routes_create_users_and_tokens() {
    let env = start().await;
    let admin = |path: &str, body: Value| env.client.post(env.url(path)).json(&body);
    let (status, body) = json_of(admin(
        "/_emulator/github/users",
        json!({"login": "hubot", "emails": [{"email": "hubot@example.com", "verified": true, "primary": true}]}),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let user = body["id"].as_u64().expect("id");
    let (status, body) =
        json_of(admin("/_emulator/github/tokens", json!({"user": user, "client_id": OUR_CLIENT}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().expect("token").to_string();
    let identity = env.github().verify_first_login(&bearer(&token)).await.expect("identity");
    assert_eq!(identity.email.as_deref(), Some("hubot@example.com"));
    assert_eq!(identity.name.as_deref(), Some("hubot"));
    let (status, _) = json_of(admin("/_emulator/github/tokens/revoke", json!({"access_token": token}))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(matches!(env.github().verify(&bearer(&token)).await, Err(ProviderError::Rejected(_))));
    let (status, _) = json_of(admin("/_emulator/github/tokens", json!({"user": 1, "client_id": OUR_CLIENT}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = json_of(admin("/_emulator/github/tokens", json!({"user": user, "client_id": "nope"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn provider_requests_are_counted_and_faulted_admin_requests_are_not() {
    let env = start().await;
    let before = env.emulator.request_count();
    let (status, _) = json_of(env.client.post(env.url("/_emulator/github/users")).json(&json!({"login": "x"}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(env.emulator.request_count(), before);

    env.emulator.set_fault(Fault::Status500);
    let (status, body) = json_of(env.client.get(env.url(VERIFY_PATH))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_twitter_error(&body, 131);
    let (status, body) = json_of(env.client.get(env.url("/github/user/emails"))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(body["message"].is_string(), "{body}");
    assert_eq!(env.emulator.request_count(), before + 2);

    env.emulator.set_fault(Fault::RateLimited);
    let (status, body) = json_of(env.client.get(env.url(VERIFY_PATH))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_twitter_error(&body, 88);
    let response = env.client.get(env.url("/github/user")).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.headers()["x-ratelimit-remaining"], "0");

    // Admin routes still work while a fault is set.
    let (status, _) =
        json_of(env.client.post(env.url("/_emulator/twitter/users")).json(&json!({"name": "a", "screen_name": "a"})))
            .await;
    assert_eq!(status, StatusCode::OK);
    env.emulator.set_fault(Fault::None);
    assert_eq!(env.emulator.request_count(), before + 4);
}

// ---------------------------------------------------------------------------------------------
// The verifiers against the emulator

#[tokio::test]
async fn twitter_verifier_accepts_our_apps_oauth1_pairs_in_one_request() {
    let env = start().await;
    let (user, token, secret) = env.twitter_user_with_token(OUR_KEY);
    let before = env.emulator.request_count();
    let identity = env.twitter().verify(&pair(&token, &secret)).await.expect("identity");
    assert_eq!(env.emulator.request_count(), before + 1);
    assert_eq!(identity.provider, Provider::Twitter);
    assert_eq!(identity.subject, user);
    assert_eq!(identity.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(identity.email.as_deref(), Some("ada@example.com"));
    assert!(identity.email_verified);
    assert!(identity.avatar_url.as_deref().is_some_and(|u| u.starts_with("https://pbs.twimg.com/")));

    // Twice in a row: a fresh nonce each time.
    assert!(env.twitter().verify(&pair(&token, &secret)).await.is_ok());

    // `token:secret` in one Syncano access_token is read as the same pair.
    let single = Credentials::from_single_token(Provider::Twitter, Secret::new(format!("{token}:{secret}")));
    assert_eq!(env.twitter().verify(&single).await.expect("identity").subject, user);

    // No email on the account: none, and not verified.
    let quiet = env.emulator.create_twitter_user("", "quiet", None);
    let (token, secret) = env.emulator.issue_twitter_token(&quiet, OUR_KEY);
    let identity = env.twitter().verify(&pair(&token, &secret)).await.expect("identity");
    assert_eq!(identity.email, None);
    assert!(!identity.email_verified);
    assert_eq!(identity.name.as_deref(), Some("quiet"));
}

#[tokio::test]
async fn twitter_verifier_rejects_other_apps_wrong_secrets_and_revoked_tokens() {
    let env = start().await;
    let verifier = env.twitter();

    let (_, other_token, other_secret) = env.twitter_user_with_token(OTHER_KEY);
    let result = verifier.verify(&pair(&other_token, &other_secret)).await;
    assert!(matches!(result, Err(ProviderError::Rejected(_))), "token of another consumer: {result:?}");

    let (_, token, secret) = env.twitter_user_with_token(OUR_KEY);
    let result = verifier.verify(&pair(&token, "wrong-secret")).await;
    assert!(matches!(result, Err(ProviderError::Rejected(_))), "wrong token secret: {result:?}");

    let result = verifier.verify(&pair("12-unknown", &secret)).await;
    assert!(matches!(result, Err(ProviderError::Rejected(_))), "unknown token: {result:?}");

    // Our consumer secret wrong: X cannot tell that from a bad token (documented).
    let misconfigured = TwitterVerifier::new(&env.twitter_config(OUR_KEY, "not-ours"), env.client.clone());
    assert!(matches!(misconfigured.verify(&pair(&token, &secret)).await, Err(ProviderError::Rejected(_))));

    assert!(verifier.verify(&pair(&token, &secret)).await.is_ok());
    env.emulator.revoke_twitter_token(&token);
    let result = verifier.verify(&pair(&token, &secret)).await;
    assert!(matches!(result, Err(ProviderError::Rejected(_))), "revoked: {result:?}");

    assert!(matches!(
        verifier.verify(&Credentials::default()).await,
        Err(ProviderError::MissingCredential("access_token"))
    ));
}

#[tokio::test]
async fn twitter_verifier_accepts_bearer_tokens_via_users_me() {
    let env = start().await;
    let user = env.emulator.create_twitter_user("Grace Hopper", "grace", Some("grace@example.com"));
    let token = env.emulator.issue_twitter_bearer(&user, OUR_KEY);
    let before = env.emulator.request_count();
    let identity = env.twitter().verify(&bearer(&token)).await.expect("identity");
    assert_eq!(env.emulator.request_count(), before + 1);
    assert_eq!(identity.subject, user);
    assert_eq!(identity.name.as_deref(), Some("Grace Hopper"));
    assert_eq!(identity.email, None, "/2/users/me gives no email");
    assert!(identity.avatar_url.is_some());

    // X cannot bind a bearer token to our app: one of another app is accepted (documented).
    let other = env.emulator.issue_twitter_bearer(&user, OTHER_KEY);
    assert_eq!(env.twitter().verify(&bearer(&other)).await.expect("identity").subject, user);

    env.emulator.revoke_twitter_token(&token);
    assert!(matches!(env.twitter().verify(&bearer(&token)).await, Err(ProviderError::Rejected(_))));
    assert!(matches!(env.twitter().verify(&bearer("nonsense")).await, Err(ProviderError::Rejected(_))));
}

#[tokio::test]
async fn twitter_verifier_reports_provider_trouble_as_such() {
    let env = start().await;
    let (_, token, secret) = env.twitter_user_with_token(OUR_KEY);
    let bearer_token = env.emulator.issue_twitter_bearer(&env.emulator.create_twitter_user("B", "b", None), OUR_KEY);
    for creds in [pair(&token, &secret), bearer(&bearer_token)] {
        env.emulator.set_fault(Fault::Status500);
        let result = env.twitter().verify(&creds).await;
        assert!(matches!(result, Err(ProviderError::Unavailable(_))), "{result:?}");
        env.emulator.set_fault(Fault::RateLimited);
        let result = env.twitter().verify(&creds).await;
        assert!(matches!(result, Err(ProviderError::Unavailable(_))), "{result:?}");
        env.emulator.set_fault(Fault::InvalidJson);
        let result = env.twitter().verify(&creds).await;
        assert!(matches!(result, Err(ProviderError::BadResponse(_))), "{result:?}");
        env.emulator.set_fault(Fault::CloseConnection);
        let result = env.twitter().verify(&creds).await;
        assert!(matches!(result, Err(ProviderError::Unavailable(_))), "{result:?}");
        env.emulator.set_fault(Fault::Hang);
        let quick = Client::builder().timeout(Duration::from_millis(300)).build().expect("client");
        let result = TwitterVerifier::new(&env.twitter_config(OUR_KEY, OUR_SECRET), quick).verify(&creds).await;
        assert!(matches!(result, Err(ProviderError::Timeout)), "{result:?}");
        env.emulator.set_fault(Fault::None);
    }
}

#[tokio::test]
async fn github_verifier_accepts_our_apps_tokens_with_the_primary_verified_email() {
    let env = start().await;
    let (user, token) = env.github_user_with_token(OUR_CLIENT);
    let before = env.emulator.request_count();
    let identity = env.github().verify_first_login(&bearer(&token)).await.expect("identity");
    assert_eq!(env.emulator.request_count(), before + 2, "token check + emails");
    assert_eq!(identity.provider, Provider::GitHub);
    assert_eq!(identity.subject, user.to_string());
    assert_eq!(identity.name.as_deref(), Some("The Octocat"));
    assert_eq!(identity.email.as_deref(), Some("octo@example.com"));
    assert!(identity.email_verified);
    assert_eq!(identity.avatar_url, Some(format!("https://avatars.githubusercontent.com/u/{user}?v=4")));
    // A returning login needs no email (its user exists): the token check only.
    let before = env.emulator.request_count();
    let returning = env.github().verify(&bearer(&token)).await.expect("identity").identity;
    assert_eq!(env.emulator.request_count(), before + 1, "token check only");
    assert_eq!((returning.subject, returning.email), (user.to_string(), None));

    // Primary address unverified (a verified secondary one is not used), no name: login.
    let id = env.emulator.create_github_user(
        "nameless",
        None,
        &[("a@example.com", false, true), ("b@example.com", true, false)],
    );
    let token = env.emulator.issue_github_token(id, OUR_CLIENT);
    let identity = env.github().verify_first_login(&bearer(&token)).await.expect("identity");
    assert_eq!(identity.name.as_deref(), Some("nameless"));
    assert_eq!(identity.email, None);
    assert!(!identity.email_verified);

    // Without the email scope: logged in without an email, one request.
    let narrow = env.emulator.issue_github_token_with_scopes(user, OUR_CLIENT, &["read:user"]);
    let before = env.emulator.request_count();
    let identity = env.github().verify_first_login(&bearer(&narrow)).await.expect("identity");
    assert_eq!(env.emulator.request_count(), before + 1);
    assert_eq!(identity.subject, user.to_string());
    assert_eq!(identity.email, None);
    // No scopes at all: emails asked, 404, no email.
    let none = env.emulator.issue_github_token_with_scopes(user, OUR_CLIENT, &[]);
    let identity = env.github().verify_first_login(&bearer(&none)).await.expect("identity");
    assert_eq!(identity.email, None);
}

#[tokio::test]
async fn github_verifier_rejects_other_apps_and_revoked_tokens() {
    let env = start().await;
    let (_, other) = env.github_user_with_token(OTHER_CLIENT);
    let result = env.github().verify(&bearer(&other)).await;
    assert!(matches!(result, Err(ProviderError::Rejected(_))), "token of another app: {result:?}");

    let (_, token) = env.github_user_with_token(OUR_CLIENT);
    assert!(env.github().verify(&bearer(&token)).await.is_ok());
    env.emulator.revoke_github_token(&token);
    let result = env.github().verify(&bearer(&token)).await;
    assert!(matches!(result, Err(ProviderError::Rejected(_))), "revoked: {result:?}");

    let result = env.github().verify(&bearer("gho_000000000000000000000000000000000000")).await;
    assert!(matches!(result, Err(ProviderError::Rejected(_))), "unknown: {result:?}");
    assert!(matches!(
        env.github().verify(&Credentials::default()).await,
        Err(ProviderError::MissingCredential("access_token"))
    ));
}

#[tokio::test]
async fn github_verifier_treats_our_bad_app_secret_and_outages_as_unavailable() {
    let env = start().await;
    let (_, token) = env.github_user_with_token(OUR_CLIENT);

    let result = env.github_with("not-our-secret").verify(&bearer(&token)).await;
    match result {
        Err(ProviderError::Unavailable(why)) => {
            assert!(why.contains("GITHUB_CLIENT_SECRET"), "{why}");
            assert!(!why.contains("not-our-secret") && !why.contains(&token), "{why}");
        }
        other => panic!("our misconfiguration must not be the client's 401: {other:?}"),
    }

    for (fault, class) in [
        (Fault::Status500, "unavailable"),
        (Fault::RateLimited, "unavailable"),
        (Fault::CloseConnection, "unavailable"),
        (Fault::InvalidJson, "bad response"),
    ] {
        env.emulator.set_fault(fault);
        let result = env.github().verify(&bearer(&token)).await;
        let ok = match class {
            "unavailable" => matches!(result, Err(ProviderError::Unavailable(_))),
            _ => matches!(result, Err(ProviderError::BadResponse(_))),
        };
        assert!(ok, "{fault}: {result:?}");
    }
    env.emulator.set_fault(Fault::None);
    assert!(env.github().verify(&bearer(&token)).await.is_ok());
}

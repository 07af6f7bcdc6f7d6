//! The demo world of the local stack, shared with the tests: an instance with a fixed API key
//! and a Facebook user with a fixed token. The `events/` samples carry these values, so they
//! work against the local gateway and in the tests alike. Local use only.

use std::collections::HashMap;

use base64::Engine;
use emulator::{
    AppleTeam, Emulator, EmulatorConfig, FacebookApp, GitHubApp, LinkedInApp, OidcProvider, SigningMode, TwitterApp,
};
use shared::store::{ApiKeyPermissions, SignUpPolicy, StoreError};
use shared::{App, InstanceName, Secret};

pub const DEMO_INSTANCE: &str = "demo";
/// An instance closed to sign-ups, with [`DEMO_API_KEY`]: the demo user is not one of its users,
/// so the `events/` sample of a refused sign-up logs them in there.
pub const DEMO_CLOSED_INSTANCE: &str = "demo-closed";
/// The demo instance's client API key (40 hex, like every key; `allow_user_create`, as an app
/// ships it), as the `events/` samples send it.
pub const DEMO_API_KEY: &str = "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e";
/// The demo instance's admin API key (`ignore_acl`: resets user keys). Never ship one in an app.
pub const DEMO_ADMIN_API_KEY: &str = "ad0115ad0115ad0115ad0115ad0115ad0115ad01";
/// The demo user's Facebook token, as the `events/` samples send it.
pub const DEMO_FACEBOOK_TOKEN: &str = "EAALocalDemoUserToken0123456789abcdefABCDEF";

/// The demo Twitter/X OAuth 1.0a pair and GitHub token (registered by [`seed`]).
pub const DEMO_TWITTER_TOKEN: &str = "1000000001-LocalDemoTwitterToken0123456789abcdef";
pub const DEMO_TWITTER_TOKEN_SECRET: &str = "LocalDemoTwitterTokenSecret0123456789abcdefABC";
pub const DEMO_GITHUB_TOKEN: &str = "gho_LocalDemoGitHubToken0123456789abcdef";
/// The raw nonce of the demo Apple and Facebook Limited Login ID tokens.
pub const DEMO_NONCE: &str = "local-demo-nonce";
/// Expiry of the demo ID tokens (2100-01-01): the samples stay valid, and only the emulator's
/// published fixture keys can verify them.
const DEMO_ID_TOKEN_EXP: i64 = 4_102_444_800;

/// A demo ID token of `provider`, signed by the emulator's first key of that provider: the same
/// string on every run, so the `events/` samples can carry it.
pub fn demo_id_token(emulator: &Emulator, provider: OidcProvider) -> String {
    let (aud, sub, name) = match provider {
        OidcProvider::Google => (GOOGLE_CLIENT_ID, "100000000000000000001", "Demo Google User"),
        OidcProvider::LinkedIn => (LINKEDIN_CLIENT_ID, "DemoLinkedIn", "Demo LinkedIn User"),
        OidcProvider::Apple => (APPLE_CLIENT_ID, DEMO_APPLE_SUB, "Demo Apple User"),
        OidcProvider::FacebookLimited => (FACEBOOK_APP_ID, "10000000000000001", "Demo Limited User"),
    };
    let mut claims = serde_json::json!({
        "iss": provider.issuer(), "aud": aud, "sub": sub, "iat": 1_795_453_200, "exp": DEMO_ID_TOKEN_EXP,
        "email": format!("{}@example.com", provider.slug()), "email_verified": true, "name": name,
    });
    if matches!(provider, OidcProvider::Apple | OidcProvider::FacebookLimited) {
        claims["nonce"] = serde_json::json!(shared::domain::tokens::sha256_hex(DEMO_NONCE));
    }
    emulator.sign_id_token(provider, claims, SigningMode::Current)
}

/// A Sign in with Apple server-to-server notification body (`{"payload": JWS}`) of `kind` about
/// `sub` for `aud`, valid until `exp`, signed by the emulator's first Apple key: the same string
/// on every run, for the `events/` samples.
pub fn demo_apple_notification(emulator: &Emulator, aud: &str, kind: &str, sub: &str, exp: i64) -> serde_json::Value {
    let event = emulator::apple_event(kind, sub, None, 1_795_453_200_000);
    let mut claims = emulator::apple_notification_claims(aud, &event, 1_795_453_200);
    claims["exp"] = serde_json::json!(exp);
    claims["jti"] = serde_json::json!("5b4c1e0e-3f7a-4d2b-a9c8-0d1e2f3a4b5c");
    serde_json::json!({ "payload": emulator.sign_id_token(OidcProvider::Apple, claims, SigningMode::Current) })
}

/// A Facebook `signed_request` about the app-scoped user `user_id`, naming `algorithm`, signed
/// with `app_secret`, issued at a fixed time (2026-11-23): the same string on every run, for
/// the `events/` samples. Our app's secret is random per run, and a request that old is refused
/// anyway: such a sample can only show a refusal.
pub fn demo_facebook_signed_request(app_secret: &str, user_id: &str, algorithm: &str) -> String {
    emulator::sign_signed_request(app_secret, &emulator::signed_request_payload(user_id, algorithm, 1_795_453_200))
}

/// An app-scoped Facebook user id nobody signed in with (for the `events/` samples).
pub const DEMO_FACEBOOK_OTHER_USER_ID: &str = "10000000000000042";

/// The demo Apple user's `sub` (its [`demo_id_token`]).
pub const DEMO_APPLE_SUB: &str = "001234.0123456789abcdef0123456789abcdef.1234";

/// Creates the demo instance (if missing) with [`DEMO_API_KEY`] and its sign-up policy open (and
/// [`DEMO_CLOSED_INSTANCE`], closed, with the same key), the demo Facebook user with [`DEMO_FACEBOOK_TOKEN`] for `app_id`, valid `ttl_secs`, and the demo
/// Twitter and GitHub users with their fixed tokens.
pub async fn seed(app: &App, emulator: &Emulator, app_id: &str, ttl_secs: i64) -> Result<(), StoreError> {
    seed_table(app, ttl_secs).await?;
    let person = emulator.create_facebook_user("Demo User", Some("demo@example.com"));
    emulator.register_facebook_token(&person, app_id, DEMO_FACEBOOK_TOKEN, ttl_secs);
    let tweeter = emulator.create_twitter_user("Demo Twitter User", "demo_twitter", Some("twitter@example.com"));
    emulator.register_twitter_token(&tweeter, TWITTER_CONSUMER_KEY, DEMO_TWITTER_TOKEN, DEMO_TWITTER_TOKEN_SECRET);
    let octocat =
        emulator.create_github_user("demo-octocat", Some("Demo GitHub User"), &[("github@example.com", true, true)]);
    emulator.register_github_token(octocat, GITHUB_CLIENT_ID, DEMO_GITHUB_TOKEN);
    Ok(())
}

/// [`seed`]'s part in the table only (the demo instances, their keys, the completed Facebook data
/// deletion): for a second table beside one already seeded, whose demo people the emulator
/// already has (the benchmark's MRSC table).
pub async fn seed_table(app: &App, ttl_secs: i64) -> Result<(), StoreError> {
    let instance = InstanceName::parse(DEMO_INSTANCE).ok_or(StoreError::Corrupt("demo instance name"))?;
    match app.store.create_instance_with(&instance, SignUpPolicy::Open).await {
        Ok(()) => {
            app.store.import_api_key(&instance, &Secret::new(DEMO_API_KEY), ApiKeyPermissions::CLIENT).await?;
            app.store.import_api_key(&instance, &Secret::new(DEMO_ADMIN_API_KEY), ApiKeyPermissions::ADMIN).await?;
        }
        // A demo instance of an older local table has no policy, which reads as closed: the
        // demo lets anyone sign up, as the README's curls do.
        Err(StoreError::InstanceExists) => app.store.set_sign_up(&instance, SignUpPolicy::Open).await?,
        Err(e) => return Err(e),
    }
    let closed = InstanceName::parse(DEMO_CLOSED_INSTANCE).ok_or(StoreError::Corrupt("demo instance name"))?;
    match app.store.create_instance_with(&closed, SignUpPolicy::Closed).await {
        Ok(()) => {
            app.store.import_api_key(&closed, &Secret::new(DEMO_API_KEY), ApiKeyPermissions::CLIENT).await?;
        }
        Err(StoreError::InstanceExists) => {}
        Err(e) => return Err(e),
    }
    seed_facebook_deletion(app, &instance, ttl_secs).await
}

/// The custom OpenID Connect provider of the playground: the emulator's issuer of this name, and
/// the demo instance's provider `oidc-{name}` trusting it for [`PLAYGROUND_OIDC_CLIENT_ID`].
pub const PLAYGROUND_OIDC_ISSUER: &str = "demo-oidc";
pub const PLAYGROUND_OIDC_CLIENT_ID: &str = "local-playground-oidc";

/// Creates the emulator's issuer [`PLAYGROUND_OIDC_ISSUER`] and gives the demo instance the custom
/// provider of that name (as `admin set-oidc-provider demo demo-oidc --issuer … --client-id …`
/// would), for the playground's "Sign in with OpenID Connect". Separate from [`seed`], so the
/// tests' demo instance keeps no custom provider; the local stack and the browser test call it.
pub async fn seed_playground_oidc(app: &App, emulator: &Emulator) -> Result<(), String> {
    let info = emulator.create_oidc_issuer(PLAYGROUND_OIDC_ISSUER, emulator::OidcIssuerOptions::default());
    let policy = shared::config::UrlPolicy { allow_loopback_http: true };
    let config = shared::config::CustomOidcConfig::new(
        PLAYGROUND_OIDC_ISSUER,
        &info.issuer,
        vec![PLAYGROUND_OIDC_CLIENT_ID.to_owned()],
        policy,
    )
    .map_err(|e| e.to_string())?;
    let instance = InstanceName::parse(DEMO_INSTANCE).ok_or("demo instance name")?;
    app.store.put_instance_oidc(&instance, &config).await.map_err(|e| e.to_string())
}

/// The confirmation code of the completed Facebook data deletion [`seed`] records (the
/// deletion-status sample reads it).
pub const DEMO_FACEBOOK_DELETION_CODE: &str = "5ca1ab1e0ddba11c0ffee0ddba11fade";

/// A completed Facebook data deletion under [`DEMO_FACEBOOK_DELETION_CODE`], as the data deletion
/// callback records one (idempotent: a second seed finds it claimed and completed).
async fn seed_facebook_deletion(app: &App, instance: &InstanceName, ttl_secs: i64) -> Result<(), StoreError> {
    let now = shared::domain::clock::now_secs();
    let fingerprint = "e".repeat(64);
    let code = DEMO_FACEBOOK_DELETION_CODE;
    app.store.claim_facebook_deletion(instance, &fingerprint, code, now * 1_000_000, now + ttl_secs).await?;
    app.store.complete_facebook_deletion(code, "nothing-to-do", Default::default(), now * 1_000_000).await?;
    Ok(())
}

/// Our app at every provider the emulator plays, and one app of someone else at each (tokens of
/// another app must be refused). Ids are fixed; secrets are random per run.
pub const FACEBOOK_APP_ID: &str = "local-app";
pub const OTHER_FACEBOOK_APP_ID: &str = "other-app";
pub const GOOGLE_CLIENT_ID: &str = "local-web.apps.googleusercontent.com";
pub const GOOGLE_IOS_CLIENT_ID: &str = "local-ios.apps.googleusercontent.com";
pub const OTHER_GOOGLE_CLIENT_ID: &str = "someone-else.apps.googleusercontent.com";
pub const TWITTER_CONSUMER_KEY: &str = "local-consumer-key";
pub const OTHER_TWITTER_CONSUMER_KEY: &str = "other-consumer-key";
pub const LINKEDIN_CLIENT_ID: &str = "local-linkedin-client";
pub const OTHER_LINKEDIN_CLIENT_ID: &str = "other-linkedin-client";
pub const APPLE_CLIENT_ID: &str = "com.example.local";
pub const OTHER_APPLE_CLIENT_ID: &str = "com.example.other";
/// Our Apple developer team and Sign in with Apple key (the key pair is a test fixture:
/// `tools/emulator/keys/apple-sign-in.p8`, whose public half the emulator checks with).
pub const APPLE_TEAM_ID: &str = "LOCALTEAM1";
pub const APPLE_KEY_ID: &str = "LOCALKEY01";
pub const APPLE_PRIVATE_KEY: &str = include_str!("../../emulator/keys/apple-sign-in.p8");
pub const APPLE_PUBLIC_KEY: &str = include_str!("../../emulator/keys/apple-sign-in.pub.pem");
pub const GITHUB_CLIENT_ID: &str = "local-github-client";
/// Our Microsoft (Entra ID) application id, at the emulator's Microsoft-like issuer.
pub const MICROSOFT_CLIENT_ID: &str = "local-microsoft-client";
pub const OTHER_GITHUB_CLIENT_ID: &str = "other-github-client";

/// The secrets of those apps for one run.
pub struct Apps {
    pub facebook_secret: String,
    pub other_facebook_secret: String,
    pub twitter_secret: String,
    pub other_twitter_secret: String,
    pub linkedin_secret: String,
    pub github_secret: String,
    pub other_github_secret: String,
    pub token_secret: String,
    /// `REFRESH_TOKEN_KEY`: 32 random bytes, base64.
    pub refresh_token_key: String,
    /// `INSTANCE_SECRETS_KEY`: 32 random bytes, base64.
    pub instance_secrets_key: String,
}

fn random_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

impl Apps {
    pub fn random() -> Apps {
        Apps {
            facebook_secret: random_secret(),
            other_facebook_secret: random_secret(),
            twitter_secret: random_secret(),
            other_twitter_secret: random_secret(),
            linkedin_secret: random_secret(),
            github_secret: random_secret(),
            other_github_secret: random_secret(),
            token_secret: random_secret(),
            refresh_token_key: base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>()),
            instance_secrets_key: base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>()),
        }
    }

    /// Every secret of the run (none may ever appear in a log line).
    pub fn secrets(&self) -> [&str; 10] {
        [
            &self.facebook_secret,
            &self.other_facebook_secret,
            &self.twitter_secret,
            &self.other_twitter_secret,
            &self.linkedin_secret,
            &self.github_secret,
            &self.other_github_secret,
            &self.token_secret,
            &self.refresh_token_key,
            &self.instance_secrets_key,
        ]
    }

    /// The emulator that knows our apps and the others.
    pub fn emulator_config(&self) -> EmulatorConfig {
        EmulatorConfig {
            facebook_apps: vec![
                FacebookApp { id: FACEBOOK_APP_ID.into(), secret: self.facebook_secret.clone() },
                FacebookApp { id: OTHER_FACEBOOK_APP_ID.into(), secret: self.other_facebook_secret.clone() },
            ],
            twitter_apps: vec![
                TwitterApp { consumer_key: TWITTER_CONSUMER_KEY.into(), consumer_secret: self.twitter_secret.clone() },
                TwitterApp {
                    consumer_key: OTHER_TWITTER_CONSUMER_KEY.into(),
                    consumer_secret: self.other_twitter_secret.clone(),
                },
            ],
            github_apps: vec![
                GitHubApp { client_id: GITHUB_CLIENT_ID.into(), client_secret: self.github_secret.clone() },
                GitHubApp { client_id: OTHER_GITHUB_CLIENT_ID.into(), client_secret: self.other_github_secret.clone() },
            ],
            linkedin_apps: vec![LinkedInApp {
                client_id: LINKEDIN_CLIENT_ID.into(),
                client_secret: self.linkedin_secret.clone(),
            }],
            apple_team: Some(AppleTeam {
                team_id: APPLE_TEAM_ID.into(),
                key_id: APPLE_KEY_ID.into(),
                public_key_pem: APPLE_PUBLIC_KEY.into(),
                client_ids: vec![APPLE_CLIENT_ID.into()],
            }),
        }
    }

    /// Every setting of a function of the local stack (or a test's): the table, the public base
    /// URL, the demo instance as the default one, DynamoDB Local at `dynamodb`, and the
    /// providers at the emulator at `emulator` ([`Self::provider_vars`]).
    pub fn stack_vars(&self, table: &str, base_url: &str, dynamodb: &str, emulator: &str) -> HashMap<String, String> {
        [
            ("TABLE_NAME", table.to_owned()),
            ("PUBLIC_BASE_URL", base_url.to_owned()),
            ("DEFAULT_INSTANCE", DEMO_INSTANCE.to_owned()),
            ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.to_owned()),
        ]
        .into_iter()
        .chain(self.provider_vars(emulator))
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The provider configuration of the functions, every provider pointed at the emulator at
    /// `emulator` (its base URL), which serves plain `http://`: hence
    /// `ALLOW_INSECURE_PROVIDER_URLS=true`, which only local tools set.
    pub fn provider_vars(&self, emulator: &str) -> Vec<(&'static str, String)> {
        vec![
            ("ALLOW_INSECURE_PROVIDER_URLS", "true".into()),
            ("FACEBOOK_APP_ID", FACEBOOK_APP_ID.into()),
            ("FACEBOOK_APP_SECRET", self.facebook_secret.clone()),
            ("FACEBOOK_GRAPH_URL", emulator.into()),
            ("FACEBOOK_LIMITED_JWKS_URL", format!("{emulator}/facebook-limited/.well-known/oauth/openid/jwks/")),
            ("GOOGLE_CLIENT_IDS", format!("{GOOGLE_CLIENT_ID},{GOOGLE_IOS_CLIENT_ID}")),
            ("GOOGLE_JWKS_URL", format!("{emulator}/google/oauth2/v3/certs")),
            ("GOOGLE_TOKENINFO_URL", format!("{emulator}/google/tokeninfo")),
            ("GOOGLE_USERINFO_URL", format!("{emulator}/google/v1/userinfo")),
            ("TWITTER_CONSUMER_KEY", TWITTER_CONSUMER_KEY.into()),
            ("TWITTER_CONSUMER_SECRET", self.twitter_secret.clone()),
            ("TWITTER_API_URL", format!("{emulator}/twitter")),
            ("LINKEDIN_CLIENT_ID", LINKEDIN_CLIENT_ID.into()),
            ("LINKEDIN_CLIENT_SECRET", self.linkedin_secret.clone()),
            ("LINKEDIN_JWKS_URL", format!("{emulator}/linkedin/oauth/openid/jwks")),
            ("LINKEDIN_USERINFO_URL", format!("{emulator}/linkedin/v2/userinfo")),
            ("LINKEDIN_INTROSPECT_URL", format!("{emulator}/linkedin/oauth/v2/introspectToken")),
            ("APPLE_CLIENT_IDS", APPLE_CLIENT_ID.into()),
            ("APPLE_JWKS_URL", format!("{emulator}/apple/auth/keys")),
            ("APPLE_TEAM_ID", APPLE_TEAM_ID.into()),
            ("APPLE_KEY_ID", APPLE_KEY_ID.into()),
            ("APPLE_PRIVATE_KEY", APPLE_PRIVATE_KEY.into()),
            ("APPLE_TOKEN_URL", format!("{emulator}/apple/auth/token")),
            ("APPLE_REVOKE_URL", format!("{emulator}/apple/auth/revoke")),
            ("REFRESH_TOKEN_KEY", self.refresh_token_key.clone()),
            ("INSTANCE_SECRETS_KEY", self.instance_secrets_key.clone()),
            ("GITHUB_CLIENT_ID", GITHUB_CLIENT_ID.into()),
            ("GITHUB_CLIENT_SECRET", self.github_secret.clone()),
            ("GITHUB_API_URL", format!("{emulator}/github")),
            ("TOKEN_SECRET", self.token_secret.clone()),
            // Microsoft deployment-wide, every tenant, at the emulator's Microsoft-like
            // authority (`{emulator}/microsoft/{tenant}/v2.0`).
            ("MICROSOFT_CLIENT_IDS", MICROSOFT_CLIENT_ID.into()),
            ("MICROSOFT_TENANT", "common".into()),
            ("MICROSOFT_AUTHORITY_URL", format!("{emulator}/microsoft")),
        ]
    }
}

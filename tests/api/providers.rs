//! Every provider end to end (Syncano route of its own function, and Rocket.Chat's
//! `/api/v1/login`), and the security matrix: one table of attacks per provider, each of which
//! must be a 401 that writes nothing.

use std::time::Duration;

use emulator::{OidcProvider, SigningMode};
use local_stack::demo::*;
use serde_json::{json, Value};
use shared::domain::tokens::sha256_hex;

use crate::helpers::*;

fn now() -> i64 {
    shared::domain::clock::now_secs()
}

async fn syncano(t: &TestApp, backend: &str, body: Value) -> (u16, Value) {
    t.syncano_at(backend, body).await
}

async fn rocketchat(t: &TestApp, body: Value) -> (u16, Value) {
    json(t.http.post(format!("{}/api/v1/login", t.base)).json(&body).send().await.expect("request")).await
}

/// Claims of a valid ID token of `provider` for `sub`, to be spoiled by a matrix case.
fn claims(provider: OidcProvider, sub: &str, aud: &str, nonce: Option<&str>) -> Value {
    let mut c = json!({
        "iss": provider.issuer(), "aud": aud, "sub": sub, "iat": now(), "exp": now() + 3600,
        "email": "matrix@example.com", "email_verified": true, "name": "Matrix Case",
    });
    if let Some(n) = nonce {
        c["nonce"] = json!(n);
    }
    c
}

struct JwtCase {
    name: &'static str,
    claims: Value,
    mode: SigningMode,
    nonce: Option<&'static str>,
}

/// The matrix for an ID-token provider: every case must be 401 and write nothing; the control
/// case (a valid token) must log in, so the table can fail.
async fn id_token_matrix(provider: OidcProvider, backend: &str, aud: &str, other_aud: &str, uses_nonce: bool) {
    // Every case claims one user from one IP: the per-user failure limit is tested in throttle.rs.
    let t = spawn_app_with(|v| {
        v.insert("LOGIN_FAILURES_PER_USER_MAX".into(), "1000".into());
    })
    .await;
    let sub = t.emulator.create_oidc_user(provider, "Matrix Case", Some("matrix@example.com"), true);
    const RAW: &str = "raw-nonce-123";
    let hashed = sha256_hex(RAW);
    let nonce_claim = uses_nonce.then_some(hashed.as_str());
    let valid = claims(provider, &sub, aud, nonce_claim);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = valid.clone();
        f(&mut c);
        c
    };
    let raw = uses_nonce.then_some(RAW);
    let mut cases = vec![
        JwtCase {
            name: "expired",
            claims: with(&|c| {
                c["exp"] = json!(now() - 3600);
                c["iat"] = json!(now() - 7200)
            }),
            mode: SigningMode::Current,
            nonce: raw,
        },
        JwtCase {
            name: "not yet valid",
            claims: with(&|c| c["nbf"] = json!(now() + 3600)),
            mode: SigningMode::Current,
            nonce: raw,
        },
        JwtCase {
            name: "issued in the future",
            claims: with(&|c| c["iat"] = json!(now() + 3600)),
            mode: SigningMode::Current,
            nonce: raw,
        },
        JwtCase {
            name: "wrong iss",
            claims: with(&|c| c["iss"] = json!("https://evil.example.com")),
            mode: SigningMode::Current,
            nonce: raw,
        },
        JwtCase {
            name: "wrong aud",
            claims: with(&|c| c["aud"] = json!("not-our-client")),
            mode: SigningMode::Current,
            nonce: raw,
        },
        JwtCase {
            name: "token of another app",
            claims: with(&|c| c["aud"] = json!(other_aud)),
            mode: SigningMode::Current,
            nonce: raw,
        },
        JwtCase {
            name: "missing sub",
            claims: with(&|c| {
                c.as_object_mut().map(|o| o.remove("sub"));
            }),
            mode: SigningMode::Current,
            nonce: raw,
        },
        JwtCase { name: "empty sub", claims: with(&|c| c["sub"] = json!("")), mode: SigningMode::Current, nonce: raw },
        JwtCase { name: "alg none", claims: valid.clone(), mode: SigningMode::NoneAlg, nonce: raw },
        JwtCase {
            name: "HS256 with the public key",
            claims: valid.clone(),
            mode: SigningMode::Hs256WithPublicKey,
            nonce: raw,
        },
        JwtCase { name: "RS512", claims: valid.clone(), mode: SigningMode::OtherAlg, nonce: raw },
        JwtCase { name: "unknown kid after refetch", claims: valid.clone(), mode: SigningMode::UnknownKid, nonce: raw },
        JwtCase { name: "bad signature", claims: valid.clone(), mode: SigningMode::BadSignature, nonce: raw },
    ];
    if uses_nonce {
        cases.push(JwtCase {
            name: "nonce missing from the request",
            claims: valid.clone(),
            mode: SigningMode::Current,
            nonce: None,
        });
        cases.push(JwtCase {
            name: "wrong nonce",
            claims: valid.clone(),
            mode: SigningMode::Current,
            nonce: Some("another-nonce"),
        });
        cases.push(JwtCase {
            name: "nonce claim missing",
            claims: with(&|c| {
                c.as_object_mut().map(|o| o.remove("nonce"));
            }),
            mode: SigningMode::Current,
            nonce: raw,
        });
        cases.push(JwtCase {
            name: "raw nonce in the claim",
            claims: with(&|c| c["nonce"] = json!(RAW)),
            mode: SigningMode::Current,
            nonce: raw,
        });
    }
    for case in &cases {
        let token = t.emulator.sign_id_token(provider, case.claims.clone(), case.mode);
        t.remember(&token);
        let mut body = json!({ "access_token": token });
        if let Some(n) = case.nonce {
            body["nonce"] = json!(n);
        }
        let (status, resp) = syncano(&t, backend, body).await;
        assert_eq!(
            (status, &resp),
            (401, &json!({"detail": "Invalid username or password."})),
            "{provider}: {}",
            case.name
        );
    }
    assert_eq!(t.login_writes().await, [0, 0, 0, 0], "{provider}: a rejected token wrote something");

    // Control: the same valid claims log in, through both dialects.
    let token = t.emulator.sign_id_token(provider, valid.clone(), SigningMode::Current);
    t.remember(&token);
    let mut body = json!({ "access_token": token });
    if let Some(n) = raw {
        body["nonce"] = json!(n);
    }
    let (status, user) = syncano(&t, backend, body).await;
    assert_eq!(status, 200, "{provider}: control case {user}");
    t.remember(user["user_key"].as_str().unwrap_or_default());
    let service = if backend == "google-oauth2" { "google" } else { backend };
    let mut rc = json!({"serviceName": service, "idToken": token, "expiresIn": 3600});
    if let Some(n) = raw {
        rc["nonce"] = json!(n);
    }
    if provider != OidcProvider::FacebookLimited {
        let (status, body) = rocketchat(&t, rc).await;
        assert_eq!(status, 200, "{provider}: Rocket.Chat control case {body}");
        assert_eq!(body["data"]["me"]["username"], user["username"]);
        t.remember(body["data"]["authToken"].as_str().unwrap_or_default());
    }
    assert_eq!(t.login_writes().await[..3], [1, 1, 1]);
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_id_token_matrix() {
    id_token_matrix(OidcProvider::Google, "google-oauth2", GOOGLE_CLIENT_ID, OTHER_GOOGLE_CLIENT_ID, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linkedin_id_token_matrix() {
    id_token_matrix(OidcProvider::LinkedIn, "linkedin", LINKEDIN_CLIENT_ID, OTHER_LINKEDIN_CLIENT_ID, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apple_id_token_matrix() {
    id_token_matrix(OidcProvider::Apple, "apple", APPLE_CLIENT_ID, OTHER_APPLE_CLIENT_ID, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facebook_limited_login_matrix() {
    id_token_matrix(OidcProvider::FacebookLimited, "facebook", FACEBOOK_APP_ID, OTHER_FACEBOOK_APP_ID, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_access_tokens_must_be_issued_to_us() {
    let t = spawn_app().await;
    let sub = t.emulator.create_oidc_user(OidcProvider::Google, "Gina Google", Some("gina@example.com"), true);
    let other = t.emulator.issue_oauth_access_token(OidcProvider::Google, &sub, OTHER_GOOGLE_CLIENT_ID);
    let revoked = t.emulator.issue_oauth_access_token(OidcProvider::Google, &sub, GOOGLE_CLIENT_ID);
    t.emulator.revoke_oauth_access_token(&revoked);
    for token in [other.as_str(), revoked.as_str(), "ya29.garbage"] {
        t.remember(token);
        let (status, _) = syncano(&t, "google-oauth2", json!({ "access_token": token })).await;
        assert_eq!(status, 401);
    }
    assert_eq!(t.login_writes().await, [0, 0, 0, 0]);
    // Issued to our iOS client: ours too.
    let ok = t.emulator.issue_oauth_access_token(OidcProvider::Google, &sub, GOOGLE_IOS_CLIENT_ID);
    t.remember(&ok);
    let (status, user) = syncano(&t, "google-oauth2", json!({ "access_token": ok })).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["username"], "gina.google");
    t.remember(user["user_key"].as_str().unwrap_or_default());
    // Rocket.Chat sends both; the ID token wins, and it is the same person.
    let id = t.emulator.issue_id_token(OidcProvider::Google, &sub, GOOGLE_CLIENT_ID, None);
    let (status, body) =
        rocketchat(&t, json!({"serviceName": "google", "accessToken": other, "idToken": id, "expiresIn": 3599})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["me"]["emails"][0], json!({"address": "gina@example.com", "verified": true}));
    t.remember(body["data"]["authToken"].as_str().unwrap_or_default());
    assert_eq!(t.login_writes().await, [1, 1, 1, 1]);
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linkedin_access_tokens_are_introspected() {
    let t = spawn_app().await;
    let sub = t.emulator.create_oidc_user(OidcProvider::LinkedIn, "Lin Kedin", None, false);
    let ours = t.emulator.issue_oauth_access_token(OidcProvider::LinkedIn, &sub, LINKEDIN_CLIENT_ID);
    let theirs = t.emulator.issue_oauth_access_token(OidcProvider::LinkedIn, &sub, OTHER_LINKEDIN_CLIENT_ID);
    t.remember(&ours);
    t.remember(&theirs);
    let (status, _) = syncano(&t, "linkedin", json!({ "access_token": theirs })).await;
    assert_eq!(status, 401);
    let (status, user) = syncano(&t, "linkedin", json!({ "access_token": ours })).await;
    assert_eq!(status, 200, "{user}");
    t.remember(user["user_key"].as_str().unwrap_or_default());
    assert_eq!(t.login_writes().await[..3], [1, 1, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twitter_oauth1_is_signed_with_our_consumer() {
    let t = spawn_app_with(|v| {
        v.insert("TWITTER_ACCEPT_OAUTH2_BEARER".into(), "true".into());
    })
    .await;
    let user = t.emulator.create_twitter_user("Tweety Bird", "tweety", Some("tweety@example.com"));
    let (token, secret) = t.emulator.issue_twitter_token(&user, TWITTER_CONSUMER_KEY);
    let (other_token, other_secret) = t.emulator.issue_twitter_token(&user, OTHER_TWITTER_CONSUMER_KEY);
    let (revoked, revoked_secret) = t.emulator.issue_twitter_token(&user, TWITTER_CONSUMER_KEY);
    t.emulator.revoke_twitter_token(&revoked);
    for s in [&token, &secret, &other_token, &other_secret, &revoked, &revoked_secret] {
        t.remember(s);
    }
    for (name, pair) in [
        ("signature by another consumer", format!("{other_token}:{other_secret}")),
        ("wrong token secret", format!("{token}:{other_secret}")),
        ("revoked", format!("{revoked}:{revoked_secret}")),
        ("garbage bearer", "AAAAgarbage".to_string()),
    ] {
        let (status, _) = syncano(&t, "twitter", json!({ "access_token": pair })).await;
        assert_eq!(status, 401, "{name}");
    }
    // Rocket.Chat clients also send the app's key and secret: never used.
    let (status, _) = rocketchat(
        &t,
        json!({"serviceName": "twitter", "accessToken": other_token, "accessTokenSecret": other_secret,
               "appId": OTHER_TWITTER_CONSUMER_KEY, "appSecret": "whatever", "expiresIn": 0}),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(t.login_writes().await, [0, 0, 0, 0]);

    let (status, u) = syncano(&t, "twitter", json!({ "access_token": format!("{token}:{secret}") })).await;
    assert_eq!(status, 200, "{u}");
    assert_eq!(u["username"], "tweety.bird");
    t.remember(u["user_key"].as_str().unwrap_or_default());
    let (status, body) = rocketchat(
        &t,
        json!({"serviceName": "twitter", "accessToken": token, "accessTokenSecret": secret, "expiresIn": 0}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    t.remember(body["data"]["authToken"].as_str().unwrap_or_default());
    // An OAuth 2.0 user token of our app is the same person.
    let bearer = t.emulator.issue_twitter_bearer(&user, TWITTER_CONSUMER_KEY);
    t.remember(&bearer);
    let (status, u2) = syncano(&t, "twitter", json!({ "access_token": bearer })).await;
    assert_eq!((status, &u2["id"]), (200, &u["id"]));
    assert_eq!(t.login_writes().await[..3], [1, 1, 1]);
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twitter_bearer_tokens_are_refused_unless_the_deployment_opts_in() {
    let t = spawn_app().await;
    let user = t.emulator.create_twitter_user("Bea Rer", "bearer", None);
    let bearer = t.emulator.issue_twitter_bearer(&user, OTHER_TWITTER_CONSUMER_KEY);
    t.remember(&bearer);
    let (status, body) = syncano(&t, "twitter", json!({ "access_token": bearer })).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].as_str().unwrap_or_default().contains("token_secret"), "{body}");
    assert_eq!(t.emulator.request_count(), 0, "X was asked about a token we cannot bind to our app");
    assert_eq!(t.login_writes().await, [0, 0, 0, 0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_tokens_must_belong_to_our_oauth_app() {
    let t = spawn_app().await;
    let id = t.emulator.create_github_user(
        "octocat",
        Some("The Octocat"),
        &[("octo@example.com", true, true), ("old@example.com", false, false)],
    );
    let ours = t.emulator.issue_github_token(id, GITHUB_CLIENT_ID);
    let theirs = t.emulator.issue_github_token(id, OTHER_GITHUB_CLIENT_ID);
    let revoked = t.emulator.issue_github_token(id, GITHUB_CLIENT_ID);
    t.emulator.revoke_github_token(&revoked);
    for token in [&ours, &theirs, &revoked] {
        t.remember(token);
    }
    for token in [theirs.as_str(), revoked.as_str(), "gho_garbage"] {
        let (status, _) = syncano(&t, "github", json!({ "access_token": token })).await;
        assert_eq!(status, 401);
    }
    assert_eq!(t.login_writes().await, [0, 0, 0, 0]);
    let (status, body) = rocketchat(&t, json!({"serviceName": "github", "accessToken": ours, "expiresIn": 3600})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["me"]["emails"], json!([{"address": "octo@example.com", "verified": true}]));
    assert_eq!(body["data"]["me"]["name"], "The Octocat");
    t.remember(body["data"]["authToken"].as_str().unwrap_or_default());
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apple_keeps_the_name_given_at_first_sign_in() {
    let t = spawn_app().await;
    let sub = t.emulator.create_oidc_user(OidcProvider::Apple, "ignored", Some("x@privaterelay.appleid.com"), true);
    let first = t.emulator.issue_id_token(OidcProvider::Apple, &sub, APPLE_CLIENT_ID, Some("n1"));
    let (status, body) = rocketchat(
        &t,
        json!({"serviceName": "apple", "identityToken": first, "nonce": "n1", "fullName": {"givenName": "Ann", "familyName": "Apple"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["data"]["me"]["name"].as_str(), body["data"]["me"]["username"].as_str()),
        (Some("Ann Apple"), Some("ann.apple"))
    );
    t.remember(body["data"]["authToken"].as_str().unwrap_or_default());
    // Later sign-ins carry no name (Apple gives it once); a different one is not taken either.
    let again = t.emulator.issue_id_token(OidcProvider::Apple, &sub, APPLE_CLIENT_ID, Some("n2"));
    let (status, body) =
        rocketchat(&t, json!({"serviceName": "apple", "identityToken": again, "nonce": "n2", "fullName": "Mallory"}))
            .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["me"]["name"], "Ann Apple");
    t.remember(body["data"]["authToken"].as_str().unwrap_or_default());
    t.remember(&first);
    t.remember(&again);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_is_followed_without_a_cold_start_and_fetched_once() {
    // One user's many rejected tokens from one IP: the per-user failure limit is not tested here.
    let t = spawn_app_with(|v| {
        v.insert("LOGIN_FAILURES_PER_USER_MAX".into(), "1000".into());
    })
    .await;
    let p = OidcProvider::Google;
    let sub = t.emulator.create_oidc_user(p, "Rota Tion", None, false);
    let login = |token: String| {
        t.remember(&token);
        syncano(&t, "google-oauth2", json!({ "access_token": token }))
    };
    assert_eq!(t.emulator.jwks_fetches(p), 0, "a cold start fetches nothing it does not need");
    for _ in 0..5 {
        assert_eq!(login(t.emulator.issue_id_token(p, &sub, GOOGLE_CLIENT_ID, None)).await.0, 200);
    }
    assert_eq!(t.emulator.jwks_fetches(p), 1, "cached across requests");
    let old = t.emulator.issue_id_token(p, &sub, GOOGLE_CLIENT_ID, None);
    t.emulator.rotate_keys(p);
    tokio::time::sleep(Duration::from_millis(JWKS_MIN_REFETCH_MS + 50)).await;
    for _ in 0..5 {
        assert_eq!(login(t.emulator.issue_id_token(p, &sub, GOOGLE_CLIENT_ID, None)).await.0, 200);
    }
    assert_eq!(t.emulator.jwks_fetches(p), 2, "one fetch per rotation");
    assert_eq!(login(old).await.0, 200, "the previous key is still published");

    // A flood of made-up key ids costs at most one fetch per JWKS_MIN_REFETCH_MS.
    tokio::time::sleep(Duration::from_millis(JWKS_MIN_REFETCH_MS + 50)).await;
    let before = t.emulator.jwks_fetches(p);
    let valid = claims(p, &sub, GOOGLE_CLIENT_ID, None);
    let started = std::time::Instant::now();
    for _ in 0..20 {
        let token = t.emulator.sign_id_token(p, valid.clone(), SigningMode::UnknownKid);
        assert_eq!(login(token).await.0, 401);
    }
    let allowed = 1 + started.elapsed().as_millis() as u64 / JWKS_MIN_REFETCH_MS;
    let fetched = t.emulator.jwks_fetches(p) - before;
    assert!(fetched <= allowed.min(19), "{fetched} fetches for a flood of 20 unknown kids (allowed {allowed})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfigured_providers_are_not_served() {
    let t = spawn_app_with(|v| {
        for k in ["GOOGLE_CLIENT_IDS", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"] {
            v.remove(k);
        }
    })
    .await;
    // As an unknown backend (`apps/core/social_helpers.py`: `UnsupportedSocialBackend`).
    let (status, body) = syncano(&t, "google-oauth2", json!({"access_token": "ya29.x"})).await;
    assert_eq!((status, body), (400, json!({"detail": "Unsupported social backend."})));
    let (status, body) = rocketchat(&t, json!({"serviceName": "github", "accessToken": "gho_x", "expiresIn": 1})).await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "Unexpected AccessToken service github", "{body}");
    assert_eq!(t.emulator.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_outages_are_502_for_every_provider() {
    let t = spawn_app().await;
    t.emulator.set_fault(emulator::Fault::Status500);
    let gsub = t.emulator.create_oidc_user(OidcProvider::Google, "Out Age", None, false);
    let gtoken = t.emulator.issue_oauth_access_token(OidcProvider::Google, &gsub, GOOGLE_CLIENT_ID);
    let id_token = t.emulator.issue_id_token(OidcProvider::Google, &gsub, GOOGLE_CLIENT_ID, None);
    let tw = t.emulator.create_twitter_user("Out Age", "outage", None);
    let (tt, ts) = t.emulator.issue_twitter_token(&tw, TWITTER_CONSUMER_KEY);
    let gh = t.emulator.create_github_user("outage", None, &[]);
    let ght = t.emulator.issue_github_token(gh, GITHUB_CLIENT_ID);
    for s in [&gtoken, &id_token, &tt, &ts, &ght] {
        t.remember(s);
    }
    for (backend, token) in [
        ("google-oauth2", gtoken.clone()),
        ("google-oauth2", id_token.clone()),
        ("twitter", format!("{tt}:{ts}")),
        ("github", ght.clone()),
    ] {
        let (status, body) = syncano(&t, backend, json!({ "access_token": token })).await;
        assert_eq!(status, 502, "{backend}: {body}");
    }
    assert_eq!(t.login_writes().await, [0, 0, 0, 0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_key_set_bridges_an_outage_only_for_jwks_max_stale_secs() {
    let t = spawn_app_with(|v| {
        v.insert("JWKS_MAX_STALE_SECS".into(), "2".into());
    })
    .await;
    let p = OidcProvider::Google;
    // `max-age=0`: every key set fetched is out of its cache time at once.
    t.emulator.set_jwks_max_age(0);
    let sub = t.emulator.create_oidc_user(p, "Stale Keys", None, false);
    let t = &t;
    let login = || {
        let token = t.emulator.issue_id_token(p, &sub, GOOGLE_CLIENT_ID, None);
        t.remember(&token);
        syncano(t, "google-oauth2", json!({ "access_token": token }))
    };
    let (status, user) = login().await;
    assert_eq!(status, 200, "{user}");
    t.remember(user["user_key"].as_str().unwrap_or_default());
    t.emulator.set_fault(emulator::Fault::Status500);
    let before = t.emulator.jwks_fetches(p);
    let (status, body) = login().await;
    assert_eq!(status, 200, "a short outage is bridged by the expired key set: {body}");
    assert_eq!(t.emulator.jwks_fetches(p), before + 1, "the refetch was tried");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let (status, body) = login().await;
    assert_eq!(status, 502, "a key set stale for longer than JWKS_MAX_STALE_SECS verifies nothing: {body}");
    t.emulator.set_fault(emulator::Fault::None);
    let (status, again) = login().await;
    assert_eq!((status, &again["id"]), (200, &user["id"]), "{again}");
    assert_eq!(t.login_writes().await[..3], [1, 1, 1]);
    t.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facebook_page_and_app_tokens_of_our_app_do_not_log_in_as_a_user() {
    let t = spawn_app().await;
    let (person, user_token) = t.facebook_user("Page Admin", Some("admin@example.com"));
    let page = t.emulator.create_facebook_page(&person, "Our Brand");
    let page_token = t.emulator.issue_facebook_page_token(&person, &page, APP_ID);
    t.remember(&page_token);
    let app_secret = t.app.config.facebook.as_ref().map(|f| f.app_secret.expose().to_string()).unwrap_or_default();
    let app_token = format!("{APP_ID}|{app_secret}");
    t.remember(&app_token);
    for (name, token) in [("Page token", &page_token), ("app token", &app_token)] {
        let (status, body) = syncano(&t, "facebook", json!({ "access_token": token })).await;
        assert_eq!((status, &body), (401, &json!({"detail": "Invalid username or password."})), "{name}");
        let (status, body) = rocketchat(
            &t,
            json!({"serviceName": "facebook", "accessToken": token, "secret": "client-secret", "expiresIn": 3600}),
        )
        .await;
        assert_eq!(status, 401, "{name}: {body}");
    }
    assert_eq!(t.login_writes().await, [0, 0, 0, 0], "a Page or app token wrote something");
    // Control: the person's own user token logs in, as the person.
    let (status, user) = syncano(&t, "facebook", json!({ "access_token": user_token })).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["username"], "page.admin");
    t.remember(user["user_key"].as_str().unwrap_or_default());
    t.assert_logs_clean();
}

//! The consent pages (the playground's provider sign-in pages) over HTTP: they escape what they
//! show, hand tokens only to loopback redirect URIs and only in the fragment, and put the nonce
//! into the ID token as the authorization request gave it.

mod common;

use base64::Engine;
use emulator::{EmulatorConfig, FacebookApp};
use reqwest::redirect::Policy;

use common::{start_with, Env};

const APP: &str = "consent-app";
const BACK: &str = "http://127.0.0.1:3000/_playground/";

async fn start() -> (Env, reqwest::Client) {
    let env = start_with(EmulatorConfig {
        facebook_apps: vec![FacebookApp { id: APP.into(), secret: "s3cret".into() }],
        ..Default::default()
    })
    .await;
    let client = reqwest::Client::builder().redirect(Policy::none()).build().expect("client");
    (env, client)
}

/// POSTs a grant to the consent page at `path`; the answer's status and `Location`.
async fn grant(env: &Env, client: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> (u16, Option<String>) {
    let response = client.post(env.url(path)).form(form).send().await.expect("grant");
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (response.status().as_u16(), location)
}

fn fragment(location: &str) -> std::collections::HashMap<String, String> {
    let (_, fragment) = location.split_once('#').expect("a fragment");
    serde_urlencoded::from_str(fragment).expect("form-encoded fragment")
}

#[tokio::test]
async fn a_consent_page_escapes_the_names_it_lists_and_the_parameters_it_echoes() {
    let (env, client) = start().await;
    let evil = "<img src=x onerror=alert(1)>";
    let form = [
        ("client_id", APP),
        ("redirect_uri", BACK),
        ("state", "s"),
        ("person", "new"),
        ("name", evil),
        ("decision", "allow"),
    ];
    assert_eq!(grant(&env, &client, "/v22.0/dialog/oauth", &form).await.0, 303);
    let page = env
        .client
        .get(env.url("/v22.0/dialog/oauth"))
        .query(&[("client_id", APP), ("redirect_uri", BACK), ("state", "\"><script>alert(2)</script>")])
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap_or_default().to_owned();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    let html = page.text().await.expect("html");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"), "{html}");
    assert!(!html.contains(evil) && !html.contains("<script>"), "{html}");
}

#[tokio::test]
async fn tokens_go_only_to_loopback_redirect_uris_of_known_apps() {
    let (env, client) = start().await;
    for (client_id, redirect_uri) in [
        (APP, "http://evil.example/cb"),
        (APP, "http://127.0.0.1.evil.example/cb"),
        (APP, "http://127.0.0.1@evil.example/cb"),
        ("someone-elses-app", BACK),
    ] {
        let form = [
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("person", "new"),
            ("name", "Eve"),
            ("decision", "allow"),
        ];
        let (status, location) = grant(&env, &client, "/v22.0/dialog/oauth", &form).await;
        assert_eq!((status, location), (400, None), "{client_id} {redirect_uri}");
    }
}

#[tokio::test]
async fn apple_hands_back_an_id_token_with_the_requested_nonce_a_code_and_the_state() {
    let (env, client) = start().await;
    let nonce_hash = "7e21b317bb0efa498f8468c20322bd94ccfbf52bf1f00b6d58af81df02ac565d";
    let form = [
        ("client_id", "com.example.consent"),
        ("redirect_uri", BACK),
        ("state", "st4te"),
        ("nonce", nonce_hash),
        ("person", "new"),
        ("name", "Ada Lovelace"),
        ("decision", "allow"),
    ];
    let (status, location) = grant(&env, &client, "/apple/auth/authorize", &form).await;
    assert_eq!(status, 303);
    let location = location.expect("a redirect");
    assert!(location.starts_with(&format!("{BACK}#")), "{location}");
    let handed = fragment(&location);
    assert_eq!(handed["state"], "st4te");
    assert!(!handed["code"].is_empty());
    let payload = handed["id_token"].split('.').nth(1).expect("a JWT");
    let claims: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64"))
            .expect("claims");
    assert_eq!(claims["nonce"], nonce_hash, "as requested, not hashed again");
    assert_eq!(claims["aud"], "com.example.consent");
    assert_eq!(claims["iss"], "https://appleid.apple.com");
    let user: serde_json::Value = serde_json::from_str(&handed["user"]).expect("user");
    assert_eq!(user["name"]["firstName"], "Ada");
    assert_eq!(env.emulator.request_count(), 0, "a browser's pages are not provider requests");
}

#[tokio::test]
async fn cancel_hands_back_access_denied_and_no_token() {
    let (env, client) = start().await;
    let form = [("client_id", APP), ("redirect_uri", BACK), ("state", "s"), ("decision", "cancel")];
    let (status, location) = grant(&env, &client, "/v22.0/dialog/oauth", &form).await;
    assert_eq!(status, 303);
    let handed = fragment(&location.expect("a redirect"));
    assert_eq!(handed.get("error").map(String::as_str), Some("access_denied"));
    assert!(!handed.contains_key("access_token"));
}

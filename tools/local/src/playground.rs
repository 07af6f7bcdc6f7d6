//! The sign-in playground (issue 32): a page the local stack serves at [`PATH`] on the gateway's
//! own origin (so its calls to both APIs are same-origin), where a developer signs in as an app
//! would: picks the instance, the API key, a provider and a dialect, goes through the provider
//! emulator's consent page and back, and sees the login's answer, the equivalent `curl` and the
//! next steps of both APIs. Plain HTML and vanilla JavaScript, compiled in (`include_str!`).
//! Local tools only: never in `template.yaml` (its routes start with `/v1.1/`, `/api/`,
//! `/avatar/` and `/callbacks/`, so `/_playground/` cannot collide with one).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::demo;

/// Where the page is served on the gateway.
pub const PATH: &str = "/_playground/";

const INDEX_HTML: &str = include_str!("../playground/index.html");
const APP_JS: &str = include_str!("../playground/app.js");
const STYLE_CSS: &str = include_str!("../playground/style.css");

/// What the page needs to know: the emulator's URL, the demo instance and keys, our apps'
/// client ids. Nothing secret beyond the demo keys the banner prints anyway.
#[derive(Clone, Debug, Serialize)]
pub struct PlaygroundConfig {
    /// The provider emulator's base URL (its consent pages).
    pub emulator_url: String,
    pub instance: String,
    pub api_key: String,
    pub admin_api_key: String,
    pub facebook_app_id: String,
    pub google_client_id: String,
    pub apple_client_id: String,
    pub twitter_consumer_key: String,
    pub github_client_id: String,
    pub linkedin_client_id: String,
    pub microsoft_client_id: String,
    /// The demo instance's custom OpenID Connect provider, when it has one.
    pub custom_oidc: Option<CustomOidc>,
}

/// A custom OpenID Connect provider the page offers: its name (Syncano backend `oidc-{name}`,
/// Rocket.Chat `serviceName` `{name}`) and our client id there; its consent page is the
/// emulator's issuer's `authorization_endpoint` (`{emulator}/oidc/{name}/authorize`).
#[derive(Clone, Debug, Serialize)]
pub struct CustomOidc {
    pub name: String,
    pub client_id: String,
    pub authorization_endpoint: String,
}

impl PlaygroundConfig {
    /// The demo world's values with the emulator at `emulator_url`.
    pub fn demo(emulator_url: &str) -> PlaygroundConfig {
        PlaygroundConfig {
            emulator_url: emulator_url.trim_end_matches('/').to_owned(),
            instance: demo::DEMO_INSTANCE.to_owned(),
            api_key: demo::DEMO_API_KEY.to_owned(),
            admin_api_key: demo::DEMO_ADMIN_API_KEY.to_owned(),
            facebook_app_id: demo::FACEBOOK_APP_ID.to_owned(),
            google_client_id: demo::GOOGLE_CLIENT_ID.to_owned(),
            apple_client_id: demo::APPLE_CLIENT_ID.to_owned(),
            twitter_consumer_key: demo::TWITTER_CONSUMER_KEY.to_owned(),
            github_client_id: demo::GITHUB_CLIENT_ID.to_owned(),
            linkedin_client_id: demo::LINKEDIN_CLIENT_ID.to_owned(),
            microsoft_client_id: demo::MICROSOFT_CLIENT_ID.to_owned(),
            custom_oidc: None,
        }
    }

    /// [`PlaygroundConfig::demo`] with the demo instance's custom provider
    /// ([`demo::seed_playground_oidc`]).
    pub fn with_demo_oidc(mut self) -> PlaygroundConfig {
        self.custom_oidc = Some(CustomOidc {
            name: demo::PLAYGROUND_OIDC_ISSUER.to_owned(),
            client_id: demo::PLAYGROUND_OIDC_CLIENT_ID.to_owned(),
            authorization_endpoint: format!("{}/oidc/{}/authorize", self.emulator_url, demo::PLAYGROUND_OIDC_ISSUER),
        });
        self
    }
}

/// The page's routes, to merge into the gateway's router.
pub fn router(config: PlaygroundConfig) -> Router {
    Router::new()
        .route("/_playground", get(|| async { Redirect::permanent(PATH) }))
        .route(PATH, get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }))
        .route("/_playground/app.js", get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }))
        .route("/_playground/style.css", get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }))
        .route(
            "/_playground/config.json",
            get(move || {
                let config = config.clone();
                async move { with_headers(Json(config).into_response()) }
            }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    with_headers(response)
}

/// Same-origin scripts and styles only, no framing, no referrer, no caching.
fn with_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn serves_the_page_its_script_and_its_config() {
        let app = router(PlaygroundConfig::demo("http://127.0.0.1:8081/"));
        for (path, kind) in [
            (PATH, "text/html"),
            ("/_playground/app.js", "text/javascript"),
            ("/_playground/config.json", "application/json"),
        ] {
            let request = axum::http::Request::get(path).body(axum::body::Body::empty()).expect("request");
            let response = app.clone().oneshot(request).await.expect("response");
            assert_eq!(response.status(), 200, "{path}");
            let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap_or_default().to_owned();
            assert!(content_type.starts_with(kind), "{path}: {content_type}");
            assert!(response.headers().contains_key(header::CONTENT_SECURITY_POLICY), "{path}");
        }
    }

    #[test]
    fn the_script_never_renders_data_as_markup() {
        for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("] {
            assert!(!APP_JS.contains(sink), "app.js uses {sink}: render responses with textContent");
        }
    }
}

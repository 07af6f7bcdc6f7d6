//! The providers' HTTP: the one client of a cold start (timeouts, no redirects, compiled-in
//! trust roots), reading an answer within a size bound, and the classification every verifier
//! shares (transport errors without their URL, outages, JSON that is not what was expected),
//! with the small normalisations of what providers answer (avatar URLs, display names).

use super::{ProviderError, MAX_PROVIDER_BODY};

/// The one HTTP client of a cold start, shared by all provider verifiers: provider timeout as
/// total request timeout, no redirects (a provider API never redirects a token check), TLS from
/// [`crate::net::tls::provider_tls_config`] (compiled-in roots, no certificate store read).
pub fn http_client(timeout: std::time::Duration, tls: rustls::ClientConfig) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("social-login/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Classifies a transport error without its URL (which may carry a token or proof).
pub(crate) fn transport_error(err: reqwest::Error) -> ProviderError {
    if err.is_timeout() {
        ProviderError::Timeout
    } else {
        ProviderError::Unavailable(err.without_url().to_string())
    }
}

/// Sends a request and reads at most [`MAX_PROVIDER_BODY`] bytes of the answer.
pub(crate) async fn send(req: reqwest::RequestBuilder) -> Result<(reqwest::StatusCode, Vec<u8>), ProviderError> {
    read(req.send().await.map_err(transport_error)?).await
}

/// Reads at most [`MAX_PROVIDER_BODY`] bytes of an answer.
pub(crate) async fn read(mut resp: reqwest::Response) -> Result<(reqwest::StatusCode, Vec<u8>), ProviderError> {
    let status = resp.status();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > MAX_PROVIDER_BODY {
            return Err(ProviderError::BadResponse("body too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

/// The failure class of a non-2xx answer that is not a verdict on the token: 5xx and 429 are
/// the provider's trouble; `None` means the caller decides (usually: rejected).
pub(crate) fn outage(status: reqwest::StatusCode) -> Option<ProviderError> {
    (status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS)
        .then(|| ProviderError::Unavailable(format!("provider answered {status}")))
}

/// Parses a JSON answer, or calls it a bad response.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ProviderError> {
    serde_json::from_slice(body).map_err(|_| ProviderError::BadResponse(format!("{what} is not the expected JSON")))
}

/// A URL we are willing to store as an avatar.
pub(crate) fn http_url(u: Option<String>) -> Option<String> {
    u.filter(|u| (u.starts_with("https://") || u.starts_with("http://")) && u.len() <= 2048)
}

/// A non-blank display name.
pub(crate) fn display_name(parts: &[Option<&str>]) -> Option<String> {
    let joined = parts.iter().flatten().map(|s| s.trim()).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ");
    (!joined.is_empty()).then_some(joined)
}

/// Whether `token` can travel as (part of) an HTTP header value unchanged: visible ASCII only.
pub(crate) fn is_header_safe(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic())
}

//! The optional per-client front: CloudFront with an AWS WAF rate-based rule per IP before the
//! HTTP API (docs/security.md, "Flood protection"). When it is on (`ORIGIN_SECRET` set):
//!
//! - every request must carry the origin secret CloudFront adds ([`ORIGIN_HEADER`]); one without
//!   it, or with another value, did not come through the front (it went to the execute-api URL
//!   directly, around the WAF) and is refused with 403 in the route's dialect, before anything
//!   else is read. The value is compared in constant time (digests of both sides).
//! - the client is the viewer CloudFront saw (`CloudFront-Viewer-Address`, `ip:port`), not the
//!   connection's source (a CloudFront edge); the failure limiter counts by it.
//!
//! When it is off, [`ORIGIN_HEADER`] and `CloudFront-Viewer-Address` are ordinary headers anyone
//! can send, and are ignored: the client is API Gateway's `sourceIp`.

use std::net::IpAddr;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};

use crate::config::Config;
// Read with the other settings; named here too, where the front is.
pub use crate::config::{origin_secret, MIN_ORIGIN_SECRET_LEN};
use crate::domain::secret::Secret;
use crate::entry::http::{header_str, json_response, source_ip};

/// The header CloudFront adds to every origin request (the distribution's `OriginCustomHeaders`).
pub const ORIGIN_HEADER: &str = "x-origin-verify";
/// The header CloudFront sets to the viewer's address and source port.
pub const VIEWER_ADDRESS_HEADER: &str = "cloudfront-viewer-address";
/// Whether `presented` is the origin secret: equal digests, compared without an early exit, so
/// the time taken says nothing about how much of it was right (nor about its length).
pub fn origin_secret_matches(secret: &Secret, presented: Option<&str>) -> bool {
    let Some(presented) = presented else { return false };
    let (a, b) = (Sha256::digest(secret.expose().as_bytes()), Sha256::digest(presented.as_bytes()));
    let diff = a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Whether a request (its header lookup) may be served: always without a front; with one, only
/// with the origin secret.
pub fn admitted<'a>(config: &Config, header: impl Fn(&str) -> Option<&'a str>) -> bool {
    match &config.origin_secret {
        None => true,
        Some(secret) => origin_secret_matches(secret, header(ORIGIN_HEADER)),
    }
}

/// The viewer's IP of a `CloudFront-Viewer-Address` value: `198.51.100.10:46532`, or an IPv6
/// address followed by `:port` (`2001:db8::1:46532`, as CloudFront writes it; `[2001:db8::1]:46532`
/// is read too). Anything else is `None`.
pub fn viewer_ip(value: &str) -> Option<IpAddr> {
    let (ip, port) = value.trim().rsplit_once(':')?;
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    port.parse::<u16>().ok()?;
    let ip = ip.strip_prefix('[').and_then(|ip| ip.strip_suffix(']')).unwrap_or(ip);
    ip.parse().ok()
}

/// The client the failure limiter counts: with the front on, the viewer CloudFront saw (else,
/// if CloudFront sent no readable viewer address, the source IP, with a warning: a
/// misconfigured origin request policy); without it, API Gateway's `sourceIp`, whatever
/// `CloudFront-Viewer-Address` says.
pub fn client_ip(config: &Config, req: &Request) -> Option<String> {
    if config.origin_secret.is_some() {
        match header_str(req, VIEWER_ADDRESS_HEADER).and_then(viewer_ip) {
            Some(ip) => return Some(ip.to_string()),
            None => tracing::warn!("front on, but no readable CloudFront-Viewer-Address: counting by source IP"),
        }
    }
    source_ip(req).map(str::to_owned)
}

/// The answer to a request that did not come through the front: 403 in the route's dialect
/// (Syncano under `/v1.1/`, Rocket.Chat under `/api/`, else API Gateway's own shape); `None` if
/// it may be served.
pub fn refusal(config: &Config, req: &Request) -> Option<Response<Body>> {
    if admitted(config, |name| req.headers().get(name).and_then(|v| v.to_str().ok())) {
        return None;
    }
    let path = req.uri().path();
    let body = if path.starts_with("/v1.1/") {
        // Django REST framework's PermissionDenied.
        serde_json::json!({ "detail": "You do not have permission to perform this action." })
    } else if path.starts_with("/api/") {
        // Rocket.Chat's API.v1.forbidden() (ApiClass.ts).
        serde_json::json!({ "success": false, "error": "unauthorized" })
    } else {
        serde_json::json!({ "message": "Forbidden" })
    };
    tracing::info!(
        status = 403,
        outcome = "refused",
        error = "not through the front (origin secret missing or wrong)",
        "request"
    );
    Some(json_response(StatusCode::FORBIDDEN, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewer_addresses_as_cloudfront_writes_them() {
        assert_eq!(viewer_ip("198.51.100.10:46532"), Some("198.51.100.10".parse().unwrap()));
        assert_eq!(
            viewer_ip("2001:db8:85a3::8a2e:370:7334:443"),
            Some("2001:db8:85a3::8a2e:370:7334".parse().unwrap())
        );
        assert_eq!(viewer_ip("[2001:db8::1]:443"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(viewer_ip(" 203.0.113.7:1 "), Some("203.0.113.7".parse().unwrap()));
        for bad in [
            "",
            "198.51.100.10",
            "198.51.100.10:",
            "198.51.100.10:99999",
            "198.51.100.10:+80",
            "host:80",
            "1.2.3.4, 5.6.7.8:80",
            ":80",
            "2001:db8::1",
            "[2001:db8::1]",
            "1.2.3.4:80:80",
        ] {
            assert_eq!(viewer_ip(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_origin_secret_must_match_exactly() {
        let secret = Secret::new("s".repeat(40));
        assert!(origin_secret_matches(&secret, Some(&"s".repeat(40))));
        for wrong in [String::new(), "s".repeat(39), "s".repeat(41), format!("{}t", "s".repeat(39)), "S".repeat(40)] {
            assert!(!origin_secret_matches(&secret, Some(&wrong)), "{wrong:?}");
        }
        assert!(!origin_secret_matches(&secret, None));
    }

    #[test]
    fn a_short_or_odd_origin_secret_stops_the_cold_start() {
        assert_eq!(origin_secret(None), Ok(None));
        assert!(origin_secret(Some("x".repeat(31))).is_err());
        assert!(origin_secret(Some(format!("{} ", "x".repeat(32)))).is_err());
        assert!(origin_secret(Some("é".repeat(20))).is_err());
        assert_eq!(origin_secret(Some("x".repeat(32))).map(|s| s.map(|s| s.expose().len())), Ok(Some(32)));
    }
}

//! OAuth 1.0a as X checks it: the `Authorization: OAuth ...` header, the RFC 5849 signature base
//! string over the request as the client addressed it, the HMAC-SHA1 signature under the consumer
//! and token secrets, the timestamp window and nonce replay.

use axum::http::{header, request::Parts};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::errors::V1Error;
use super::{Twitter, PREFIX};
use crate::util::{lock, now};

/// How far an `oauth_timestamp` may be from the emulator's clock (X answers code 135 past it).
const TIMESTAMP_WINDOW_SECS: i64 = 15 * 60;

impl Twitter {
    /// Checks an OAuth 1.0a signed request the way X does; returns the user id.
    pub(super) fn check_oauth1(&self, parts: &Parts, header_value: &str) -> Result<String, V1Error> {
        let oauth = parse_oauth_header(header_value).ok_or_else(V1Error::bad_auth_data)?;
        let get = |k: &str| oauth.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        let (Some(consumer_key), Some(signature), Some(nonce), Some(timestamp)) =
            (get("oauth_consumer_key"), get("oauth_signature"), get("oauth_nonce"), get("oauth_timestamp"))
        else {
            return Err(V1Error::bad_auth_data());
        };
        if get("oauth_signature_method") != Some("HMAC-SHA1") || get("oauth_version").is_some_and(|v| v != "1.0") {
            return Err(V1Error::could_not_authenticate());
        }
        let consumer_secret = self.apps.get(consumer_key).ok_or_else(V1Error::could_not_authenticate)?;
        let timestamp: i64 = timestamp.parse().map_err(|_| V1Error::could_not_authenticate())?;
        if (now() - timestamp).abs() > TIMESTAMP_WINDOW_SECS {
            return Err(V1Error::timestamp_out_of_bounds());
        }
        let token = get("oauth_token").ok_or_else(V1Error::bad_auth_data)?;
        let record = lock(&self.data).tokens.get(token).cloned().ok_or_else(V1Error::invalid_token)?;
        if record.revoked {
            return Err(V1Error::invalid_token());
        }
        let token_secret = match (&record.secret, record.consumer_key == consumer_key) {
            (Some(secret), true) => secret,
            // A bearer token in an OAuth 1.0a header, or a token of another consumer: the
            // signature cannot match what X holds for this consumer.
            _ => return Err(V1Error::could_not_authenticate()),
        };
        let base = signature_base_string(parts, &oauth).ok_or_else(V1Error::bad_auth_data)?;
        if !signature_matches(consumer_secret, token_secret, &base, signature) {
            return Err(V1Error::could_not_authenticate());
        }
        if !lock(&self.data).nonces.insert((consumer_key.to_string(), nonce.to_string())) {
            return Err(V1Error::could_not_authenticate());
        }
        Ok(record.user)
    }
}

/// RFC 3986 percent-encoding as OAuth 1.0a wants it: everything but `A-Z a-z 0-9 - . _ ~`.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-decoding (no `+` rule: header values are RFC 3986 encoded).
fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The `oauth_*` parameters of `OAuth k="v", ...` (decoded; `realm` dropped).
fn parse_oauth_header(value: &str) -> Option<Vec<(String, String)>> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("oauth") {
        return None;
    }
    let mut params = Vec::new();
    for item in rest.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (key, value) = item.split_once('=')?;
        let value = value.trim().strip_prefix('"')?.strip_suffix('"')?;
        let key = decode(key.trim())?;
        if key != "realm" {
            params.push((key, decode(value)?));
        }
    }
    Some(params)
}

/// The mark of a request a TLS front forwarded ([`crate::Emulator::spawn_behind_tls`]): the
/// client addressed it to `https://`. Without it, to `http://`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AddressedOverTls;

/// RFC 5849 §3.4.1: method, base string URI (as the client addressed us: the scheme, the `Host`
/// header without the scheme's default port, the full path) and the normalized parameters
/// (query, form body, `oauth_*` but the signature).
fn signature_base_string(parts: &Parts, oauth: &[(String, String)]) -> Option<String> {
    let (scheme, default_port) = match parts.extensions.get::<AddressedOverTls>() {
        Some(_) => ("https", ":443"),
        None => ("http", ":80"),
    };
    let host = parts.headers.get(header::HOST)?.to_str().ok()?.to_ascii_lowercase();
    let host = host.strip_suffix(default_port).unwrap_or(&host);
    let uri = format!("{scheme}://{host}{PREFIX}{}", parts.uri.path());
    let mut params: Vec<(String, String)> = match parts.uri.query() {
        Some(q) => serde_urlencoded::from_str(q).ok()?,
        None => Vec::new(),
    };
    params.extend(oauth.iter().filter(|(k, _)| k != "oauth_signature").cloned());
    let mut encoded: Vec<(String, String)> = params.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    encoded.sort();
    let normalized = encoded.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    Some(format!("{}&{}&{}", parts.method.as_str(), encode(&uri), encode(&normalized)))
}

/// Whether `signature` (base64) is the HMAC-SHA1 of `base` under `consumer_secret&token_secret`.
fn signature_matches(consumer_secret: &str, token_secret: &str, base: &str, signature: &str) -> bool {
    let Ok(signature) = STANDARD.decode(signature) else {
        return false;
    };
    let key = format!("{}&{}", encode(consumer_secret), encode(token_secret));
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(base.as_bytes());
    mac.verify_slice(&signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request as HttpRequest;

    fn parts(method: &str, uri: &str, host: &str) -> Parts {
        let (parts, ()) =
            HttpRequest::builder().method(method).uri(uri).header("host", host).body(()).expect("request").into_parts();
        parts
    }

    /// X's "Creating a signature" guide: its request, parameters and expected signature.
    #[test]
    fn base_string_and_signature_match_the_documented_example() {
        let mut oauth = vec![
            ("oauth_consumer_key".to_string(), "xvz1evFS4wEEPTGEFPHBog".to_string()),
            ("oauth_nonce".into(), "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg".into()),
            ("oauth_signature_method".into(), "HMAC-SHA1".into()),
            ("oauth_timestamp".into(), "1318622958".into()),
            ("oauth_token".into(), "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb".into()),
            ("oauth_version".into(), "1.0".into()),
        ];
        oauth.push(("oauth_signature".into(), "ignored".into()));
        // The guide's status is a form body; a query parameter is signed the same way.
        let p = parts(
            "POST",
            "/1.1/statuses/update.json?include_entities=true&status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21",
            "API.twitter.com:80",
        );
        let base = signature_base_string(&p, &oauth).expect("base string");
        assert_eq!(
            base,
            "POST&http%3A%2F%2Fapi.twitter.com%2Ftwitter%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521"
        );
        // The guide's exact base string (https, no mount prefix) and signature.
        let documented = base.replace("http%3A%2F%2Fapi.twitter.com%2Ftwitter%2F", "https%3A%2F%2Fapi.twitter.com%2F");
        let consumer = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw";
        let token = "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE";
        assert!(signature_matches(consumer, token, &documented, "hCtSmYh+iHYCEqBWrE7C7hYmtUk="));
        assert!(!signature_matches(consumer, "other", &documented, "hCtSmYh+iHYCEqBWrE7C7hYmtUk="));
        assert!(!signature_matches(consumer, token, &documented, "not base64!"));
        // Behind a TLS front: `https://`, its default port left out like `:80` above.
        let mut tls = parts("POST", "/1.1/statuses/update.json", "api.twitter.com:443");
        tls.extensions.insert(AddressedOverTls);
        let base = signature_base_string(&tls, &oauth).expect("base string");
        assert!(base.starts_with("POST&https%3A%2F%2Fapi.twitter.com%2Ftwitter%2F1.1%2Fstatuses%2Fupdate.json&"));
    }

    #[test]
    fn oauth_header_is_parsed_and_decoded() {
        let params = parse_oauth_header(r#"OAuth realm="x", oauth_consumer_key="a%20b",oauth_signature="c%2Bd%3D""#)
            .expect("params");
        assert_eq!(
            params,
            vec![("oauth_consumer_key".to_string(), "a b".to_string()), ("oauth_signature".into(), "c+d=".into())]
        );
        assert_eq!(parse_oauth_header("Bearer abc"), None);
        assert_eq!(parse_oauth_header(r#"OAuth oauth_token=unquoted"#), None);
        assert_eq!(parse_oauth_header(r#"OAuth oauth_token="%zz""#), None);
    }

    #[test]
    fn encoding_is_rfc3986() {
        assert_eq!(encode("Ladies + Gentlemen!*~._-"), "Ladies%20%2B%20Gentlemen%21%2A~._-");
        assert_eq!(encode("🦀"), "%F0%9F%A6%80");
        assert_eq!(decode("%F0%9F%A6%80").as_deref(), Some("🦀"));
    }
}

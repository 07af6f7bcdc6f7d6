//! Facebook's `signed_request`: `<signature>.<payload>`, both base64url (Facebook sends them
//! without padding; padded parts are read too), the payload a JSON object whose `algorithm` is
//! `HMAC-SHA256` and the signature the HMAC-SHA256, under our app secret, of the payload part
//! exactly as sent. Facebook posts one to the data deletion and deauthorize callbacks; its
//! `user_id` is the app-scoped user id, our Facebook identity's subject.
//!
//! Nothing but `HMAC-SHA256` is accepted (no `none`, no other hash), and the comparison is the
//! `hmac` crate's constant-time one.
//!
//! Facebook signs login `signed_request`s with the same secret (its browser SDK hands the page
//! one, with a `code` or an `oauth_token`): such a one is no callback's and is refused as
//! malformed (issue 28), so that one copied off a page cannot pass as a deletion request.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The one algorithm Facebook signs with, and the only one accepted.
pub const ALGORITHM: &str = "HMAC-SHA256";

/// The claims only a login `signed_request` carries.
pub const LOGIN_CLAIMS: [&str; 2] = ["code", "oauth_token"];

/// Longest app-scoped user id accepted (Facebook's are 15 to 17 digits).
const MAX_USER_ID_LEN: usize = 64;

/// Why a `signed_request` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedRequestError {
    /// Not `<signature>.<payload>` in base64url, or the payload is not a JSON object, or it
    /// names no user: the sender's mistake (400).
    #[error("malformed signed_request: {0}")]
    Malformed(&'static str),
    /// Not signed by our app with HMAC-SHA256 (another algorithm, another app's secret, an
    /// altered payload or signature): the reason is for logs only (401).
    #[error("signed_request refused: {0}")]
    Forged(&'static str),
}

/// A verified `signed_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The app-scoped user id.
    pub user_id: String,
    /// When Facebook issued it (epoch seconds), if it says.
    pub issued_at: Option<i64>,
    /// SHA-256 (hex) of the signature's bytes: names this very request (a redelivery has the
    /// same), without being it.
    pub fingerprint: String,
}

/// One base64url part, with or without padding.
fn decode(part: &str) -> Option<Vec<u8>> {
    let unpadded = part.trim_end_matches('=');
    if unpadded.is_empty() {
        return None;
    }
    URL_SAFE_NO_PAD.decode(unpadded).ok()
}

/// Verifies `signed_request` against `app_secret`.
pub fn verify(signed_request: &str, app_secret: &[u8]) -> Result<SignedRequest, SignedRequestError> {
    let (signature, payload) = signed_request
        .trim()
        .split_once('.')
        .ok_or(SignedRequestError::Malformed("no '.' between signature and payload"))?;
    let signature = decode(signature).ok_or(SignedRequestError::Malformed("the signature is not base64url"))?;
    let decoded = decode(payload).ok_or(SignedRequestError::Malformed("the payload is not base64url"))?;
    let claims: serde_json::Map<String, Value> = serde_json::from_slice(&decoded)
        .map_err(|_| SignedRequestError::Malformed("the payload is not a JSON object"))?;
    if claims.get("algorithm").and_then(Value::as_str) != Some(ALGORITHM) {
        return Err(SignedRequestError::Forged("the algorithm is not HMAC-SHA256"));
    }
    let mut mac =
        Hmac::<Sha256>::new_from_slice(app_secret).map_err(|_| SignedRequestError::Forged("unusable app secret"))?;
    mac.update(payload.as_bytes());
    mac.verify_slice(&signature).map_err(|_| SignedRequestError::Forged("the signature does not match"))?;
    if LOGIN_CLAIMS.iter().any(|c| claims.contains_key(*c)) {
        return Err(SignedRequestError::Malformed("a login signed_request (code or oauth_token), not a callback's"));
    }
    let user_id = match claims.get("user_id") {
        Some(Value::String(id)) => id.clone(),
        Some(Value::Number(id)) if id.is_u64() => id.to_string(),
        _ => return Err(SignedRequestError::Malformed("no user_id")),
    };
    if user_id.is_empty() || user_id.len() > MAX_USER_ID_LEN || !user_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(SignedRequestError::Malformed("the user_id is not an app-scoped user id"));
    }
    let issued_at = claims.get("issued_at").and_then(Value::as_i64);
    Ok(SignedRequest { user_id, issued_at, fingerprint: hex::encode(Sha256::digest(&signature)) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &[u8] = b"our-app-secret";

    /// Signs `payload` as Facebook does: HMAC-SHA256 over the base64url payload.
    fn sign(payload: &Value, secret: &[u8]) -> String {
        let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
        mac.update(payload.as_bytes());
        format!("{}.{payload}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    fn payload(algorithm: &str) -> Value {
        json!({ "algorithm": algorithm, "expires": 1_291_840_400, "issued_at": 1_291_836_800, "user_id": "10158123456789012" })
    }

    #[test]
    fn a_request_signed_with_our_secret_is_read() {
        let verified = verify(&sign(&payload(ALGORITHM), SECRET), SECRET).expect("valid");
        assert_eq!(verified.user_id, "10158123456789012");
        assert_eq!(verified.issued_at, Some(1_291_836_800));
        assert_eq!(verified.fingerprint.len(), 64);
        // Padded parts (and surrounding blanks) are the same request.
        let signed = sign(&payload(ALGORITHM), SECRET);
        let (sig, body) = signed.split_once('.').expect("dot");
        let padded = format!(" {sig}=.{body}== ");
        let again = verify(&padded, SECRET);
        // The HMAC is over the payload as sent: padding the payload changes what is signed.
        assert_eq!(again, Err(SignedRequestError::Forged("the signature does not match")));
        let padded_signature = format!("{sig}=.{body}");
        assert_eq!(verify(&padded_signature, SECRET), Ok(verified));
    }

    #[test]
    fn a_login_signed_request_is_no_callbacks() {
        for claim in LOGIN_CLAIMS {
            let mut p = payload(ALGORITHM);
            p[claim] = json!("AQD7x");
            assert!(matches!(verify(&sign(&p, SECRET), SECRET), Err(SignedRequestError::Malformed(_))), "{claim}");
            // Not ours, it is a forgery first.
            assert!(matches!(verify(&sign(&p, b"another"), SECRET), Err(SignedRequestError::Forged(_))), "{claim}");
        }
    }

    #[test]
    fn a_numeric_user_id_is_read_as_its_digits() {
        let p = json!({ "algorithm": ALGORITHM, "user_id": 218_471 });
        assert_eq!(verify(&sign(&p, SECRET), SECRET).expect("valid").user_id, "218471");
    }

    #[test]
    fn a_tampered_payload_is_forged() {
        let signed = sign(&payload(ALGORITHM), SECRET);
        let (sig, _) = signed.split_once('.').expect("dot");
        let mut other = payload(ALGORITHM);
        other["user_id"] = json!("10158000000000000");
        let tampered = format!("{sig}.{}", URL_SAFE_NO_PAD.encode(other.to_string()));
        assert_eq!(verify(&tampered, SECRET), Err(SignedRequestError::Forged("the signature does not match")));
    }

    #[test]
    fn a_tampered_signature_is_forged() {
        let signed = sign(&payload(ALGORITHM), SECRET);
        let (sig, body) = signed.split_once('.').expect("dot");
        let mut bytes = URL_SAFE_NO_PAD.decode(sig).expect("b64");
        bytes[0] ^= 1;
        let tampered = format!("{}.{body}", URL_SAFE_NO_PAD.encode(&bytes));
        assert!(matches!(verify(&tampered, SECRET), Err(SignedRequestError::Forged(_))));
        // A truncated signature too.
        let short = format!("{}.{body}", URL_SAFE_NO_PAD.encode(&bytes[..16]));
        assert!(matches!(verify(&short, SECRET), Err(SignedRequestError::Forged(_))));
    }

    #[test]
    fn another_apps_secret_is_forged() {
        let signed = sign(&payload(ALGORITHM), b"another-app-secret");
        assert!(matches!(verify(&signed, SECRET), Err(SignedRequestError::Forged(_))));
    }

    #[test]
    fn only_hmac_sha256_is_accepted() {
        for algorithm in ["none", "NONE", "HMAC-SHA1", "hmac-sha256", "HS256", ""] {
            let signed = sign(&payload(algorithm), SECRET);
            assert!(matches!(verify(&signed, SECRET), Err(SignedRequestError::Forged(_))), "{algorithm}");
        }
        let no_algorithm = sign(&json!({ "user_id": "1" }), SECRET);
        assert!(matches!(verify(&no_algorithm, SECRET), Err(SignedRequestError::Forged(_))));
        // `none` with an empty signature: no signature part at all is malformed.
        let body = URL_SAFE_NO_PAD.encode(payload("none").to_string());
        assert!(verify(&format!(".{body}"), SECRET).is_err());
    }

    #[test]
    fn malformed_requests_are_malformed() {
        let signed = sign(&payload(ALGORITHM), SECRET);
        let (sig, body) = signed.split_once('.').expect("dot");
        assert!(matches!(verify("", SECRET), Err(SignedRequestError::Malformed(_))));
        assert!(matches!(verify(&format!("{sig}{body}"), SECRET), Err(SignedRequestError::Malformed(_))), "no dot");
        assert!(matches!(verify(&format!("{sig}.!!!"), SECRET), Err(SignedRequestError::Malformed(_))), "bad base64");
        assert!(matches!(verify(&format!("%%.{body}"), SECRET), Err(SignedRequestError::Malformed(_))), "bad base64");
        let not_json = URL_SAFE_NO_PAD.encode("not json");
        assert!(matches!(verify(&format!("{sig}.{not_json}"), SECRET), Err(SignedRequestError::Malformed(_))));
        let array = URL_SAFE_NO_PAD.encode("[1,2]");
        assert!(matches!(verify(&format!("{sig}.{array}"), SECRET), Err(SignedRequestError::Malformed(_))));
        // Signed by us, yet naming no user (or not an id).
        for p in [json!({ "algorithm": ALGORITHM }), json!({ "algorithm": ALGORITHM, "user_id": "a/b" })] {
            assert!(matches!(verify(&sign(&p, SECRET), SECRET), Err(SignedRequestError::Malformed(_))), "{p}");
        }
    }
}

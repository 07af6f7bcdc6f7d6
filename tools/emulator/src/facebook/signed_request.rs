//! Facebook's `signed_request`, as Facebook posts it to an app's data deletion and deauthorize
//! callbacks: `<signature>.<payload>`, both base64url without padding, the signature the
//! HMAC-SHA256 of the payload part under the app's secret.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::{Facebook, IssueError};

/// The algorithm Facebook names in every `signed_request`.
pub const SIGNED_REQUEST_ALGORITHM: &str = "HMAC-SHA256";

/// The payload Facebook signs for a callback about the app-scoped user `user_id`, issued at
/// `issued_at` (epoch seconds), naming `algorithm` (Facebook's is [`SIGNED_REQUEST_ALGORITHM`]).
pub fn signed_request_payload(user_id: &str, algorithm: &str, issued_at: i64) -> Value {
    json!({ "algorithm": algorithm, "expires": issued_at + 3600, "issued_at": issued_at, "user_id": user_id })
}

/// `payload` signed as Facebook signs it, with `app_secret` (whatever `algorithm` the payload
/// names: a test forges with it).
pub fn sign_signed_request(app_secret: &str, payload: &Value) -> String {
    let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
    let mut mac =
        Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).expect("HMAC-SHA256 accepts keys of any length");
    mac.update(payload.as_bytes());
    format!("{}.{payload}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

impl Facebook {
    /// A `signed_request` about `user_id` for the configured app `app_id`, signed with its
    /// secret now, naming `algorithm` (default [`SIGNED_REQUEST_ALGORITHM`]).
    pub(crate) fn signed_request(
        &self,
        app_id: &str,
        user_id: &str,
        algorithm: Option<&str>,
        issued_at: i64,
    ) -> Result<String, IssueError> {
        let secret = self.app_secret(app_id).ok_or(IssueError::UnknownApp)?;
        let payload = signed_request_payload(user_id, algorithm.unwrap_or(SIGNED_REQUEST_ALGORITHM), issued_at);
        Ok(sign_signed_request(&secret, &payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_reads_what_the_emulator_signs() {
        let fb = Facebook::new([("app".to_string(), "s3cret".to_string())]);
        let signed = fb.signed_request("app", "10158", None, 1_795_453_200).expect("configured app");
        let verified = shared::usecases::facebook_callbacks::signed_request::verify(&signed, b"s3cret").expect("valid");
        assert_eq!((verified.user_id.as_str(), verified.issued_at), ("10158", Some(1_795_453_200)));
        assert!(shared::usecases::facebook_callbacks::signed_request::verify(&signed, b"other").is_err());
        assert_eq!(fb.signed_request("nope", "1", None, 0), Err(IssueError::UnknownApp));
    }
}

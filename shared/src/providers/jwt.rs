//! Reading a JWT's shape and claims **without** verifying it: what every build needs (telling an
//! ID token from an access token, keying the failure limiter, the audience of a token already
//! verified), kept apart from [`super::oidc`] so that a function linking no provider links no
//! JWT verification either.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The `sub` claim of a JWT, read **without** verifying it: only for keying the failure limiter
/// (whose keys also carry the caller's IP, so a forged `sub` can only slow its own sender).
/// `None` unless it is a short, printable string.
pub fn unverified_subject(token: &str) -> Option<String> {
    if !looks_like_jwt(token) {
        return None;
    }
    let payload = token.split('.').nth(1)?;
    if payload.len() > 16 * 1024 {
        return None;
    }
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let sub = claims.get("sub")?.as_str()?;
    (!sub.is_empty() && sub.len() <= 255 && sub.chars().all(|c| c.is_ascii_graphic())).then(|| sub.to_string())
}

/// The `aud` of a JWT (a string, or the first of a list), read **without** verifying it: only
/// for a token [`verify`] has just accepted (whose audience is then one of ours).
pub fn unverified_audience(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    if payload.len() > 16 * 1024 {
        return None;
    }
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let aud = match claims.get("aud")? {
        serde_json::Value::Array(list) => list.first()?.as_str()?,
        other => other.as_str()?,
    };
    (!aud.is_empty() && aud.len() <= 255 && aud.chars().all(|c| c.is_ascii_graphic())).then(|| aud.to_string())
}

/// Whether `token` has the shape of a JWS compact token (three base64url parts, a JSON header
/// with `alg`). Used to tell ID tokens from opaque access tokens.
pub fn looks_like_jwt(token: &str) -> bool {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())
        .is_some_and(|h| h.get("alg").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_shape_is_recognised() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k"}"#);
        assert!(looks_like_jwt(&format!("{header}.e30.sig")));
        assert!(!looks_like_jwt("EAABwzLixnjYBAO"));
        assert!(!looks_like_jwt("ya29.a0AfH6SMB"));
        assert!(!looks_like_jwt("a.b.c"));
        assert!(!looks_like_jwt(&format!("{header}.e30.sig.extra")));
    }

    #[test]
    fn unverified_subject_reads_only_a_sane_sub() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k"}"#);
        let jwt = |claims: &str| format!("{header}.{}.sig", URL_SAFE_NO_PAD.encode(claims));
        assert_eq!(unverified_subject(&jwt(r#"{"sub":"1234"}"#)).as_deref(), Some("1234"));
        assert_eq!(unverified_subject(&jwt(r#"{"sub":12}"#)), None);
        assert_eq!(unverified_subject(&jwt(r#"{"sub":"a b"}"#)), None);
        assert_eq!(unverified_subject(&jwt(r#"{"iss":"x"}"#)), None);
        assert_eq!(unverified_subject(&format!("{header}.!!.sig")), None);
        assert_eq!(unverified_subject("EAABwzLixnjYBAO"), None);
    }
}

//! The claims of the ID tokens the emulator mints, in each provider's shape.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{OidcProvider, OidcUser};

/// Lifetime of minted ID tokens.
const ID_TOKEN_TTL: i64 = 3600;

/// A boolean as the string `"true"` or `"false"`, as Apple and LinkedIn write some claims.
pub(super) fn string_bool(value: bool) -> Value {
    Value::from(if value { "true" } else { "false" })
}

/// The claims of a freshly minted ID token, in the provider's shape.
pub(super) fn id_token_claims(
    provider: OidcProvider,
    sub: &str,
    user: &OidcUser,
    aud: &str,
    nonce: Option<&str>,
    now: i64,
) -> Value {
    let mut claims = Map::new();
    let mut put = |key: &str, value: Value| {
        claims.insert(key.to_string(), value);
    };
    put("iss", Value::from(provider.issuer()));
    put("aud", Value::from(aud));
    put("sub", Value::from(sub));
    put("iat", Value::from(now));
    put("exp", Value::from(now + ID_TOKEN_TTL));
    let profile = |put: &mut dyn FnMut(&str, Value)| {
        put("name", Value::from(user.name.as_str()));
        if let Some(given) = user.given_name() {
            put("given_name", Value::from(given));
        }
        if let Some(family) = user.family_name() {
            put("family_name", Value::from(family));
        }
        if let Some(picture) = &user.picture {
            put("picture", Value::from(picture.as_str()));
        }
    };
    match provider {
        OidcProvider::Google => {
            put("azp", Value::from(aud));
            if let Some(email) = &user.email {
                put("email", Value::from(email.as_str()));
                put("email_verified", Value::from(user.email_verified));
            }
            profile(&mut put);
            if let Some(nonce) = nonce {
                put("nonce", Value::from(nonce));
            }
        }
        OidcProvider::LinkedIn => {
            profile(&mut put);
            if let Some(email) = &user.email {
                put("email", Value::from(email.as_str()));
                put("email_verified", string_bool(user.email_verified));
            }
            put("locale", Value::from("en-US"));
            if let Some(nonce) = nonce {
                put("nonce", Value::from(nonce));
            }
        }
        OidcProvider::Apple => {
            if let Some(nonce) = nonce {
                put("nonce", Value::from(hex::encode(Sha256::digest(nonce.as_bytes()))));
            }
            put("nonce_supported", Value::from(true));
            if let Some(email) = &user.email {
                put("email", Value::from(email.as_str()));
                put("email_verified", string_bool(user.email_verified));
                put("is_private_email", string_bool(email.ends_with("@privaterelay.appleid.com")));
            }
            put("auth_time", Value::from(now));
        }
        OidcProvider::FacebookLimited => {
            put("jti", Value::from(uuid_like()));
            if let Some(nonce) = nonce {
                put("nonce", Value::from(nonce));
            }
            profile(&mut put);
            if let Some(email) = &user.email {
                put("email", Value::from(email.as_str()));
            }
        }
    }
    Value::Object(claims)
}

/// How long Apple's server-to-server notifications are valid (`exp` - `iat` in its deliveries).
const NOTIFICATION_TTL: i64 = 86_400;

/// The claims of a Sign in with Apple server-to-server notification to the client id `aud`:
/// `events` is the event object as a JSON string, as Apple sends it.
pub fn apple_notification_claims(aud: &str, event: &Value, now: i64) -> Value {
    serde_json::json!({
        "iss": OidcProvider::Apple.issuer(),
        "aud": aud,
        "iat": now,
        "exp": now + NOTIFICATION_TTL,
        "jti": uuid_like(),
        "events": event.to_string(),
    })
}

/// An Apple event as Apple writes it: `type`, `sub`, `event_time` (milliseconds), and for the
/// email events `email` and `is_private_email` (a string).
pub fn apple_event(kind: &str, sub: &str, email: Option<&str>, now_ms: i64) -> Value {
    let mut event = serde_json::json!({ "type": kind, "sub": sub, "event_time": now_ms });
    if let Some(email) = email {
        event["email"] = Value::from(email);
        event["is_private_email"] = string_bool(email.ends_with("@privaterelay.appleid.com"));
    }
    event
}

/// A random version-4-shaped UUID.
fn uuid_like() -> String {
    let h = hex::encode(rand::random::<[u8; 16]>());
    format!("{}-{}-4{}-a{}-{}", &h[..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

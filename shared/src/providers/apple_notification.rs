//! Apple's server-to-server notifications for Sign in with Apple: `{"payload": JWS}` posted to
//! the URL registered with Apple. The JWS is signed with Apple's ID-token keys (RS256, pinned)
//! and checked as an ID token is: `iss` `https://appleid.apple.com`, `aud` one of our client ids,
//! `exp` with the leeway. Its `events` claim (a JSON string, in Apple's deliveries; an object is
//! accepted too) says what the person did.

use serde::Deserialize;
use serde_json::Value;

use super::apple::AppleVerifier;
use super::oidc::LEEWAY_SECS;
use super::ProviderError;
use crate::domain::secret::Secret;
use crate::domain::tokens::sha256_hex;

/// What the person did, by the event's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppleEventKind {
    /// `consent-revoked`: stopped using their Apple Account with our app.
    ConsentRevoked,
    /// `account-delete` (`account-deleted` in some of Apple's texts): deleted their Apple Account.
    AccountDeleted,
    /// `email-disabled`: Hide My Email no longer forwards to them.
    EmailDisabled,
    /// `email-enabled`: Hide My Email forwards again.
    EmailEnabled,
    /// A type Apple may add later: acknowledged, nothing done.
    Other,
}

impl AppleEventKind {
    fn parse(kind: &str) -> AppleEventKind {
        match kind {
            "consent-revoked" => AppleEventKind::ConsentRevoked,
            "account-delete" | "account-deleted" => AppleEventKind::AccountDeleted,
            "email-disabled" => AppleEventKind::EmailDisabled,
            "email-enabled" => AppleEventKind::EmailEnabled,
            _ => AppleEventKind::Other,
        }
    }

    /// The name the answer and the log line use.
    pub fn as_str(self) -> &'static str {
        match self {
            AppleEventKind::ConsentRevoked => "consent-revoked",
            AppleEventKind::AccountDeleted => "account-delete",
            AppleEventKind::EmailDisabled => "email-disabled",
            AppleEventKind::EmailEnabled => "email-enabled",
            AppleEventKind::Other => "other",
        }
    }
}

/// A verified notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppleEvent {
    pub kind: AppleEventKind,
    /// The person's Apple user id (`sub`), as in their ID tokens for our team.
    pub subject: String,
    /// When it happened, in milliseconds since the epoch (`event_time`); 0 if Apple gave none.
    pub event_time_ms: i64,
}

/// A verified notification: its event, and what names it for the replay record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppleNotification {
    pub event: AppleEvent,
    /// SHA-256 (hex) of its `jti`, or of the whole signed payload when Apple gave none: a
    /// redelivery (or a replay) has the same.
    pub record_id: String,
    /// When Apple issued it (`iat`, epoch seconds).
    pub issued_at: i64,
    /// Until when it is taken (`exp` plus the leeway, epoch seconds): its record must live so long.
    pub taken_until: i64,
}

impl AppleNotification {
    /// When the event happened, in epoch seconds: its `event_time`, or when Apple issued the
    /// notification if it gave none.
    pub fn event_secs(&self) -> i64 {
        if self.event.event_time_ms > 0 {
            self.event.event_time_ms / 1000
        } else {
            self.issued_at
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    events: Value,
    #[serde(default)]
    jti: Option<Value>,
    exp: i64,
    iat: i64,
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    sub: String,
    #[serde(default)]
    event_time: Option<Value>,
}

impl AppleVerifier {
    /// Verifies a notification's `payload` and reads its event. A payload that is not Apple's
    /// (another key, another audience, expired, altered) or carries no readable event is
    /// `Rejected`; Apple's keys out of reach is the provider being unavailable.
    pub async fn notification(&self, payload: &Secret) -> Result<AppleNotification, ProviderError> {
        let claims: Claims = self.id_tokens.signed_claims(payload, &["exp", "iss", "aud", "iat"]).await?;
        notification_of(claims, payload.expose())
    }
}

/// The claims of the signed `payload` (once its signature, issuer, audience and times are
/// verified), read as a notification.
pub fn read_claims(claims: Value, payload: &str) -> Result<AppleNotification, ProviderError> {
    let claims: Claims =
        serde_json::from_value(claims).map_err(|_| ProviderError::Rejected("malformed claims".into()))?;
    notification_of(claims, payload)
}

/// The verified `claims` of the signed `payload`, read.
fn notification_of(claims: Claims, payload: &str) -> Result<AppleNotification, ProviderError> {
    let event = parse_events(claims.events)?;
    let record_id = match claims.jti {
        Some(Value::String(jti)) if !jti.trim().is_empty() => sha256_hex(&format!("jti:{jti}")),
        _ => sha256_hex(&format!("payload:{}", payload.trim())),
    };
    let leeway = i64::try_from(LEEWAY_SECS).unwrap_or(i64::MAX);
    Ok(AppleNotification { event, record_id, issued_at: claims.iat, taken_until: claims.exp.saturating_add(leeway) })
}

/// The `events` claim: a JSON string holding the event object (or the object itself).
fn parse_events(events: Value) -> Result<AppleEvent, ProviderError> {
    let rejected = |why: &str| ProviderError::Rejected(why.to_string());
    let event: Event = match events {
        Value::String(text) => serde_json::from_str(&text).map_err(|_| rejected("events is not an event"))?,
        object @ Value::Object(_) => serde_json::from_value(object).map_err(|_| rejected("events is not an event"))?,
        _ => return Err(rejected("events is not an event")),
    };
    let subject = event.sub.trim();
    if subject.is_empty() || subject.len() > 255 || !subject.chars().all(|c| c.is_ascii_graphic()) {
        return Err(rejected("the event's sub is not an Apple user id"));
    }
    // Apple sends milliseconds as a number; a string of digits is read too.
    let event_time_ms = match event.event_time {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    };
    Ok(AppleEvent { kind: AppleEventKind::parse(&event.kind), subject: subject.to_string(), event_time_ms })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_are_a_json_string_as_apple_sends_them_or_an_object() {
        let text = json!({"type": "consent-revoked", "sub": "001.abc.0433", "event_time": 1_608_693_364_100i64});
        let from_string = parse_events(Value::String(text.to_string())).expect("a string");
        assert_eq!(
            from_string,
            AppleEvent {
                kind: AppleEventKind::ConsentRevoked,
                subject: "001.abc.0433".into(),
                event_time_ms: 1_608_693_364_100
            }
        );
        assert_eq!(parse_events(text).expect("an object"), from_string);
    }

    #[test]
    fn every_type_is_read_and_unknown_ones_are_other() {
        for (name, kind) in [
            ("consent-revoked", AppleEventKind::ConsentRevoked),
            ("account-delete", AppleEventKind::AccountDeleted),
            ("account-deleted", AppleEventKind::AccountDeleted),
            ("email-disabled", AppleEventKind::EmailDisabled),
            ("email-enabled", AppleEventKind::EmailEnabled),
            ("something-new", AppleEventKind::Other),
        ] {
            let event = parse_events(json!({ "type": name, "sub": "s" }).to_string().into()).expect(name);
            assert_eq!((event.kind, event.event_time_ms), (kind, 0), "{name}");
        }
    }

    #[test]
    fn a_notification_is_named_by_its_jti_or_else_its_payload() {
        let claims = |jti: Option<&str>| Claims {
            events: json!({"type": "account-delete", "sub": "s"}),
            jti: jti.map(Value::from),
            exp: 1_000,
            iat: 900,
        };
        let a = notification_of(claims(Some("id-1")), "p1").expect("readable");
        assert_eq!((a.issued_at, a.taken_until, a.event_secs()), (900, 1_000 + 60, 900));
        assert_eq!(a.record_id, notification_of(claims(Some("id-1")), "p2").expect("readable").record_id);
        assert_ne!(a.record_id, notification_of(claims(Some("id-2")), "p1").expect("readable").record_id);
        let none = notification_of(claims(None), "p1").expect("readable");
        assert_ne!(none.record_id, notification_of(claims(None), "p2").expect("readable").record_id);
        assert_eq!(none.record_id, notification_of(claims(Some(" ")), "p1").expect("readable").record_id);
        assert_eq!(none.record_id.len(), 64);
    }

    #[test]
    fn unreadable_events_are_rejected() {
        for bad in [json!(null), json!(7), json!("not json"), json!({"type": "x"}), json!({"type": "x", "sub": " "})] {
            assert!(matches!(parse_events(bad.clone()), Err(ProviderError::Rejected(_))), "{bad}");
        }
        let long = json!({"type": "consent-revoked", "sub": "a".repeat(256)});
        assert!(parse_events(long).is_err());
    }
}

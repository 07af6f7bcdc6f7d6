//! Whether Apple's Hide My Email relay forwards to the person behind an Apple identity, as
//! Apple's `email-disabled`/`email-enabled` notifications say: recorded on the identity item
//! (`email_forwarding`, with the event's time in `email_forwarding_at`) for the app's mailer.

use aws_sdk_dynamodb::types::AttributeValue;

use super::items::n;
use super::{keys, StoreError, UserStore};
use crate::domain::instance::InstanceName;

impl UserStore {
    /// Records `forwarding` on the identity `provider`/`subject` as of `event_time_ms`. An older
    /// or repeated event never overwrites a newer one (Apple may deliver twice, and out of
    /// order). `false`: no such identity, or the state recorded is as new or newer.
    pub async fn set_email_forwarding(
        &self,
        instance: &InstanceName,
        provider: &str,
        subject: &str,
        forwarding: bool,
        event_time_ms: i64,
    ) -> Result<bool, StoreError> {
        self.update_if(
            keys::identity(instance, provider, subject),
            "SET email_forwarding = :state, email_forwarding_at = :at",
            "attribute_exists(pk) AND (attribute_not_exists(email_forwarding_at) OR email_forwarding_at < :at)",
            &[(":state", AttributeValue::Bool(forwarding)), (":at", n(event_time_ms))],
        )
        .await
    }

    /// The Hide My Email state recorded on an identity: `None` if no event was ever recorded
    /// (or there is no such identity).
    pub async fn email_forwarding(
        &self,
        instance: &InstanceName,
        provider: &str,
        subject: &str,
    ) -> Result<Option<bool>, StoreError> {
        let item = self.get(keys::identity(instance, provider, subject), true).await?;
        Ok(item.and_then(|i| match i.get("email_forwarding") {
            Some(AttributeValue::Bool(b)) => Some(*b),
            _ => None,
        }))
    }
}

//! `POST /callbacks/apple/{instance}`: Apple's server-to-server notifications for Sign in with
//! Apple (the URL an app team registers with Apple, docs/provider-duties in the README). The
//! payload is verified as Apple's ([`crate::providers::apple_notification`]), then:
//!
//! Each acts in every instance where the person's Apple identity exists, not only the one the
//! URL names: our Apple app serves them all ([`App::callback_instances`]).
//!
//! - `consent-revoked` and `account-delete`: the Apple identity is forgotten
//!   ([`App::forget_identity`]): every session of its user ends and the identity goes; a user
//!   left with no identity is deleted (audit reason `apple`), since nobody could sign in as it
//!   again. Apple already revoked our tokens: none is revoked back.
//! - `email-disabled`/`email-enabled`: Hide My Email's state is recorded on the identity.
//! - any other type: acknowledged, nothing done.
//!
//! Every redelivery answers 200 and changes nothing more: each notification acted on is recorded
//! (`APPLENOTE#`, [`crate::store::CallbackRecord`]) until its token expires, so a repeat or a
//! replay is `nothing-to-do` (issue 28); and `consent-revoked`/`account-delete` older than the
//! identity they name (the person signed up again since) do nothing to it. Refusals are JSON
//! `{"error", "message"}`.

use serde::Serialize;

use crate::domain::clock;
use crate::domain::identity::Provider;
use crate::domain::instance::InstanceName;
use crate::domain::records::DeletionReason;
use crate::domain::secret::Secret;
use crate::providers::apple_notification::{AppleEventKind, AppleNotification};
use crate::providers::ProviderError;
use crate::store::{CallbackClaim, CallbackRecord};
use crate::usecases::accounts::Forgotten;
use crate::usecases::app::App;
use crate::usecases::error::UseCaseError;

/// Why a notification was refused.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// Not `{"payload": "<JWS>"}`.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The path's instance is not an instance name.
    #[error("unknown instance")]
    UnknownInstance,
    /// This deployment does not serve Sign in with Apple.
    #[error("Sign in with Apple is not served")]
    NotServed,
    /// Not Apple's, not for our app, or expired; the reason is for logs only.
    #[error("not a notification of Apple's for this app: {0}")]
    NotApples(String),
    /// Apple's keys, or our store, out of reach (or our own bug).
    #[error(transparent)]
    Login(#[from] UseCaseError),
}

impl From<ProviderError> for NotificationError {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::NotServed => NotificationError::NotServed,
            ProviderError::Rejected(why) => NotificationError::NotApples(why),
            ProviderError::MissingCredential(field) => NotificationError::NotApples(format!("no {field}")),
            other => NotificationError::Login(other.into()),
        }
    }
}

/// What a notification changed (over every instance: the strongest, the order below from the
/// weakest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// A type this service does not act on.
    Ignored,
    /// Nothing to do: no such identity here, an earlier delivery did it, or a newer state is
    /// recorded.
    NothingToDo,
    /// Hide My Email's new state is recorded.
    Recorded,
    /// The identity is gone and its user's sessions ended; the user keeps its other identities.
    IdentityRemoved,
    /// The identity was its user's only one: the account is deleted.
    AccountDeleted,
}

/// The 200 answer: which event, and what it changed (nothing personal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Handled {
    pub event: &'static str,
    pub outcome: Outcome,
}

impl App {
    /// Verifies one notification for `instance` and acts on it.
    pub async fn apple_notification(
        &self,
        instance: &InstanceName,
        payload: &Secret,
    ) -> Result<Handled, NotificationError> {
        // The instance's own Apple app's client ids, or else the deployment's.
        let serving = self.providers_for(instance).await?;
        let apple = serving.apple.as_ref().ok_or(NotificationError::NotServed)?;
        let notification = apple.notification(payload).await?;
        let event = &notification.event;
        if event.kind == AppleEventKind::Other {
            // Nothing done, so nothing to record.
            tracing::info!(instance = %instance, event = "other", outcome = ?Outcome::Ignored, "apple notification");
            return Ok(Handled { event: event.kind.as_str(), outcome: Outcome::Ignored });
        }
        // Recorded before acting, marked done after: a repeat of a done one does nothing.
        let record = CallbackRecord::AppleNotification(&notification.record_id);
        let claim = self.store.claim_callback(record, notification.taken_until).await.map_err(UseCaseError::from)?;
        if claim == CallbackClaim::Done {
            tracing::info!(instance = %instance, event = event.kind.as_str(), replayed = true, "apple notification");
            return Ok(Handled { event: event.kind.as_str(), outcome: Outcome::NothingToDo });
        }
        let outcome = self.act_on_apple_event(instance, &notification).await?;
        self.store.finish_callback(record).await.map_err(UseCaseError::from)?;
        tracing::info!(instance = %instance, event = event.kind.as_str(), outcome = ?outcome, "apple notification");
        Ok(Handled { event: event.kind.as_str(), outcome })
    }

    /// What `notification` (not [`AppleEventKind::Other`]) changes: in every instance where the
    /// person's Apple identity exists, since our Apple app serves them all
    /// ([`App::callback_instances`]); the strongest outcome of them.
    async fn act_on_apple_event(
        &self,
        named: &InstanceName,
        notification: &AppleNotification,
    ) -> Result<Outcome, NotificationError> {
        let subject = notification.event.subject.as_str();
        let mut outcome = Outcome::NothingToDo;
        for instance in self.callback_instances(named, Provider::Apple, subject).await? {
            let done = self.act_on_apple_event_in(&instance, notification).await?;
            if done != Outcome::NothingToDo {
                tracing::info!(instance = %instance, event = notification.event.kind.as_str(), outcome = ?done, "apple notification acted");
            }
            outcome = outcome.max(done);
        }
        Ok(outcome)
    }

    /// What `notification` changes in `instance`.
    async fn act_on_apple_event_in(
        &self,
        instance: &InstanceName,
        notification: &AppleNotification,
    ) -> Result<Outcome, NotificationError> {
        let event = &notification.event;
        let subject = event.subject.as_str();
        let apple = Provider::Apple.as_str();
        let outcome = match event.kind {
            AppleEventKind::ConsentRevoked | AppleEventKind::AccountDeleted => {
                // An event older than the identity (to the second) is about an earlier one: the
                // person signed up again since. It must not end the new one.
                let since = self.store.identity_since(instance, apple, subject).await.map_err(UseCaseError::from)?;
                match since {
                    None => Outcome::NothingToDo,
                    Some(micros) if notification.event_secs() < micros.div_euclid(1_000_000) => {
                        tracing::info!(instance = %instance, event = event.kind.as_str(), "apple event older than the identity");
                        Outcome::NothingToDo
                    }
                    Some(_) => {
                        match self.forget_identity(instance, Provider::Apple, subject, DeletionReason::Apple).await? {
                            Forgotten::AccountDeleted { .. } => Outcome::AccountDeleted,
                            Forgotten::IdentityRemoved { .. } => Outcome::IdentityRemoved,
                            Forgotten::NoSuchIdentity => Outcome::NothingToDo,
                        }
                    }
                }
            }
            AppleEventKind::EmailDisabled | AppleEventKind::EmailEnabled => {
                let forwarding = event.kind == AppleEventKind::EmailEnabled;
                let at = if event.event_time_ms > 0 { event.event_time_ms } else { clock::now_micros() / 1000 };
                match self.store.set_email_forwarding(instance, apple, subject, forwarding, at).await {
                    Ok(true) => Outcome::Recorded,
                    Ok(false) => Outcome::NothingToDo,
                    Err(e) => return Err(UseCaseError::from(e).into()),
                }
            }
            AppleEventKind::Other => Outcome::Ignored,
        };
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_names_the_event_and_outcome_only() {
        let handled = Handled { event: "consent-revoked", outcome: Outcome::AccountDeleted };
        let body = serde_json::to_value(handled).expect("serializes");
        assert_eq!(body, serde_json::json!({ "event": "consent-revoked", "outcome": "account-deleted" }));
    }
}

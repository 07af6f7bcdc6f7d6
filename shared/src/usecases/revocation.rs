//! Withdrawing what we hold at a provider when an account is deleted, so that the provider no
//! longer lists our app as connected: Apple's refresh token (`/auth/revoke`), Facebook's
//! permissions (`DELETE /{user-id}/permissions`). Google, X, LinkedIn and GitHub tokens are
//! checked at sign-in and never kept: nothing of ours to revoke there.
//!
//! Revocation never blocks nor fails a deletion. The deletion records a pending revocation per
//! identity to revoke right after its tombstone and before the identity goes (so a crash cannot
//! lose it: whoever finishes the deletion records what is missing); once
//! the deletion is done each is tried at once. One that fails for the provider's trouble (5xx,
//! timeout, network) stays pending and `revocation-retry` (every 15 minutes) tries it again,
//! waiting `REVOCATION_RETRY_SECS` (15 min), doubling up to a day, for 30 days (the item's TTL).
//! A token already revoked or expired (Apple's `invalid_grant`) counts as done; at Facebook only
//! Graph's answers about the person do (190/458 the app was removed, 100/33 no such user): any
//! other refusal of our app token is our configuration (a reset app secret) and is retried.
//! A pending revocation is skipped (and dropped) when the identity it was recorded for names
//! another user than the deleted one it records: that is a new sign-up of the same person,
//! whose grant is not ours to revoke (one still naming the deleted user is its deletion under
//! way, issue 33).
//! When the deletion comes from the provider itself (Apple's notification, Facebook's callback)
//! nothing is revoked there: the person already withdrew.
//!
//! Code exchange at sign-in: an Apple login that carries the app's `authorizationCode` gets it
//! exchanged for a refresh token, kept sealed on the identity ([`crate::domain::sealing`]). A code whose
//! ID token names someone else is a refused login; any other failure of the exchange (Apple's
//! `invalid_grant`, an outage) is logged and the login goes on without a stored token: the
//! person signed in with a valid identity token, and the code is only what lets us revoke later.

use crate::config::{MAX_REVOCATION_BACKOFF_SECS, REVOCATION_TTL_DAYS};
use crate::domain::clock;
use crate::domain::identity::{Provider, VerifiedIdentity};
use crate::domain::instance::InstanceName;
use crate::domain::records::DeletionReason;
use crate::domain::sealing::identity_aad;
use crate::domain::secret::Secret;
use crate::providers::{jwt, ProviderError};
use crate::store::{PendingRevocation, RevocationPlan};
use crate::usecases::app::App;
use crate::usecases::error::UseCaseError;

/// How many due revocations one run of `revocation-retry` takes on.
pub const RETRY_BATCH: usize = 200;
/// After this long a run of `revocation-retry` starts no more attempts (its Lambda timeout is
/// 120 s; one attempt takes at most `PROVIDER_TIMEOUT_MS`): the rest stay due for the next run.
pub const RETRY_RUN_BUDGET: std::time::Duration = std::time::Duration::from_secs(90);

/// What one attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Revoked (or nothing left to revoke): the pending item goes.
    Done,
    /// Failed for now: tried again later.
    Retry,
}

/// What a run of `revocation-retry` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RetryReport {
    pub due: usize,
    pub done: usize,
    pub rescheduled: usize,
}

/// The wait after the `attempts`-th failure: `first`, doubling, at most a day.
pub fn backoff_secs(first: u64, attempts: u32) -> u64 {
    let doublings = attempts.saturating_sub(1).min(20);
    first.saturating_mul(1u64 << doublings).min(MAX_REVOCATION_BACKOFF_SECS)
}

/// Until when a revocation recorded at `now` is kept (and retried).
pub(crate) fn revocation_expiry(now: i64) -> i64 {
    now.saturating_add(i64::try_from(REVOCATION_TTL_DAYS * 86_400).unwrap_or(i64::MAX))
}

impl App {
    /// What a deletion in `instance` for `reason` revokes: every provider we hold something at
    /// (with the deployment's app or the instance's own: [`App::providers_for`]), except the one
    /// the deletion comes from.
    pub async fn revocation_plan(
        &self,
        instance: &InstanceName,
        reason: DeletionReason,
        now: i64,
    ) -> Result<RevocationPlan, UseCaseError> {
        let serving = self.providers_for(instance).await?;
        let mut providers = Vec::new();
        if serving.apple_tokens.is_some() && reason != DeletionReason::Apple {
            providers.push(Provider::Apple.as_str());
        }
        if serving.facebook.is_some() && reason != DeletionReason::Facebook {
            providers.push(Provider::Facebook.as_str());
        }
        Ok(RevocationPlan { providers, now, expires_at: revocation_expiry(now) })
    }

    /// Tries each pending revocation once: done ones are deleted, failed ones rescheduled. Never
    /// fails: a store error leaves the item as it is, for the next run. No attempt starts after
    /// `budget` (those stay due).
    pub async fn revoke_pending(&self, pending: &[PendingRevocation], budget: std::time::Duration) -> RetryReport {
        let started = std::time::Instant::now();
        let mut report = RetryReport { due: pending.len(), ..RetryReport::default() };
        for p in pending {
            if started.elapsed() >= budget {
                break;
            }
            let attempt = self.attempt(p).await;
            let stored = match attempt {
                Attempt::Done => self.store.delete_revocation(p).await,
                Attempt::Retry => {
                    let attempts = p.attempts.saturating_add(1);
                    let wait = backoff_secs(self.config.revocation_retry.as_secs(), attempts);
                    let next = clock::now_secs().saturating_add(i64::try_from(wait).unwrap_or(i64::MAX));
                    self.store.reschedule_revocation(p, attempts, next).await
                }
            };
            match (attempt, stored) {
                (_, Err(e)) => {
                    tracing::warn!(provider = %p.provider, instance = %p.instance, error = %e, "could not record a revocation attempt")
                }
                (Attempt::Done, Ok(())) => report.done += 1,
                (Attempt::Retry, Ok(())) => report.rescheduled += 1,
            }
        }
        report
    }

    /// `revocation-retry`: every pending revocation due now, tried once.
    pub async fn retry_due_revocations(&self) -> Result<RetryReport, UseCaseError> {
        let due = self.store.due_revocations(clock::now_secs(), RETRY_BATCH).await?;
        let report = self.revoke_pending(&due, RETRY_RUN_BUDGET).await;
        tracing::info!(due = report.due, done = report.done, rescheduled = report.rescheduled, "revocations retried");
        Ok(report)
    }

    /// One attempt at one pending revocation. Nothing secret is logged: provider, instance and
    /// the failure class only.
    async fn attempt(&self, p: &PendingRevocation) -> Attempt {
        // Read right before the provider's call: what is left is a sign-up landing between this
        // read and that call (milliseconds; see docs/security.md).
        match self.store.revocation_superseded(p).await {
            Ok(false) => {}
            Ok(true) => {
                tracing::info!(provider = %p.provider, instance = %p.instance, "the person signed up again; their new grant is kept, the old revocation dropped");
                return Attempt::Done;
            }
            Err(e) => {
                tracing::warn!(provider = %p.provider, instance = %p.instance, error = %e, "revocation postponed: could not read the identity");
                return Attempt::Retry;
            }
        }
        let result = match p.provider.as_str() {
            "apple" => self.revoke_apple(p).await,
            "facebook" => self.revoke_facebook(p).await,
            _ => Ok(()),
        };
        match result {
            Ok(()) => {
                tracing::info!(provider = %p.provider, instance = %p.instance, "revoked at the provider");
                Attempt::Done
            }
            // What no retry can fix (a token that does not open, a refusal of our own request)
            // is given up at once, loudly.
            Err(e @ ProviderError::Rejected(_)) => {
                tracing::error!(provider = %p.provider, instance = %p.instance, error = %e, "revocation refused; given up");
                Attempt::Done
            }
            Err(e) => {
                tracing::warn!(provider = %p.provider, instance = %p.instance, attempts = p.attempts + 1, error = %e, "revocation failed; will retry");
                Attempt::Retry
            }
        }
    }

    /// The verifiers and our own provider clients of a pending revocation's instance.
    async fn revocation_providers(
        &self,
        p: &PendingRevocation,
    ) -> Result<crate::usecases::instance_providers::ServingProviders<'_>, ProviderError> {
        let Some(instance) = InstanceName::parse(&p.instance) else {
            return Err(ProviderError::Rejected("not an instance name".into()));
        };
        self.providers_for(&instance)
            .await
            .map_err(|e| ProviderError::Unavailable(format!("the instance's apps could not be read: {e}")))
    }

    /// Facebook's permissions withdrawn with the app the identity was made with: the
    /// instance's own app when it has one, else the deployment's ([`App::providers_for`]; an
    /// instance serves only one app at a provider, so its identities are that app's).
    async fn revoke_facebook(&self, p: &PendingRevocation) -> Result<(), ProviderError> {
        let serving = self.revocation_providers(p).await?;
        match &serving.facebook {
            Some(fb) => fb.delete_permissions(&p.subject).await,
            None => Err(ProviderError::NotServed),
        }
    }

    /// Apple's refresh token revoked with the instance's Apple team key (its own app's team's,
    /// else the deployment's: [`App::providers_for`]).
    async fn revoke_apple(&self, p: &PendingRevocation) -> Result<(), ProviderError> {
        let serving = self.revocation_providers(p).await?;
        let (Some(apple), Some(key)) =
            (&serving.apple_tokens, self.config.apple_revocation.as_ref().map(|c| &c.refresh_token_key))
        else {
            return Err(ProviderError::NotServed);
        };
        let (Some(client_id), Some(sealed)) = (&p.client_id, &p.sealed_token) else {
            return Err(ProviderError::Rejected("no sealed token".into()));
        };
        let token = key
            .open(sealed, &identity_aad(&p.instance, &p.provider, &p.subject))
            .map_err(|e| ProviderError::Rejected(e.to_string()))?;
        apple.revoke(client_id, &token).await
    }

    /// At an Apple sign-in with an authorization code: exchanges it (before the user is looked
    /// up). `Err`: the code belongs to someone else (a refused login). `Ok(None)`: no code, no
    /// revocation configured, or the exchange failed (logged; the login goes on).
    /// Signed with the instance's Apple team key (`providers`: [`App::providers_for`]).
    pub(crate) async fn exchange_apple_code(
        &self,
        providers: &crate::providers::Providers,
        identity: &VerifiedIdentity,
        id_token: Option<&Secret>,
        code: Option<&Secret>,
    ) -> Result<Option<(String, Secret)>, UseCaseError> {
        let (Some(code), Some(apple)) = (code, &providers.apple_tokens) else { return Ok(None) };
        if identity.provider != Provider::Apple {
            return Ok(None);
        }
        // The verified ID token's audience: the client id the code was issued to as well.
        let Some(client_id) = id_token.and_then(|t| jwt::unverified_audience(t.expose())) else { return Ok(None) };
        match apple.exchange(&client_id, code).await {
            Ok(exchanged) if exchanged.subject == identity.subject => Ok(Some((client_id, exchanged.refresh_token))),
            Ok(_) => Err(UseCaseError::TokenRejected("the authorization code is another person's".into())),
            Err(e) => {
                tracing::warn!(provider = "apple", error = %e, "authorization code not exchanged; signing in without a refresh token");
                Ok(None)
            }
        }
    }

    /// Keeps the refresh token of an Apple identity, sealed. A failure is logged, not the login's.
    pub(crate) async fn keep_refresh_token(
        &self,
        instance: &InstanceName,
        subject: &str,
        client_id: &str,
        token: &Secret,
    ) {
        let Some(config) = &self.config.apple_revocation else { return };
        let provider = Provider::Apple.as_str();
        let sealed = match config.refresh_token_key.seal(token, &identity_aad(instance.as_str(), provider, subject)) {
            Ok(sealed) => sealed,
            Err(e) => {
                tracing::error!(error = %e, "could not seal a refresh token");
                return;
            }
        };
        if let Err(e) = self.store.set_refresh_token(instance, provider, subject, client_id, &sealed).await {
            tracing::warn!(error = %e, "could not keep the Apple refresh token");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backoff_secs;

    #[test]
    fn backoff_doubles_from_fifteen_minutes_up_to_a_day() {
        let first = 15 * 60;
        assert_eq!(backoff_secs(first, 1), 900);
        assert_eq!(backoff_secs(first, 2), 1800);
        assert_eq!(backoff_secs(first, 3), 3600);
        assert_eq!(backoff_secs(first, 7), 57_600);
        assert_eq!(backoff_secs(first, 8), 86_400);
        assert_eq!(backoff_secs(first, 1000), 86_400);
        assert_eq!(backoff_secs(0, 5), 0, "tests retry at once");
    }
}

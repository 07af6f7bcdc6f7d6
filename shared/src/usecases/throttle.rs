//! The use-case half of the failure limiter ([`crate::usecases::limiter`], which says how it
//! counts): [`App::limited`] and [`App::limited_resume`] run a login under its counters, and the
//! identity lookup reads this attempt's counters with it ([`App::counters_of_this_attempt`]).

use crate::domain::identity::Provider;
use crate::usecases::app::App;
use crate::usecases::error::UseCaseError;
use crate::usecases::limiter::{CounterKind, FailureKeys};

tokio::task_local! {
    /// The counters of the login attempt running in this task ([`App::limited`]), for the
    /// identity lookup to read with it ([`App::counters_of_this_attempt`]).
    static ATTEMPT: FailureKeys;
}

/// A failure the limiter counts: the provider refused the token. Each layer's error says
/// whether it is one.
pub trait CountedFailure {
    fn is_rejected_token(&self) -> bool;
}

impl CountedFailure for UseCaseError {
    fn is_rejected_token(&self) -> bool {
        matches!(self, UseCaseError::TokenRejected(_))
    }
}

impl App {
    /// Runs a login `attempt` from `source_ip` (none, no counting: only API Gateway's own
    /// invocations lack one) claiming to be the provider user `claimed` (what
    /// [`crate::providers::Credentials::claimed_subject`] reads, if anything): refused with 429 while one of its
    /// counters is over its limit as this environment knows (the provider is not asked) or as
    /// the table says when the attempt looks its identity up ([`App::check_counters`]), and a
    /// rejection is counted under each.
    pub async fn limited<T, E: From<UseCaseError> + CountedFailure>(
        &self,
        source_ip: Option<&str>,
        claimed: Option<(Provider, String)>,
        attempt: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let Some(ip) = source_ip else { return attempt.await };
        let keys = FailureKeys::new(ip, claimed.as_ref().map(|(p, sub)| (*p, sub.as_str())));
        if let Some(wait) = self.limiter.retry_after(&keys) {
            return Err(UseCaseError::TooManyFailures(wait).into());
        }
        let result = ATTEMPT.scope(keys.clone(), attempt).await;
        if result.as_ref().is_err_and(CountedFailure::is_rejected_token) {
            for (key, kind) in keys.counters() {
                self.count(key, kind).await;
            }
        }
        result
    }

    /// A `{"resume": token}` login from `source_ip`: refused with 429 while the IP's missed
    /// resumes are over `LOGIN_RESUME_MISSES_MAX`; a miss is counted there only, never against
    /// the IP's provider logins.
    pub async fn limited_resume<T, E: From<UseCaseError> + CountedFailure>(
        &self,
        source_ip: Option<&str>,
        attempt: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let Some(ip) = source_ip else { return attempt.await };
        let key = FailureKeys::new(ip, None).resume();
        if let Some(wait) = self.limiter.retry_after_keys([key.as_str()]) {
            return Err(UseCaseError::TooManyFailures(wait).into());
        }
        let result = attempt.await;
        if result.as_ref().is_err_and(CountedFailure::is_rejected_token) {
            self.count(&key, CounterKind::Resume).await;
        }
        result
    }

    /// Adds one failure under `key` in the table and learns from its count.
    async fn count(&self, key: &str, kind: CounterKind) {
        let (window, end) = self.limiter.window();
        match self.store.count_failure(key, window, end + 60).await {
            Ok(count) => self.limiter.note_failures(key, kind, count),
            // Counting is best effort: the client's answer is the rejection either way.
            Err(e) => tracing::warn!(error = %e, "could not count a rejected login"),
        }
    }

    /// The counters (full `FAIL#` counter names, with their kinds) of the login attempt this
    /// task runs under [`App::limited`], for the identity lookup to read in its own request;
    /// none outside one (no source IP).
    pub(crate) fn counters_of_this_attempt(&self) -> Option<(i64, Vec<(String, CounterKind)>)> {
        let (window, _) = self.limiter.window();
        ATTEMPT
            .try_with(|keys| keys.counters().into_iter().map(|(k, kind)| (k.to_string(), kind)).collect())
            .ok()
            .map(|counters| (window, counters))
    }

    /// What the table said of this attempt's counters (`counts` in the order of
    /// [`App::counters_of_this_attempt`]): 429 if one is over its limit.
    pub(crate) fn check_counters(
        &self,
        counters: &[(String, CounterKind)],
        counts: &[u64],
    ) -> Result<(), UseCaseError> {
        for ((key, kind), count) in counters.iter().zip(counts) {
            self.limiter.note_failures(key, *kind, *count);
        }
        match self.limiter.retry_after_keys(counters.iter().map(|(k, _)| k.as_str())) {
            Some(wait) => Err(UseCaseError::TooManyFailures(wait)),
            None => Ok(()),
        }
    }
}

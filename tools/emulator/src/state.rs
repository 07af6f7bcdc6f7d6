//! The state shared by every clone of an [`crate::Emulator`] and its servers: each provider's
//! people and tokens, the fault currently set and the provider request counter.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use axum::http::Extensions;
use axum::response::Response;

use crate::facebook::Facebook;
use crate::faults::{self, CloseHandle, Fault};
use crate::util::lock;
use crate::{apple_tokens, github, oidc, twitter, EmulatorConfig};

/// The shared state behind every clone of an [`crate::Emulator`] and its servers.
pub(crate) struct Shared {
    pub(crate) facebook: Facebook,
    fault: Mutex<Fault>,
    requests: AtomicU64,
    /// Google, LinkedIn, Apple and Facebook Limited Login (see the `oidc` module).
    pub(crate) oidc: oidc::Oidc,
    pub(crate) twitter: twitter::Twitter,
    pub(crate) github: github::GitHub,
    /// Sign in with Apple's `/auth/token` and `/auth/revoke`.
    pub(crate) apple_tokens: apple_tokens::AppleTokens,
    /// Whom the custom issuers' consent pages created.
    pub(crate) consent_people: crate::consent::CustomPeople,
}

impl Shared {
    pub(crate) fn new(config: EmulatorConfig) -> Shared {
        let apps = config.facebook_apps.into_iter().map(|app| (app.id, app.secret));
        Shared {
            facebook: Facebook::new(apps),
            fault: Mutex::new(Fault::None),
            requests: AtomicU64::new(0),
            oidc: oidc::Oidc::new(config.linkedin_apps),
            twitter: twitter::Twitter::new(config.twitter_apps),
            github: github::GitHub::new(config.github_apps),
            apple_tokens: apple_tokens::AppleTokens::new(config.apple_team),
            consent_people: Default::default(),
        }
    }

    /// The fault currently set.
    pub(crate) fn fault(&self) -> Fault {
        *lock(&self.fault)
    }

    /// Sets the fault applied to every provider request from now on.
    pub(crate) fn set_fault(&self, fault: Fault) {
        *lock(&self.fault) = fault;
    }

    /// Provider requests received (admin calls under `/_emulator/` not counted).
    pub(crate) fn request_count(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// [`Shared::provider_fault`] for a request whose own fault (a custom issuer's) is `own`:
    /// counts it, then answers `own` if set, else the emulator-wide fault; `None` to serve it.
    pub(crate) fn provider_fault_as(
        &self,
        extensions: &Extensions,
        own: Option<Fault>,
    ) -> impl Future<Output = Option<Response>> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let fault = own.unwrap_or_else(|| self.fault());
        let close = extensions.get::<CloseHandle>().cloned();
        faults::apply(fault, close)
    }

    /// What every provider request goes through first: counts it, then returns the response the
    /// current fault calls for (`shaped` gives the provider's own shape for a fault, else the
    /// emulator's generic one), or `None` to serve the request. `extensions` are the request's
    /// (where the accept loop puts its [`CloseHandle`]); the returned future does not borrow them.
    pub(crate) fn provider_fault(
        &self,
        extensions: &Extensions,
        shaped: impl FnOnce(Fault) -> Option<Response>,
    ) -> impl Future<Output = Option<Response>> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let fault = self.fault();
        let shaped = shaped(fault);
        // Taken before awaiting: a `&Request` is not `Send`.
        let close = extensions.get::<CloseHandle>().cloned();
        async move {
            match shaped {
                Some(response) => Some(response),
                None => faults::apply(fault, close).await,
            }
        }
    }
}

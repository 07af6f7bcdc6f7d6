//! The [`Emulator`] handle the tests and the local stack hold: what it knows up front
//! ([`EmulatorConfig`]), serving it, the emulator-wide fault and counters. Creating people and
//! tokens of every provider: `oauth` (Facebook, Twitter/X, GitHub), `oidc` (the built-in OpenID
//! Connect providers and Sign in with Apple's token endpoints), `issuers` (the custom issuers and
//! the Microsoft-like one).

mod issuers;
mod oauth;
mod oidc;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::apple_tokens::AppleTeam;
use crate::facebook::FacebookApp;
use crate::faults::Fault;
use crate::github::GitHubApp;
use crate::oidc::LinkedInApp;
use crate::state::Shared;
use crate::twitter::TwitterApp;
use crate::{router, server};

/// What the emulator knows up front.
#[derive(Clone, Debug, Default)]
pub struct EmulatorConfig {
    /// The apps the emulator knows (typically our app and "another app").
    pub facebook_apps: Vec<FacebookApp>,
    /// The Twitter/X apps (consumer key and secret) the emulator knows.
    pub twitter_apps: Vec<TwitterApp>,
    /// The GitHub OAuth apps (client id and secret) the emulator knows.
    pub github_apps: Vec<GitHubApp>,
    /// The LinkedIn apps allowed to introspect access tokens (client id and secret).
    pub linkedin_apps: Vec<LinkedInApp>,
    /// Our Apple team and Sign in with Apple key (`/apple/auth/token` and `/auth/revoke`).
    pub apple_team: Option<AppleTeam>,
}

/// The emulator. Cheap to clone; clones share people, tokens, the fault and the counter.
#[derive(Clone)]
pub struct Emulator {
    shared: Arc<Shared>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("fault", &self.shared.fault())
            .field("requests", &self.request_count())
            .finish_non_exhaustive()
    }
}
impl Emulator {
    pub fn new(config: EmulatorConfig) -> Emulator {
        Emulator { shared: Arc::new(Shared::new(config)) }
    }

    /// Binds 127.0.0.1:`port` (0 = any free port), serves in a background tokio task, and
    /// returns the base URL `http://127.0.0.1:PORT`. Must be called within a tokio runtime;
    /// the server lives as long as that runtime.
    pub async fn spawn(&self, port: u16) -> std::io::Result<String> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
        let addr = listener.local_addr()?;
        tokio::spawn(server::serve(listener, self.router()));
        let base = format!("http://{addr}");
        self.shared.oidc.custom.note_base(&base);
        Ok(base)
    }

    /// [`Emulator::spawn`] for a TLS front to forward to (the benchmark's, which forwards bytes):
    /// its requests are taken as addressed to `https://`, which an OAuth 1.0a signature covers.
    /// The same state as every other listener of this emulator.
    pub async fn spawn_behind_tls(&self, port: u16) -> std::io::Result<String> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
        let addr = listener.local_addr()?;
        let router = self.router().layer(axum::Extension(crate::twitter::oauth1::AddressedOverTls));
        tokio::spawn(server::serve(listener, router));
        Ok(format!("http://{addr}"))
    }

    /// The whole app (Graph endpoints and `/_emulator/` admin routes), for serving it
    /// yourself. Admin routes (JSON):
    /// - `POST /_emulator/facebook/users` `{"name", "email"?}` → `{"id"}`
    /// - `POST /_emulator/facebook/tokens` `{"user", "app_id", "ttl_secs"?}` → `{"access_token"}`
    /// - `POST /_emulator/facebook/tokens/revoke` `{"access_token"}` → `{"revoked": true}`
    /// - `POST /_emulator/facebook/signed_requests` `{"app_id", "user_id", "algorithm"?, "issued_at"?}`
    ///   → `{"signed_request"}`: what Facebook posts to the app's data deletion and deauthorize
    ///   callbacks, signed with that app's secret
    /// - `POST /_emulator/fault` `{"fault": "none"|"status500"|"hang"|"invalid_json"|"rate_limited"|"close"|"reset_mid_body"|"slow_drip"|"huge_body"}`
    /// - `GET /_emulator/stats` → `{"requests": n, "fault": name, "apple_token_exchanges": n,
    ///   "apple_revocations": n, "facebook_permission_deletions": n}`
    /// - `POST /_emulator/oidc/apple/codes` `{"sub", "client_id"}` → `{"code"}`
    /// - `POST /_emulator/apple/revoke_failures` `{"count"}`: the next `count` revocations are 503
    ///
    /// [`Fault::CloseConnection`] needs the socket, which only [`Emulator::spawn`]'s server
    /// hands over; served elsewhere, the router answers 200 with a body that fails at once,
    /// so the server aborts the connection mid-response instead.
    pub fn router(&self) -> Router {
        router::router(self.shared.clone())
    }

    /// Sets the fault applied to every Graph request from now on ([`Fault::None`] clears it).
    pub fn set_fault(&self, fault: Fault) {
        self.shared.set_fault(fault);
    }

    /// The fault currently set.
    pub fn fault(&self) -> Fault {
        self.shared.fault()
    }

    /// Graph requests received (admin calls under `/_emulator/` not counted).
    pub fn request_count(&self) -> u64 {
        self.shared.request_count()
    }

    /// `(apple_token_exchanges, apple_revocations, facebook_permission_deletions)` so far.
    pub fn revocation_stats(&self) -> (u64, u64, u64) {
        use std::sync::atomic::Ordering::SeqCst;
        let apple = &self.shared.apple_tokens;
        (
            apple.exchanges.load(SeqCst),
            apple.revocations.load(SeqCst),
            self.shared.facebook.permission_deletions.load(SeqCst),
        )
    }
}

//! The [`Emulator`] handle the tests and the local stack hold: what it knows up front
//! ([`EmulatorConfig`]), serving it, and creating people and tokens of every provider.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::apple_tokens::{AppleTeam, RefreshToken};
use crate::facebook::{FacebookApp, IssueError};
use crate::faults::Fault;
use crate::github::{self, GitHubApp};
use crate::oidc::{FaultOn, LinkedInApp, MicrosoftUser, OidcIssuerInfo, OidcIssuerOptions, OidcProvider, SigningMode};
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

    /// Creates a person; returns their global emulator id (not what Graph shows an app:
    /// see [`Emulator::app_scoped_user_id`]).
    pub fn create_facebook_user(&self, name: &str, email: Option<&str>) -> String {
        self.shared.facebook.create_person(name, email)
    }

    /// Issues a user access token for `person`, for the app `app_id`, valid `ttl_secs`
    /// from now (zero or negative = already expired).
    ///
    /// # Panics
    /// If `person` was not created by this emulator or `app_id` is not a configured app:
    /// both are mistakes in the calling test.
    pub fn issue_facebook_token(&self, person: &str, app_id: &str, ttl_secs: i64) -> String {
        match self.shared.facebook.issue_token(person, app_id, ttl_secs) {
            Ok(token) => token,
            Err(IssueError::UnknownPerson) => {
                panic!("issue_facebook_token: unknown person {person:?}")
            }
            Err(IssueError::UnknownApp) => {
                panic!("issue_facebook_token: app {app_id:?} is not in the emulator's config")
            }
            Err(e) => panic!("issue_facebook_token: {e:?}"),
        }
    }

    /// Registers `token` as a user access token of `person` for `app_id` (fixed demo tokens of
    /// the `events/` samples and the local stack). Panics like [`Emulator::issue_facebook_token`].
    pub fn register_facebook_token(&self, person: &str, app_id: &str, token: &str, ttl_secs: i64) {
        if let Err(e) = self.shared.facebook.issue_token_as(person, app_id, ttl_secs, Some(token)) {
            panic!("register_facebook_token: {e:?}");
        }
    }

    /// Creates a Facebook Page managed by `manager` (a person of this emulator); returns the
    /// Page's id.
    ///
    /// # Panics
    /// If `manager` was not created by this emulator.
    pub fn create_facebook_page(&self, manager: &str, name: &str) -> String {
        match self.shared.facebook.create_page(manager, name) {
            Ok(id) => id,
            Err(e) => panic!("create_facebook_page: {e:?} (manager {manager:?})"),
        }
    }

    /// Issues a Page access token of `page` for the app `app_id`, as `person`, a manager of the
    /// Page, gets it through the app. `/me` with it answers the Page (with `metadata=1`,
    /// `metadata.type` is `page`); an app token `APPID|APPSECRET` answers the application
    /// (`application`); a user token the user (`user`).
    ///
    /// # Panics
    /// If `app_id` is not a configured app, `page` unknown, or `person` does not manage it.
    pub fn issue_facebook_page_token(&self, person: &str, page: &str, app_id: &str) -> String {
        match self.shared.facebook.issue_page_token(person, page, app_id) {
            Ok(token) => token,
            Err(e) => panic!("issue_facebook_page_token: {e:?} (person {person:?}, page {page:?}, app {app_id:?})"),
        }
    }

    /// Revokes a token (Graph then answers code 190, subcode 460). Unknown tokens are ignored.
    pub fn revoke_facebook_token(&self, token: &str) {
        self.shared.facebook.revoke_token(token);
    }

    /// The `id` that `/me` answers for `person` to the app `app_id`: stable, and
    /// different for every app, as on Facebook.
    pub fn app_scoped_user_id(&self, person: &str, app_id: &str) -> String {
        self.shared.facebook.app_scoped_user_id(person, app_id)
    }

    /// The `signed_request` Facebook posts to the data deletion and deauthorize callbacks of the
    /// app `app_id` about its app-scoped user `user_id`, issued now and signed with the app's
    /// secret; `algorithm` overrides the `HMAC-SHA256` it names (the signature stays
    /// HMAC-SHA256). Another configured app's id forges one for ours. For any other payload or
    /// secret: [`crate::sign_signed_request`].
    ///
    /// # Panics
    /// If `app_id` is not a configured app.
    pub fn facebook_signed_request(&self, app_id: &str, user_id: &str, algorithm: Option<&str>) -> String {
        match self.shared.facebook.signed_request(app_id, user_id, algorithm, crate::util::now()) {
            Ok(signed) => signed,
            Err(e) => panic!("facebook_signed_request: {e:?} (app {app_id:?})"),
        }
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

    /// Creates a Twitter/X user; returns their `id_str` (19 digits).
    pub fn create_twitter_user(&self, name: &str, screen_name: &str, email: Option<&str>) -> String {
        self.shared.twitter.create_user(name, screen_name, email)
    }

    /// Issues an OAuth 1.0a user access token of `user` for the app `consumer_key`: returns
    /// `(oauth_token, oauth_token_secret)`.
    ///
    /// # Panics
    /// If `user` was not created by this emulator or `consumer_key` is not a configured app.
    pub fn issue_twitter_token(&self, user: &str, consumer_key: &str) -> (String, String) {
        match self.shared.twitter.issue_token(user, consumer_key) {
            Ok(pair) => pair,
            Err(e) => panic!("issue_twitter_token: {e:?} (user {user:?}, consumer key {consumer_key:?})"),
        }
    }

    /// Issues an OAuth 2.0 user bearer token of `user` for the app `consumer_key` (for
    /// `/2/users/me`). Panics like [`Emulator::issue_twitter_token`].
    pub fn issue_twitter_bearer(&self, user: &str, consumer_key: &str) -> String {
        match self.shared.twitter.issue_bearer(user, consumer_key) {
            Ok(token) => token,
            Err(e) => panic!("issue_twitter_bearer: {e:?} (user {user:?}, consumer key {consumer_key:?})"),
        }
    }

    /// Revokes a Twitter token of either kind (then code 89 / v2 401). Unknown tokens are ignored.
    pub fn revoke_twitter_token(&self, token: &str) {
        self.shared.twitter.revoke_token(token);
    }

    /// Creates a GitHub user with `emails` as `(address, verified, primary)`; returns their id.
    pub fn create_github_user(&self, login: &str, name: Option<&str>, emails: &[(&str, bool, bool)]) -> u64 {
        self.shared.github.create_user(login, name, emails)
    }

    /// Issues a user access token (`gho_` + 36 alphanumerics) of `user` for the OAuth app
    /// `client_id`, with the scopes `read:user` and `user:email`.
    ///
    /// # Panics
    /// If `user` was not created by this emulator or `client_id` is not a configured app.
    pub fn issue_github_token(&self, user: u64, client_id: &str) -> String {
        self.issue_github_token_with_scopes(user, client_id, &github::DEFAULT_SCOPES)
    }

    /// Like [`Emulator::issue_github_token`], with the given OAuth scopes (without `user:email`
    /// or `user`, `/user/emails` answers 404).
    pub fn issue_github_token_with_scopes(&self, user: u64, client_id: &str, scopes: &[&str]) -> String {
        match self.shared.github.issue_token(user, client_id, scopes) {
            Ok(token) => token,
            Err(e) => panic!("issue_github_token: {e:?} (user {user}, client id {client_id:?})"),
        }
    }

    /// Registers `token` as `user`'s token of the OAuth app `client_id` (fixed demo credentials).
    pub fn register_github_token(&self, user: u64, client_id: &str, token: &str) {
        if let Err(e) = self.shared.github.issue_token_as(user, client_id, &["read:user", "user:email"], Some(token)) {
            panic!("register_github_token: {e:?}");
        }
    }

    /// Registers an OAuth 1.0a token pair of `user` for the consumer `consumer_key` (fixed demo
    /// credentials).
    pub fn register_twitter_token(&self, user: &str, consumer_key: &str, token: &str, secret: &str) {
        if let Err(e) = self.shared.twitter.register_token(user, consumer_key, token, secret) {
            panic!("register_twitter_token: {e:?}");
        }
    }

    /// Revokes a GitHub token (the token check then answers 404). Unknown tokens are ignored.
    pub fn revoke_github_token(&self, token: &str) {
        self.shared.github.revoke_token(token);
    }

    /// Creates a user of an OIDC `provider`; returns their `sub` (shaped like the provider's:
    /// Google 21 digits, Apple `001234.<32 hex>.1234`, ...).
    pub fn create_oidc_user(
        &self,
        provider: OidcProvider,
        name: &str,
        email: Option<&str>,
        email_verified: bool,
    ) -> String {
        self.shared.oidc.create_user(provider, name, email, email_verified)
    }

    /// Mints a valid ID token for `sub` with audience `aud`, expiring in 1 h, signed RS256 with the
    /// provider's current key. `nonce`: for Apple the RAW nonce (the claim gets its lowercase hex
    /// SHA-256), for FacebookLimited the claim value itself (pass the hash your client sends);
    /// Google and LinkedIn echo it as given.
    ///
    /// # Panics
    /// If `sub` was not created for `provider` by this emulator (a mistake in the calling test).
    pub fn issue_id_token(&self, provider: OidcProvider, sub: &str, aud: &str, nonce: Option<&str>) -> String {
        match self.shared.oidc.issue_id_token(provider, sub, aud, nonce) {
            Ok(token) => token,
            Err(e) => panic!("issue_id_token: {provider} user {sub:?}: {e}"),
        }
    }

    /// Mints a token from explicit claims (sent exactly as given: set exp/nbf/iss/aud/sub/nonce
    /// as the test wishes) signed as `mode` says, for the verifier's security matrix.
    pub fn sign_id_token(&self, provider: OidcProvider, claims: serde_json::Value, mode: SigningMode) -> String {
        self.shared.oidc.sign(provider, &claims, mode)
    }

    /// The body Apple posts to a Sign in with Apple notification endpoint, `{"payload": JWS}`: the
    /// event of `kind` (`consent-revoked`, `account-delete`, `email-disabled`, ...) about `sub`,
    /// to the client id `aud`, signed with Apple's current key. For forged variants, sign
    /// [`crate::apple_notification_claims`] with [`Emulator::sign_id_token`].
    pub fn apple_notification(&self, aud: &str, kind: &str, sub: &str, email: Option<&str>) -> serde_json::Value {
        self.shared.oidc.apple_notification(aud, kind, sub, email)
    }

    /// The kid `provider` signs new tokens with.
    pub fn current_kid(&self, provider: OidcProvider) -> String {
        self.shared.oidc.current_kid(provider)
    }

    /// Switches `provider` to its next fixture key: new tokens carry the new kid, and its JWKS
    /// lists the new key and the previous one.
    pub fn rotate_keys(&self, provider: OidcProvider) {
        self.shared.oidc.rotate(provider);
    }

    /// Requests received by `provider`'s JWKS route (faulted ones included).
    pub fn jwks_fetches(&self, provider: OidcProvider) -> u64 {
        self.shared.oidc.jwks_fetches(provider)
    }

    /// Sets the `max-age` of every JWKS answer's `Cache-Control` (default 300 s).
    pub fn set_jwks_max_age(&self, secs: u64) {
        self.shared.oidc.set_jwks_max_age(secs);
    }

    /// A plain OAuth access token of a Google or LinkedIn user, for tokeninfo/userinfo, issued
    /// to the client id `aud` (Google: `ya29.` + random, valid 3599 s; LinkedIn: 60 days).
    ///
    /// # Panics
    /// For Apple and FacebookLimited (no such tokens), or if `sub` is not a user of `provider`.
    pub fn issue_oauth_access_token(&self, provider: OidcProvider, sub: &str, aud: &str) -> String {
        match self.shared.oidc.issue_access_token(provider, sub, aud) {
            Ok(token) => token,
            Err(e) => panic!("issue_oauth_access_token: {provider} user {sub:?}: {e}"),
        }
    }

    /// Revokes a Google or LinkedIn access token (tokeninfo/userinfo then reject it). Unknown
    /// tokens are ignored.
    pub fn revoke_oauth_access_token(&self, token: &str) {
        self.shared.oidc.revoke_access_token(token);
    }

    /// An authorization code Apple gives the app of `client_id` at `sub`'s sign-in (valid 5
    /// minutes, once).
    pub fn apple_authorization_code(&self, sub: &str, client_id: &str) -> String {
        self.shared.apple_tokens.mint_code(sub, client_id)
    }

    /// Resets the app secret of the Facebook app `app_id` to `secret` (as the App Dashboard's
    /// "Reset" does): Graph refuses the old secret's app token and proofs from now on.
    ///
    /// # Panics
    /// If `app_id` is not a configured app (a mistake in the calling test).
    pub fn rotate_facebook_app_secret(&self, app_id: &str, secret: &str) {
        assert!(self.shared.facebook.set_app_secret(app_id, secret), "app {app_id:?} is not configured");
    }

    /// `person` removes the Facebook app `app_id` in their settings (as after which Graph
    /// answers 190/458 "App Not Installed" about them, until they log in to the app again).
    pub fn remove_facebook_app(&self, person: &str, app_id: &str) {
        self.shared.facebook.remove_app(person, app_id);
    }

    /// Every refresh token Apple issued for `sub`, revoked or not.
    pub fn apple_refresh_tokens(&self, sub: &str) -> Vec<RefreshToken> {
        self.shared.apple_tokens.refresh_tokens_of(sub)
    }

    /// Registers another Apple developer team (its key id, public key and client ids): the token
    /// and revoke endpoints take the client secrets of its client ids signed with its key only.
    pub fn add_apple_team(&self, team: AppleTeam) {
        self.shared.apple_tokens.add_team(team);
    }

    /// The next `count` calls of `/apple/auth/revoke` answer 503.
    pub fn fail_apple_revocations(&self, count: u64) {
        self.shared.apple_tokens.fail_revocations(count);
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

    // ---- custom OpenID Connect issuers and the Microsoft-like issuer ----

    /// The base URL the custom and Microsoft issuers are named under (`{base}/oidc/{name}`,
    /// `{base}/microsoft/{tid}/v2.0`): by default the first [`Emulator::spawn`]'s; set it to a
    /// front's (e.g. an `https://` TLS front forwarding to the emulator) before minting tokens.
    pub fn set_public_base(&self, base: &str) {
        self.shared.oidc.custom.set_base(base);
    }

    /// Creates the custom OIDC issuer `name` (1 to 63 of `a-z`, `0-9`, `-`, `_`; not
    /// `microsoft`): issuer `{base}/oidc/{name}`, discovery at
    /// `{base}/oidc/{name}/.well-known/openid-configuration`, JWKS at `{base}/oidc/{name}/jwks`.
    ///
    /// # Panics
    /// If the name is invalid or taken, or the base URL is not known yet (spawn first): mistakes
    /// in the calling test.
    pub fn create_oidc_issuer(&self, name: &str, options: OidcIssuerOptions) -> OidcIssuerInfo {
        self.shared.oidc.custom.create(name, options).unwrap_or_else(|e| panic!("create_oidc_issuer: {e}"))
    }

    /// The URLs, algorithm and current kid of the custom issuer `name`. Panics if unknown.
    pub fn oidc_issuer(&self, name: &str) -> OidcIssuerInfo {
        self.shared.oidc.custom.info_of(name).unwrap_or_else(|e| panic!("oidc_issuer: {e}"))
    }

    /// A valid ID token of the custom issuer `name` for `aud`: `iss`, `aud`, a random `sub`,
    /// `iat`, `exp` (an hour later), with `claims` (a JSON object, or `null`) merged over them; a
    /// `null` member removes a claim. Signed with the issuer's current key and algorithm.
    ///
    /// # Panics
    /// If `name` is not a custom issuer of this emulator.
    pub fn issue_custom_id_token(&self, name: &str, aud: &str, claims: serde_json::Value) -> String {
        self.shared
            .oidc
            .custom
            .issue(name, aud, &claims, SigningMode::Current)
            .unwrap_or_else(|e| panic!("issue_custom_id_token: {e}"))
    }

    /// Signs `claims` exactly as given with the current key of the issuer `name` (a custom one
    /// or [`crate::MICROSOFT`]), as `mode` says: [`Emulator::sign_id_token`] for custom issuers.
    /// For RSA issuers `OtherAlg` is the same key under another RSA algorithm (RS512 for RS256,
    /// else RS256); for ES256 issuers it is RS256 with an RSA fixture under the current kid.
    ///
    /// # Panics
    /// If there is no issuer `name`.
    pub fn sign_custom_id_token(&self, name: &str, claims: serde_json::Value, mode: SigningMode) -> String {
        self.shared.oidc.custom.sign(name, &claims, mode).unwrap_or_else(|e| panic!("sign_custom_id_token: {e}"))
    }

    /// Rotates the key of the issuer `name` (a custom one or [`crate::MICROSOFT`]): new tokens
    /// carry the new kid, its JWKS lists the new key and the previous one. Returns the new kid.
    pub fn rotate_oidc_issuer(&self, name: &str) -> String {
        self.shared.oidc.custom.rotate(name).unwrap_or_else(|e| panic!("rotate_oidc_issuer: {e}"))
    }

    /// The kid the issuer `name` (a custom one or [`crate::MICROSOFT`]) signs new tokens with.
    pub fn oidc_issuer_kid(&self, name: &str) -> String {
        self.shared.oidc.custom.current_kid(name).unwrap_or_else(|e| panic!("oidc_issuer_kid: {e}"))
    }

    /// Sets the fault of the issuer `name` (a custom one or [`crate::MICROSOFT`]) on its
    /// discovery, its JWKS or both (`on`); it wins over [`Emulator::set_fault`] for that issuer.
    /// [`Fault::None`] clears it (the emulator-wide fault applies again).
    pub fn set_oidc_issuer_fault(&self, name: &str, fault: Fault, on: FaultOn) {
        self.shared.oidc.custom.set_fault(name, fault, on).unwrap_or_else(|e| panic!("set_oidc_issuer_fault: {e}"));
    }

    /// `(discovery fetches, JWKS fetches)` of the issuer `name`, faulted ones included.
    pub fn oidc_issuer_fetches(&self, name: &str) -> (u64, u64) {
        self.shared.oidc.custom.fetches(name).unwrap_or_else(|e| panic!("oidc_issuer_fetches: {e}"))
    }

    /// Creates a user of the Microsoft-like issuer in `tenant` (a tenant id GUID; `None` or
    /// `Some("consumers")` for a personal account, tenant [`crate::MICROSOFT_CONSUMER_TENANT`]).
    /// `email` is the `email` claim as is, any address (Microsoft does not verify it).
    ///
    /// # Panics
    /// If `tenant` is neither a GUID nor `consumers`.
    pub fn create_microsoft_user(
        &self,
        tenant: Option<&str>,
        name: &str,
        preferred_username: &str,
        email: Option<&str>,
    ) -> MicrosoftUser {
        self.shared
            .oidc
            .custom
            .create_microsoft_user(tenant, name, preferred_username, email)
            .unwrap_or_else(|e| panic!("create_microsoft_user: {e}"))
    }

    /// A valid Microsoft v2.0 ID token of the user `oid` for the app `aud`: `iss`
    /// `{base}/microsoft/{tid}/v2.0` with the user's tenant id, `tid`, `oid`, a pairwise `sub`
    /// (per app, as Microsoft's), `name`, `preferred_username`, `email` (when the user has one),
    /// `nonce` as given, `ver` `2.0`; `claims` merged over them (a `null` removes one).
    ///
    /// # Panics
    /// If `oid` is not a Microsoft user of this emulator.
    pub fn issue_microsoft_id_token(
        &self,
        oid: &str,
        aud: &str,
        nonce: Option<&str>,
        claims: serde_json::Value,
    ) -> String {
        self.shared
            .oidc
            .custom
            .issue_microsoft(oid, aud, nonce, &claims)
            .unwrap_or_else(|e| panic!("issue_microsoft_id_token: {e}"))
    }

    /// The discovery URL of the Microsoft-like issuer for `tenant` (`common`, `organizations`,
    /// `consumers` or a tenant id): `{base}/microsoft/{tenant}/v2.0/.well-known/openid-configuration`.
    pub fn microsoft_discovery_url(&self, tenant: &str) -> String {
        let base = self.shared.oidc.custom.base().unwrap_or_else(|e| panic!("microsoft_discovery_url: {e}"));
        format!("{base}/microsoft/{tenant}/v2.0/.well-known/openid-configuration")
    }

    /// The `iss` of the Microsoft-like issuer's tokens for the tenant id `tid`:
    /// `{base}/microsoft/{tid}/v2.0`.
    pub fn microsoft_issuer(&self, tid: &str) -> String {
        let base = self.shared.oidc.custom.base().unwrap_or_else(|e| panic!("microsoft_issuer: {e}"));
        format!("{base}/microsoft/{tid}/v2.0")
    }
}

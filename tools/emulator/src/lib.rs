//! Provider emulator: a small HTTP server that speaks the Facebook Graph API endpoints
//! social-login calls, for people and tokens it creates itself, with Graph's real response
//! and error shapes (like Firebase's Auth emulator).
//!
//! Used in-process by the integration tests:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use emulator::{Emulator, EmulatorConfig, FacebookApp};
//! let emulator = Emulator::new(EmulatorConfig {
//!     facebook_apps: vec![FacebookApp { id: "1234".into(), secret: "s3cret".into() }],
//!     ..Default::default()
//! });
//! let base_url = emulator.spawn(0).await?; // "http://127.0.0.1:PORT"
//! let person = emulator.create_facebook_user("Ada Lovelace", Some("ada@example.com"));
//! let token = emulator.issue_facebook_token(&person, "1234", 3600);
//! // GET {base_url}/v22.0/me?fields=id,name,email with `Authorization: Bearer {token}`
//! # Ok(()) }
//! ```
//!
//! and as the standalone binary `provider-emulator` by the local dev stack, which drives it
//! through the admin routes under `/_emulator/` (see [`Emulator::router`]).
//!
//! Graph endpoints (any `/v\d+.\d+` prefix, or none):
//! - `GET /me?fields=...[&appsecret_proof=...][&metadata=1]`: the user of a user token, the
//!   Page of a Page token, the application of an app token; `metadata=1` adds
//!   `"metadata": {"type": "user"|"page"|"application"}`
//! - `GET /debug_token?input_token=...` with an app token `APPID|APPSECRET`
//! - `POST /{app_id}/accounts/test-users?installed=true&name=...` with that app's token
//! - `DELETE /{user-id}/permissions` with an app token: the user's tokens for that app stop
//!   working; `{"success": true}`
//!
//! The access token is read from `access_token=` or `Authorization: Bearer|OAuth <token>`.
//!
//! Consent pages for a browser (the local stack's sign-in playground), one per provider, e.g.
//! `GET /{version}/dialog/oauth` for Facebook: see the `consent` module.

mod admin;
mod apple_tokens;
mod consent;
mod emulator;
mod facebook;
mod faults;
mod github;
mod oidc;
mod router;
mod server;
mod state;
mod twitter;
mod util;

pub use apple_tokens::{AppleTeam, RefreshToken};
pub use emulator::{Emulator, EmulatorConfig};
pub use facebook::FacebookApp;
pub use facebook::{sign_signed_request, signed_request_payload, SIGNED_REQUEST_ALGORITHM};
pub use faults::{Fault, UnknownFault};
pub use github::GitHubApp;
pub use oidc::LinkedInApp;
pub use oidc::{apple_event, apple_notification_claims, OidcProvider, SigningMode};
pub use oidc::{
    FaultOn, MicrosoftUser, OidcIssuerInfo, OidcIssuerOptions, SigningAlg, MICROSOFT, MICROSOFT_CONSUMER_TENANT,
};
pub use twitter::TwitterApp;

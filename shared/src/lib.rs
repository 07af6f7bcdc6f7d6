//! Everything the social-login functions have in common: configuration, provider verification,
//! the DynamoDB user store, issued secrets, and the two API dialects.
//!
//! The crate reads bottom-up in five layers (docs/architecture.md); a module imports only from
//! its own layer and the ones below (`shared/tests/layers.rs` holds it):
//!
//! 1. [`domain`]: primitives and domain types (time, secrets, instances, identities, records,
//!    issued tokens, sealing);
//! 2. [`config`]: every setting, read once;
//! 3. the adapters: [`store`] (DynamoDB), [`providers`] (the providers' APIs), [`net`] (TLS, the
//!    connections opened in init);
//! 4. [`usecases`]: `App` and what it does (the only place with `impl App`);
//! 5. [`entry`]: the entry points (both dialects, the callbacks, the authorizers, the scheduled
//!    job, the HTTP envelope, the Lambda runtime).

pub mod domain;

pub mod config;

pub mod net;
pub mod providers;
pub mod store;

pub mod usecases;

pub mod entry;

pub use domain::identity::{Provider, VerifiedIdentity};
pub use domain::instance::InstanceName;
pub use domain::secret::Secret;
pub use usecases::app::{App, AppError};
pub use usecases::error::UseCaseError;

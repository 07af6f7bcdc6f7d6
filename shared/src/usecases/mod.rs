//! `App` and the use-cases: the only layer that adds methods to `App`. Each use-case runs on the
//! adapters (`store`, `providers`) and answers in `UseCaseError`; the entry points call these.

pub mod access_cache;
pub mod accounts;
pub mod app;
pub mod error;
pub mod instance_providers;
// Only the `apple-notifications` function serves it (it needs Apple's keys).
pub mod apple_notifications;
pub mod facebook_callbacks;
pub mod health;
pub mod limiter;
pub mod login;
pub mod metrics;
pub mod replication;
pub mod revocation;
pub mod sessions;
pub mod sweeper;
pub mod syncano_keys;
pub mod throttle;

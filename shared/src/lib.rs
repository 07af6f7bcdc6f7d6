//! Everything the social-login functions have in common: configuration, provider verification,
//! the DynamoDB user store, issued secrets, and the two API dialects.

pub mod accounts;
pub mod app;
// Only the `apple-notifications` function serves it (it needs Apple's keys).
#[cfg(feature = "apple")]
pub mod apple_notifications;
pub mod authorizer;
pub mod avatar;
pub mod callbacks;
pub mod clock;
pub mod config;
pub mod dialect;
pub mod display_name;
pub mod facebook_callbacks;
pub mod front;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod http;
pub mod identity;
pub mod instance;
pub mod lambda;
pub mod logging;
pub mod login;
pub mod metrics;
pub mod parameter_store;
pub mod preconnect;
pub mod providers;
pub mod records;
pub mod revocation;
pub mod sealing;
pub mod secret;
pub mod sessions;
pub mod store;
pub mod throttle;
pub mod tls;
pub mod tokens;
pub mod username;

pub use app::{App, AppError};
pub use identity::{Provider, VerifiedIdentity};
pub use instance::InstanceName;
pub use login::LoginError;
pub use secret::Secret;

//! The entry points: what a function's `lib.rs` calls. Both dialects, the callbacks' HTTP
//! handlers, the authorizers, the scheduled job, the HTTP envelope and the Lambda runtime. They
//! read requests and write answers, and call the use-cases (never the store through an `App`).

// Only the `apple-notifications` function serves it (it needs Apple's keys).
pub mod apple_notifications;
pub mod authorizer;
pub mod avatar;
pub mod callbacks;
pub mod dialect;
pub mod facebook_callbacks;
pub mod front;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod health;
pub mod http;
pub mod lambda;
pub mod scheduled;

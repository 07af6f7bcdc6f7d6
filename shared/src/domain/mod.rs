//! The bottom layer: primitives and domain types, which import nothing else of the crate.

// The key our calls to Apple are signed with (code exchange, revocation).
pub mod apple_key;
pub mod clock;
pub mod display_name;
pub mod identity;
pub mod instance;
pub mod instance_apps;
pub mod logging;
pub mod records;
pub mod sealing;
pub mod secret;
pub mod tokens;
pub mod username;

//! Integration tests: both APIs over HTTP through the local gateway, against DynamoDB Local and
//! the provider emulator; and every `events/` sample through its function's handler in process.

mod apple_notifications;
mod budget;
mod compat_rocketchat;
mod compat_syncano;
mod crash;
mod custom_oidc;
mod custom_oidc_login;
mod custom_oidc_syncano;
mod deletion;
mod events;
mod facebook_callbacks;
mod faults;
mod flood;
mod health;
mod helpers;
mod instance_apps;
mod key_cache;
mod least_privilege;
mod linking;
mod metrics;
mod openapi;
mod providers;
mod replay;
mod revocation;
mod rocketchat;
mod security;
mod sessions;
mod signup;
mod smoke;
mod soak;
mod syncano;
mod template;
mod throttle;
mod throttled;
mod user_ids;

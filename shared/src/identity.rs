//! What a provider vouches for once it has verified a token.

use std::fmt;

/// The identity providers this deployment can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Facebook,
}

impl Provider {
    /// The name used in keys, in Syncano's `{backend}` and Rocket.Chat's `serviceName`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Facebook => "facebook",
        }
    }

    /// Rocket.Chat's `serviceName` → provider, if this deployment serves it.
    pub fn from_service_name(name: &str) -> Option<Provider> {
        match name {
            "facebook" => Some(Provider::Facebook),
            _ => None,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A person as a provider vouches for them, after the token was checked to be valid and issued
/// for our app. Built only by provider verifiers, never from client input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub provider: Provider,
    /// The provider's id of the person (for Facebook: the app-scoped user id).
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Whether the provider vouches that the person controls `email`.
    pub email_verified: bool,
    pub avatar_url: Option<String>,
}

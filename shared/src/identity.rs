//! What a provider vouches for once it has verified a token.

use std::fmt;

/// The identity providers this code can verify (a deployment serves those it has an app id for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Facebook,
    Google,
    Twitter,
    LinkedIn,
    Apple,
    GitHub,
}

impl Provider {
    pub const ALL: [Provider; 6] = [
        Provider::Facebook,
        Provider::Google,
        Provider::Twitter,
        Provider::LinkedIn,
        Provider::Apple,
        Provider::GitHub,
    ];

    /// The name used in keys and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Facebook => "facebook",
            Provider::Google => "google",
            Provider::Twitter => "twitter",
            Provider::LinkedIn => "linkedin",
            Provider::Apple => "apple",
            Provider::GitHub => "github",
        }
    }

    /// Syncano's `{backend}` path segment.
    pub fn syncano_backend(self) -> &'static str {
        match self {
            Provider::Google => "google-oauth2",
            other => other.as_str(),
        }
    }

    /// Rocket.Chat's `serviceName` → provider.
    pub fn from_service_name(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == name)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Provider::ALL {
            assert_eq!(Provider::from_service_name(p.as_str()), Some(p));
        }
        assert_eq!(Provider::Google.syncano_backend(), "google-oauth2");
        assert_eq!(Provider::from_service_name("myspace"), None);
    }
}

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
    /// Google Workspace: the domain the account belongs to (`hd`), which Google is authoritative
    /// for. Other providers: `None`.
    pub hosted_domain: Option<String>,
    pub avatar_url: Option<String>,
}

/// The domains Apple is authoritative for: its own mail, and the private relay.
const APPLE_DOMAINS: [&str; 4] = ["privaterelay.appleid.com", "icloud.com", "me.com", "mac.com"];
/// Google's consumer mail domains.
const GMAIL_DOMAINS: [&str; 2] = ["gmail.com", "googlemail.com"];

impl VerifiedIdentity {
    /// The email this identity may be linked by, ASCII case-folded (the email index's key), or
    /// `None`. Only where the provider is authoritative for the address, i.e. runs its mailbox:
    /// Google for Gmail and for its Workspace domain (`hd` equal to the email's domain), Apple for
    /// its own domains and private-relay addresses. A provider that merely says it verified an
    /// address (Facebook, GitHub, X, LinkedIn, Apple for a foreign domain) never links: the
    /// address may have changed hands, or been verified once and lost. A non-ASCII address never
    /// links (no Unicode case folding to get wrong).
    pub fn authoritative_email(&self) -> Option<String> {
        let email = self.email.as_deref()?.trim();
        if !self.email_verified || !email.is_ascii() {
            return None;
        }
        let (local, domain) = email.split_once('@')?;
        if local.is_empty() || domain.is_empty() || domain.contains('@') {
            return None;
        }
        let domain = domain.to_ascii_lowercase();
        let authoritative = match self.provider {
            // Apple's addresses link only through Apple, whatever another provider claims.
            _ if APPLE_DOMAINS.contains(&domain.as_str()) => self.provider == Provider::Apple,
            Provider::Google => {
                GMAIL_DOMAINS.contains(&domain.as_str())
                    || self.hosted_domain.as_deref().is_some_and(|hd| hd.trim().eq_ignore_ascii_case(&domain))
            }
            Provider::Apple => false,
            Provider::Facebook | Provider::Twitter | Provider::LinkedIn | Provider::GitHub => false,
        };
        authoritative.then(|| format!("{}@{domain}", local.to_ascii_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(provider: Provider, email: &str, verified: bool, hd: Option<&str>) -> VerifiedIdentity {
        VerifiedIdentity {
            provider,
            subject: "s".into(),
            name: None,
            email: Some(email.into()),
            email_verified: verified,
            hosted_domain: hd.map(str::to_string),
            avatar_url: None,
        }
    }

    #[test]
    fn only_authoritative_providers_link_by_email() {
        let link = |p, e: &str, v, hd| identity(p, e, v, hd).authoritative_email();
        assert_eq!(link(Provider::Google, "Ann.Lee@GMail.com", true, None).as_deref(), Some("ann.lee@gmail.com"));
        assert_eq!(
            link(Provider::Google, "ann@corp.example", true, Some("corp.example")).as_deref(),
            Some("ann@corp.example")
        );
        assert_eq!(link(Provider::Google, "ann@corp.example", true, None), None, "no hd: Google is not the mailbox");
        assert_eq!(link(Provider::Google, "ann@corp.example", true, Some("other.example")), None);
        assert_eq!(link(Provider::Google, "ann@gmail.com", false, None), None, "unverified");
        assert_eq!(
            link(Provider::Apple, "x1@privaterelay.appleid.com", true, None).as_deref(),
            Some("x1@privaterelay.appleid.com")
        );
        assert_eq!(link(Provider::Apple, "ann@gmail.com", true, None), None, "Apple is not Gmail's authority");
        assert_eq!(
            link(Provider::Google, "x1@privaterelay.appleid.com", true, Some("privaterelay.appleid.com")),
            None,
            "Apple's addresses link only through Apple"
        );
        for p in [Provider::Facebook, Provider::GitHub, Provider::Twitter, Provider::LinkedIn] {
            assert_eq!(link(p, "ann@gmail.com", true, None), None, "{p}");
        }
        assert_eq!(link(Provider::Google, "ånn@gmail.com", true, None), None, "non-ASCII never links");
        assert_eq!(link(Provider::Google, "a@b@gmail.com", true, None), None);
    }

    #[test]
    fn names_round_trip() {
        for p in Provider::ALL {
            assert_eq!(Provider::from_service_name(p.as_str()), Some(p));
        }
        assert_eq!(Provider::Google.syncano_backend(), "google-oauth2");
        assert_eq!(Provider::from_service_name("myspace"), None);
    }
}

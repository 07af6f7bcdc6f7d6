//! What a provider vouches for once it has verified a token.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Mutex, OnceLock};

/// The identity providers this code can verify (a deployment serves those it has an app id for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Facebook,
    Google,
    Twitter,
    LinkedIn,
    Apple,
    GitHub,
    /// Microsoft (Entra ID work and school accounts, personal accounts): a preset over the custom
    /// OpenID Connect verifier.
    Microsoft,
    /// A custom OpenID Connect provider, by the name its configuration gives it.
    Oidc(OidcName),
}

/// The built-in names, which a custom provider may not take (nor their Syncano backends).
const BUILT_IN_NAMES: [&str; 8] =
    ["facebook", "google", "twitter", "linkedin", "apple", "github", "microsoft", "google-oauth2"];
/// The prefix of a custom provider's key string and Syncano backend: `oidc-{name}`.
const OIDC_PREFIX: &str = "oidc-";
/// Longest custom provider name.
pub const MAX_OIDC_NAME: usize = 32;

/// The name of a custom OpenID Connect provider: 1 to 32 of `a-z`, `0-9` and `-`, not a
/// built-in provider's name. `Copy`: it holds the interned `oidc-{name}` string, allocated once
/// per distinct configured name for the life of the process (the names come from configuration
/// only, never from a client: [`OidcName::existing`] only finds names already interned, so the
/// set is bounded by the configuration, one small allocation per distinct name).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OidcName(&'static str);

/// Why a custom provider name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid OpenID Connect provider name {0:?}: 1 to 32 of a-z, 0-9 and '-', not a built-in provider's name")]
pub struct InvalidOidcName(pub String);

fn interned() -> &'static Mutex<HashSet<&'static str>> {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    NAMES.get_or_init(|| Mutex::new(HashSet::new()))
}

impl OidcName {
    /// Validates and interns a name **from configuration** (never call it with client input: each
    /// new name is leaked, see the type's documentation).
    pub fn configured(name: &str) -> Result<OidcName, InvalidOidcName> {
        let valid = (1..=MAX_OIDC_NAME).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !BUILT_IN_NAMES.contains(&name);
        if !valid {
            return Err(InvalidOidcName(name.chars().take(64).collect()));
        }
        let key = format!("{OIDC_PREFIX}{name}");
        let mut names = interned().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(existing) = names.get(key.as_str()) {
            return Ok(OidcName(existing));
        }
        let leaked: &'static str = Box::leak(key.into_boxed_str());
        names.insert(leaked);
        Ok(OidcName(leaked))
    }

    /// The configured provider called `name` (a client's `serviceName`), if one was interned;
    /// never interns anything.
    pub fn existing(name: &str) -> Option<OidcName> {
        if name.len() > MAX_OIDC_NAME {
            return None;
        }
        let key = format!("{OIDC_PREFIX}{name}");
        let names = interned().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        names.get(key.as_str()).map(|s| OidcName(s))
    }

    /// The name as configured (Rocket.Chat's `serviceName`).
    pub fn name(self) -> &'static str {
        &self.0[OIDC_PREFIX.len()..]
    }

    /// `oidc-{name}`: the provider's string in keys, logs and metrics, and its Syncano backend.
    pub fn key(self) -> &'static str {
        self.0
    }
}

impl fmt::Debug for OidcName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OidcName({:?})", self.name())
    }
}

impl Provider {
    /// The built-in providers that come with their own deployment-wide settings (Microsoft is
    /// not one of them: it is a preset of the custom OpenID Connect verifier, served only where
    /// configured, and listed with the custom ones by [`Provider::from_service_name`]).
    pub const ALL: [Provider; 6] = [
        Provider::Facebook,
        Provider::Google,
        Provider::Twitter,
        Provider::LinkedIn,
        Provider::Apple,
        Provider::GitHub,
    ];

    /// The name used in keys and logs (`oidc-{name}` for a custom provider: no `#`, and no
    /// built-in name starts with `oidc-`).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Facebook => "facebook",
            Provider::Google => "google",
            Provider::Twitter => "twitter",
            Provider::LinkedIn => "linkedin",
            Provider::Apple => "apple",
            Provider::GitHub => "github",
            Provider::Microsoft => "microsoft",
            Provider::Oidc(name) => name.key(),
        }
    }

    /// Syncano's `{backend}` path segment: python-social-auth's names (`google-oauth2`,
    /// `microsoft-graph`), `oidc-{name}` for a custom provider (no Syncano or python-social-auth
    /// backend starts with `oidc-`).
    pub fn syncano_backend(self) -> &'static str {
        match self {
            Provider::Google => "google-oauth2",
            Provider::Microsoft => "microsoft-graph",
            other => other.as_str(),
        }
    }

    /// Rocket.Chat's `serviceName` → provider: a built-in's name, `microsoft`, or a configured
    /// custom provider's name.
    pub fn from_service_name(name: &str) -> Option<Provider> {
        Provider::ALL
            .into_iter()
            .chain([Provider::Microsoft])
            .find(|p| p.as_str() == name)
            .or_else(|| OidcName::existing(name).map(Provider::Oidc))
    }

    /// Syncano's `{backend}` → provider (the inverse of [`Provider::syncano_backend`]); a custom
    /// provider only when configured.
    pub fn from_syncano_backend(backend: &str) -> Option<Provider> {
        Provider::ALL
            .into_iter()
            .chain([Provider::Microsoft])
            .find(|p| p.syncano_backend() == backend)
            .or_else(|| OidcName::existing(backend.strip_prefix(OIDC_PREFIX)?).map(Provider::Oidc))
    }

    /// Rocket.Chat's `serviceName` of this provider.
    pub fn service_name(self) -> &'static str {
        match self {
            Provider::Oidc(name) => name.name(),
            other => other.as_str(),
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
            // Microsoft does not verify the `email` claim (nOAuth): never, whatever it says.
            Provider::Microsoft => false,
            // A custom issuer's `email_verified` counts only where the operator trusts it for
            // email (`trust_email`); its verifier leaves `email_verified` false otherwise.
            Provider::Oidc(_) => true,
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
        assert_eq!(Provider::from_service_name("microsoft"), Some(Provider::Microsoft));
        assert_eq!(Provider::from_syncano_backend("microsoft-graph"), Some(Provider::Microsoft));
        assert_eq!(Provider::from_syncano_backend("google-oauth2"), Some(Provider::Google));
        assert_eq!(Provider::from_syncano_backend("google"), None);
    }

    #[test]
    fn custom_names_are_validated_interned_once_and_never_from_clients() {
        for bad in
            ["", "Keycloak", "key_cloak", "a#b", "oidc:x", "google", "microsoft", "google-oauth2", &"a".repeat(33)]
        {
            assert!(OidcName::configured(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Provider::from_service_name("never-configured-x"), None, "a client's name is not interned");
        assert_eq!(OidcName::existing("never-configured-x"), None, "still not");
        let a = OidcName::configured("corp-idp").expect("valid");
        let b = OidcName::configured("corp-idp").expect("valid");
        assert!(std::ptr::eq(a.key(), b.key()), "one allocation per distinct name");
        let p = Provider::Oidc(a);
        assert_eq!((p.as_str(), p.syncano_backend(), p.service_name()), ("oidc-corp-idp", "oidc-corp-idp", "corp-idp"));
        assert_eq!(Provider::from_service_name("corp-idp"), Some(p));
        assert_eq!(Provider::from_syncano_backend("oidc-corp-idp"), Some(p));
        assert_eq!(Provider::from_syncano_backend("corp-idp"), None);
        assert!(!p.as_str().contains('#'));
        let sixteen = OidcName::configured(&"z".repeat(32)).expect("32 is the bound");
        assert_eq!(sixteen.name().len(), 32);
    }

    #[test]
    fn microsoft_never_links_and_a_custom_issuer_only_when_trusted() {
        let ms = identity(Provider::Microsoft, "victim@gmail.com", true, None);
        assert_eq!(ms.authoritative_email(), None, "nOAuth: Microsoft's email is not verified");
        let custom = Provider::Oidc(OidcName::configured("trusted-idp").expect("valid"));
        assert_eq!(
            identity(custom, "Ann@Corp.example", true, None).authoritative_email().as_deref(),
            Some("ann@corp.example")
        );
        assert_eq!(identity(custom, "ann@corp.example", false, None).authoritative_email(), None);
        assert_eq!(identity(custom, "x@privaterelay.appleid.com", true, None).authoritative_email(), None);
    }
}

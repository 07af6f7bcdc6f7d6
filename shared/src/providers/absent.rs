//! Stand-ins for the verifiers of the providers a build does not link (their cargo feature of
//! `shared` is off). Each is an empty enum: no value of it can exist, so [`super::Providers`]
//! holds `None` for it and every caller takes the path of a provider without configuration
//! (`NotServed`, nothing to revoke) without a `#[cfg]` of its own. Each has the methods callers
//! outside the provider's module use, with the same signatures; none of them can ever run.

#![allow(clippy::unused_async)]

#[allow(unused_imports)]
use super::{Credentials, Exchanged, ProviderError, Verified};
#[allow(unused_imports)]
use crate::domain::identity::VerifiedIdentity;
#[allow(unused_imports)]
use crate::domain::secret::Secret;

/// Facebook is not linked into this build.
#[cfg(not(feature = "facebook"))]
pub enum FacebookVerifier {}

#[cfg(not(feature = "facebook"))]
impl FacebookVerifier {
    pub async fn verify(&self, _: &Credentials) -> Result<VerifiedIdentity, ProviderError> {
        match *self {}
    }

    pub async fn delete_permissions(&self, _: &str) -> Result<(), ProviderError> {
        match *self {}
    }
}

/// Google is not linked into this build.
#[cfg(not(feature = "google"))]
pub enum GoogleVerifier {}

#[cfg(not(feature = "google"))]
impl GoogleVerifier {
    pub async fn verify(&self, _: &Credentials) -> Result<VerifiedIdentity, ProviderError> {
        match *self {}
    }
}

/// X (Twitter) is not linked into this build.
#[cfg(not(feature = "twitter"))]
pub enum TwitterVerifier {}

#[cfg(not(feature = "twitter"))]
impl TwitterVerifier {
    pub async fn verify(&self, _: &Credentials) -> Result<VerifiedIdentity, ProviderError> {
        match *self {}
    }
}

/// LinkedIn is not linked into this build.
#[cfg(not(feature = "linkedin"))]
pub enum LinkedInVerifier {}

#[cfg(not(feature = "linkedin"))]
impl LinkedInVerifier {
    pub async fn verify(&self, _: &Credentials) -> Result<VerifiedIdentity, ProviderError> {
        match *self {}
    }
}

/// Sign in with Apple is not linked into this build.
#[cfg(not(feature = "apple"))]
pub enum AppleVerifier {}

#[cfg(not(feature = "apple"))]
impl AppleVerifier {
    pub async fn verify(&self, _: &Credentials) -> Result<VerifiedIdentity, ProviderError> {
        match *self {}
    }
}

/// Our own calls to Apple (code exchange, revocation) are not linked into this build.
#[cfg(not(feature = "apple"))]
pub enum AppleTokens {}

#[cfg(not(feature = "apple"))]
impl AppleTokens {
    pub async fn exchange(&self, _: &str, _: &Secret) -> Result<Exchanged, ProviderError> {
        match *self {}
    }

    pub async fn revoke(&self, _: &str, _: &Secret) -> Result<(), ProviderError> {
        match *self {}
    }
}

/// GitHub is not linked into this build.
#[cfg(not(feature = "github"))]
pub enum GitHubVerifier {}

#[cfg(not(feature = "github"))]
impl GitHubVerifier {
    pub async fn verify(&self, _: &Credentials) -> Result<Verified, ProviderError> {
        match *self {}
    }

    pub(crate) async fn add_email(
        &self,
        _: VerifiedIdentity,
        _: &Credentials,
    ) -> Result<VerifiedIdentity, ProviderError> {
        match *self {}
    }
}

//! The OIDC providers the emulator speaks ([`OidcProvider`]) and the ways it signs ID tokens
//! for the verifier's security matrix ([`SigningMode`]).

use std::fmt;

/// An OpenID Connect provider the emulator speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OidcProvider {
    Google,
    LinkedIn,
    Apple,
    /// Facebook Limited Login (iOS): an OIDC ID token instead of a Graph access token.
    FacebookLimited,
}

impl OidcProvider {
    pub const ALL: [OidcProvider; 4] =
        [OidcProvider::Google, OidcProvider::LinkedIn, OidcProvider::Apple, OidcProvider::FacebookLimited];

    /// The route prefix and admin name: `google`, `linkedin`, `apple`, `facebook-limited`.
    pub fn slug(self) -> &'static str {
        match self {
            OidcProvider::Google => "google",
            OidcProvider::LinkedIn => "linkedin",
            OidcProvider::Apple => "apple",
            OidcProvider::FacebookLimited => "facebook-limited",
        }
    }

    /// The provider for a [`OidcProvider::slug`].
    pub fn from_slug(slug: &str) -> Option<OidcProvider> {
        OidcProvider::ALL.into_iter().find(|p| p.slug() == slug)
    }

    /// The `iss` of the provider's ID tokens (the real one).
    pub fn issuer(self) -> &'static str {
        match self {
            OidcProvider::Google => "https://accounts.google.com",
            OidcProvider::LinkedIn => "https://www.linkedin.com/oauth",
            OidcProvider::Apple => "https://appleid.apple.com",
            OidcProvider::FacebookLimited => "https://www.facebook.com",
        }
    }

    /// The JWKS path on the emulator, e.g. `/google/oauth2/v3/certs`.
    pub fn jwks_path(self) -> &'static str {
        match self {
            OidcProvider::Google => "/google/oauth2/v3/certs",
            OidcProvider::LinkedIn => "/linkedin/oauth/openid/jwks",
            OidcProvider::Apple => "/apple/auth/keys",
            OidcProvider::FacebookLimited => "/facebook-limited/.well-known/oauth/openid/jwks/",
        }
    }

    pub(super) fn index(self) -> usize {
        match self {
            OidcProvider::Google => 0,
            OidcProvider::LinkedIn => 1,
            OidcProvider::Apple => 2,
            OidcProvider::FacebookLimited => 3,
        }
    }

    /// The fixture key a provider starts with.
    pub(super) fn first_key(self) -> usize {
        match self {
            OidcProvider::Google | OidcProvider::FacebookLimited => 0,
            OidcProvider::LinkedIn => 1,
            OidcProvider::Apple => 2,
        }
    }

    /// Whether the provider has plain OAuth access tokens (tokeninfo/userinfo).
    pub(super) fn has_access_tokens(self) -> bool {
        matches!(self, OidcProvider::Google | OidcProvider::LinkedIn)
    }
}

impl fmt::Display for OidcProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// How [`crate::Emulator::sign_id_token`] signs, for the verifier's security matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningMode {
    /// RS256 with the provider's current key and kid: a valid token (given valid claims).
    Current,
    /// RS256 with a key generated at run time and never published; kid `unknown-<16 hex>`.
    UnknownKid,
    /// Header `{"alg":"none","kid":<current>,"typ":"JWT"}` and an empty signature (`h.p.`).
    NoneAlg,
    /// HS256 keyed with the current key's public PEM bytes (exactly the file
    /// `keys/key-N.pub.pem`, SPKI, trailing newline included): the algorithm confusion attack.
    Hs256WithPublicKey,
    /// RS256 with the current key and kid, one bit of the signature flipped.
    BadSignature,
    /// RS512 with the current key and kid: correctly signed, but not RS256.
    OtherAlg,
}

impl SigningMode {
    pub const ALL: [SigningMode; 6] = [
        SigningMode::Current,
        SigningMode::UnknownKid,
        SigningMode::NoneAlg,
        SigningMode::Hs256WithPublicKey,
        SigningMode::BadSignature,
        SigningMode::OtherAlg,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_round_trip() {
        for provider in OidcProvider::ALL {
            assert_eq!(OidcProvider::from_slug(provider.slug()), Some(provider));
            assert!(provider.jwks_path().starts_with(&format!("/{}/", provider.slug())));
        }
        assert_eq!(OidcProvider::from_slug("facebook"), None);
    }
}

//! The OpenID Connect providers: Google, LinkedIn, Sign in with Apple and Facebook Limited
//! Login. Each lives under its own prefix on the one emulator server, with the real path
//! after it (`{base}/google/oauth2/v3/certs` stands for `https://www.googleapis.com/oauth2/v3/certs`):
//!
//! | Provider | Routes |
//! |---|---|
//! | Google `/google` | `GET /google/oauth2/v3/certs` (JWKS), `GET\|POST /google/tokeninfo?access_token=`, `GET /google/v1/userinfo` (bearer) |
//! | LinkedIn `/linkedin` | `GET /linkedin/oauth/openid/jwks`, `GET /linkedin/v2/userinfo` (bearer) |
//! | Apple `/apple` | `GET /apple/auth/keys` |
//! | Facebook Limited Login `/facebook-limited` | `GET /facebook-limited/.well-known/oauth/openid/jwks/` |
//!
//! ID tokens are RS256 JWTs with a `kid`, carrying the real issuers (`https://accounts.google.com`,
//! `https://www.linkedin.com/oauth`, `https://appleid.apple.com`, `https://www.facebook.com`), so a
//! verifier under test only needs its JWKS URL pointed at the emulator. Every JWKS answer has
//! `Cache-Control: public, max-age=N` (Google's adds `must-revalidate, no-transform`), N from
//! [`crate::Emulator::set_jwks_max_age`], 300 by default.
//!
//! Claim shapes follow the providers: Google's `email_verified` is a JSON bool; Apple's
//! `email_verified` and `is_private_email` are the strings `"true"`/`"false"`, LinkedIn's ID token
//! `email_verified` too (its userinfo answers a bool); Apple's `nonce` is the lowercase hex
//! SHA-256 of the raw nonce given when minting, with `nonce_supported: true`; Facebook Limited
//! Login's `nonce` is exactly the value given when minting (pass the hash your client would
//! send); Google's and LinkedIn's `nonce`, when given, is echoed as is.
//!
//! Keys: each provider signs with its own current fixture key (see `keys/README.md`);
//! [`crate::Emulator::rotate_keys`] moves it to the next fixture, after which its JWKS lists the
//! new key first and the previous one second (like Google, which publishes two).
//!
//! Every request under a provider prefix counts in [`crate::Emulator::request_count`] and gets
//! the fault set by [`crate::Emulator::set_fault`]; every request to a JWKS route also counts in
//! [`crate::Emulator::jwks_fetches`], faulted ones included.
//!
//! Admin routes (JSON, `{provider}` = `google|linkedin|apple|facebook-limited`, never faulted or
//! counted):
//! - `POST /_emulator/oidc/{provider}/users` `{"name", "email"?, "email_verified"? (default true)}` → `{"sub"}`
//! - `POST /_emulator/oidc/{provider}/id_tokens` `{"sub", "aud", "nonce"?}` → `{"id_token"}`
//! - `POST /_emulator/oidc/{provider}/access_tokens` `{"sub", "aud"}` → `{"access_token"}` (Google, LinkedIn)
//! - `POST /_emulator/oidc/{provider}/rotate` → `{"kid"}` (the new current kid)

mod http;
mod keys;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::util::{lock, now, random_alnum, random_digits};

pub(crate) use http::router;

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

    fn index(self) -> usize {
        match self {
            OidcProvider::Google => 0,
            OidcProvider::LinkedIn => 1,
            OidcProvider::Apple => 2,
            OidcProvider::FacebookLimited => 3,
        }
    }

    /// The fixture key a provider starts with.
    fn first_key(self) -> usize {
        match self {
            OidcProvider::Google | OidcProvider::FacebookLimited => 0,
            OidcProvider::LinkedIn => 1,
            OidcProvider::Apple => 2,
        }
    }

    /// Whether the provider has plain OAuth access tokens (tokeninfo/userinfo).
    fn has_access_tokens(self) -> bool {
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

/// Lifetime of minted ID tokens.
const ID_TOKEN_TTL: i64 = 3600;
/// Default `max-age` of the JWKS answers (seconds).
pub(crate) const DEFAULT_JWKS_MAX_AGE: u64 = 300;
/// Scopes of the Google access tokens, as tokeninfo lists them.
const GOOGLE_SCOPES: &str =
    "https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile openid";

/// One user of one provider.
#[derive(Clone, Debug)]
pub(crate) struct OidcUser {
    name: String,
    email: Option<String>,
    email_verified: bool,
    picture: Option<String>,
}

impl OidcUser {
    fn given_name(&self) -> Option<&str> {
        self.name.split_whitespace().next()
    }

    fn family_name(&self) -> Option<&str> {
        let words: Vec<&str> = self.name.split_whitespace().collect();
        (words.len() >= 2).then(|| words[words.len() - 1])
    }
}

/// A LinkedIn app that may introspect access tokens (`POST /linkedin/oauth/v2/introspectToken`).
#[derive(Clone, PartialEq, Eq)]
pub struct LinkedInApp {
    pub client_id: String,
    pub client_secret: String,
}

impl fmt::Debug for LinkedInApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkedInApp").field("client_id", &self.client_id).field("client_secret", &"<redacted>").finish()
    }
}

/// One plain OAuth access token (Google, LinkedIn).
#[derive(Clone, Debug)]
pub(crate) struct AccessToken {
    provider: OidcProvider,
    sub: String,
    aud: String,
    expires_at: i64,
    revoked: bool,
}

/// Why something could not be minted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OidcError {
    UnknownUser,
    NoAccessTokens,
}

impl fmt::Display for OidcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OidcError::UnknownUser => f.write_str("unknown user"),
            OidcError::NoAccessTokens => {
                f.write_str("this provider has no plain access tokens (Google and LinkedIn do)")
            }
        }
    }
}

/// Which fixture keys a provider publishes.
#[derive(Clone, Copy, Debug)]
struct KeyState {
    current: usize,
    previous: Option<usize>,
}

struct Data {
    users: HashMap<(OidcProvider, String), OidcUser>,
    access_tokens: HashMap<String, AccessToken>,
    keys: [KeyState; 4],
}

/// The OIDC state of the emulator.
pub(crate) struct Oidc {
    data: Mutex<Data>,
    jwks_fetches: [AtomicU64; 4],
    jwks_max_age: AtomicU64,
    linkedin_apps: Vec<LinkedInApp>,
}

impl Default for Oidc {
    fn default() -> Oidc {
        Oidc::new(Vec::new())
    }
}

impl Oidc {
    pub(crate) fn new(linkedin_apps: Vec<LinkedInApp>) -> Oidc {
        Oidc {
            linkedin_apps,
            data: Mutex::new(Data {
                users: HashMap::new(),
                access_tokens: HashMap::new(),
                keys: OidcProvider::ALL.map(|p| KeyState { current: p.first_key(), previous: None }),
            }),
            jwks_fetches: Default::default(),
            jwks_max_age: AtomicU64::new(DEFAULT_JWKS_MAX_AGE),
        }
    }

    pub(crate) fn create_user(
        &self,
        provider: OidcProvider,
        name: &str,
        email: Option<&str>,
        verified: bool,
    ) -> String {
        let mut data = lock(&self.data);
        let sub = loop {
            let sub = new_sub(provider);
            if !data.users.contains_key(&(provider, sub.clone())) {
                break sub;
            }
        };
        let user = OidcUser {
            name: name.to_string(),
            email: email.map(str::to_string),
            email_verified: verified,
            picture: picture(provider, &sub),
        };
        data.users.insert((provider, sub.clone()), user);
        sub
    }

    fn user(&self, provider: OidcProvider, sub: &str) -> Option<OidcUser> {
        lock(&self.data).users.get(&(provider, sub.to_string())).cloned()
    }

    fn keys(&self, provider: OidcProvider) -> KeyState {
        lock(&self.data).keys[provider.index()]
    }

    pub(crate) fn current_kid(&self, provider: OidcProvider) -> String {
        keys::kid(provider, self.keys(provider).current)
    }

    /// Switches `provider` to its next fixture key; returns the new kid.
    pub(crate) fn rotate(&self, provider: OidcProvider) -> String {
        let mut data = lock(&self.data);
        let state = &mut data.keys[provider.index()];
        let next = (state.current + 1) % keys::FIXTURE_COUNT;
        *state = KeyState { current: next, previous: Some(state.current) };
        keys::kid(provider, next)
    }

    /// The JWKS document: the current key, then the previous one after a rotation.
    pub(crate) fn jwks(&self, provider: OidcProvider) -> Value {
        let state = self.keys(provider);
        let keys: Vec<Value> =
            std::iter::once(state.current).chain(state.previous).map(|i| keys::jwk(provider, i)).collect();
        json!({ "keys": keys })
    }

    pub(crate) fn count_jwks_fetch(&self, provider: OidcProvider) {
        self.jwks_fetches[provider.index()].fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn jwks_fetches(&self, provider: OidcProvider) -> u64 {
        self.jwks_fetches[provider.index()].load(Ordering::SeqCst)
    }

    pub(crate) fn set_jwks_max_age(&self, secs: u64) {
        self.jwks_max_age.store(secs, Ordering::SeqCst);
    }

    pub(crate) fn jwks_max_age(&self) -> u64 {
        self.jwks_max_age.load(Ordering::SeqCst)
    }

    /// Signs any claims with `provider`'s current key as `mode` says.
    pub(crate) fn sign(&self, provider: OidcProvider, claims: &Value, mode: SigningMode) -> String {
        keys::sign(provider, self.keys(provider).current, claims, mode)
    }

    /// A valid ID token for `sub`, audience `aud`, expiring in an hour.
    pub(crate) fn issue_id_token(
        &self,
        provider: OidcProvider,
        sub: &str,
        aud: &str,
        nonce: Option<&str>,
    ) -> Result<String, OidcError> {
        let user = self.user(provider, sub).ok_or(OidcError::UnknownUser)?;
        let claims = id_token_claims(provider, sub, &user, aud, nonce, now());
        Ok(self.sign(provider, &claims, SigningMode::Current))
    }

    pub(crate) fn issue_access_token(&self, provider: OidcProvider, sub: &str, aud: &str) -> Result<String, OidcError> {
        if !provider.has_access_tokens() {
            return Err(OidcError::NoAccessTokens);
        }
        let mut data = lock(&self.data);
        if !data.users.contains_key(&(provider, sub.to_string())) {
            return Err(OidcError::UnknownUser);
        }
        let (ttl, token) = loop {
            let (ttl, token) = match provider {
                // Google's are `ya29.` and about 200 characters, valid an hour.
                OidcProvider::Google => (3599, format!("ya29.a0{}", random_alnum(160))),
                // LinkedIn's are opaque, about 350 characters, valid 60 days.
                _ => (60 * 24 * 3600 - 1, format!("AQ{}", random_alnum(300))),
            };
            if !data.access_tokens.contains_key(&token) {
                break (ttl, token);
            }
        };
        let record = AccessToken {
            provider,
            sub: sub.to_string(),
            aud: aud.to_string(),
            expires_at: now() + ttl,
            revoked: false,
        };
        data.access_tokens.insert(token.clone(), record);
        Ok(token)
    }

    pub(crate) fn revoke_access_token(&self, token: &str) {
        if let Some(record) = lock(&self.data).access_tokens.get_mut(token) {
            record.revoked = true;
        }
    }

    /// LinkedIn token introspection for the app `client_id`/`client_secret`: `None` if the app's
    /// credentials are wrong; otherwise whether the token is live, and the client it was issued to.
    pub(crate) fn introspect_linkedin(
        &self,
        client_id: &str,
        client_secret: &str,
        token: &str,
        now: i64,
    ) -> Option<Option<(String, i64)>> {
        self.linkedin_apps.iter().find(|a| a.client_id == client_id && a.client_secret == client_secret)?;
        Some(
            self.check_access_token(OidcProvider::LinkedIn, token, now)
                .map(|(record, _)| (record.aud, record.expires_at)),
        )
    }

    /// The live access token `token` of `provider` and its user, if it is one.
    fn check_access_token(&self, provider: OidcProvider, token: &str, now: i64) -> Option<(AccessToken, OidcUser)> {
        let data = lock(&self.data);
        let record = data.access_tokens.get(token)?;
        if record.provider != provider || record.revoked || now >= record.expires_at {
            return None;
        }
        let user = data.users.get(&(provider, record.sub.clone()))?;
        Some((record.clone(), user.clone()))
    }
}

/// A new subject identifier shaped like the provider's.
fn new_sub(provider: OidcProvider) -> String {
    match provider {
        // 21 digits.
        OidcProvider::Google => format!("1{}", random_digits(20)),
        // Short and opaque ("782bbtaQ").
        OidcProvider::LinkedIn => random_alnum(10),
        // `001234.0123456789abcdef0123456789abcdef.1234`
        OidcProvider::Apple => {
            format!("00{}.{}.{}", random_digits(4), hex::encode(rand::random::<[u8; 16]>()), random_digits(4))
        }
        // An app-scoped user id, like the Graph ones.
        OidcProvider::FacebookLimited => format!("1{}", random_digits(16)),
    }
}

fn picture(provider: OidcProvider, sub: &str) -> Option<String> {
    match provider {
        OidcProvider::Google => Some(format!("https://lh3.googleusercontent.com/a/ACg8oc{}=s96-c", random_alnum(40))),
        OidcProvider::LinkedIn => Some(format!(
            "https://media.licdn.com/dms/image/v2/D4E03AQ{}/profile-displayphoto-shrink_100_100/0/",
            random_alnum(16)
        )),
        OidcProvider::Apple => None,
        OidcProvider::FacebookLimited => Some(format!(
            "https://platform-lookaside.fbsbx.com/platform/profilepic/?asid={sub}&height=100&width=100&ext={}&hash=AT{}",
            now() + 30 * 24 * 3600,
            random_alnum(22)
        )),
    }
}

fn string_bool(value: bool) -> Value {
    Value::from(if value { "true" } else { "false" })
}

/// The claims of a freshly minted ID token, in the provider's shape.
fn id_token_claims(
    provider: OidcProvider,
    sub: &str,
    user: &OidcUser,
    aud: &str,
    nonce: Option<&str>,
    now: i64,
) -> Value {
    let mut claims = Map::new();
    let mut put = |key: &str, value: Value| {
        claims.insert(key.to_string(), value);
    };
    put("iss", Value::from(provider.issuer()));
    put("aud", Value::from(aud));
    put("sub", Value::from(sub));
    put("iat", Value::from(now));
    put("exp", Value::from(now + ID_TOKEN_TTL));
    let profile = |put: &mut dyn FnMut(&str, Value)| {
        put("name", Value::from(user.name.as_str()));
        if let Some(given) = user.given_name() {
            put("given_name", Value::from(given));
        }
        if let Some(family) = user.family_name() {
            put("family_name", Value::from(family));
        }
        if let Some(picture) = &user.picture {
            put("picture", Value::from(picture.as_str()));
        }
    };
    match provider {
        OidcProvider::Google => {
            put("azp", Value::from(aud));
            if let Some(email) = &user.email {
                put("email", Value::from(email.as_str()));
                put("email_verified", Value::from(user.email_verified));
            }
            profile(&mut put);
            if let Some(nonce) = nonce {
                put("nonce", Value::from(nonce));
            }
        }
        OidcProvider::LinkedIn => {
            profile(&mut put);
            if let Some(email) = &user.email {
                put("email", Value::from(email.as_str()));
                put("email_verified", string_bool(user.email_verified));
            }
            put("locale", Value::from("en-US"));
            if let Some(nonce) = nonce {
                put("nonce", Value::from(nonce));
            }
        }
        OidcProvider::Apple => {
            if let Some(nonce) = nonce {
                put("nonce", Value::from(hex::encode(Sha256::digest(nonce.as_bytes()))));
            }
            put("nonce_supported", Value::from(true));
            if let Some(email) = &user.email {
                put("email", Value::from(email.as_str()));
                put("email_verified", string_bool(user.email_verified));
                put("is_private_email", string_bool(email.ends_with("@privaterelay.appleid.com")));
            }
            put("auth_time", Value::from(now));
        }
        OidcProvider::FacebookLimited => {
            put("jti", Value::from(uuid_like()));
            if let Some(nonce) = nonce {
                put("nonce", Value::from(nonce));
            }
            profile(&mut put);
            if let Some(email) = &user.email {
                put("email", Value::from(email.as_str()));
            }
        }
    }
    Value::Object(claims)
}

/// A random version-4-shaped UUID.
fn uuid_like() -> String {
    let h = hex::encode(rand::random::<[u8; 16]>());
    format!("{}-{}-4{}-a{}-{}", &h[..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
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

    #[test]
    fn subs_are_provider_shaped() {
        let oidc = Oidc::default();
        let google = oidc.create_user(OidcProvider::Google, "A B", None, false);
        assert_eq!(google.len(), 21);
        assert!(google.bytes().all(|b| b.is_ascii_digit()));
        let apple = oidc.create_user(OidcProvider::Apple, "A B", None, false);
        let parts: Vec<&str> = apple.split('.').collect();
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), vec![6, 32, 4], "{apple}");
    }

    #[test]
    fn rotation_cycles_and_keeps_the_previous_key() {
        let oidc = Oidc::default();
        let first = oidc.current_kid(OidcProvider::Apple);
        assert_eq!(oidc.jwks(OidcProvider::Apple)["keys"].as_array().map(Vec::len), Some(1));
        let second = oidc.rotate(OidcProvider::Apple);
        assert_ne!(first, second);
        let kids: Vec<String> = oidc.jwks(OidcProvider::Apple)["keys"]
            .as_array()
            .map(|keys| keys.iter().map(|k| k["kid"].as_str().unwrap_or_default().to_string()).collect())
            .unwrap_or_default();
        assert_eq!(kids, vec![second.clone(), first.clone()]);
        oidc.rotate(OidcProvider::Apple);
        assert_eq!(oidc.rotate(OidcProvider::Apple), first, "three fixtures, then round again");
        // The other providers are untouched.
        assert_eq!(oidc.jwks(OidcProvider::Google)["keys"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn names_are_split() {
        let user = OidcUser { name: "Mary Ann Smith".into(), email: None, email_verified: false, picture: None };
        assert_eq!(user.given_name(), Some("Mary"));
        assert_eq!(user.family_name(), Some("Smith"));
        let user = OidcUser { name: "Cher".into(), ..user };
        assert_eq!(user.given_name(), Some("Cher"));
        assert_eq!(user.family_name(), None);
    }
}

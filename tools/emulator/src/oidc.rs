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
//! - `POST /_emulator/apple/notifications` `{"aud", "type", "sub", "email"?}` → `{"payload"}`: the
//!   body Apple posts to a Sign in with Apple notification endpoint, signed with Apple's key
//!
//! Custom issuers (module `custom`), any number, created at run time: issuer `{base}/oidc/{name}`,
//! `GET {base}/oidc/{name}/.well-known/openid-configuration`, `GET {base}/oidc/{name}/jwks`; and
//! the Microsoft-like multi-tenant issuer: `GET {base}/microsoft/{tenant}/v2.0/.well-known/openid-configuration`
//! (`common`, `organizations`, `consumers` or a tenant id; the multi-tenant documents' issuer is
//! `{base}/microsoft/{tenantid}/v2.0` with the literal placeholder) and one JWKS for all at
//! `GET {base}/microsoft/{tenant}/discovery/v2.0/keys`. `{base}` is the first spawn's URL or
//! [`crate::Emulator::set_public_base`]. Admin routes:
//! - `POST /_emulator/issuers` `{"name", "alg"? (RS256|RS512|PS256|ES256), "discovery"? (members
//!   merged over the document, `null` removes)}` → `{"name", "issuer", "discovery_url", "jwks_uri", "alg", "kid"}` (409 if taken)
//! - `GET /_emulator/issuers/{name}` → the same
//! - `POST /_emulator/issuers/{name}/id_tokens` `{"aud", "claims"?, "mode"?}` → `{"id_token"}`:
//!   `iss`, `aud`, random `sub`, `iat`, `exp` (+1 h) with `claims` merged over them (`null`
//!   removes); `mode` `current|unknown_kid|none_alg|hs256_with_public_key|bad_signature|other_alg`
//! - `POST /_emulator/issuers/{name}/rotate` → `{"kid"}` (`{name}` = `microsoft` too)
//! - `POST /_emulator/issuers/{name}/fault` `{"fault", "on"? (all|discovery|jwks)}`: this issuer's
//!   own fault, over the emulator-wide one (`"none"` clears it; `microsoft` too)
//! - `GET /_emulator/issuers/{name}/stats` → `{"discovery_fetches", "jwks_fetches"}`
//! - `POST /_emulator/microsoft/users` `{"name", "tenant"? (GUID; absent or "consumers": a
//!   personal account), "preferred_username"?, "email"? (any value)}` → `{"oid", "tid"}`
//! - `POST /_emulator/microsoft/id_tokens` `{"oid", "aud", "nonce"?, "claims"?}` → `{"id_token"}`

mod access_tokens;
mod admin;
mod claims;
mod custom;
mod custom_http;
mod http;
mod keys;
mod provider;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};

use crate::util::{lock, now, random_alnum, random_digits};

use access_tokens::AccessToken;
use claims::id_token_claims;

pub use access_tokens::LinkedInApp;
pub use claims::{apple_event, apple_notification_claims};
pub(crate) use custom::CustomIssuers;
pub use custom::{
    FaultOn, MicrosoftUser, OidcIssuerInfo, OidcIssuerOptions, SigningAlg, MICROSOFT, MICROSOFT_CONSUMER_TENANT,
};
pub(crate) use http::router;
pub use provider::{OidcProvider, SigningMode};

/// Default `max-age` of the JWKS answers (seconds).
pub(crate) const DEFAULT_JWKS_MAX_AGE: u64 = 300;

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
    /// The custom issuers created at run time and the Microsoft-like issuer.
    pub(crate) custom: CustomIssuers,
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
            custom: CustomIssuers::default(),
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

    /// Every user of `provider` as `(sub, name)`, by name (the consent page's list).
    pub(crate) fn people(&self, provider: OidcProvider) -> Vec<(String, String)> {
        let data = lock(&self.data);
        let mut people: Vec<_> = data
            .users
            .iter()
            .filter(|((p, _), _)| *p == provider)
            .map(|((_, sub), u)| (sub.clone(), u.name.clone()))
            .collect();
        people.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        people
    }

    /// [`Oidc::issue_id_token`] with the `nonce` claim exactly `nonce` (a consent page hands on
    /// the nonce of the authorization request as the real providers do; Apple's app sends the
    /// SHA-256 of its raw nonce there).
    pub(crate) fn issue_id_token_as_requested(
        &self,
        provider: OidcProvider,
        sub: &str,
        aud: &str,
        nonce: Option<&str>,
    ) -> Result<String, OidcError> {
        let user = self.user(provider, sub).ok_or(OidcError::UnknownUser)?;
        let mut claims = id_token_claims(provider, sub, &user, aud, None, now());
        if let (Some(nonce), Some(map)) = (nonce, claims.as_object_mut()) {
            map.insert("nonce".into(), Value::from(nonce));
        }
        Ok(self.sign(provider, &claims, SigningMode::Current))
    }

    /// Whether `client_id` is a LinkedIn app the emulator knows.
    pub(crate) fn has_linkedin_app(&self, client_id: &str) -> bool {
        self.linkedin_apps.iter().any(|app| app.client_id == client_id)
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

    /// The body Apple posts to a notification endpoint: `{"payload": JWS}` for the event of
    /// `kind` about `sub`, to the client id `aud`, signed with Apple's current key.
    pub(crate) fn apple_notification(&self, aud: &str, kind: &str, sub: &str, email: Option<&str>) -> Value {
        let now = now();
        let event = apple_event(kind, sub, email, now.saturating_mul(1000));
        let claims = apple_notification_claims(aud, &event, now);
        json!({ "payload": self.sign(OidcProvider::Apple, &claims, SigningMode::Current) })
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

#[cfg(test)]
mod tests {
    use super::*;

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

//! Custom OpenID Connect issuers created at run time (`{base}/oidc/{name}`), and the
//! Microsoft-like multi-tenant issuer (`{base}/microsoft/{tenant}/v2.0`): the issuers' state
//! (their algorithm, keys, rotation, per-issuer faults and counters) and the calls on it. What
//! they publish is in `discovery`, their keys and signatures in `signing`, the ID tokens they
//! mint in `tokens`, the Microsoft-like issuer's users and tenants in `microsoft`; their HTTP
//! routes are in `super::custom_http`.
//!
//! Keys: an RSA issuer (RS256, RS512, PS256) cycles through the fixture keys of `keys/` like the
//! built-in providers, starting on a fixture chosen from its name, under kids of its own; an ES256
//! issuer gets a P-256 key generated at creation and at each rotation. After a rotation the JWKS
//! lists the new key first and the previous one second.

mod discovery;
mod microsoft;
mod signing;
mod tokens;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use aws_lc_rs::signature::{EcdsaKeyPair, RsaEncoding, RSA_PKCS1_SHA256, RSA_PKCS1_SHA512, RSA_PSS_SHA256};
use serde_json::{Map, Value};

use super::keys;
use crate::faults::Fault;
use crate::util::lock;

pub(crate) use microsoft::microsoft_tenant_known;
pub use microsoft::{MicrosoftUser, MICROSOFT_CONSUMER_TENANT};
use signing::{first_fixture, new_key};

/// The reserved name of the Microsoft-like issuer in the per-issuer calls (rotate, fault, counts).
pub const MICROSOFT: &str = "microsoft";

/// The signature algorithm of a custom issuer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    #[default]
    RS256,
    RS512,
    PS256,
    ES256,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 4] = [SigningAlg::RS256, SigningAlg::RS512, SigningAlg::PS256, SigningAlg::ES256];

    /// The JOSE name (`RS256`, ...).
    pub fn name(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::RS512 => "RS512",
            SigningAlg::PS256 => "PS256",
            SigningAlg::ES256 => "ES256",
        }
    }

    fn rsa_encoding(self) -> Option<&'static dyn RsaEncoding> {
        match self {
            SigningAlg::RS256 => Some(&RSA_PKCS1_SHA256),
            SigningAlg::RS512 => Some(&RSA_PKCS1_SHA512),
            SigningAlg::PS256 => Some(&RSA_PSS_SHA256),
            SigningAlg::ES256 => None,
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SigningAlg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SigningAlg::ALL
            .into_iter()
            .find(|alg| alg.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown signing algorithm {s:?}; expected RS256, RS512, PS256 or ES256"))
    }
}

/// Which of an issuer's endpoints a per-issuer fault hits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FaultOn {
    /// Discovery, JWKS and anything else under the issuer.
    #[default]
    All,
    /// The `/.well-known/openid-configuration` document only.
    Discovery,
    /// The JWKS only.
    Jwks,
}

impl FaultOn {
    pub fn name(self) -> &'static str {
        match self {
            FaultOn::All => "all",
            FaultOn::Discovery => "discovery",
            FaultOn::Jwks => "jwks",
        }
    }
}

impl FromStr for FaultOn {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "all" | "" => Ok(FaultOn::All),
            "discovery" => Ok(FaultOn::Discovery),
            "jwks" => Ok(FaultOn::Jwks),
            _ => Err(format!("unknown fault target {s:?}; expected all, discovery or jwks")),
        }
    }
}

/// The endpoint a request to an issuer reached (for its fault and its counters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Discovery,
    Jwks,
    Other,
}

/// How a custom issuer is created.
#[derive(Clone, Debug, Default)]
pub struct OidcIssuerOptions {
    /// The algorithm its ID tokens are signed with and its discovery document names.
    pub alg: SigningAlg,
    /// Members merged over the discovery document as served (a `null` removes the member): e.g.
    /// another `issuer`, a `jwks_uri` elsewhere, `id_token_signing_alg_values_supported: ["HS256"]`.
    pub discovery: Map<String, Value>,
}

/// What a created issuer is called at: its `issuer`, discovery URL and `jwks_uri`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcIssuerInfo {
    pub name: String,
    pub issuer: String,
    pub discovery_url: String,
    pub jwks_uri: String,
    pub alg: SigningAlg,
    pub kid: String,
}

/// Why an issuer call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum IssuerError {
    InvalidName(String),
    Exists(String),
    Unknown(String),
    UnknownUser(String),
    InvalidTenant(String),
    /// The Microsoft issuer's tokens are minted for its users ([`CustomIssuers::issue_microsoft`]).
    NotCustom,
    NoBase,
}

impl fmt::Display for IssuerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssuerError::InvalidName(name) => write!(
                f,
                "invalid issuer name {name:?}: 1 to 63 of a-z, 0-9, '-' and '_', starting with a letter or digit, not {MICROSOFT:?}"
            ),
            IssuerError::Exists(name) => write!(f, "issuer {name:?} exists already"),
            IssuerError::Unknown(name) => write!(f, "unknown issuer {name:?}"),
            IssuerError::UnknownUser(oid) => write!(f, "unknown Microsoft user {oid:?}"),
            IssuerError::InvalidTenant(tenant) => {
                write!(f, "invalid tenant {tenant:?}: a tenant id (GUID) or \"consumers\"")
            }
            IssuerError::NotCustom => {
                f.write_str("the Microsoft issuer is not a custom issuer (its tokens are minted for its users): use the Microsoft calls")
            }
            IssuerError::NoBase => f.write_str(
                "the emulator's base URL is not known yet: spawn it first or call Emulator::set_public_base",
            ),
        }
    }
}

/// Key material of one issuer key.
enum Material {
    /// An RSA fixture of `keys/`.
    Rsa(usize),
    /// A P-256 key generated for this issuer.
    Ec(Arc<EcdsaKeyPair>),
}

struct IssuerKey {
    kid: String,
    material: Material,
}

struct Issuer {
    alg: SigningAlg,
    discovery: Map<String, Value>,
    current: IssuerKey,
    previous: Option<IssuerKey>,
    /// For RSA issuers: the fixture of the current key.
    fixture: usize,
    fault: Option<(Fault, FaultOn)>,
    discovery_fetches: u64,
    jwks_fetches: u64,
}

#[derive(Default)]
struct Data {
    issuers: HashMap<String, Issuer>,
    microsoft_users: HashMap<String, MicrosoftUser>,
    base: Option<String>,
}

/// The custom issuers and the Microsoft-like one.
#[derive(Default)]
pub(crate) struct CustomIssuers {
    data: Mutex<Data>,
}

fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_')
        && name != MICROSOFT
}

impl Issuer {
    fn new(name: &str, alg: SigningAlg, discovery: Map<String, Value>) -> Issuer {
        let fixture = first_fixture(name);
        Issuer {
            alg,
            discovery,
            current: new_key(name, alg, fixture),
            previous: None,
            fixture,
            fault: None,
            discovery_fetches: 0,
            jwks_fetches: 0,
        }
    }

    fn rotate(&mut self, name: &str) -> String {
        self.fixture = (self.fixture + 1) % keys::FIXTURE_COUNT;
        let next = new_key(name, self.alg, self.fixture);
        let kid = next.kid.clone();
        self.previous = Some(std::mem::replace(&mut self.current, next));
        kid
    }
}

/// `defaults` with `overrides` merged over them; a `null` override removes the claim.
fn merge(mut defaults: Map<String, Value>, overrides: &Value) -> Value {
    if let Value::Object(overrides) = overrides {
        for (key, value) in overrides {
            if value.is_null() {
                defaults.remove(key);
            } else {
                defaults.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(defaults)
}

impl CustomIssuers {
    /// Records the emulator's base URL, unless one is set already (the first spawn's wins; an
    /// explicit [`CustomIssuers::set_base`] always wins).
    pub(crate) fn note_base(&self, base: &str) {
        let mut data = lock(&self.data);
        if data.base.is_none() {
            data.base = Some(base.trim_end_matches('/').to_string());
        }
    }

    pub(crate) fn set_base(&self, base: &str) {
        lock(&self.data).base = Some(base.trim_end_matches('/').to_string());
    }

    pub(crate) fn base(&self) -> Result<String, IssuerError> {
        lock(&self.data).base.clone().ok_or(IssuerError::NoBase)
    }

    fn info(base: &str, name: &str, issuer: &Issuer) -> OidcIssuerInfo {
        let issuer_url = format!("{base}/oidc/{name}");
        OidcIssuerInfo {
            name: name.to_string(),
            discovery_url: format!("{issuer_url}/.well-known/openid-configuration"),
            jwks_uri: format!("{issuer_url}/jwks"),
            issuer: issuer_url,
            alg: issuer.alg,
            kid: issuer.current.kid.clone(),
        }
    }

    pub(crate) fn create(&self, name: &str, options: OidcIssuerOptions) -> Result<OidcIssuerInfo, IssuerError> {
        if !valid_name(name) {
            return Err(IssuerError::InvalidName(name.to_string()));
        }
        let mut data = lock(&self.data);
        let base = data.base.clone().ok_or(IssuerError::NoBase)?;
        if data.issuers.contains_key(name) {
            return Err(IssuerError::Exists(name.to_string()));
        }
        let issuer = Issuer::new(name, options.alg, options.discovery);
        let info = Self::info(&base, name, &issuer);
        data.issuers.insert(name.to_string(), issuer);
        Ok(info)
    }

    /// Runs `f` on the issuer `name` (creating Microsoft's at first use).
    fn with<T>(&self, name: &str, f: impl FnOnce(&mut Issuer, &mut Data) -> T) -> Result<T, IssuerError> {
        let mut guard = lock(&self.data);
        let data = &mut *guard;
        if name == MICROSOFT && !data.issuers.contains_key(MICROSOFT) {
            data.issuers.insert(MICROSOFT.to_string(), Issuer::new(MICROSOFT, SigningAlg::RS256, Map::new()));
        }
        let mut issuer = data.issuers.remove(name).ok_or_else(|| IssuerError::Unknown(name.to_string()))?;
        let out = f(&mut issuer, data);
        data.issuers.insert(name.to_string(), issuer);
        Ok(out)
    }

    pub(crate) fn info_of(&self, name: &str) -> Result<OidcIssuerInfo, IssuerError> {
        if name == MICROSOFT {
            return Err(IssuerError::NotCustom);
        }
        let base = self.base()?;
        self.with(name, |issuer, _| Self::info(&base, name, issuer))
    }

    pub(crate) fn rotate(&self, name: &str) -> Result<String, IssuerError> {
        self.with(name, |issuer, _| issuer.rotate(name))
    }

    pub(crate) fn current_kid(&self, name: &str) -> Result<String, IssuerError> {
        self.with(name, |issuer, _| issuer.current.kid.clone())
    }

    pub(crate) fn set_fault(&self, name: &str, fault: Fault, on: FaultOn) -> Result<(), IssuerError> {
        self.with(name, |issuer, _| issuer.fault = (fault != Fault::None).then_some((fault, on)))
    }

    /// Counts a request to `endpoint` of `name` and returns the issuer's own fault for it, if any
    /// (`Err` if there is no such issuer).
    pub(crate) fn hit(&self, name: &str, endpoint: Endpoint) -> Result<Option<Fault>, IssuerError> {
        self.with(name, |issuer, _| {
            match endpoint {
                Endpoint::Discovery => issuer.discovery_fetches += 1,
                Endpoint::Jwks => issuer.jwks_fetches += 1,
                Endpoint::Other => {}
            }
            issuer.fault.and_then(|(fault, on)| {
                let hits = match on {
                    FaultOn::All => true,
                    FaultOn::Discovery => endpoint == Endpoint::Discovery,
                    FaultOn::Jwks => endpoint == Endpoint::Jwks,
                };
                hits.then_some(fault)
            })
        })
    }

    /// `(discovery fetches, JWKS fetches)` of `name`, faulted ones included.
    pub(crate) fn fetches(&self, name: &str) -> Result<(u64, u64), IssuerError> {
        self.with(name, |issuer, _| (issuer.discovery_fetches, issuer.jwks_fetches))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names() {
        for good in ["keycloak", "okta-1", "a", "my_idp"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "Keycloak", "-x", "a/b", "microsoft", "a.b", "x".repeat(64).as_str()] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn merge_overrides_and_removes() {
        let mut defaults = Map::new();
        defaults.insert("a".into(), Value::from(1));
        defaults.insert("b".into(), Value::from(2));
        assert_eq!(merge(defaults, &json!({ "a": null, "c": 3 })), json!({ "b": 2, "c": 3 }));
    }

    #[test]
    fn rotation_keeps_the_previous_key_and_kids_are_per_issuer() {
        let issuers = CustomIssuers::default();
        issuers.set_base("http://127.0.0.1:1");
        let a = issuers.create("a", OidcIssuerOptions::default()).expect("created");
        let b = issuers.create("b", OidcIssuerOptions::default()).expect("created");
        assert_ne!(a.kid, b.kid);
        assert_eq!(issuers.create("a", OidcIssuerOptions::default()), Err(IssuerError::Exists("a".into())));
        let next = issuers.rotate("a").expect("rotated");
        let jwks = issuers.jwks("a").expect("jwks");
        let kids: Vec<&str> = jwks["keys"].as_array().into_iter().flatten().filter_map(|k| k["kid"].as_str()).collect();
        assert_eq!(kids, vec![next.as_str(), a.kid.as_str()]);
        assert_eq!(issuers.rotate("nope"), Err(IssuerError::Unknown("nope".into())));
    }
}

//! Custom OpenID Connect issuers created at run time (`{base}/oidc/{name}`), and the
//! Microsoft-like multi-tenant issuer (`{base}/microsoft/{tenant}/v2.0`): their keys, rotation,
//! discovery documents, JWKS, per-issuer faults and the ID tokens they mint.
//!
//! Keys: an RSA issuer (RS256, RS512, PS256) cycles through the fixture keys of `keys/` like the
//! built-in providers, starting on a fixture chosen from its name, under kids of its own; an ES256
//! issuer gets a P-256 key generated at creation and at each rotation. After a rotation the JWKS
//! lists the new key first and the previous one second.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair as _, RsaEncoding, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256, RSA_PKCS1_SHA512,
    RSA_PSS_SHA256,
};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::keys;
use super::SigningMode;
use crate::faults::Fault;
use crate::util::{lock, now, random_alnum};

/// The reserved name of the Microsoft-like issuer in the per-issuer calls (rotate, fault, counts).
pub const MICROSOFT: &str = "microsoft";

/// The tenant id of Microsoft personal accounts (`consumers`), as Microsoft's.
pub const MICROSOFT_CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// Lifetime of minted ID tokens.
const ID_TOKEN_TTL: i64 = 3600;

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

/// One user of the Microsoft-like issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MicrosoftUser {
    /// The object id: the same for every app of the tenant.
    pub oid: String,
    /// The tenant id ([`MICROSOFT_CONSUMER_TENANT`] for personal accounts).
    pub tid: String,
    pub name: String,
    pub preferred_username: String,
    /// The `email` claim, any value (Microsoft does not verify it); `None` leaves it out.
    pub email: Option<String>,
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

/// A GUID as Microsoft writes tenant ids (lowercase hex, 8-4-4-4-12).
pub(crate) fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// A random version-4-shaped GUID.
pub(crate) fn new_guid() -> String {
    let h = hex::encode(rand::random::<[u8; 16]>());
    format!("{}-{}-4{}-a{}-{}", &h[..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

fn new_key(name: &str, alg: SigningAlg, fixture: usize) -> IssuerKey {
    match alg {
        SigningAlg::ES256 => {
            let key = generate_ec();
            let digest = Sha256::new().chain_update(name).chain_update(b":").chain_update(key.public_key()).finalize();
            IssuerKey { kid: hex::encode(digest)[..40].to_string(), material: Material::Ec(Arc::new(key)) }
        }
        _ => {
            let n = &keys::fixture(fixture).n;
            let digest = Sha256::new().chain_update(b"custom:").chain_update(name).chain_update(b":").chain_update(n);
            let digest = digest.finalize();
            let kid = if name == MICROSOFT {
                // Microsoft's kids: a base64url SHA-1-sized thumbprint ("nOo3ZDrODXEK1jKWhXslHR_KXEg").
                URL_SAFE_NO_PAD.encode(&digest[..20])
            } else {
                hex::encode(digest)[..40].to_string()
            };
            IssuerKey { kid, material: Material::Rsa(fixture) }
        }
    }
}

/// # Panics
/// Only if aws-lc-rs cannot generate a P-256 key (a broken build, not a runtime condition).
fn generate_ec() -> EcdsaKeyPair {
    EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("aws-lc-rs generates a P-256 key")
}

/// A P-256 key never published anywhere ([`SigningMode::UnknownKid`] of ES256 issuers).
fn unpublished_ec_key() -> &'static EcdsaKeyPair {
    static KEY: OnceLock<EcdsaKeyPair> = OnceLock::new();
    KEY.get_or_init(generate_ec)
}

fn first_fixture(name: &str) -> usize {
    usize::from(Sha256::digest(name.as_bytes())[0]) % keys::FIXTURE_COUNT
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

    fn jwk(&self, key: &IssuerKey, extra: &Map<String, Value>) -> Value {
        let mut jwk = match &key.material {
            Material::Rsa(index) => {
                let fixture = keys::fixture(*index);
                json!({ "kty": "RSA", "use": "sig", "kid": key.kid, "n": fixture.n, "e": fixture.e })
            }
            Material::Ec(pair) => {
                // Uncompressed point: 0x04 || x || y.
                let point = pair.public_key().as_ref();
                let (x, y) = point.get(1..).unwrap_or_default().split_at(point.len().saturating_sub(1) / 2);
                json!({ "kty": "EC", "use": "sig", "kid": key.kid, "crv": "P-256",
                        "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y) })
            }
        };
        if let Value::Object(jwk) = &mut jwk {
            jwk.extend(extra.clone());
        }
        jwk
    }

    fn jwks(&self, extra: &Map<String, Value>) -> Value {
        let keys: Vec<Value> =
            std::iter::once(&self.current).chain(self.previous.as_ref()).map(|k| self.jwk(k, extra)).collect();
        json!({ "keys": keys })
    }

    fn sign(&self, claims: &Value, mode: SigningMode) -> String {
        sign(&self.current, self.alg, claims, mode)
    }
}

/// The SPKI PEM of an EC public key (the HMAC key of [`SigningMode::Hs256WithPublicKey`]).
fn ec_public_pem(pair: &EcdsaKeyPair) -> String {
    let der = pair.public_key().as_der().map(|der| der.as_ref().to_vec()).unwrap_or_default();
    let body = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for chunk in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    pem
}

fn ec_jws(header: &Value, claims: &Value, key: &EcdsaKeyPair, tamper: bool) -> String {
    let input = keys::signing_input(header, claims);
    let mut signature = key
        .sign(&SystemRandom::new(), input.as_bytes())
        .map(|s| s.as_ref().to_vec())
        .expect("ECDSA signing with a valid key");
    if tamper {
        let middle = signature.len() / 2;
        signature[middle] ^= 0x01;
    }
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Signs `claims` with `key` of an issuer of `alg`, as `mode` says. For RSA issuers `OtherAlg`
/// is the same key under another RSA algorithm (RS512 for an RS256 issuer, else RS256); for
/// ES256 issuers it is RS256 with an RSA fixture under the current (EC) kid.
fn sign(key: &IssuerKey, alg: SigningAlg, claims: &Value, mode: SigningMode) -> String {
    let header = |alg: &str, kid: &str| json!({ "alg": alg, "kid": kid, "typ": "JWT" });
    let kid = key.kid.as_str();
    match (&key.material, mode) {
        (_, SigningMode::NoneAlg) => format!("{}.", keys::signing_input(&header("none", kid), claims)),
        (Material::Rsa(index), SigningMode::Hs256WithPublicKey) => {
            hs256(&header("HS256", kid), claims, keys::fixture(*index).public_pem.as_bytes())
        }
        (Material::Ec(pair), SigningMode::Hs256WithPublicKey) => {
            hs256(&header("HS256", kid), claims, ec_public_pem(pair).as_bytes())
        }
        (Material::Rsa(index), mode) => {
            let fixture = keys::fixture(*index);
            let encoding = alg.rsa_encoding().unwrap_or(&RSA_PKCS1_SHA256);
            match mode {
                SigningMode::UnknownKid => keys::rsa_jws(
                    &header(alg.name(), &format!("unknown-{}", hex::encode(rand::random::<[u8; 8]>()))),
                    claims,
                    keys::unpublished_key(),
                    encoding,
                    false,
                ),
                SigningMode::OtherAlg if alg == SigningAlg::RS256 => {
                    keys::rsa_jws(&header("RS512", kid), claims, &fixture.key, &RSA_PKCS1_SHA512, false)
                }
                SigningMode::OtherAlg => {
                    keys::rsa_jws(&header("RS256", kid), claims, &fixture.key, &RSA_PKCS1_SHA256, false)
                }
                SigningMode::BadSignature => {
                    keys::rsa_jws(&header(alg.name(), kid), claims, &fixture.key, encoding, true)
                }
                _ => keys::rsa_jws(&header(alg.name(), kid), claims, &fixture.key, encoding, false),
            }
        }
        (Material::Ec(pair), mode) => match mode {
            SigningMode::UnknownKid => ec_jws(
                &header("ES256", &format!("unknown-{}", hex::encode(rand::random::<[u8; 8]>()))),
                claims,
                unpublished_ec_key(),
                false,
            ),
            SigningMode::OtherAlg => {
                keys::rsa_jws(&header("RS256", kid), claims, &keys::fixture(0).key, &RSA_PKCS1_SHA256, false)
            }
            SigningMode::BadSignature => ec_jws(&header("ES256", kid), claims, pair, true),
            _ => ec_jws(&header("ES256", kid), claims, pair, false),
        },
    }
}

fn hs256(header: &Value, claims: &Value, key: &[u8]) -> String {
    let input = keys::signing_input(header, claims);
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC-SHA256 accepts keys of any length");
    mac.update(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
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

/// The Microsoft tenant segment of a discovery URL: `common`, `organizations`, `consumers` or
/// a tenant id.
pub(crate) fn microsoft_tenant_known(tenant: &str) -> bool {
    matches!(tenant, "common" | "organizations" | "consumers") || is_guid(tenant)
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

    /// The JWKS of `name`: the current key, then the previous one after a rotation.
    pub(crate) fn jwks(&self, name: &str) -> Result<Value, IssuerError> {
        if name == MICROSOFT {
            return self.microsoft_jwks();
        }
        self.with(name, |issuer, _| {
            let mut extra = Map::new();
            extra.insert("alg".into(), Value::from(issuer.alg.name()));
            issuer.jwks(&extra)
        })
    }

    /// The discovery document of the custom issuer `name`.
    pub(crate) fn discovery(&self, name: &str) -> Result<Value, IssuerError> {
        let base = self.base()?;
        self.with(name, |issuer, _| {
            let info = Self::info(&base, name, issuer);
            let url = &info.issuer;
            let mut doc = json!({
                "issuer": url,
                "authorization_endpoint": format!("{url}/authorize"),
                "token_endpoint": format!("{url}/token"),
                "userinfo_endpoint": format!("{url}/userinfo"),
                "jwks_uri": info.jwks_uri,
                "response_types_supported": ["code", "id_token", "code id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": [issuer.alg.name()],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            });
            doc["claims_supported"] = Value::from(
                [
                    "iss",
                    "sub",
                    "aud",
                    "exp",
                    "iat",
                    "nonce",
                    "name",
                    "given_name",
                    "family_name",
                    "email",
                    "email_verified",
                    "picture",
                ]
                .to_vec(),
            );
            if let Value::Object(map) = &doc {
                doc = merge(map.clone(), &Value::Object(issuer.discovery.clone()));
            }
            doc
        })
    }

    /// The Microsoft discovery document for `tenant` (`common`, `organizations`, `consumers` or
    /// a tenant id; the caller checked it with [`microsoft_tenant_known`]).
    pub(crate) fn microsoft_discovery(&self, tenant: &str) -> Result<Value, IssuerError> {
        let base = self.base()?;
        let ms = format!("{base}/microsoft");
        let issuer = match tenant {
            "common" | "organizations" => format!("{ms}/{{tenantid}}/v2.0"),
            "consumers" => format!("{ms}/{MICROSOFT_CONSUMER_TENANT}/v2.0"),
            tid => format!("{ms}/{tid}/v2.0"),
        };
        // Built pair by pair: one `json!` this large would hit the macro recursion limit.
        let endpoint = |path: &str| Value::from(format!("{ms}/{tenant}/{path}"));
        let pairs: Vec<(&str, Value)> = vec![
            ("token_endpoint", endpoint("oauth2/v2.0/token")),
            (
                "token_endpoint_auth_methods_supported",
                json!(["client_secret_post", "private_key_jwt", "client_secret_basic"]),
            ),
            ("jwks_uri", endpoint("discovery/v2.0/keys")),
            ("response_modes_supported", json!(["query", "fragment", "form_post"])),
            ("subject_types_supported", json!(["pairwise"])),
            ("id_token_signing_alg_values_supported", json!(["RS256"])),
            ("response_types_supported", json!(["code", "id_token", "code id_token", "id_token token"])),
            ("scopes_supported", json!(["openid", "profile", "email", "offline_access"])),
            ("issuer", Value::from(issuer)),
            ("request_uri_parameter_supported", Value::from(false)),
            ("userinfo_endpoint", Value::from("https://graph.microsoft.com/oidc/userinfo")),
            ("authorization_endpoint", endpoint("oauth2/v2.0/authorize")),
            ("device_authorization_endpoint", endpoint("oauth2/v2.0/devicecode")),
            ("http_logout_supported", Value::from(true)),
            ("frontchannel_logout_supported", Value::from(true)),
            ("end_session_endpoint", endpoint("oauth2/v2.0/logout")),
            (
                "claims_supported",
                Value::from(
                    [
                        "sub",
                        "iss",
                        "cloud_instance_name",
                        "cloud_instance_host_name",
                        "cloud_graph_host_name",
                        "msgraph_host",
                        "aud",
                        "exp",
                        "iat",
                        "auth_time",
                        "acr",
                        "nonce",
                        "preferred_username",
                        "name",
                        "tid",
                        "ver",
                        "at_hash",
                        "c_hash",
                        "email",
                    ]
                    .to_vec(),
                ),
            ),
            ("tenant_region_scope", Value::Null),
            ("cloud_instance_name", Value::from("microsoftonline.com")),
            ("cloud_graph_host_name", Value::from("graph.windows.net")),
            ("msgraph_host", Value::from("graph.microsoft.com")),
            ("rbac_url", Value::from("https://pas.windows.net")),
        ];
        Ok(Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
    }

    /// Signs `claims` exactly as given with the current key of `name`, as `mode` says.
    pub(crate) fn sign(&self, name: &str, claims: &Value, mode: SigningMode) -> Result<String, IssuerError> {
        self.with(name, |issuer, _| issuer.sign(claims, mode))
    }

    /// An ID token of the custom issuer `name` for the audience `aud`: `iss`, `aud`, a random
    /// `sub`, `iat` and `exp` (an hour later), with `claims` merged over them (a `null` removes
    /// one), signed as `mode` says ([`SigningMode::Current`]: a valid token).
    pub(crate) fn issue(
        &self,
        name: &str,
        aud: &str,
        claims: &Value,
        mode: SigningMode,
    ) -> Result<String, IssuerError> {
        if name == MICROSOFT {
            return Err(IssuerError::NotCustom);
        }
        let base = self.base()?;
        self.with(name, |issuer, _| {
            let now = now();
            let mut defaults = Map::new();
            defaults.insert("iss".into(), Value::from(format!("{base}/oidc/{name}")));
            defaults.insert("aud".into(), Value::from(aud));
            defaults.insert("sub".into(), Value::from(random_alnum(24)));
            defaults.insert("iat".into(), Value::from(now));
            defaults.insert("exp".into(), Value::from(now + ID_TOKEN_TTL));
            issuer.sign(&merge(defaults, claims), mode)
        })
    }

    /// A Microsoft user of the tenant `tenant` (a tenant id, or `consumers` / `None` for a
    /// personal account).
    pub(crate) fn create_microsoft_user(
        &self,
        tenant: Option<&str>,
        name: &str,
        preferred_username: &str,
        email: Option<&str>,
    ) -> Result<MicrosoftUser, IssuerError> {
        let tid = match tenant {
            None | Some("consumers") => MICROSOFT_CONSUMER_TENANT.to_string(),
            Some(tid) if is_guid(tid) => tid.to_string(),
            Some(other) => return Err(IssuerError::InvalidTenant(other.to_string())),
        };
        let mut data = lock(&self.data);
        let oid = loop {
            let oid = if tid == MICROSOFT_CONSUMER_TENANT {
                // Personal accounts' oids start with zeros: 00000000-0000-0000-xxxx-xxxxxxxxxxxx.
                let h = hex::encode(rand::random::<[u8; 8]>());
                format!("00000000-0000-0000-{}-{}", &h[..4], &h[4..])
            } else {
                new_guid()
            };
            if !data.microsoft_users.contains_key(&oid) {
                break oid;
            }
        };
        let user = MicrosoftUser {
            oid: oid.clone(),
            tid,
            name: name.to_string(),
            preferred_username: preferred_username.to_string(),
            email: email.map(str::to_string),
        };
        data.microsoft_users.insert(oid, user.clone());
        Ok(user)
    }

    /// Every Microsoft user as `(oid, name)`, by name (the consent page's list).
    pub(crate) fn microsoft_people(&self) -> Vec<(String, String)> {
        let data = lock(&self.data);
        let mut people: Vec<_> = data.microsoft_users.values().map(|u| (u.oid.clone(), u.name.clone())).collect();
        people.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        people
    }

    /// A valid Microsoft v2.0 ID token of the user `oid` for the app `aud`: `iss` with the user's
    /// tenant id, `tid`, `oid`, a pairwise `sub` (per app), `email` (when the user has one),
    /// `preferred_username`, `name`, `nonce` as given, with `claims` merged over them.
    pub(crate) fn issue_microsoft(
        &self,
        oid: &str,
        aud: &str,
        nonce: Option<&str>,
        claims: &Value,
    ) -> Result<String, IssuerError> {
        let base = self.base()?;
        self.with(MICROSOFT, |issuer, data| {
            let user =
                data.microsoft_users.get(oid).cloned().ok_or_else(|| IssuerError::UnknownUser(oid.to_string()))?;
            let now = now();
            let sub_digest = Sha256::new().chain_update(&user.oid).chain_update(b":").chain_update(aud).finalize();
            let mut c = Map::new();
            let mut put = |k: &str, v: Value| {
                c.insert(k.to_string(), v);
            };
            put("ver", Value::from("2.0"));
            put("iss", Value::from(format!("{base}/microsoft/{}/v2.0", user.tid)));
            put("sub", Value::from(URL_SAFE_NO_PAD.encode(sub_digest)));
            put("aud", Value::from(aud));
            put("exp", Value::from(now + ID_TOKEN_TTL));
            put("iat", Value::from(now));
            put("nbf", Value::from(now));
            put("name", Value::from(user.name.as_str()));
            put("preferred_username", Value::from(user.preferred_username.as_str()));
            put("oid", Value::from(user.oid.as_str()));
            if let Some(email) = &user.email {
                put("email", Value::from(email.as_str()));
            }
            put("tid", Value::from(user.tid.as_str()));
            if let Some(nonce) = nonce {
                put("nonce", Value::from(nonce));
            }
            put("aio", Value::from(random_alnum(60)));
            put("uti", Value::from(random_alnum(22)));
            put("rh", Value::from(format!("1.A{}.", random_alnum(40))));
            Ok(issuer.sign(&merge(c, claims), SigningMode::Current))
        })?
    }
}

impl CustomIssuers {
    /// Microsoft's JWKS (the same for every tenant): each key with `issuer`
    /// `{base}/microsoft/{tenantid}/v2.0`, as Microsoft's keys carry, and no `alg`.
    pub(crate) fn microsoft_jwks(&self) -> Result<Value, IssuerError> {
        let base = self.base()?;
        let mut extra = Map::new();
        extra.insert("issuer".into(), Value::from(format!("{base}/microsoft/{{tenantid}}/v2.0")));
        self.with(MICROSOFT, |issuer, _| issuer.jwks(&extra))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tenants() {
        for good in ["keycloak", "okta-1", "a", "my_idp"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "Keycloak", "-x", "a/b", "microsoft", "a.b", "x".repeat(64).as_str()] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(is_guid(MICROSOFT_CONSUMER_TENANT));
        assert!(is_guid(&new_guid()));
        assert!(!is_guid("common"));
        assert!(microsoft_tenant_known("organizations"));
        assert!(!microsoft_tenant_known("contoso.onmicrosoft.com"));
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

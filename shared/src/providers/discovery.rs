//! OpenID Connect discovery documents (`/.well-known/openid-configuration`) and the key sets of
//! custom OpenID Connect providers, shared per URL.
//!
//! A discovery document is cached like a key set ([`super::jwks`]): fetched lazily, kept for the
//! `Cache-Control: max-age` the issuer sends (5 min without one, 24 h at most), one fetch at a
//! time, and while the issuer cannot be reached an expired document is still used for
//! `max_stale` (`JWKS_MAX_STALE_SECS`) past its cache time, then the provider is unavailable
//! (502). Only `issuer` and `jwks_uri` are read; the caller checks the issuer.
//!
//! [`KeySets`] holds one [`JwksCache`] per JWKS URL, and one [`DiscoveryCache`] per discovery
//! URL, for every verifier of an execution environment (two instances, or Microsoft's tenants,
//! using one issuer share its document, its keys and its refetch limit). Its URLs come from configuration and from the discovery documents of
//! configured issuers; it holds at most [`MAX_KEY_SETS`] (beyond that it starts again empty:
//! the verifiers keep the caches they hold).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::jwks::{JwksCache, JwksSettings};
use super::{outage, parse_json, read, ProviderError};
use crate::config::UrlPolicy;

const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
const MAX_MAX_AGE: Duration = Duration::from_secs(86_400);
/// Most key sets one environment keeps apart.
pub const MAX_KEY_SETS: usize = 256;

/// What a discovery document says that we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub issuer: String,
    pub jwks_uri: String,
}

#[derive(Deserialize)]
struct Document {
    issuer: Option<String>,
    jwks_uri: Option<String>,
}

#[derive(Default)]
struct State {
    doc: Option<Arc<Discovered>>,
    expires: Option<Instant>,
}

/// One issuer's discovery document, cached.
pub struct DiscoveryCache {
    http: reqwest::Client,
    url: String,
    policy: UrlPolicy,
    max_stale: Duration,
    state: Mutex<State>,
    fetches: AtomicU64,
}

impl DiscoveryCache {
    pub fn new(http: reqwest::Client, url: String, policy: UrlPolicy, settings: JwksSettings) -> DiscoveryCache {
        DiscoveryCache {
            http,
            url,
            policy,
            max_stale: settings.max_stale,
            state: Mutex::new(State::default()),
            fetches: AtomicU64::new(0),
        }
    }

    /// The document's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many times the document was fetched.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The document: cached while fresh; refetched after; stale for at most `max_stale` while
    /// the issuer is down, then its error.
    pub async fn get(&self) -> Result<Arc<Discovered>, ProviderError> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        if let (Some(doc), Some(expires)) = (&state.doc, state.expires) {
            if now < expires {
                return Ok(doc.clone());
            }
        }
        match self.fetch().await {
            Ok((doc, max_age)) => {
                let doc = Arc::new(doc);
                state.doc = Some(doc.clone());
                state.expires = Some(Instant::now() + max_age);
                Ok(doc)
            }
            Err(e) => {
                let usable = state
                    .expires
                    .and_then(|e| e.checked_add(self.max_stale))
                    .is_some_and(|until| Instant::now() <= until);
                match &state.doc {
                    Some(doc) if usable => Ok(doc.clone()),
                    _ => Err(e),
                }
            }
        }
    }

    async fn fetch(&self) -> Result<(Discovered, Duration), ProviderError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let resp = self.http.get(&self.url).send().await.map_err(super::transport_error)?;
        let max_age = super::jwks::cache_max_age(resp.headers()).unwrap_or(DEFAULT_MAX_AGE).min(MAX_MAX_AGE);
        let (status, body) = read(resp).await?;
        if !status.is_success() {
            return Err(
                outage(status).unwrap_or_else(|| ProviderError::Unavailable(format!("discovery answered {status}")))
            );
        }
        let doc: Document = parse_json(&body, "discovery document")?;
        let bad = |why: &str| ProviderError::BadResponse(format!("discovery document: {why}"));
        let issuer = doc.issuer.filter(|i| !i.is_empty() && i.len() <= 512).ok_or_else(|| bad("no issuer"))?;
        let jwks_uri = doc.jwks_uri.ok_or_else(|| bad("no jwks_uri"))?;
        let jwks_uri = self.policy.check("jwks_uri", &jwks_uri).map_err(|_| bad("jwks_uri is not an https:// URL"))?;
        Ok((Discovered { issuer, jwks_uri }, max_age))
    }
}

/// The key sets of custom OpenID Connect providers, one per JWKS URL, and their discovery
/// documents, one per URL (see the module).
#[derive(Default)]
pub struct KeySets {
    sets: SyncMutex<HashMap<String, Arc<JwksCache>>>,
    /// An instance's verifiers are rebuilt each cache period (`API_KEY_CACHE_SECS`): kept here,
    /// a document outlives them and serves every instance using its issuer (fetched for its
    /// `max-age`, not once per instance and period).
    discoveries: SyncMutex<HashMap<String, Arc<DiscoveryCache>>>,
}

/// Every asymmetric algorithm a key set keeps keys for (each verifier then pins its own).
pub const ASYMMETRIC: [Algorithm; 9] = [
    super::jwks::RSA_FAMILY[0],
    super::jwks::RSA_FAMILY[1],
    super::jwks::RSA_FAMILY[2],
    super::jwks::RSA_FAMILY[3],
    super::jwks::RSA_FAMILY[4],
    super::jwks::RSA_FAMILY[5],
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

impl KeySets {
    /// The key set at `url`, created on first use.
    pub fn get(&self, http: &reqwest::Client, url: &str, settings: JwksSettings) -> Arc<JwksCache> {
        let mut sets = self.sets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(set) = sets.get(url) {
            return set.clone();
        }
        if sets.len() >= MAX_KEY_SETS {
            sets.clear();
        }
        let set = Arc::new(JwksCache::accepting(http.clone(), url, settings, ASYMMETRIC.to_vec()));
        sets.insert(url.to_string(), set.clone());
        set
    }

    /// The discovery document at `url`, created on first use (the environment's URL rule and
    /// settings are the same for every verifier).
    pub fn discovery(
        &self,
        http: &reqwest::Client,
        url: &str,
        policy: UrlPolicy,
        settings: JwksSettings,
    ) -> Arc<DiscoveryCache> {
        let mut docs = self.discoveries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(doc) = docs.get(url) {
            return doc.clone();
        }
        if docs.len() >= MAX_KEY_SETS {
            docs.clear();
        }
        let doc = Arc::new(DiscoveryCache::new(http.clone(), url.to_string(), policy, settings));
        docs.insert(url.to_string(), doc.clone());
        doc
    }

    /// How many key sets are kept.
    pub fn len(&self) -> usize {
        self.sets.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

//! A provider's signing keys (JWKS), cached across warm invocations and shared by every request
//! of a Lambda instance.
//!
//! - Fetched lazily: a cold start fetches nothing a request does not need.
//! - Kept for the `Cache-Control: max-age` the provider sends (5 min without one, 24 h at most).
//! - An unknown `kid` triggers one refetch (the provider may have rotated), but at most one per
//!   `min_refetch`, so a flood of made-up key ids cannot make us hammer the provider.
//! - Concurrent requests share one fetch (the lock is held across it).
//! - While the provider cannot be reached, a key set past its cache time is still used, but only
//!   for `max_stale` after its cache time ran out: then its logins are refused as the provider
//!   being unavailable (502), not verified against keys the provider may have withdrawn long ago.
//! - Only keys usable for the algorithms the cache accepts are kept, each with the algorithms it
//!   may verify (its `kty`/`crv`, and its `alg` when the JWKS names one): the built-in providers
//!   accept RS256 only ([`JwksCache::new`]); custom OpenID Connect providers ask for a key *for*
//!   the token's algorithm ([`JwksCache::key_for`]), so a key of another type or algorithm is
//!   never used. The algorithm is pinned by the verifier, never read from a token alone.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::{outage, parse_json, read, ProviderError};

const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
const MAX_MAX_AGE: Duration = Duration::from_secs(86_400);

/// How a [`JwksCache`] refetches and how long it may use an expired key set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksSettings {
    /// Least time between two fetches caused by unknown key ids.
    pub min_refetch: Duration,
    /// How long after its cache time a key set is still used while its refetch fails.
    pub max_stale: Duration,
}

pub struct JwksCache {
    http: reqwest::Client,
    url: String,
    min_refetch: Duration,
    max_stale: Duration,
    /// The algorithms a kept key must be usable for (one of them).
    accepted: Vec<Algorithm>,
    state: Mutex<State>,
    fetches: AtomicU64,
}

/// A published key and the algorithms it may verify (among the accepted ones).
#[derive(Clone)]
pub struct PublishedKey {
    pub key: Arc<DecodingKey>,
    pub algorithms: Vec<Algorithm>,
}

impl PublishedKey {
    #[cfg(any(test, feature = "fuzzing"))]
    fn rs256(key: Arc<DecodingKey>) -> PublishedKey {
        PublishedKey { key, algorithms: vec![Algorithm::RS256] }
    }
}

#[derive(Default)]
struct State {
    keys: HashMap<String, PublishedKey>,
    expires: Option<Instant>,
    last_fetch: Option<Instant>,
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

impl JwksCache {
    /// A key set of which only RSA keys for RS256 are kept (the built-in providers).
    pub fn new(http: reqwest::Client, url: impl Into<String>, settings: JwksSettings) -> JwksCache {
        JwksCache::accepting(http, url, settings, vec![Algorithm::RS256])
    }

    /// A key set keeping the keys usable for any of `accepted` (custom OpenID Connect
    /// providers; the caller filters out symmetric algorithms, whose keys are never kept anyway).
    pub fn accepting(
        http: reqwest::Client,
        url: impl Into<String>,
        settings: JwksSettings,
        accepted: Vec<Algorithm>,
    ) -> JwksCache {
        JwksCache {
            http,
            url: url.into(),
            min_refetch: settings.min_refetch,
            max_stale: settings.max_stale,
            accepted,
            state: Mutex::new(State::default()),
            fetches: AtomicU64::new(0),
        }
    }

    /// A cache already holding `keys`, fresh for `ttl` and not refetched within it (the fuzz
    /// targets verify tokens without a network).
    #[cfg(feature = "fuzzing")]
    pub fn preloaded(keys: HashMap<String, Arc<DecodingKey>>, ttl: Duration) -> JwksCache {
        let now = Instant::now();
        JwksCache {
            state: Mutex::new(State {
                keys: keys.into_iter().map(|(kid, k)| (kid, PublishedKey::rs256(k))).collect(),
                expires: Some(now + ttl),
                last_fetch: Some(now),
            }),
            ..JwksCache::new(
                reqwest::Client::new(),
                "http://127.0.0.1:9/jwks",
                JwksSettings { min_refetch: ttl, max_stale: Duration::ZERO },
            )
        }
    }

    /// The client and URL the key set is fetched with.
    pub(crate) fn source(&self) -> (&reqwest::Client, &str) {
        (&self.http, &self.url)
    }

    /// How many times the key set was fetched (tests and benchmarks count them).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The RS256 key with id `kid`. An unknown kid is [`ProviderError::Rejected`] once the key
    /// set is fresh (after at most one rate-limited refetch).
    pub async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, ProviderError> {
        Ok(self.published(kid).await?.key)
    }

    /// The key with id `kid` if it may verify `alg` (its type, curve and published `alg`);
    /// otherwise the token is [`ProviderError::Rejected`].
    pub async fn key_for(&self, kid: &str, alg: Algorithm) -> Result<Arc<DecodingKey>, ProviderError> {
        let published = self.published(kid).await?;
        if !published.algorithms.contains(&alg) {
            return Err(ProviderError::Rejected("the signing key is not for this algorithm".into()));
        }
        Ok(published.key)
    }

    async fn published(&self, kid: &str) -> Result<PublishedKey, ProviderError> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        let fresh = state.expires.is_some_and(|e| now < e);
        if fresh {
            if let Some(k) = state.keys.get(kid) {
                return Ok(k.clone());
            }
        }
        let may_fetch = !fresh || state.last_fetch.is_none_or(|t| now.duration_since(t) >= self.min_refetch);
        if may_fetch {
            match self.fetch().await {
                Ok((keys, max_age)) => {
                    state.keys = keys;
                    state.expires = Some(Instant::now() + max_age);
                    state.last_fetch = Some(Instant::now());
                }
                // A provider outage with the key still in a stale cache: keys outlive their
                // cache time by far, so use it rather than fail every login, but only for
                // `max_stale` past the cache time: an outage must not keep a key alive forever.
                Err(e) => {
                    let failed_at = Instant::now();
                    state.last_fetch = Some(failed_at);
                    let usable = fresh
                        || state
                            .expires
                            .and_then(|e| e.checked_add(self.max_stale))
                            .is_some_and(|until| failed_at <= until);
                    return match state.keys.get(kid) {
                        Some(k) if usable => Ok(k.clone()),
                        _ => Err(e),
                    };
                }
            }
        }
        state.keys.get(kid).cloned().ok_or_else(|| ProviderError::Rejected("unknown signing key id".into()))
    }

    async fn fetch(&self) -> Result<(HashMap<String, PublishedKey>, Duration), ProviderError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let resp = self.http.get(&self.url).send().await.map_err(super::transport_error)?;
        let max_age = cache_max_age(resp.headers()).unwrap_or(DEFAULT_MAX_AGE).min(MAX_MAX_AGE);
        let (status, body) = read(resp).await?;
        if !status.is_success() {
            return Err(outage(status).unwrap_or_else(|| ProviderError::Unavailable(format!("JWKS answered {status}"))));
        }
        Ok((keys_from_body(&body, &self.accepted)?, max_age))
    }
}

/// The algorithms an RSA key (`kty` `RSA`) may verify.
pub const RSA_FAMILY: [Algorithm; 6] =
    [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256, Algorithm::PS384, Algorithm::PS512];

/// The usable keys of a JWKS answer: for signatures, with a `kid`, usable for one of `accepted`
/// (RSA for RS*/PS*, EC P-256/P-384 for ES256/ES384, OKP Ed25519 for EdDSA; the JWK's `alg`, when
/// present, must be one of them and is then the only one the key verifies).
pub(crate) fn keys_from_body(
    body: &[u8],
    accepted: &[Algorithm],
) -> Result<HashMap<String, PublishedKey>, ProviderError> {
    let set: JwkSet = parse_json(body, "JWKS")?;
    let keys = set
        .keys
        .into_iter()
        .filter(|k| k.use_.as_deref().is_none_or(|u| u == "sig"))
        .filter_map(|k| {
            let (family, key): (&[Algorithm], _) = match (k.kty.as_str(), k.crv.as_deref()) {
                ("RSA", _) => (&RSA_FAMILY, DecodingKey::from_rsa_components(k.n.as_deref()?, k.e.as_deref()?).ok()?),
                ("EC", Some("P-256")) => {
                    (&[Algorithm::ES256], DecodingKey::from_ec_components(k.x.as_deref()?, k.y.as_deref()?).ok()?)
                }
                ("EC", Some("P-384")) => {
                    (&[Algorithm::ES384], DecodingKey::from_ec_components(k.x.as_deref()?, k.y.as_deref()?).ok()?)
                }
                ("OKP", Some("Ed25519")) => {
                    (&[Algorithm::EdDSA], DecodingKey::from_ed_components(k.x.as_deref()?).ok()?)
                }
                _ => return None,
            };
            let algorithms: Vec<Algorithm> = family
                .iter()
                .copied()
                .filter(|a| accepted.contains(a))
                .filter(|a| k.alg.as_deref().is_none_or(|named| named.parse::<Algorithm>().ok() == Some(*a)))
                .collect();
            if algorithms.is_empty() {
                return None;
            }
            Some((k.kid?, PublishedKey { key: Arc::new(key), algorithms }))
        })
        .collect::<HashMap<_, _>>();
    if keys.is_empty() {
        return Err(ProviderError::BadResponse(if accepted == [Algorithm::RS256] {
            "JWKS has no usable RS256 key".into()
        } else {
            "JWKS has no usable key".into()
        }));
    }
    Ok(keys)
}

/// The `max-age` of an answer's Cache-Control header, if any.
pub(crate) fn cache_max_age(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers.get(reqwest::header::CACHE_CONTROL).and_then(|v| v.to_str().ok()).and_then(max_age)
}

/// `max-age=N` of a Cache-Control header.
fn max_age(header: &str) -> Option<Duration> {
    header.split(',').find_map(|d| {
        let (name, value) = d.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| value.trim().parse().ok())
            .flatten()
            .map(Duration::from_secs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cache holding the key `k` whose cache time ran out `ago`, allowed `max_stale`, whose
    /// provider refuses connections (port 9): every refetch fails as an outage.
    fn expired_cache(ago: Duration, max_stale: Duration) -> JwksCache {
        let settings = JwksSettings { min_refetch: Duration::from_secs(1), max_stale };
        let cache = JwksCache::new(reqwest::Client::new(), "http://127.0.0.1:9/jwks", settings);
        let now = Instant::now();
        let expires = now.checked_sub(ago).expect("the monotonic clock has run longer than the test's offsets");
        cache.state.try_lock().expect("unlocked").keys =
            HashMap::from([("k".to_string(), PublishedKey::rs256(Arc::new(DecodingKey::from_secret(b"test key"))))]);
        cache.state.try_lock().expect("unlocked").expires = Some(expires);
        cache
    }

    #[tokio::test]
    async fn an_expired_key_set_is_used_during_an_outage_only_up_to_max_stale() {
        let cache = expired_cache(Duration::from_millis(100), Duration::from_secs(60));
        assert!(cache.key("k").await.is_ok(), "within max_stale: the stale key bridges the outage");
        assert_eq!(cache.fetches(), 1, "after trying to refetch");
        assert!(matches!(cache.key("other").await, Err(ProviderError::Unavailable(_))), "an unknown kid is no verdict");

        let cache = expired_cache(Duration::from_secs(2), Duration::from_secs(1));
        assert!(matches!(cache.key("k").await, Err(ProviderError::Unavailable(_))), "stale for longer than max_stale");
        assert_eq!(cache.fetches(), 1);

        let cache = expired_cache(Duration::from_millis(1), Duration::ZERO);
        assert!(matches!(cache.key("k").await, Err(ProviderError::Unavailable(_))), "max_stale 0: never stale");
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(max_age("public, max-age=19845, must-revalidate, no-transform"), Some(Duration::from_secs(19845)));
        assert_eq!(max_age("no-cache"), None);
        assert_eq!(max_age("max-age=abc"), None);
    }
}

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
//! - Only RSA keys usable for RS256 are kept: the algorithm is pinned, never read from a token.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
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
    state: Mutex<State>,
    fetches: AtomicU64,
}

#[derive(Default)]
struct State {
    keys: HashMap<String, Arc<DecodingKey>>,
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
}

impl JwksCache {
    pub fn new(http: reqwest::Client, url: impl Into<String>, settings: JwksSettings) -> JwksCache {
        JwksCache {
            http,
            url: url.into(),
            min_refetch: settings.min_refetch,
            max_stale: settings.max_stale,
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
            state: Mutex::new(State { keys, expires: Some(now + ttl), last_fetch: Some(now) }),
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

    async fn fetch(&self) -> Result<(HashMap<String, Arc<DecodingKey>>, Duration), ProviderError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let resp = self.http.get(&self.url).send().await.map_err(super::transport_error)?;
        let max_age = resp
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age)
            .unwrap_or(DEFAULT_MAX_AGE)
            .min(MAX_MAX_AGE);
        let (status, body) = read(resp).await?;
        if !status.is_success() {
            return Err(outage(status).unwrap_or_else(|| ProviderError::Unavailable(format!("JWKS answered {status}"))));
        }
        Ok((keys_from_body(&body)?, max_age))
    }
}

/// The usable keys of a JWKS answer: RSA, RS256 (or no `alg`), for signatures, with a `kid`.
pub(crate) fn keys_from_body(body: &[u8]) -> Result<HashMap<String, Arc<DecodingKey>>, ProviderError> {
    let set: JwkSet = parse_json(body, "JWKS")?;
    let keys = set
        .keys
        .into_iter()
        .filter(|k| {
            k.kty == "RSA"
                && k.alg.as_deref().is_none_or(|a| a == "RS256")
                && k.use_.as_deref().is_none_or(|u| u == "sig")
        })
        .filter_map(|k| {
            let key = DecodingKey::from_rsa_components(k.n.as_deref()?, k.e.as_deref()?).ok()?;
            Some((k.kid?, Arc::new(key)))
        })
        .collect::<HashMap<_, _>>();
    if keys.is_empty() {
        return Err(ProviderError::BadResponse("JWKS has no usable RS256 key".into()));
    }
    Ok(keys)
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
            HashMap::from([("k".to_string(), Arc::new(DecodingKey::from_secret(b"test key")))]);
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

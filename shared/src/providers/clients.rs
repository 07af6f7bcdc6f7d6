//! What every provider verifier of an execution environment shares: the HTTP client, built
//! once and only when a verifier needs it, and the key sets by JWKS URL.

use std::sync::Arc;

use super::{configures_any, discovery, http_client, HttpClientError, Providers};
use crate::config::{Config, CustomOidcConfig};

/// What every [`Providers`] of an execution environment shares: the one HTTP client and the key
/// sets by JWKS URL ([`discovery::KeySets`]: an instance with its own client ids at a provider
/// uses the key set the deployment fetched, not a fetch of its own). Built once per cold start;
/// [`ProviderClients::providers`] builds the verifiers of a configuration (the deployment's, or
/// one instance's: `Config::for_instance`). The client is built at init when the deployment
/// configures a provider, else when an instance's own app first needs it: a function that
/// verifies no token (the session functions) never builds one.
pub struct ProviderClients {
    timeout: std::time::Duration,
    http: std::sync::OnceLock<reqwest::Client>,
    key_sets: Arc<discovery::KeySets>,
}

impl ProviderClients {
    pub fn new(config: &Config) -> Result<ProviderClients, HttpClientError> {
        let clients = ProviderClients {
            timeout: config.provider_timeout,
            http: std::sync::OnceLock::new(),
            key_sets: Arc::default(),
        };
        if configures_any(config) {
            clients.http()?;
        }
        Ok(clients)
    }

    /// The shared client, built on first use.
    fn http(&self) -> Result<&reqwest::Client, HttpClientError> {
        if let Some(http) = self.http.get() {
            return Ok(http);
        }
        let built = http_client(self.timeout, crate::net::tls::provider_tls_config()?)
            .map_err(|e| HttpClientError::Http(e.to_string()))?;
        Ok(self.http.get_or_init(|| built))
    }

    /// [`ProviderClients::providers`] with the custom OpenID Connect providers `custom` added
    /// (an instance's own: `Providers::with_custom_oidc`), on the same client and key sets.
    pub fn providers_with_custom(
        &self,
        config: &Config,
        custom: Vec<CustomOidcConfig>,
    ) -> Result<Providers, HttpClientError> {
        if custom.is_empty() {
            return self.providers(config);
        }
        let http = self.http()?;
        Ok(Providers::with_shared(config, http, &self.key_sets).with_custom_oidc(custom, http, config))
    }

    /// The verifiers of `config`'s providers, on the shared client and key sets.
    pub fn providers(&self, config: &Config) -> Result<Providers, HttpClientError> {
        if !configures_any(config) {
            return Ok(Providers { key_sets: self.key_sets.clone(), ..Providers::none() });
        }
        Ok(Providers::with_shared(config, self.http()?, &self.key_sets))
    }
}

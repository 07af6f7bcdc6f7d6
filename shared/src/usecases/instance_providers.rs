//! Which verifiers serve an instance's logins: its own apps' (`crate::domain::instance_apps`)
//! where it has them, the deployment's elsewhere. An execution environment keeps each
//! instance's answer, and the verifiers built from it, for `API_KEY_CACHE_SECS` (the discipline
//! of [`crate::usecases::access_cache`]): an instance's logins read its configuration
//! partition (`INSTCONF#{instance}`) once per environment and period, never per request. An
//! instance without apps of its own is kept too (as "the deployment's"), so is an unknown one;
//! a failed read is not kept. At most [`MAX_INSTANCES`] instances are kept.

use std::ops::Deref;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::domain::instance::InstanceName;
use crate::providers::Providers;
use crate::store::InstanceAppsError;
use crate::usecases::access_cache::Bounded;
use crate::usecases::app::App;
use crate::usecases::error::UseCaseError;

/// Instances whose verifiers an environment keeps at most (a few KB each).
pub const MAX_INSTANCES: usize = 256;

/// This environment's memory of instances' own apps: instance → its own verifiers (`None`:
/// it has none, the deployment's serve it).
pub struct InstanceProviders {
    ttl: Duration,
    entries: Bounded<InstanceName, Option<Arc<Providers>>>,
}

impl InstanceProviders {
    pub fn new(ttl: Duration) -> InstanceProviders {
        InstanceProviders { ttl, entries: Bounded::new(MAX_INSTANCES) }
    }
}

/// The verifiers serving one instance.
pub enum ServingProviders<'a> {
    Deployment(&'a Providers),
    Instance(Arc<Providers>),
}

impl Deref for ServingProviders<'_> {
    type Target = Providers;
    fn deref(&self) -> &Providers {
        match self {
            ServingProviders::Deployment(p) => p,
            ServingProviders::Instance(p) => p,
        }
    }
}

impl App {
    /// The verifiers of `instance`'s logins: its own apps at the providers it has them, the
    /// deployment's at the others (a provider neither has an app at is not served). A secret
    /// that does not open (no or another `INSTANCE_SECRETS_KEY`) refuses the instance's logins
    /// as an internal error: never the deployment's app in its place (fail closed).
    pub async fn providers_for(&self, instance: &InstanceName) -> Result<ServingProviders<'_>, UseCaseError> {
        let serving = |own: Option<Arc<Providers>>| match own {
            Some(p) => ServingProviders::Instance(p),
            None => ServingProviders::Deployment(&self.providers),
        };
        if let Some(kept) = self.instance_providers.entries.get(instance, Instant::now()) {
            return Ok(serving(kept));
        }
        let apps = match self.store.instance_apps(instance, self.config.instance_secrets_key.as_ref()).await {
            Ok(apps) => apps,
            Err(InstanceAppsError::Store(e)) => return Err(e.into()),
            Err(e @ InstanceAppsError::Sealed { .. }) => {
                tracing::error!(error = %e, "an instance's own provider app cannot be used");
                return Err(UseCaseError::Internal("an instance's own provider app cannot be used".into()));
            }
        };
        let own =
            (!apps.is_empty()).then(|| Arc::new(self.provider_clients.providers(&self.config.for_instance(&apps))));
        let ttl = self.instance_providers.ttl;
        self.instance_providers.entries.put(instance.clone(), own.clone(), Instant::now(), ttl);
        Ok(serving(own))
    }
}

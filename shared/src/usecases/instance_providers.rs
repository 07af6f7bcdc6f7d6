//! Which verifiers serve an instance's logins: its own apps' (`crate::domain::instance_apps`)
//! where it has them, the deployment's elsewhere. An execution environment keeps each
//! instance's answer, and the verifiers built from it, for `API_KEY_CACHE_SECS` (the discipline
//! of [`crate::usecases::access_cache`]): an instance's logins read its configuration
//! partition (`INSTCONF#{instance}`) once per environment and period, never per request. An
//! instance without apps of its own is kept too (as "the deployment's"), so is an unknown one;
//! a failed read is not kept. At most [`MAX_INSTANCES`] instances are kept. The use-case that
//! reads and keeps them is `App::providers_for` (crate::usecases::login).

use std::ops::Deref;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::domain::identity::Provider;
use crate::domain::instance::InstanceName;
use crate::providers::Providers;
use crate::usecases::access_cache::Bounded;

/// Instances whose verifiers an environment keeps at most (a few KB each).
pub const MAX_INSTANCES: usize = 256;

/// An instance's configuration with its own apps, and the verifiers built from it.
pub struct OwnApps {
    /// The deployment's configuration with the instance's own apps in place (`Config::for_instance`).
    pub config: Config,
    pub providers: Providers,
    /// The providers where the instance has an app of its own.
    pub own: Vec<Provider>,
}

/// This environment's memory of instances' own apps: instance → its own apps (`None`: it has
/// none, the deployment's serve it).
pub struct InstanceProviders {
    ttl: Duration,
    entries: Bounded<InstanceName, Option<Arc<OwnApps>>>,
}

impl InstanceProviders {
    pub fn new(ttl: Duration) -> InstanceProviders {
        InstanceProviders { ttl, entries: Bounded::new(MAX_INSTANCES) }
    }

    /// What this environment keeps of `instance` (`Some(None)`: no apps of its own).
    pub fn get(&self, instance: &InstanceName) -> Option<Option<Arc<OwnApps>>> {
        self.entries.get(instance, Instant::now())
    }

    /// Keeps what one read of `instance` found, for the cache time.
    pub fn remember(&self, instance: &InstanceName, own: Option<Arc<OwnApps>>) {
        self.entries.put(instance.clone(), own, Instant::now(), self.ttl);
    }
}

/// The verifiers serving one instance.
pub enum ServingProviders<'a> {
    Deployment(&'a Providers),
    Instance(Arc<OwnApps>),
}

impl ServingProviders<'_> {
    /// Whether the instance has an app of its own at `provider`.
    pub fn has_own(&self, provider: Provider) -> bool {
        matches!(self, ServingProviders::Instance(own) if own.own.contains(&provider))
    }

    /// The instance's configuration: `deployment`'s with its own apps in place.
    pub fn config<'a>(&'a self, deployment: &'a Config) -> &'a Config {
        match self {
            ServingProviders::Deployment(_) => deployment,
            ServingProviders::Instance(own) => &own.config,
        }
    }
}

impl Deref for ServingProviders<'_> {
    type Target = Providers;
    fn deref(&self) -> &Providers {
        match self {
            ServingProviders::Deployment(p) => p,
            ServingProviders::Instance(own) => &own.providers,
        }
    }
}

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

use crate::domain::instance::InstanceName;
use crate::providers::Providers;
use crate::usecases::access_cache::Bounded;

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

    /// What this environment keeps of `instance` (`Some(None)`: no apps of its own).
    pub fn get(&self, instance: &InstanceName) -> Option<Option<Arc<Providers>>> {
        self.entries.get(instance, Instant::now())
    }

    /// Keeps what one read of `instance` found, for the cache time.
    pub fn remember(&self, instance: &InstanceName, own: Option<Arc<Providers>>) {
        self.entries.put(instance.clone(), own, Instant::now(), self.ttl);
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

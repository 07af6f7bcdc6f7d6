//! Finishing a multi-step change that stopped half-way (issue 33): the one entry point the
//! sweeper calls for an item it finds `pending` ([`super::sweep::PENDING`]) past its grace.
//!
//! Each kind of change finishes itself: the store engineer of that change adds the arm for its
//! items' key prefix below, calling the change's own finisher (idempotent: the request that began
//! it, the next one to read it, or the sweeper, whoever comes first). A kind without an arm yet
//! answers [`Finished::Unknown`]; the sweeper then leaves the item for a later run.

use super::{StoreError, UserStore};

/// What [`UserStore::finish_pending`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// The change is finished now (by this call).
    Done,
    /// The item is not pending (any more): finished by someone else, or gone.
    NotPending,
    /// No finisher for this kind of item (yet): left as it is.
    Unknown,
}

impl UserStore {
    /// Finishes the change the pending item `pk`/`sk` began, by the kind its key names.
    pub async fn finish_pending(&self, pk: &str, sk: &str) -> Result<Finished, StoreError> {
        let kind = pk.split('#').next().unwrap_or_default();
        // One arm per kind of pending item, added with its finisher.
        #[allow(clippy::match_single_binding)]
        match (kind, sk) {
            _ => Ok(Finished::Unknown),
        }
    }
}

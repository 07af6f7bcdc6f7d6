//! The one entry point the sweeper calls to finish a change a process left unfinished (issue 33):
//! the item that began it carries `pending` ([`super::sweep::pending`]); this finishes the change
//! from what that item holds, or says it was finished (or undone) already.

use super::{StoreError, UserStore};

/// What [`UserStore::finish_pending`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// The change is finished now (by this call).
    Done,
    /// Nothing pending there (any more): finished or undone by someone else, or the item is gone.
    NotPending,
    /// An item kind no finisher handles (yet).
    Unknown,
}

impl UserStore {
    /// Finishes the pending change that the item `pk`/`sk` began, by the item's kind.
    pub async fn finish_pending(&self, pk: &str, sk: &str) -> Result<Finished, StoreError> {
        match (pk.split('#').next().unwrap_or_default(), sk) {
            // A first login (users.rs).
            ("IDENT", "IDENT") => self.finish_pending_identity(pk).await,
            // A key reset's new user-key lookup (user_keys.rs).
            ("UKEY", "UKEY") => self.finish_pending_key_reset(pk).await,
            _ => Ok(Finished::Unknown),
        }
    }
}

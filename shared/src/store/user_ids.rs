//! Syncano user ids in blocks (issue 30): an execution environment reserves a block of ids from
//! the instance's counter item ([`super::keys::user_ids`]) with one `ADD next_user_id :block`,
//! and hands them out one by one from memory; the counter is written once per block, not once
//! per sign-up. The arithmetic ([`IdBlock`]) is pure; [`UserIdBlocks`] is one environment's
//! blocks, one per instance, each behind its own async lock so that concurrent first logins in
//! one environment take distinct ids and wait for one reservation, not one each. The requests
//! are [`UserStore::allocate_user_id`]'s (a first login's, [`super::first_login`]): the id, or
//! the instance's refusal to sign anyone up; the reservation; the counter item's creation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValue;

use super::error::classify;
use super::items::{get_n, n};
use super::{keys, StoreError, UserStore};
use crate::config::MAX_USER_ID_BLOCK;
use crate::domain::instance::InstanceName;
use crate::domain::records::{InstanceSettings, SignUpPolicy};

/// The first id JavaScript cannot read exactly (`Number.MAX_SAFE_INTEGER` + 1): Syncano's clients
/// read ids as numbers, so no id at or above it is handed out.
pub const JS_SAFE_LIMIT: u64 = 1 << 53;

/// Why a reservation gives no id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockError {
    /// The counter is below the block just added to it: not a counter this code moves.
    Corrupt,
    /// Every id below 2^53 is taken.
    Exhausted,
}

/// The ids of a block not yet handed out: `next..=last`, empty when `next > last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IdBlock {
    next: u64,
    last: u64,
}

impl IdBlock {
    /// The block an `ADD next_user_id :size` reserved, from the counter's new value `top`: the
    /// `size` ids up to `top`, cut below 2^53.
    pub fn reserved(top: u64, size: u64) -> Result<IdBlock, BlockError> {
        if size == 0 || top < size {
            return Err(BlockError::Corrupt);
        }
        let next = top - size + 1;
        if next >= JS_SAFE_LIMIT {
            return Err(BlockError::Exhausted);
        }
        Ok(IdBlock { next, last: top.min(JS_SAFE_LIMIT - 1) })
    }

    /// The next id of the block, in increasing order; `None` once it is used up.
    pub fn take(&mut self) -> Option<u64> {
        if self.next == 0 || self.next > self.last {
            return None;
        }
        let id = self.next;
        self.next += 1;
        Some(id)
    }

    /// How many ids are left.
    #[cfg(test)]
    pub fn remaining(&self) -> u64 {
        if self.next == 0 {
            0
        } else {
            (self.last + 1).saturating_sub(self.next)
        }
    }
}

/// One execution environment's blocks, per instance. The map holds one entry per instance this
/// environment created a user in (instances exist only by the operator's hand, and an id is
/// taken only after the instance item was read: no request can grow it at will).
#[derive(Debug)]
pub struct UserIdBlocks {
    size: u64,
    blocks: Mutex<HashMap<InstanceName, Arc<tokio::sync::Mutex<IdBlock>>>>,
}

impl UserIdBlocks {
    pub fn new(size: u64) -> UserIdBlocks {
        UserIdBlocks { size: size.clamp(1, MAX_USER_ID_BLOCK), blocks: Mutex::default() }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The lock of `instance`'s block: whoever holds it takes an id, and reserves the next block
    /// when this one is used up (the others wait for that one reservation).
    pub fn of(&self, instance: &InstanceName) -> Arc<tokio::sync::Mutex<IdBlock>> {
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        blocks.entry(instance.clone()).or_default().clone()
    }
}

/// How far above the instance item's counter a migrated counter item starts: while a deployment
/// rolls out, functions of the previous version still take ids from the instance item, and
/// their next ids must not be the new counter's (fewer first logins than this during a rollout).
const LEGACY_COUNTER_GAP: u64 = 1_000;

/// What the allocation of a new user's id found.
pub(super) enum Allocation {
    Id {
        user_id: u64,
        linking: bool,
    },
    /// The instance's sign-up policy is closed (no id was taken).
    SignUpClosed {
        linking: bool,
    },
}

impl UserStore {
    /// Next Syncano user id of the instance if its sign-up policy (in `settings`, which the
    /// caller read or keeps: no read of the instance's partition here) is open, and whether the
    /// instance links accounts by verified email. Only then is an id taken: a closed instance's
    /// refusal takes none and writes nothing, and a login function writes nothing in the
    /// instance's partition, where its API keys are (docs/security.md, "Least privilege in the
    /// table"). The id comes from this execution environment's block ([`UserIdBlocks`]); when
    /// that is used up, the next block is reserved with one `ADD` on the counter's own item
    /// ([`keys::user_ids`]).
    pub(super) async fn allocate_user_id(
        &self,
        instance: &InstanceName,
        settings: InstanceSettings,
    ) -> Result<Allocation, StoreError> {
        let linking = settings.links_by_email;
        if settings.sign_up != SignUpPolicy::Open {
            return Ok(Allocation::SignUpClosed { linking });
        }
        // One lock per instance and environment: concurrent first logins here take distinct ids,
        // and wait for one reservation rather than each making its own.
        let block = self.user_ids.of(instance);
        let mut block = block.lock().await;
        if let Some(user_id) = block.take() {
            return Ok(Allocation::Id { user_id, linking });
        }
        let size = self.user_ids.size();
        for _ in 0..2 {
            if let Some(top) = self.add_user_ids(instance, size).await? {
                *block = IdBlock::reserved(top, size).map_err(|e| match e {
                    BlockError::Corrupt => StoreError::Corrupt("next_user_id below its block"),
                    BlockError::Exhausted => StoreError::Corrupt("user ids exhausted: none left below 2^53"),
                })?;
                let user_id = block.take().ok_or(StoreError::Corrupt("an empty block of user ids"))?;
                return Ok(Allocation::Id { user_id, linking });
            }
            // The counter of an instance made before the counter item had one is on the
            // instance item: the first reservation without a counter item creates it from there.
            let legacy = self.legacy_next_user_id(instance).await?;
            self.create_user_ids(instance, legacy.saturating_add(LEGACY_COUNTER_GAP)).await?;
        }
        Err(StoreError::Corrupt("user id counter"))
    }

    /// The id counter an instance item made before the counter item may still carry (0 if
    /// none); fails if the instance does not exist. Read once per instance, when its counter
    /// item is first created.
    async fn legacy_next_user_id(&self, instance: &InstanceName) -> Result<u64, StoreError> {
        let item = self.instance_item(instance, "next_user_id").await?.ok_or(StoreError::InstanceNotFound)?;
        if item.contains_key("next_user_id") {
            get_n(&item, "next_user_id")
        } else {
            Ok(0)
        }
    }

    /// `ADD next_user_id :size` on the counter item, if it exists: the new value, the last id of
    /// the block this environment now owns.
    async fn add_user_ids(&self, instance: &InstanceName, size: u64) -> Result<Option<u64>, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(self.table())
            .set_key(Some(keys::user_ids(instance)))
            .update_expression("ADD next_user_id :block")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":block", n(size))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match out {
            Ok(out) => {
                let attrs = out.attributes.ok_or(StoreError::Corrupt("next_user_id"))?;
                Ok(Some(get_n(&attrs, "next_user_id")?))
            }
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(None),
                _ => Err(classify("UpdateItem", e)),
            },
        }
    }

    /// Creates the counter item at `last` (the last id taken), unless it exists: of concurrent
    /// creations one wins and the others find it, so no id is handed out twice.
    pub(super) async fn create_user_ids(&self, instance: &InstanceName, last: u64) -> Result<(), StoreError> {
        let mut item = keys::user_ids(instance);
        item.insert("next_user_id".into(), n(last));
        match self.put_new(item).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(classify("PutItem", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_hands_out_its_ids_once_in_increasing_order() {
        // The counter was at 200, `ADD 100` made it 300: this environment owns 201..=300.
        let mut block = IdBlock::reserved(300, 100).expect("block");
        assert_eq!(block.remaining(), 100);
        let ids: Vec<u64> = std::iter::from_fn(|| block.take()).collect();
        assert_eq!(ids, (201..=300).collect::<Vec<_>>());
        assert_eq!((block.take(), block.remaining()), (None, 0));
    }

    #[test]
    fn the_first_block_starts_at_one() {
        let mut block = IdBlock::reserved(1, 1).expect("block");
        assert_eq!((block.take(), block.take()), (Some(1), None));
        let mut block = IdBlock::reserved(10, 10).expect("block");
        assert_eq!(block.take(), Some(1));
    }

    #[test]
    fn an_empty_block_gives_nothing() {
        let mut block = IdBlock::default();
        assert_eq!((block.take(), block.remaining()), (None, 0));
    }

    #[test]
    fn blocks_of_consecutive_reservations_never_overlap() {
        // Racing environments each get the counter's value after their own ADD.
        let size = 7;
        let mut seen = std::collections::HashSet::new();
        for top in (1..=50).map(|n| n * size) {
            let mut block = IdBlock::reserved(top, size).expect("block");
            while let Some(id) = block.take() {
                assert!(seen.insert(id), "{id} twice");
            }
        }
        assert_eq!(seen.len() as u64, 50 * size);
        assert_eq!(seen.iter().copied().min(), Some(1));
    }

    #[test]
    fn no_id_at_or_above_two_to_the_53() {
        // The block that crosses 2^53 is cut below it.
        let mut block = IdBlock::reserved(JS_SAFE_LIMIT + 1, 4).expect("block");
        let ids: Vec<u64> = std::iter::from_fn(|| block.take()).collect();
        assert_eq!(ids, vec![JS_SAFE_LIMIT - 2, JS_SAFE_LIMIT - 1]);
        // A block wholly above it is no block.
        assert_eq!(IdBlock::reserved(JS_SAFE_LIMIT + 3, 4), Err(BlockError::Exhausted));
        assert_eq!(IdBlock::reserved(JS_SAFE_LIMIT, 1), Err(BlockError::Exhausted));
        assert_eq!(IdBlock::reserved(JS_SAFE_LIMIT - 1, 1).map(|mut b| b.take()), Ok(Some(JS_SAFE_LIMIT - 1)));
        assert_eq!(IdBlock::reserved(u64::MAX, 100), Err(BlockError::Exhausted));
    }

    #[test]
    fn a_counter_below_its_block_is_corrupt() {
        assert_eq!(IdBlock::reserved(5, 10), Err(BlockError::Corrupt));
        assert_eq!(IdBlock::reserved(5, 0), Err(BlockError::Corrupt));
    }

    #[test]
    fn the_size_is_bounded() {
        assert_eq!(UserIdBlocks::new(0).size(), 1);
        assert_eq!(UserIdBlocks::new(u64::MAX).size(), MAX_USER_ID_BLOCK);
        assert_eq!(UserIdBlocks::new(100).size(), 100);
    }

    #[tokio::test]
    async fn an_environment_keeps_one_block_per_instance() {
        let blocks = UserIdBlocks::new(10);
        let (a, b) = (InstanceName::parse("a").expect("name"), InstanceName::parse("b").expect("name"));
        *blocks.of(&a).lock().await = IdBlock::reserved(10, 10).expect("block");
        assert_eq!(blocks.of(&a).lock().await.take(), Some(1));
        assert_eq!(blocks.of(&a).lock().await.take(), Some(2));
        assert_eq!(blocks.of(&b).lock().await.take(), None);
    }
}

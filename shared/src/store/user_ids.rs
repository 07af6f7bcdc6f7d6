//! Syncano user ids in blocks (issue 30): an execution environment reserves a block of ids from
//! the instance's counter item ([`super::keys::user_ids`]) with one `ADD next_user_id :block`,
//! and hands them out one by one from memory; the counter is written once per block, not once
//! per sign-up. The arithmetic ([`IdBlock`]) is pure; [`UserIdBlocks`] is one environment's
//! blocks, one per instance, each behind its own async lock so that concurrent first logins in
//! one environment take distinct ids and wait for one reservation, not one each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::config::MAX_USER_ID_BLOCK;
use crate::domain::instance::InstanceName;

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

//! The `sweeper` (issue 33; EventBridge, every 5 minutes): removes expired items and finishes
//! the multi-step changes a stopped process left pending, found through the sparse `sweep` index
//! (`store::sweep`), never by a `Scan`.
//!
//! A run goes, from its cursor (one item, `SWEEPER`/`CURSOR`, read and written once per run), over
//! each due hour up to now and each of its [`SWEEP_SHARDS`] shards, a page at a time, and acts
//! on each item found as a consistent read finds it then (`UserStore::sweep_item`). It stops at
//! its budget (items read, time) and records where; the next run goes on from there. Every run
//! reaches the present hour when its budget allows, but its cursor is left behind an hour only
//! once that hour has ended [`SETTLE_SECS`] ago (the index is eventually consistent: an item
//! written just before the hour ended may reach it a little later), so the last one or two hours
//! are queried again by every run (64 or 128 `Query` requests, most of them empty).
//!
//! Its line carries the run's metrics (CloudWatch Embedded Metric Format): `SweptItems`,
//! `FinishedItems`, `LeftItems`, `FailedItems`, and `SweepCaughtUp` (1 when the run reached the
//! present, 0 when it stopped at its budget). docs/operations.md says what they mean.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::domain::clock;
use crate::store::sweep::{bucket_of, SweepCursor, Swept, SWEEP_BUCKET_SECS, SWEEP_SHARDS};
use crate::usecases::app::App;
use crate::usecases::error::UseCaseError;

/// How long after an hour ends its bucket is still queried (the index's lag, with a wide margin).
pub const SETTLE_SECS: i64 = 300;
/// A first run (no cursor yet) starts this many hours back.
pub const FIRST_RUN_LOOKBACK_BUCKETS: i64 = 1;

/// The bounds of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepBudget {
    /// Keys asked of the index at once (a `Query`'s `Limit`).
    pub page: i32,
    /// Items read and acted on in one run, at most.
    pub items: usize,
    /// No page started after this long (below the function's timeout: template.yaml).
    pub time: Duration,
}

/// A run of the deployed function: 2,000 items, 60 s (its timeout is 120 s), pages of 100.
pub const SWEEP_BUDGET: SweepBudget = SweepBudget { page: 100, items: 2_000, time: Duration::from_secs(60) };

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepReport {
    /// Expired items deleted.
    pub swept: usize,
    /// Pending changes finished.
    pub finished: usize,
    /// Items found due and left in the table (not expired yet, a pending change without a
    /// finisher yet, or out of the index): put back where they belong.
    pub left: usize,
    /// Items the index listed that needed nothing (gone, due later, changed meanwhile).
    pub nothing: usize,
    /// Items that could not be acted on (a DynamoDB failure): tried again by a later run while
    /// their hour is not behind the cursor.
    pub failed: usize,
    /// The run reached the present (else it stopped at its budget).
    pub caught_up: bool,
    /// Where the next run starts.
    pub cursor_bucket: i64,
    pub cursor_shard: u32,
}

impl SweepReport {
    /// The run's metrics as CloudWatch Embedded Metric Format members (merged into its line).
    pub fn emf(&self, timestamp_ms: u64) -> String {
        let namespace = std::env::var(crate::usecases::metrics::NAMESPACE_VARIABLE)
            .ok()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| crate::usecases::metrics::DEFAULT_NAMESPACE.into());
        serde_json::json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [["Function"]],
                    "Metrics": [
                        { "Name": "SweptItems", "Unit": "Count" },
                        { "Name": "FinishedItems", "Unit": "Count" },
                        { "Name": "LeftItems", "Unit": "Count" },
                        { "Name": "FailedItems", "Unit": "Count" },
                        { "Name": "SweepCaughtUp", "Unit": "Count" },
                    ],
                }],
            },
            "Function": "sweeper",
            "SweptItems": self.swept,
            "FinishedItems": self.finished,
            "LeftItems": self.left,
            "FailedItems": self.failed,
            "SweepCaughtUp": u8::from(self.caught_up),
        })
        .to_string()
    }
}

impl App {
    /// `sweeper`: one run within [`SWEEP_BUDGET`].
    pub async fn sweep(&self) -> Result<SweepReport, UseCaseError> {
        self.sweep_within(SWEEP_BUDGET).await
    }

    /// One run of the sweeper within `budget`, from its cursor up to now.
    pub async fn sweep_within(&self, budget: SweepBudget) -> Result<SweepReport, UseCaseError> {
        let started = Instant::now();
        let now = clock::now_secs();
        let present = bucket_of(now);
        // The buckets before this one are complete in the index: a run may leave them behind.
        let settled = bucket_of(now - SETTLE_SECS);
        let mut cursor = match self.store.sweep_cursor().await? {
            Some(c) if c.bucket <= present => c,
            // A cursor ahead of this clock (another region's, or a clock step): the present.
            Some(_) => SweepCursor { bucket: present, shard: 0 },
            None => SweepCursor { bucket: present - FIRST_RUN_LOOKBACK_BUCKETS, shard: 0 },
        };
        // A run pages through a shard with the index's `LastEvaluatedKey`; the next run starts
        // the shard it stopped in from its beginning. What this run acted on is no longer due
        // by then (deleted, finished, or due later), so only what needed nothing is read again.
        let mut resume = None;
        let mut report = SweepReport::default();
        let mut read = 0usize;
        let outcome = loop {
            if read >= budget.items || started.elapsed() >= budget.time {
                break Ok(false);
            }
            let limit = i32::try_from(budget.items - read).unwrap_or(i32::MAX).min(budget.page);
            let page = match self.store.due_page(cursor.bucket, cursor.shard, now, limit, resume.take()).await {
                Ok(page) => page,
                Err(e) => break Err(e),
            };
            read += page.keys.len();
            for (pk, sk) in &page.keys {
                match self.sweep_one(pk, sk, now).await {
                    Ok(Swept::Deleted) => report.swept += 1,
                    Ok(Swept::Finished) => report.finished += 1,
                    Ok(Swept::Left) => report.left += 1,
                    Ok(Swept::Nothing | Swept::Pending { .. }) => report.nothing += 1,
                    Err(e) => {
                        // Only the key's kind (its prefix) is logged: a key may hold a hash of a
                        // credential, never to be printed.
                        let kind = pk.split('#').next().unwrap_or_default();
                        tracing::warn!(kind, error = %e, "sweeper: an item could not be acted on");
                        report.failed += 1;
                    }
                }
            }
            if page.next.is_some() {
                resume = page.next;
                continue;
            }
            // This shard is done for this run.
            cursor.shard += 1;
            if cursor.shard < SWEEP_SHARDS {
                continue;
            }
            cursor.shard = 0;
            if cursor.bucket < present {
                cursor.bucket += 1;
            } else {
                break Ok(true);
            }
        };
        // The next run starts where this one stopped, but never past the first hour that has
        // not settled yet: an item may still reach that hour's part of the index.
        if (cursor.bucket, cursor.shard) > (settled, 0) {
            cursor = SweepCursor { bucket: settled, shard: 0 };
        }
        report.cursor_bucket = cursor.bucket;
        report.cursor_shard = cursor.shard;
        // Written even after a failure, so the next run goes on from the last page done.
        let saved = self.store.save_sweep_cursor(&cursor, now).await;
        let caught_up = outcome?;
        saved?;
        report.caught_up = caught_up;
        let emf = report.emf(u64::try_from(clock::now_micros() / 1000).unwrap_or_default());
        let emf = emf.as_str();
        tracing::info!(
            swept = report.swept,
            finished = report.finished,
            left = report.left,
            nothing = report.nothing,
            failed = report.failed,
            caught_up,
            behind_hours = present - cursor.bucket,
            emf,
            "sweep"
        );
        Ok(report)
    }
}

/// Hours are the index's buckets (kept here for the documentation's arithmetic).
const _: () = assert!(SWEEP_BUCKET_SECS == 3600);

impl App {
    /// One item the index found due: expired items and the index's upkeep are the store's; a
    /// pending change is finished by [`App::finish_pending`] (a deletion with its revocations at
    /// the providers, every other kind by the store's finisher).
    async fn sweep_one(&self, pk: &str, sk: &str, now: i64) -> Result<Swept, UseCaseError> {
        match self.store.sweep_item(pk, sk, now).await? {
            Swept::Pending { due } => {
                let finished = self.finish_pending(pk, sk).await?;
                Ok(self.store.after_finish(pk, sk, due, now, finished).await?)
            }
            other => Ok(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_line_is_valid_emf() {
        let report = SweepReport { swept: 3, finished: 1, left: 2, caught_up: true, ..SweepReport::default() };
        let line: serde_json::Value = serde_json::from_str(&report.emf(1_700_000_000_000)).expect("JSON");
        let values = crate::usecases::metrics::check_emf(&line).expect("EMF");
        let value = |name: &str| values.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        assert_eq!(value("SweptItems"), Some(3.0));
        assert_eq!(value("FinishedItems"), Some(1.0));
        assert_eq!(value("LeftItems"), Some(2.0));
        assert_eq!(value("FailedItems"), Some(0.0));
        assert_eq!(value("SweepCaughtUp"), Some(1.0));
    }

    #[test]
    fn the_budget_ends_before_the_function_times_out() {
        // template.yaml: SweeperFunction's Timeout is 120 s; a page (100 items, a read and a
        // write each) takes well under the margin.
        assert!(SWEEP_BUDGET.time <= Duration::from_secs(60));
        assert!(SWEEP_BUDGET.page > 0 && SWEEP_BUDGET.items >= SWEEP_BUDGET.page as usize);
    }
}

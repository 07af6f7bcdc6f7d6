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
//! Its line carries the run's metrics (CloudWatch Embedded Metric Format, dimension
//! `Function=sweeper`, [`SWEEP_METRICS`]): `SweptItems`, `FinishedItems`, `LeftItems`,
//! `FailedItems`, `StalePendingItems` (pending changes found that began more than
//! [`STALE_PENDING_SECS`] ago) and `SweepCaughtUp` (1 when the run reached the present, 0 when it
//! stopped at its budget). docs/deploying.md ("The sweeper") says what they mean; template.yaml's
//! dashboard shows them and `SweeperStalePendingAlarm` reads `StalePendingItems`.

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
/// A pending change found this long after it began is stale: its request stopped half-way an
/// hour ago and neither a later request nor the sweeper finished it since (no finisher for its
/// kind, its finisher failing, or the sweeper behind).
pub const STALE_PENDING_SECS: i64 = 3600;

/// The `Function` dimension of the run's metrics.
pub const SWEEPER_FUNCTION: &str = "sweeper";
/// Expired items deleted by the run.
pub const SWEPT_ITEMS: &str = "SweptItems";
/// Pending changes the run finished.
pub const FINISHED_ITEMS: &str = "FinishedItems";
/// Items found due and left in the table.
pub const LEFT_ITEMS: &str = "LeftItems";
/// Items the run could not act on.
pub const FAILED_ITEMS: &str = "FailedItems";
/// Pending changes found that began more than [`STALE_PENDING_SECS`] ago (finished by the run or not).
pub const STALE_PENDING_ITEMS: &str = "StalePendingItems";
/// 1 when the run reached the present, else 0.
pub const SWEEP_CAUGHT_UP: &str = "SweepCaughtUp";
/// Every metric of the run's line (`tests/api/template.rs` reads the dashboard and the alarms against it).
pub const SWEEP_METRICS: [&str; 6] =
    [SWEPT_ITEMS, FINISHED_ITEMS, LEFT_ITEMS, FAILED_ITEMS, STALE_PENDING_ITEMS, SWEEP_CAUGHT_UP];

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
    /// Pending changes found that began more than [`STALE_PENDING_SECS`] ago (each also counted
    /// above as what the run did with it).
    #[serde(default)]
    pub stale_pending: usize,
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
        let values =
            [self.swept, self.finished, self.left, self.failed, self.stale_pending, usize::from(self.caught_up)];
        let metrics: Vec<serde_json::Value> =
            SWEEP_METRICS.iter().map(|name| serde_json::json!({ "Name": name, "Unit": "Count" })).collect();
        let mut line = serde_json::json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [["Function"]],
                    "Metrics": metrics,
                }],
            },
            "Function": SWEEPER_FUNCTION,
        });
        if let Some(members) = line.as_object_mut() {
            for (name, value) in SWEEP_METRICS.iter().zip(values) {
                members.insert((*name).to_string(), value.into());
            }
        }
        line.to_string()
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
                let (acted, stale) = self.sweep_one(pk, sk, now).await;
                report.stale_pending += usize::from(stale);
                match acted {
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
            stale_pending = report.stale_pending,
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
    /// the providers, every other kind by the store's finisher). Also says whether it was a
    /// pending change that began more than [`STALE_PENDING_SECS`] ago (whatever became of it).
    async fn sweep_one(&self, pk: &str, sk: &str, now: i64) -> (Result<Swept, UseCaseError>, bool) {
        let (due, began) = match self.store.sweep_item(pk, sk, now).await {
            Ok(Swept::Pending { due, began }) => (due, began),
            other => return (other.map_err(UseCaseError::from), false),
        };
        let stale = is_stale(began, now);
        let finished = match self.finish_pending(pk, sk).await {
            Ok(finished) => finished,
            Err(e) => return (Err(e), stale),
        };
        (self.store.after_finish(pk, sk, due, now, finished).await.map_err(UseCaseError::from), stale)
    }
}

/// A pending change that began (`began`, its `pending` mark) at least [`STALE_PENDING_SECS`]
/// before `now`. A mark that cannot be read is not counted (it is finished all the same).
fn is_stale(began: Option<i64>, now: i64) -> bool {
    began.is_some_and(|began| now - began >= STALE_PENDING_SECS)
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
        assert_eq!(value("StalePendingItems"), Some(0.0));
    }

    /// Every metric the contract names ([`SWEEP_METRICS`], which the dashboard and the alarms are
    /// checked against) is in the line, with its value and the `Function` dimension.
    #[test]
    fn the_report_line_carries_every_sweep_metric() {
        let report = SweepReport {
            swept: 1,
            finished: 2,
            left: 3,
            failed: 4,
            stale_pending: 5,
            caught_up: true,
            ..SweepReport::default()
        };
        let line: serde_json::Value = serde_json::from_str(&report.emf(1)).expect("JSON");
        let values = crate::usecases::metrics::check_emf(&line).expect("EMF");
        let names: Vec<&str> = values.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, SWEEP_METRICS.to_vec());
        let numbers: Vec<f64> = values.iter().map(|(_, v)| *v).collect();
        assert_eq!(numbers, vec![1.0, 2.0, 3.0, 4.0, 5.0, 1.0]);
        assert_eq!(line["Function"], SWEEPER_FUNCTION);
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Dimensions"], serde_json::json!([["Function"]]));
    }

    #[test]
    fn a_pending_change_is_stale_an_hour_after_it_began() {
        let now = 10_000;
        assert!(!is_stale(Some(now - 60), now), "just past its grace");
        assert!(!is_stale(Some(now - STALE_PENDING_SECS + 1), now));
        assert!(is_stale(Some(now - STALE_PENDING_SECS), now));
        assert!(is_stale(Some(now - 5 * STALE_PENDING_SECS), now));
        assert!(!is_stale(None, now), "no readable mark: not counted");
    }

    #[test]
    fn the_budget_ends_before_the_function_times_out() {
        // template.yaml: SweeperFunction's Timeout is 120 s; a page (100 items, a read and a
        // write each) takes well under the margin.
        assert!(SWEEP_BUDGET.time <= Duration::from_secs(60));
        assert!(SWEEP_BUDGET.page > 0 && SWEEP_BUDGET.items >= SWEEP_BUDGET.page as usize);
    }
}

//! What operating the service costs beside the requests themselves (issue 30): the log bytes
//! each request writes, measured, at CloudWatch Logs' prices, and the fixed monthly cost of the
//! template's alarms and dashboard.
//!
//! Per request CloudWatch receives: the function's own lines (measured in `cargo xtask scale`
//! with the functions' logger, [`shared::domain::logging::JsonLines`], at the level Lambda runs them);
//! Lambda's platform lines (`START`, `END`, `REPORT` in the text format the template keeps); and
//! API Gateway's access log line, the template's `AccessLogSettings.Format` filled with the
//! request's values.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_yaml::Value;

use crate::prices;

/// Counts the bytes and lines the functions' logger writes.
#[derive(Clone, Default)]
pub struct LogMeter {
    bytes: Arc<AtomicUsize>,
    lines: Arc<AtomicUsize>,
}

impl LogMeter {
    /// (bytes, lines) written so far.
    pub fn read(&self) -> (usize, usize) {
        (self.bytes.load(Ordering::Relaxed), self.lines.load(Ordering::Relaxed))
    }

    /// Installs the functions' logger (their line format, at INFO as Lambda runs them), counting
    /// into this meter: only the events of the code a function links (not the local gateway's,
    /// the emulator's or this program's).
    pub fn install(&self) {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::Layer;
        let meter = self.clone();
        let layer = tracing_subscriber::fmt::layer()
            .event_format(shared::domain::logging::JsonLines)
            .with_writer(move || meter.clone())
            .with_filter(tracing_subscriber::filter::filter_fn(|m| {
                m.level() <= &tracing::Level::INFO
                    && !["local_stack", "emulator", "xtask", "axum", "tower"].iter().any(|t| m.target().starts_with(t))
            }));
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
    }
}

impl Write for LogMeter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes.fetch_add(buf.len(), Ordering::Relaxed);
        self.lines.fetch_add(buf.iter().filter(|b| **b == b'\n').count(), Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Lambda's platform lines of one invocation, in the text format (`LogFormat: Text`), as Lambda
/// writes them for an arm64 function of 128 MB: their bytes.
pub fn platform_line_bytes() -> usize {
    let id = "8f5b2a1c-3d4e-4f60-8a7b-9c0d1e2f3a4b";
    [
        format!("START RequestId: {id} Version: $LATEST\n"),
        format!("END RequestId: {id}\n"),
        format!(
            "REPORT RequestId: {id}\tDuration: 4.21 ms\tBilled Duration: 5 ms\tMemory Size: 128 MB\tMax Memory Used: 19 MB\t\n"
        ),
    ]
    .iter()
    .map(String::len)
    .sum()
}

/// The access log line API Gateway writes for a request on `route_key` answered `status` with
/// `response_length` bytes: the template's format with typical values for the rest.
pub fn access_log_bytes(format: &str, route_key: &str, status: u16, response_length: usize) -> usize {
    let values = [
        ("$context.requestId", "QWERTYuiopAsdfg="),
        ("$context.requestTime", "07/Dec/2026:13:24:43 +0000"),
        ("$context.identity.sourceIp", "203.0.113.10"),
        ("$context.protocol", "HTTP/1.1"),
        ("$context.routeKey", route_key),
        ("$context.status", &status.to_string()),
        ("$context.responseLength", &response_length.to_string()),
        ("$context.responseLatency", "48"),
        ("$context.integrationStatus", &status.to_string()),
        ("$context.integrationLatency", "45"),
        ("$context.integrationErrorMessage", "-"),
        ("$context.authorizer.error", "-"),
    ];
    let mut line = format.to_string();
    // Longest names first: `$context.integrationStatus` before a shorter prefix of it.
    let mut sorted = values.to_vec();
    sorted.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    for (k, v) in sorted {
        line = line.replace(k, v);
    }
    line.len() + 1
}

/// The template's access log format, its alarms (and the metrics they read) and dashboards.
pub struct Monitoring {
    pub access_log_format: String,
    pub alarms: usize,
    pub alarm_metrics: usize,
    pub dashboards: usize,
}

impl Monitoring {
    pub fn of_template(text: &str) -> Result<Monitoring, String> {
        // CloudFormation tags (!Ref, !GetAtt, !Sub ...) as plain values: only shapes are read.
        let doc: Value = serde_yaml::from_str(text).map_err(|e| format!("template.yaml: {e}"))?;
        let resources = doc["Resources"].as_mapping().ok_or("template.yaml: no Resources")?;
        let of_type = |t: &'static str| resources.values().filter(move |r| r["Type"].as_str() == Some(t));
        let mut alarm_metrics = 0;
        for alarm in of_type("AWS::CloudWatch::Alarm") {
            alarm_metrics += match alarm["Properties"]["Metrics"].as_sequence() {
                Some(metrics) => metrics.iter().filter(|m| m.get("MetricStat").is_some()).count(),
                None => 1,
            };
        }
        let format = resources
            .values()
            .find_map(|r| r["Properties"]["AccessLogSettings"]["Format"].as_str())
            .ok_or("template.yaml: no AccessLogSettings.Format")?;
        Ok(Monitoring {
            access_log_format: format.to_string(),
            alarms: of_type("AWS::CloudWatch::Alarm").count(),
            alarm_metrics,
            dashboards: of_type("AWS::CloudWatch::Dashboard").count(),
        })
    }

    /// The fixed monthly cost: every alarm metric and every dashboard.
    pub fn monthly(&self) -> f64 {
        self.alarm_metrics as f64 * prices::ALARM_METRIC_MONTH + self.dashboards as f64 * prices::DASHBOARD_MONTH
    }
}

/// What a million requests writing `bytes` of logs each cost: ingestion, and storage for
/// `retention_days` (raw bytes: an upper bound).
pub fn logs_per_million(bytes: f64, retention_days: f64) -> (f64, f64) {
    let gb = bytes * 1e6 / 1e9;
    (gb * prices::LOGS_INGESTED_GB, gb * prices::LOGS_STORED_GB_MONTH * retention_days / 30.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_log_line_is_the_format_filled_in() {
        let format = r#"{"routeKey":"$context.routeKey","status":"$context.status","integrationStatus":"$context.integrationStatus","len":"$context.responseLength"}"#;
        let bytes = access_log_bytes(format, "POST /api/v1/login", 200, 412);
        let expected = r#"{"routeKey":"POST /api/v1/login","status":"200","integrationStatus":"200","len":"412"}"#;
        assert_eq!(bytes, expected.len() + 1);
    }

    #[test]
    fn the_templates_monitoring_is_counted() {
        let text =
            std::fs::read_to_string(local_stack::dynamodb_local::repo_root().join("template.yaml")).expect("template");
        let m = Monitoring::of_template(&text).expect("reads");
        assert!(m.alarms > 0 && m.alarm_metrics >= m.alarms && m.dashboards >= 1);
        assert!(m.access_log_format.contains("$context.routeKey"));
    }

    #[test]
    fn a_gigabyte_of_logs_costs_its_ingestion_and_storage() {
        let (ingest, store) = logs_per_million(1_000.0, 30.0);
        assert!((ingest - 0.5).abs() < 1e-9 && (store - 0.03).abs() < 1e-9);
    }
}

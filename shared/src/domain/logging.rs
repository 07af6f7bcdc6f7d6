//! The functions' logs: one JSON object per line on stdout, which Lambda sends to the
//! function's log group verbatim (the template keeps `LogFormat: Text`). Every field is at the
//! top level of the object, so a request line that carries [`crate::usecases::metrics`] is CloudWatch
//! Embedded Metric Format: CloudWatch turns it into metrics with no request of ours.

use std::fmt::Debug;

use serde_json::{Map, Number, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::registry::LookupSpan;

/// The field whose value (a JSON object, as text) is merged into the top level of its line
/// instead of being written as a string: how an event carries `_aws` and the metric members.
pub const MERGED_FIELD: &str = "emf";

/// The line format: `{"timestamp":…,"level":…,"message":…, <the event's fields>}`.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> std::fmt::Result {
        writeln!(writer, "{}", line(event))
    }
}

/// The JSON object of one event.
fn line(event: &Event<'_>) -> String {
    let mut timestamp = String::new();
    let mut fields = Map::new();
    if SystemTime.format_time(&mut Writer::new(&mut timestamp)).is_ok() {
        fields.insert("timestamp".into(), Value::String(timestamp));
    }
    fields.insert("level".into(), Value::String(event.metadata().level().as_str().into()));
    event.record(&mut Fields(&mut fields));
    Value::Object(fields).to_string()
}

struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == MERGED_FIELD {
            if let Ok(Value::Object(members)) = serde_json::from_str(value) {
                self.0.extend(members);
                return;
            }
        }
        self.0.insert(field.name().into(), Value::String(value.into()));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), Number::from_f64(value).map_or(Value::Null, Value::Number));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().into(), Value::String(format!("{value:?}")));
    }
}

/// Structured JSON logs for a function's `main`, at the level of `AWS_LAMBDA_LOG_LEVEL` (Lambda's
/// logging controls) or `RUST_LOG` (one level: `error`, `warn`, `info`, `debug`, `trace`,
/// `off`), default `info`. A plain level filter, not `EnvFilter`: its regex engine costs init
/// time and memory at every cold start (see docs/bench.md).
pub fn init_logging() {
    let level = log_level(|k| std::env::var(k).ok());
    let _ = tracing_subscriber::fmt().with_max_level(level).event_format(JsonLines).try_init();
}

fn log_level(var: impl Fn(&str) -> Option<String>) -> LevelFilter {
    let Some((name, value)) = ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .into_iter()
        .find_map(|k| var(k).map(|v| (k, v)))
        .filter(|(_, v)| !v.is_empty())
    else {
        return LevelFilter::INFO;
    };
    value.trim().to_ascii_lowercase().parse().unwrap_or_else(|_| {
        // Logging is not up yet: say it on stderr, which Lambda sends to the log group too.
        eprintln!("{name}={value:?} is not a log level (error, warn, info, debug, trace, off); using info");
        LevelFilter::INFO
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::{json, Value};
    use tracing_subscriber::filter::LevelFilter;

    use super::{log_level, JsonLines};

    #[test]
    fn the_log_level_comes_from_lambda_then_rust_log() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(log_level(vars(&[])), LevelFilter::INFO);
        assert_eq!(log_level(vars(&[("RUST_LOG", "debug")])), LevelFilter::DEBUG);
        assert_eq!(log_level(vars(&[("AWS_LAMBDA_LOG_LEVEL", "WARN"), ("RUST_LOG", "debug")])), LevelFilter::WARN);
        assert_eq!(log_level(vars(&[("RUST_LOG", "shared=debug")])), LevelFilter::INFO);
    }

    /// Every line written while `log` runs, parsed.
    fn lines_of(log: impl FnOnce()) -> Vec<Value> {
        let sink = Arc::new(Mutex::new(Vec::<u8>::new()));
        let writer = {
            let sink = sink.clone();
            move || SinkWriter(sink.clone())
        };
        let subscriber = tracing_subscriber::fmt().event_format(JsonLines).with_writer(writer).finish();
        tracing::subscriber::with_default(subscriber, log);
        let text = String::from_utf8(sink.lock().map(|s| s.clone()).unwrap_or_default()).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?} is not JSON: {e}"))).collect()
    }

    struct SinkWriter(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for SinkWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut sink) = self.0.lock() {
                sink.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn fields_are_at_the_top_level_and_the_merged_field_is_an_object() {
        let lines = lines_of(|| {
            let emf = r#"{"_aws":{"Timestamp":1},"Logins":1}"#;
            tracing::info!(route = "POST /x", status = 200u16, latency_ms = 1.5, ok = true, emf, "request");
            tracing::warn!(emf = "not an object", "odd");
        });
        assert_eq!(lines.len(), 2);
        let first = &lines[0];
        assert_eq!(
            (&first["message"], &first["level"], &first["route"], &first["status"], &first["latency_ms"], &first["ok"]),
            (&json!("request"), &json!("INFO"), &json!("POST /x"), &json!(200), &json!(1.5), &json!(true))
        );
        assert_eq!((&first["_aws"], &first["Logins"]), (&json!({"Timestamp": 1}), &json!(1)));
        assert!(first.get("emf").is_none() && first["timestamp"].is_string(), "{first}");
        assert_eq!((&lines[1]["emf"], &lines[1]["level"]), (&json!("not an object"), &json!("WARN")));
    }
}

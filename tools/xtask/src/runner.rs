//! One binary under `../shared/bench/lambda_bench.py`: its runs' JSON lines, the status of each
//! cold invoke, medians.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::bench::{step, BenchError};

/// One binary under `lambda_bench.py` in one setting.
pub struct Run<'a> {
    pub bench: &'a Path,
    pub binary: &'a Path,
    pub env: &'a [String],
    pub memory: Option<u32>,
}

impl Run<'_> {
    pub fn measure(&self, event: &Path, warm: u32, repeat: u32) -> Result<Vec<Value>, BenchError> {
        lambda_bench(self.bench, self.binary, event, warm, repeat, self.env, self.memory)
    }
}

/// Runs `lambda_bench.py`; returns its per-run JSON lines.
fn lambda_bench(
    bench: &Path,
    binary: &Path,
    event: &Path,
    warm: u32,
    repeat: u32,
    env: &[String],
    memory: Option<u32>,
) -> Result<Vec<Value>, BenchError> {
    let mut cmd = Command::new("python3");
    cmd.arg(bench).arg(binary).arg(event).args(["--warm", &warm.to_string(), "--repeat", &repeat.to_string()]);
    if let Some(mb) = memory {
        // The invocations at that memory size's CPU share; init at full speed, as in Lambda.
        cmd.args(["--memory", &mb.to_string()]);
    }
    for kv in env {
        cmd.args(["--env", kv]);
    }
    let out = cmd.output().map_err(|e| step("lambda_bench.py")(e.to_string()))?;
    if !out.status.success() {
        return Err(step(format!("lambda_bench.py {}", binary.display()))(
            String::from_utf8_lossy(&out.stderr).chars().rev().take(2000).collect::<String>().chars().rev().collect(),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("summary").is_none())
        .collect())
}

/// The HTTP status (or the authorizer's decision) of a run's cold invoke, read from the start of
/// its answer (`lambda_bench.py` keeps only the first 300 bytes).
pub fn status_of(run: &Value) -> String {
    let body = run["first_body"].as_str().unwrap_or("");
    let after = |key: &str| body.find(key).map(|i| &body[i + key.len()..]);
    if let Some(rest) = after("\"statusCode\":") {
        rest.chars().take_while(char::is_ascii_digit).collect()
    } else if let Some(rest) = after("\"isAuthorized\":") {
        if rest.starts_with("true") { "allow" } else { "deny" }.to_string()
    } else {
        "?".to_string()
    }
}

pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn statuses_are_read_from_a_truncated_answer() {
        let run = json!({ "first_body": "{\"statusCode\":200,\"headers\":{\"content-type\":\"appl" });
        assert_eq!(status_of(&run), "200");
        assert_eq!(status_of(&json!({ "first_body": "{\"isAuthorized\":true,\"context\":{" })), "allow");
    }
}

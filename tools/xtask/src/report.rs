//! The benchmark's Markdown report: figures, round trips, the budget check and what a million
//! logins cost.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::process::Command;

use local_stack::budget;

use crate::bench::{is_login, step, BenchError, Options, Row, FLOOR};
use crate::prices;

fn machine() -> String {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(str::trim)
        .unwrap_or("?")
        .to_string();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_kb: f64 = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
    let rustc = Command::new("rustc")
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {:.0} GiB, Linux {kernel}, {rustc}", mem_kb / 1024.0 / 1024.0)
}

fn ratio(v: f64, floor: f64) -> String {
    if floor > 0.0 && v.is_finite() {
        format!("{:.2}×", v / floor)
    } else {
        "–".into()
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.2}"))
}

pub fn report(rows: &[Row], memory_mb: f64, o: &Options) -> Result<String, BenchError> {
    let floor = rows.iter().find(|r| r.function == FLOOR).ok_or_else(|| step("report")("no floor row".into()))?;
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(w, "## The latest run\n");
    let _ = writeln!(w, "Machine: {}  ", machine());
    let _ = writeln!(
        w,
        "Each function ran under `../shared/bench/lambda_bench.py` ({} cold starts × {} warm invokes; first logins: {} cold starts of a new person each), against DynamoDB Local through a counting proxy and the provider emulator on loopback (plain HTTP: no TLS handshake in these figures). Medians over the cold starts. Ratios are to the `floor` (a bare `lambda_http` function answering `{{}}`, same release profile) of the same run.\n",
        o.repeat, o.warm, o.repeat
    );
    let _ = writeln!(w, "| function | case | status | init ms | cold invoke ms | warm p50 ms | warm p99 ms | peak RSS MiB | binary B (x86-64) | zip B (arm64) | init | cold invoke / warm p50 | RSS | zip |");
    let _ = writeln!(w, "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for r in rows {
        let cold_over_warm = match (r.warm_p50_ms, r.function == FLOOR) {
            (Some(p50), _) if p50 > 0.0 => format!("{:.1}", r.first_ms / p50),
            _ => "–".into(),
        };
        let zip = r.zip_bytes.map_or("–".into(), |z| z.to_string());
        let zip_ratio = match (r.zip_bytes, floor.zip_bytes) {
            (Some(z), Some(f)) => ratio(z as f64, f as f64),
            _ => "–".into(),
        };
        let _ = writeln!(
            w,
            "| {} | {} | {} | {:.2} | {:.2} | {} | {} | {:.1} | {} | {} | {} | {} | {} | {} |",
            r.function,
            r.case,
            r.statuses.join(","),
            r.init_ms,
            r.first_ms,
            ms(r.warm_p50_ms),
            ms(r.warm_p99_ms),
            r.rss_mib,
            r.binary_bytes,
            zip,
            ratio(r.init_ms, floor.init_ms),
            cold_over_warm,
            ratio(r.rss_mib, floor.rss_mib),
            zip_ratio,
        );
    }

    let _ = writeln!(w, "\n### Round trips per login\n");
    let _ = writeln!(w, "Counted from what DynamoDB Local (through the proxy) and the provider emulator received during the runs above, per invocation (returning rows average over cold and warm invokes, so a key fetch once per cold start shows as a fraction).\n");
    let _ = writeln!(
        w,
        "| function | case | DynamoDB requests | operations (whole run) | provider round trips | RRU | WRU |"
    );
    let _ = writeln!(w, "|---|---|--:|---|--:|--:|--:|");
    for r in rows.iter().filter(|r| r.function != FLOOR) {
        let (calls, provider, rru, wru) = r.per_invoke();
        let mut ops: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &r.dynamo {
            *ops.entry(c.operation.as_str()).or_default() += 1;
        }
        let ops = ops.iter().map(|(k, v)| format!("{k} ×{v}")).collect::<Vec<_>>().join(", ");
        let _ =
            writeln!(w, "| {} | {} | {calls:.2} | {ops} | {provider:.2} | {rru:.2} | {wru:.2} |", r.function, r.case);
    }
    let _ = writeln!(
        w,
        "\nBudget: returning login ≤ {} DynamoDB requests and ≤ {} provider round trip (0 for an ID token whose key is cached); first login ≤ {} DynamoDB requests. `tests/api/budget.rs` fails if a change exceeds it.",
        budget::RETURNING_DYNAMODB_MAX,
        budget::RETURNING_PROVIDER_MAX,
        budget::FIRST_DYNAMODB_MAX
    );

    let _ = writeln!(w, "\n### Budget check\n");
    for r in rows.iter().filter(|r| r.function != FLOOR) {
        let mut notes = Vec::new();
        let login = is_login(&r.function);
        if login {
            notes.push(check("init ≤ 1.5× floor", r.init_ms <= 1.5 * floor.init_ms));
            notes.push(check("RSS ≤ 1.6× floor", r.rss_mib <= 1.6 * floor.rss_mib));
        }
        if let Some(z) = r.zip_bytes {
            notes.push(check("zip ≤ 3 MB", z <= 3_000_000));
        }
        // logout's warm invokes find the session gone (401): not the same work as its cold one.
        if let Some(p50) = r.warm_p50_ms.filter(|_| r.function != "logout") {
            notes.push(check("cold invoke ≤ 3× warm", r.first_ms <= 3.0 * p50));
        }
        let (calls, provider, _, _) = r.per_invoke();
        if login && r.case == "returning user" {
            notes.push(check("DynamoDB ≤ 2", calls <= budget::RETURNING_DYNAMODB_MAX as f64 + 1e-9));
            notes.push(check("provider ≤ 1", provider <= budget::RETURNING_PROVIDER_MAX as f64 + 1e-9));
        }
        if r.case == "first login" {
            notes.push(check("DynamoDB ≤ 4", calls <= budget::FIRST_DYNAMODB_MAX as f64 + 1e-9));
        }
        let _ = writeln!(w, "- {} ({}): {}", r.function, r.case, notes.join(", "));
    }

    let _ = writeln!(w, "\n### What a million logins cost on AWS (us-east-1, arm64, {memory_mb:.0} MB)\n");
    let _ = writeln!(w, "Lambda billed per 1 ms (returning: warm p50; first login: its cold invoke), DynamoDB on-demand request units as counted above (transactional writes count double), API Gateway HTTP API requests. Prices in `tools/xtask/src/prices.rs`.\n");
    let _ = writeln!(w, "| login | Lambda $ | DynamoDB $ | API Gateway $ | total $ per million |");
    let _ = writeln!(w, "|---|--:|--:|--:|--:|");
    let mut totals = HashMap::new();
    for r in rows.iter().filter(|r| matches!(r.function.as_str(), "facebook-login" | "login")) {
        let (_, _, rru, wru) = r.per_invoke();
        let billed = if r.case == "first login" { r.first_ms } else { r.warm_p50_ms.unwrap_or(r.first_ms) };
        let c = prices::per_million(billed, memory_mb, rru, wru);
        totals.insert((r.function.clone(), r.case.clone()), c.total());
        let _ = writeln!(
            w,
            "| {} ({}) | {:.2} | {:.2} | {:.2} | **{:.2}** |",
            r.function,
            r.case,
            c.lambda,
            c.dynamodb,
            c.api_gateway,
            c.total()
        );
    }
    let init = rows.iter().filter(|r| is_login(&r.function)).map(|r| r.init_ms).fold(0.0, f64::max);
    let cold =
        prices::per_million(init, memory_mb, 0.0, 0.0).lambda - prices::per_million(0.0, memory_mb, 0.0, 0.0).lambda;
    let _ = writeln!(
        w,
        "\nA cold start adds its init duration (≤ {init:.1} ms here): ${cold:.2} per million cold starts.\n"
    );
    if let (Some(first), Some(again)) = (
        totals.get(&("facebook-login".to_string(), "first login".to_string())),
        totals.get(&("facebook-login".to_string(), "returning user".to_string())),
    ) {
        let _ = writeln!(w, "One million users who each log in once a month (one million monthly active users):\n");
        let _ = writeln!(w, "| | per month $ |\n|---|--:|");
        let _ = writeln!(w, "| social-login, the month they sign up (first logins) | {first:.2} |");
        let _ = writeln!(w, "| social-login, every later month (returning logins) | {again:.2} |");
        let _ = writeln!(
            w,
            "| Amazon Cognito Lite (${} per MAU) | {:.2} |",
            prices::COGNITO_LITE_MAU,
            1e6 * prices::COGNITO_LITE_MAU
        );
        let _ = writeln!(
            w,
            "| Amazon Cognito Essentials (${} per MAU) | {:.2} |",
            prices::COGNITO_ESSENTIALS_MAU,
            1e6 * prices::COGNITO_ESSENTIALS_MAU
        );
        let _ = writeln!(w, "\n(Cognito's first 10,000 MAU are free; storage of the user items, about 1 KB each, adds $0.25 per GB-month on DynamoDB.)");
    }
    Ok(s)
}

const BEGIN: &str = "<!-- cargo xtask bench: begin (generated; the text outside is kept) -->";
const END: &str = "<!-- cargo xtask bench: end -->";

/// `old` with the generated `report` between the markers (notes written around it are kept).
pub fn splice(old: &str, report: &str) -> String {
    match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if b < e => format!("{}{BEGIN}\n{report}\n{}", &old[..b], &old[e..]),
        _ => format!("{BEGIN}\n{report}\n{END}\n{old}"),
    }
}

fn check(what: &str, ok: bool) -> String {
    format!("{what} {}", if ok { "✓" } else { "✗" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_replaces_only_its_own_part() {
        let first = splice("", "R1");
        assert!(first.starts_with(BEGIN) && first.contains("R1"));
        let noted = format!("# Title\n{first}\n## Notes\nkept\n");
        let second = splice(&noted, "R2");
        assert!(second.starts_with("# Title\n") && second.contains("R2") && second.ends_with("## Notes\nkept\n"));
        assert!(!second.contains("R1"));
    }
}

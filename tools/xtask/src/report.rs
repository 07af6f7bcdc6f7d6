//! The benchmark's Markdown report: figures, round trips, the budget check and what a million
//! logins cost.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::process::Command;

use local_stack::budget;

use crate::bench::{is_login, step, BenchError, Row};
use crate::options::{Options, Setting, TableMode, FLOOR, PEER, SDK_FLOOR, THROTTLED_MB};
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

/// Provider functions' zip budget (the logins), and the session functions' (no provider code).
const PROVIDER_ZIP_MAX: u64 = 2_000_000;
const SESSION_ZIP_MAX: u64 = 1_500_000;

fn is_session_function(function: &str) -> bool {
    matches!(function, "me" | "logout" | "current-user" | "reset-key") || function.ends_with("-authorizer")
}

fn find<'a>(rows: &'a [Row], function: &str, setting: Setting) -> Option<&'a Row> {
    rows.iter().find(|r| r.function == function && r.setting == setting && r.case != "first login")
}

/// The row of `function`'s `case` in `setting`.
fn find_case<'a>(rows: &'a [Row], function: &str, case: &str, setting: Setting) -> Option<&'a Row> {
    rows.iter().find(|r| r.function == function && r.case == case && r.setting == setting)
}

/// `a / b` as "N×", or "–" when either is missing.
fn times(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && a.is_finite() => format!("{:.1}×", a / b),
        _ => "–".into(),
    }
}

pub fn report(rows: &[Row], memory_mb: f64, o: &Options) -> Result<String, BenchError> {
    let mut settings: Vec<Setting> = rows.iter().map(|r| r.setting).collect();
    settings.dedup();
    let primary = Setting::default();
    let floor = find(rows, FLOOR, primary).ok_or_else(|| step("report")("no floor row".into()))?;
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(w, "## The latest run\n");
    let _ = writeln!(w, "Machine: {}  ", machine());
    let _ = writeln!(
        w,
        "Each function ran under `../shared/bench/lambda_bench.py` ({} cold starts × {} warm invokes; first logins: {} cold starts of a new person each), against DynamoDB Local through a counting proxy and the provider emulator on loopback, in {} settings: {}. \"128 MB CPU share\" runs the invocations under the CPU quota Lambda gives 128 MB (`--memory 128`, ~7% of a core; init at full speed, as in Lambda). \"TLS\" puts a TLS front with a run-time test CA before DynamoDB Local and the emulator, so the cold invoke pays the handshakes it pays on AWS. Medians over the cold starts. Ratios are to the `floor` (a bare `lambda_http` function answering `{{}}`, same release profile) of the same setting; `sdk-floor` is the floor plus only the DynamoDB client (`shared/examples/sdk_floor.rs`); `peer-node` is the Node.js 20 + AWS SDK v3 peer of a returning facebook-login.\n",
        o.repeat,
        o.warm,
        o.repeat,
        settings.len(),
        settings.iter().map(Setting::label).collect::<Vec<_>>().join("; ")
    );
    for &setting in &settings {
        let floor = find(rows, FLOOR, setting.single()).unwrap_or(floor);
        let _ = writeln!(w, "### {}\n", setting.label());
        let _ = writeln!(w, "| function | case | status | init ms | cold invoke ms | warm p50 ms | warm p99 ms | peak RSS MiB | binary B (x86-64) | zip B (arm64) | init | cold invoke / warm p50 | RSS | zip |");
        let _ = writeln!(w, "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        for r in rows.iter().filter(|r| r.setting == setting) {
            let cold_over_warm = match r.warm_p50_ms {
                Some(p50) if p50 > 0.0 => format!("{:.1}", r.first_ms / p50),
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
                r.binary_bytes.map_or("–".into(), |b| b.to_string()),
                zip,
                ratio(r.init_ms, floor.init_ms),
                cold_over_warm,
                ratio(r.rss_mib, floor.rss_mib),
                zip_ratio,
            );
        }
        let _ = writeln!(w);
    }

    if rows.iter().any(|r| r.function == "facebook-login") {
        let _ = writeln!(w, "### facebook-login beside the SDK floor and the Node.js peer\n");
        let _ = writeln!(w, "A returning Syncano Facebook login (the peer makes the same requests in the same order). Cold start = init + cold invoke. The last two columns are the peer's figure over facebook-login's.\n");
        let _ = writeln!(w, "| setting | function | init ms | cold invoke ms | cold start ms | warm p50 ms | warm p99 ms | peak RSS MiB | peer cold start / this | peer warm p50 / this |");
        let _ = writeln!(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|");
        for &setting in settings.iter().filter(|s| s.table == TableMode::Single) {
            let peer = find(rows, PEER, setting);
            for function in ["facebook-login", SDK_FLOOR, PEER] {
                let Some(r) = find(rows, function, setting) else { continue };
                let (cold, p50) = if function == "facebook-login" {
                    (
                        times(peer.map(Row::cold_start_ms), Some(r.cold_start_ms())),
                        times(peer.and_then(|p| p.warm_p50_ms), r.warm_p50_ms),
                    )
                } else {
                    ("".into(), "".into())
                };
                let _ = writeln!(
                    w,
                    "| {} | {} | {:.2} | {:.2} | {:.2} | {} | {} | {:.1} | {cold} | {p50} |",
                    setting.label(),
                    function,
                    r.init_ms,
                    r.first_ms,
                    r.cold_start_ms(),
                    ms(r.warm_p50_ms),
                    ms(r.warm_p99_ms),
                    r.rss_mib,
                );
            }
        }
    }

    let _ = writeln!(w, "\n### Round trips per login\n");
    let _ = writeln!(w, "Counted from what DynamoDB Local (through the proxy) and the provider emulator received during the full-CPU plain-HTTP runs, per invocation (returning rows average over cold and warm invokes, so a key fetch once per cold start shows as a fraction).\n");
    let _ = writeln!(
        w,
        "| function | case | DynamoDB requests | operations (whole run) | provider round trips | RRU | WRU |"
    );
    let _ = writeln!(w, "|---|---|--:|---|--:|--:|--:|");
    for r in rows.iter().filter(|r| r.setting == primary && !is_reference(&r.function)) {
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
        "\nBudget: returning login ≤ {} DynamoDB requests, plus the cold invoke's cache fills (≤ {}: the API key's check, the instance's settings) spread over the run, and ≤ {} provider round trip (0 for an ID token whose key is cached); first login in a cold environment ≤ {} DynamoDB requests (Rocket.Chat's {} more: its session). `tests/api/budget.rs` fails if a change exceeds it.",
        budget::RETURNING_DYNAMODB_MAX,
        budget::COLD_CACHE_READS,
        budget::RETURNING_PROVIDER_MAX,
        budget::FIRST_DYNAMODB_MAX,
        budget::SESSION_WRITES
    );

    let _ = writeln!(w, "\n### Budget check\n");
    let _ = writeln!(w, "Against the SDK floor of the same setting ({}): a login's init ≤ {SDK_FLOOR_MAX}× and peak RSS ≤ {SDK_FLOOR_MAX}×; zips ≤ 2 MB (provider functions) and ≤ 1.5 MB (session functions); cold invoke ≤ 3× warm p50; the round trips above.\n", primary.label());
    let sdk_floor = find(rows, SDK_FLOOR, primary);
    for r in rows.iter().filter(|r| r.setting == primary && !is_reference(&r.function)) {
        let mut notes = Vec::new();
        let login = is_login(&r.function);
        if let (true, Some(sdk)) = (login, sdk_floor) {
            notes.push(check(&format!("init ≤ {SDK_FLOOR_MAX}× SDK floor"), r.init_ms <= SDK_FLOOR_MAX * sdk.init_ms));
            notes.push(check(&format!("RSS ≤ {SDK_FLOOR_MAX}× SDK floor"), r.rss_mib <= SDK_FLOOR_MAX * sdk.rss_mib));
        }
        match r.zip_bytes {
            Some(z) if login => notes.push(check("zip ≤ 2 MB", z <= PROVIDER_ZIP_MAX)),
            Some(z) if is_session_function(&r.function) => notes.push(check("zip ≤ 1.5 MB", z <= SESSION_ZIP_MAX)),
            _ => {}
        }
        // logout's warm invokes find the session gone (401): not the same work as its cold one.
        if let Some(p50) = r.warm_p50_ms.filter(|_| r.function != "logout") {
            notes.push(check("cold invoke ≤ 3× warm", r.first_ms <= 3.0 * p50));
        }
        let (calls, provider, _, _) = r.per_invoke();
        if login && r.case == "returning user" {
            // The cold invoke's cache fills, spread over the run's invokes.
            let fills = budget::COLD_CACHE_READS as f64 * f64::from(o.repeat) / r.invocations.max(1) as f64;
            let max = budget::RETURNING_DYNAMODB_MAX as f64 + fills;
            notes.push(check(&format!("DynamoDB ≤ {max:.2}"), calls <= max + 1e-9));
            notes.push(check("provider ≤ 1", provider <= budget::RETURNING_PROVIDER_MAX as f64 + 1e-9));
        }
        if r.case == "first login" {
            // A Rocket.Chat first login writes its session too.
            let session = if r.function == "login" { budget::SESSION_WRITES } else { 0 };
            let first_max = budget::FIRST_DYNAMODB_MAX + session;
            notes.push(check(&format!("DynamoDB ≤ {first_max}"), calls <= first_max as f64 + 1e-9));
        }
        let _ = writeln!(w, "- {} ({}): {}", r.function, r.case, notes.join(", "));
    }
    let lambda_view = Setting { memory: Some(THROTTLED_MB), tls: true, table: TableMode::Single };
    if let Some(fb) = find(rows, "facebook-login", lambda_view) {
        let mut notes = Vec::new();
        if let Some(p50) = fb.warm_p50_ms {
            notes.push(check("cold invoke ≤ 1.5× warm p50", fb.first_ms <= 1.5 * p50));
        }
        if let Some(peer) = find(rows, PEER, lambda_view) {
            notes.push(check("cold start ≤ 1/30 of the peer's", fb.cold_start_ms() * 30.0 <= peer.cold_start_ms()));
            if let (Some(a), Some(b)) = (fb.warm_p50_ms, peer.warm_p50_ms) {
                notes.push(check("warm p50 ≤ 1/10 of the peer's", a * 10.0 <= b));
            }
        }
        let _ = writeln!(w, "- facebook-login (returning user) [{}]: {}", lambda_view.label(), notes.join(", "));
    }

    // The setting closest to what Lambda bills: 128 MB's CPU share, through TLS, when it ran.
    let billed = if settings.contains(&lambda_view) { lambda_view } else { primary };
    let _ = writeln!(w, "\n### What a million logins cost on AWS (us-east-1, arm64, {memory_mb:.0} MB)\n");
    let _ = writeln!(w, "Lambda billed per 1 ms (returning: warm p50; first login: its cold invoke; {}), DynamoDB on-demand request units as counted above (transactional writes count double), API Gateway HTTP API requests. Prices in `tools/xtask/src/prices.rs`.\n", billed.label());
    let _ = writeln!(w, "| login | Lambda $ | DynamoDB $ | API Gateway $ | total $ per million |");
    let _ = writeln!(w, "|---|--:|--:|--:|--:|");
    let mut totals = HashMap::new();
    for r in rows.iter().filter(|r| r.setting == billed && matches!(r.function.as_str(), "facebook-login" | "login")) {
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
    table_modes(w, rows, &settings, billed, memory_mb);
    let init =
        rows.iter().filter(|r| r.setting == billed && is_login(&r.function)).map(|r| r.init_ms).fold(0.0, f64::max);
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

/// The MRSC settings beside the same settings on the single-region table: what each function asks
/// across regions and the latency that adds, and a million logins' cost with replicated writes.
fn table_modes(w: &mut String, rows: &[Row], settings: &[Setting], billed: Setting, memory_mb: f64) {
    let mrsc: Vec<Setting> = settings.iter().copied().filter(|s| s.table == TableMode::Mrsc).collect();
    if mrsc.is_empty() {
        return;
    }
    let delay = local_stack::mrsc_proxy::MrscSettings::default();
    let replicas = local_stack::regions::REGION_NAMES.len() as f64;
    let _ = writeln!(w, "\n### Single-region vs MRSC table (issue 33)\n");
    let _ = writeln!(
        w,
        "The same functions and events on a multi-Region strongly consistent table: its replica in {} (of {}), behind the MRSC proxy (`tools/local/src/mrsc_proxy.rs`), which adds {} ms to each write and {} ms to each strongly consistent read (one cross-region round trip each, about us-east-1 to us-east-2; docs/multi-region.md has the other region sets); beside the same setting on the single-region table, in the same run. Writes and strongly consistent reads per invocation as the proxy saw them (returning rows average over the cold and the warm invokes; logout's warm invokes find their session ended). \"+\" is MRSC minus single-region.\n",
        local_stack::regions::REGION_NAMES[0],
        local_stack::regions::REGION_NAMES.join(", "),
        delay.write_delay.as_millis(),
        delay.consistent_read_delay.as_millis(),
    );
    for setting in mrsc {
        let single = setting.single();
        let _ = writeln!(w, "{}:\n", single.label());
        let _ = writeln!(w, "| function | case | status | writes | strongly consistent reads | cold start ms (single → MRSC) | cold invoke ms (single → MRSC) | + | warm p50 ms (single → MRSC) | + | warm p99 ms (single → MRSC) |");
        let _ = writeln!(w, "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|");
        for r in rows.iter().filter(|r| r.setting == setting) {
            let Some(s) = find_case(rows, &r.function, &r.case, single) else { continue };
            let (writes, reads) = r.replicated_per_invoke().unwrap_or((f64::NAN, f64::NAN));
            let pair = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => format!("{a:.2} → {b:.2}"),
                _ => "–".into(),
            };
            let plus = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => format!("{:+.1}", b - a),
                _ => "–".into(),
            };
            let _ = writeln!(
                w,
                "| {} | {} | {} | {writes:.2} | {reads:.2} | {} | {} | {} | {} | {} | {} |",
                r.function,
                r.case,
                r.statuses.join(","),
                pair(Some(s.cold_start_ms()), Some(r.cold_start_ms())),
                pair(Some(s.first_ms), Some(r.first_ms)),
                plus(Some(s.first_ms), Some(r.first_ms)),
                pair(s.warm_p50_ms, r.warm_p50_ms),
                plus(s.warm_p50_ms, r.warm_p50_ms),
                pair(s.warm_p99_ms, r.warm_p99_ms),
            );
        }
        let _ = writeln!(w);
    }
    let on_mrsc = Setting { table: TableMode::Mrsc, ..billed };
    if !settings.contains(&on_mrsc) {
        return;
    }
    let _ = writeln!(w, "A million logins on the MRSC table ({}), billed as above; every write unit is billed in each of the {replicas:.0} replicas' regions (a replicated write unit costs a write unit; cross-Region data transfer not counted), and Lambda bills the time a function waits for the replication:\n", on_mrsc.label());
    let _ = writeln!(w, "| login | table | Lambda $ | DynamoDB $ | API Gateway $ | total $ per million |");
    let _ = writeln!(w, "|---|---|--:|--:|--:|--:|");
    for r in rows.iter().filter(|r| r.setting == on_mrsc && matches!(r.function.as_str(), "facebook-login" | "login")) {
        for (name, row, copies) in
            [("single-region", find_case(rows, &r.function, &r.case, billed), 1.0), ("MRSC", Some(r), replicas)]
        {
            let Some(row) = row else { continue };
            let (_, _, rru, wru) = row.per_invoke();
            let ms = if row.case == "first login" { row.first_ms } else { row.warm_p50_ms.unwrap_or(row.first_ms) };
            let c = prices::per_million(ms, memory_mb, rru, wru * copies);
            let _ = writeln!(
                w,
                "| {} ({}) | {name} | {:.2} | {:.2} | {:.2} | **{:.2}** |",
                row.function,
                row.case,
                c.lambda,
                c.dynamodb,
                c.api_gateway,
                c.total()
            );
        }
    }
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

/// The login functions' init and RSS budget, as a multiple of the SDK floor's.
const SDK_FLOOR_MAX: f64 = 1.25;

/// The rows that are there to compare against, not functions held to the budgets.
fn is_reference(function: &str) -> bool {
    matches!(function, FLOOR | SDK_FLOOR | PEER)
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

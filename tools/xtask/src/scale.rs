//! `cargo xtask scale`: which DynamoDB partition keys a mixed workload of one popular app heats,
//! measured, not estimated (issue 30). Many execution environments (each its own `App`, as
//! Lambda keeps them, each behind a local gateway of its own) serve a workload from many client
//! addresses through a counting proxy in front of DynamoDB Local, which records every partition
//! key each request touches and the capacity it costs there. It prints, per 1,000 application
//! requests, the requests and capacity on the hottest partition keys and per kind of key, and the
//! per-instance ceiling they imply under DynamoDB's per-partition limits. A program that prints
//! figures: it asserts nothing.
//!
//! `--table-mode mrsc` (issue 33) serves the same workload from three regions over a table
//! without TTL behind the MRSC proxy (`local_stack::regions`, as `local-stack --regions 3`): the
//! environments spread over the regions round-robin, each with its region's DynamoDB endpoint
//! and `AWS_REGION`. Before the workload it prints, for both table modes, what each operation
//! asks of DynamoDB and what it costs with replicated writes ([`crate::per_operation`]).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use local_stack::counting_proxy::DynamoCall;
use local_stack::demo::{self, FACEBOOK_APP_ID, OTHER_FACEBOOK_APP_ID};
use local_stack::dynamodb_local::repo_root;
use local_stack::Template;
use serde_json::Value;
use shared::App;
use tokio::sync::Semaphore;

use local_stack::mrsc_proxy::{MrscProxy, MrscSettings};
use local_stack::regions::REGION_NAMES;

use crate::operating::{access_log_bytes, logs_per_million, platform_line_bytes, LogMeter, Monitoring};
use crate::per_operation::{self, Mode};
use crate::prices;
use crate::stack::Stack;

/// DynamoDB's documented ceiling for one partition: read and write request units a second.
const PARTITION_READS: f64 = 3_000.0;
const PARTITION_WRITES: f64 = 1_000.0;
/// Issue 30's budget: the hottest key takes at most this many requests per 100 app requests.
const BUDGET_PER_100: f64 = 2.0;
const TABLE: &str = "scale-sim";
/// The MRSC table of `--table-mode mrsc`, in the same DynamoDB Local (without TTL).
const TABLE_MRSC: &str = "scale-sim-mrsc";

pub const USAGE: &str = "\
usage: cargo xtask scale [--environments E] [--requests N] [--people P] [--clients C]
                         [--first-logins F] [--rejected R] [--concurrency K] [--seed S]
                         [--table-mode single|mrsc] [--probe-rounds P]

  --environments E  execution environments, each its own App (default 50)
  --requests N      measured application requests (default 10000)
  --people P        people who signed in before the measured run (default 1000)
  --clients C       client addresses, 127.0.x.y (default 500)
  --first-logins F  share of first logins in the mix (default 0.10)
  --rejected R      share of logins with a rejected token (default 0.02)
  --concurrency K   requests in flight (default 16)
  --seed S          the workload's seed (default 1)
  --table-mode M    single: one region on a single-region table (default); mrsc: three regions
                    (us-east-1, us-east-2, us-west-2) over a multi-Region strongly consistent
                    table (the MRSC proxy), the environments spread over them; it first prints
                    each operation's writes, strongly consistent and eventually consistent reads,
                    latency and cost with replicated writes in both modes
  --probe-rounds P  with mrsc: rounds of each operation in that per-operation probe (default 10)";

/// `--table-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableMode {
    Single,
    Mrsc,
}

#[derive(Debug, Clone)]
pub struct Options {
    environments: usize,
    requests: usize,
    people: usize,
    clients: usize,
    pub(crate) first_logins: f64,
    pub(crate) rejected: f64,
    concurrency: usize,
    seed: u64,
    table_mode: TableMode,
    probe_rounds: usize,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options {
            environments: 50,
            requests: 10_000,
            people: 1_000,
            clients: 500,
            first_logins: 0.10,
            rejected: 0.02,
            concurrency: 16,
            seed: 1,
            table_mode: TableMode::Single,
            probe_rounds: 10,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let bad = |_: String| format!("{flag}: not a number: {value}");
            match flag.as_str() {
                "--environments" => {
                    o.environments = value.parse().map_err(|e: std::num::ParseIntError| bad(e.to_string()))?
                }
                "--requests" => o.requests = value.parse().map_err(|e: std::num::ParseIntError| bad(e.to_string()))?,
                "--people" => o.people = value.parse().map_err(|e: std::num::ParseIntError| bad(e.to_string()))?,
                "--clients" => o.clients = value.parse().map_err(|e: std::num::ParseIntError| bad(e.to_string()))?,
                "--first-logins" => {
                    o.first_logins = value.parse().map_err(|e: std::num::ParseFloatError| bad(e.to_string()))?
                }
                "--rejected" => {
                    o.rejected = value.parse().map_err(|e: std::num::ParseFloatError| bad(e.to_string()))?
                }
                "--concurrency" => {
                    o.concurrency = value.parse().map_err(|e: std::num::ParseIntError| bad(e.to_string()))?
                }
                "--seed" => o.seed = value.parse().map_err(|e: std::num::ParseIntError| bad(e.to_string()))?,
                "--table-mode" => {
                    o.table_mode = match value.as_str() {
                        "single" => TableMode::Single,
                        "mrsc" => TableMode::Mrsc,
                        _ => return Err(format!("--table-mode: single or mrsc, not {value}")),
                    }
                }
                "--probe-rounds" => {
                    o.probe_rounds = value.parse().map_err(|e: std::num::ParseIntError| bad(e.to_string()))?
                }
                _ => return Err(format!("unknown flag {flag}")),
            }
        }
        if o.environments == 0 || o.clients == 0 || o.clients > 65_000 || o.concurrency == 0 || o.people == 0 {
            return Err("environments, people, concurrency and clients (at most 65,000) must be positive".into());
        }
        if !(0.0..=1.0).contains(&(o.first_logins + o.rejected)) || o.first_logins < 0.0 || o.rejected < 0.0 {
            return Err("--first-logins and --rejected are shares that add up to at most 1".into());
        }
        Ok(o)
    }
}

use crate::workload::{request, rocketchat_login, syncano_login, Kind, Person, Rng, World};

/// What the counting proxy saw, per partition key.
#[derive(Default, Clone)]
struct Heat {
    requests: f64,
    reads: f64,
    writes: f64,
}

fn heat(calls: &[DynamoCall]) -> HashMap<String, Heat> {
    let mut keys: HashMap<String, Heat> = HashMap::new();
    for call in calls {
        // A request touching several items of one partition counts once for the partition.
        let mut seen: Vec<&str> = Vec::new();
        for k in &call.keys {
            let h = keys.entry(k.pk.clone()).or_default();
            (h.reads, h.writes) = (h.reads + k.reads, h.writes + k.writes);
            if !seen.contains(&k.pk.as_str()) {
                h.requests += 1.0;
                seen.push(&k.pk);
            }
        }
    }
    keys
}

fn kind_of(pk: &str) -> &str {
    pk.split('#').next().unwrap_or_default()
}

/// The app requests a second at which `h` (seen over `app_requests`) reaches a partition limit.
fn ceiling(h: &Heat, app_requests: f64) -> f64 {
    let per_request = |units: f64| units / app_requests;
    let by_reads = if h.reads > 0.0 { PARTITION_READS / per_request(h.reads) } else { f64::INFINITY };
    let by_writes = if h.writes > 0.0 { PARTITION_WRITES / per_request(h.writes) } else { f64::INFINITY };
    by_reads.min(by_writes)
}

fn grouped(n: f64) -> String {
    if !n.is_finite() {
        return "unbounded".into();
    }
    let digits = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub async fn run(o: Options) -> Result<(), String> {
    let step = |what: &'static str| move |e: String| format!("{what}: {e}");
    let meter = LogMeter::default();
    meter.install();
    let root = repo_root();
    let template = Template::load(root.join("template.yaml")).map_err(|e| step("template.yaml")(e.to_string()))?;
    let template_text =
        std::fs::read_to_string(root.join("template.yaml")).map_err(|e| step("template.yaml")(e.to_string()))?;
    let monitoring = Monitoring::of_template(&template_text)?;
    eprintln!("== DynamoDB Local, the counting proxy, the emulator, {} environments", o.environments);
    let stack = Stack::start(&template, TABLE).await?;
    let vars = stack.vars(TABLE);
    let (proxy, emulator) = (&stack.proxy, stack.emulator.clone());
    let mrsc = match o.table_mode {
        TableMode::Single => None,
        TableMode::Mrsc => {
            eprintln!("== the MRSC table (no TTL) behind the MRSC proxy: {}", REGION_NAMES.join(", "));
            local_stack::regions::create_table(&template, &stack.dynamodb.client(), TABLE_MRSC)
                .await
                .map_err(|e| step("create the MRSC table")(e.to_string()))?;
            let mrsc = MrscProxy::start(proxy.endpoint(), &REGION_NAMES, MrscSettings::default())
                .await
                .map_err(|e| step("MRSC proxy")(e.to_string()))?;
            // The operator seeds the MRSC table straight (not through a region).
            let seeder = App::from_vars(&stack.vars(TABLE_MRSC)).await.map_err(|e| step("app")(e.to_string()))?;
            demo::seed(&seeder, &emulator, FACEBOOK_APP_ID, 24 * 3600)
                .await
                .map_err(|e| step("seed the MRSC table")(e.to_string()))?;
            Some(mrsc)
        }
    };
    // Environment i's configuration: the single table, or region i mod 3 of the MRSC table.
    let env_vars = |i: usize| match &mrsc {
        None => vars.clone(),
        Some(mrsc) => {
            let region = REGION_NAMES[i % REGION_NAMES.len()];
            let mut vars = stack.vars(TABLE_MRSC);
            vars.insert("AWS_ENDPOINT_URL_DYNAMODB".into(), mrsc.endpoint(region));
            vars.insert("AWS_REGION".into(), region.into());
            vars
        }
    };
    let mut bases = Vec::new();
    for i in 0..o.environments {
        let app = Arc::new(App::from_vars(&env_vars(i)).await.map_err(|e| step("app")(e.to_string()))?);
        if i == 0 && mrsc.is_none() {
            demo::seed(&app, &emulator, FACEBOOK_APP_ID, 24 * 3600).await.map_err(|e| step("seed")(e.to_string()))?;
        }
        bases.push(serve_environment(&template, app).await?);
    }
    if let Some(mrsc) = &mrsc {
        // The single-region table, seeded, with one environment per region for the probe.
        let seeder = Arc::new(App::from_vars(&vars).await.map_err(|e| step("app")(e.to_string()))?);
        demo::seed(&seeder, &emulator, FACEBOOK_APP_ID, 24 * 3600).await.map_err(|e| step("seed")(e.to_string()))?;
        let mut single = vec![serve_environment(&template, seeder).await?];
        for _ in 1..REGION_NAMES.len() {
            let app = Arc::new(App::from_vars(&vars).await.map_err(|e| step("app")(e.to_string()))?);
            single.push(serve_environment(&template, app).await?);
        }
        let regional: Vec<String> = bases.iter().take(REGION_NAMES.len()).cloned().collect();
        let modes = [
            Mode { name: "single-region", bases: single, counting: proxy, mrsc: None, replicas: 1.0 },
            Mode {
                name: "MRSC",
                bases: regional,
                counting: proxy,
                mrsc: Some(mrsc),
                replicas: REGION_NAMES.len() as f64,
            },
        ];
        per_operation::run_and_report(&modes, &emulator, o.probe_rounds).await?;
    }
    let mut clients = Vec::new();
    for c in 0..o.clients {
        // Loopback is 127/8: each client its own source address, as many people behind many IPs.
        let ip = IpAddr::V4(Ipv4Addr::new(127, 1 + (c / 65_000) as u8, ((c / 250) % 256) as u8, (c % 250 + 2) as u8));
        let client = reqwest::Client::builder().local_address(ip).build().map_err(|e| step("client")(e.to_string()))?;
        clients.push(client);
    }
    let world = Arc::new(World { emulator, bases, clients });
    let mut rng = Rng(o.seed.max(1));

    eprintln!("== {} people sign in once (Syncano and Rocket.Chat), not measured", o.people);
    let mut people = Vec::new();
    for n in 0..o.people {
        let person = world.new_person(n);
        let token = world.emulator.issue_facebook_token(&person, FACEBOOK_APP_ID, 24 * 3600);
        let (env, client) = (rng.below(o.environments), rng.below(o.clients));
        let (s1, syncano) = world.send(env, client, syncano_login(&token)).await?;
        let (s2, rc) = world.send(env, client, rocketchat_login(&token)).await?;
        if s1 != 200 || s2 != 200 {
            let hint = if mrsc.is_some() {
                " (on the MRSC table: a store that still uses transactions fails here; the per-operation tables above were measured)"
            } else {
                ""
            };
            return Err(format!("warm-up sign-in answered {s1} {syncano} / {s2} {rc}{hint}"));
        }
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        people.push(Person {
            token,
            user_key: text(&syncano["user_key"]),
            session: (text(&rc["data"]["authToken"]), text(&rc["data"]["userId"])),
        });
    }
    proxy.take();

    eprintln!("== {} measured requests over {} environments from {} addresses", o.requests, o.environments, o.clients);
    let mut plan = Vec::new();
    for n in 0..o.requests {
        let kind = Kind::pick(&mut rng, &o);
        let person = people[rng.below(people.len())].clone();
        let token = match kind {
            Kind::SyncanoFirstLogin | Kind::RocketChatFirstLogin => {
                let someone = world.new_person(o.people + n);
                world.emulator.issue_facebook_token(&someone, FACEBOOK_APP_ID, 24 * 3600)
            }
            Kind::RejectedLogin => {
                let someone = world.new_person(o.people + n);
                world.emulator.issue_facebook_token(&someone, OTHER_FACEBOOK_APP_ID, 24 * 3600)
            }
            _ => person.token.clone(),
        };
        plan.push((kind, rng.below(o.environments), rng.below(o.clients), request(kind, &person, &token)));
    }
    let mut mix: BTreeMap<Kind, usize> = BTreeMap::new();
    let gate = Arc::new(Semaphore::new(o.concurrency));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (kind, env, client, req) in plan {
        *mix.entry(kind).or_default() += 1;
        let (world, gate) = (world.clone(), gate.clone());
        let permit = gate.acquire_owned().await.map_err(|e| e.to_string())?;
        tasks.spawn(async move {
            let _permit = permit;
            (kind, world.send(env, client, req).await)
        });
    }
    let mut statuses: BTreeMap<(Kind, u16), usize> = BTreeMap::new();
    while let Some(done) = tasks.join_next().await {
        let (kind, result) = done.map_err(|e| e.to_string())?;
        let (status, _) = result?;
        *statuses.entry((kind, status)).or_default() += 1;
    }
    let elapsed = started.elapsed();
    let calls = proxy.take();
    report(&o, &mix, &statuses, &calls, elapsed.as_secs_f64());
    if let Some(mrsc) = &mrsc {
        report_regions(mrsc, o.requests);
    }

    eprintln!("== log bytes: {LOG_SAMPLES} requests of each kind, one at a time");
    let mut logs = Vec::new();
    for kind in Kind::ALL {
        let (mut bytes, mut lines, mut answer) = (0, 0, 0);
        let mut status = 0;
        for n in 0..LOG_SAMPLES {
            let person = people[rng.below(people.len())].clone();
            let token = match kind {
                Kind::SyncanoFirstLogin | Kind::RocketChatFirstLogin | Kind::RejectedLogin => {
                    let someone = world.new_person(o.people + o.requests + n);
                    let app = if kind == Kind::RejectedLogin { OTHER_FACEBOOK_APP_ID } else { FACEBOOK_APP_ID };
                    world.emulator.issue_facebook_token(&someone, app, 24 * 3600)
                }
                _ => person.token.clone(),
            };
            let before = meter.read();
            let (s, _, len) = world
                .send_measured(rng.below(o.environments), rng.below(o.clients), request(kind, &person, &token))
                .await?;
            let after = meter.read();
            (bytes, lines, answer, status) = (bytes + after.0 - before.0, lines + after.1 - before.1, answer + len, s);
        }
        let per = |x: usize| x as f64 / LOG_SAMPLES as f64;
        logs.push(LogFigures { kind, status, function: per(bytes), lines: per(lines), answer: per(answer) });
    }
    report_logs(&logs, &monitoring);
    Ok(())
}

/// One environment's gateway on a free loopback port: its base URL.
async fn serve_environment(template: &Template, app: Arc<App>) -> Result<String, String> {
    let gateway = local_stack::gateway::for_template_with(template, app, local_stack::gateway::probe_routes())
        .map_err(|e| format!("gateway: {e}"))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("bind: {e}"))?;
    let base = format!("http://{}", listener.local_addr().map_err(|e| format!("addr: {e}"))?);
    tokio::spawn(local_stack::gateway::serve(listener, gateway, std::future::pending()));
    Ok(base)
}

/// With `--table-mode mrsc`: what each region asked of the MRSC table during the whole run.
fn report_regions(mrsc: &MrscProxy, requests: usize) {
    let per_k = |x: u64| x as f64 * 1_000.0 / requests.max(1) as f64;
    println!(
        "\nPer region, the whole run (warm-up and log samples included), per 1,000 measured application requests:\n"
    );
    println!("| region | writes (cross-region round trips) | strongly consistent reads (cross-region round trips) | write conflicts | refused |\n|---|---:|---:|---:|---:|");
    for (name, c) in mrsc.all_counts() {
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.1} |",
            per_k(c.writes),
            per_k(c.consistent_reads),
            per_k(c.conflicts),
            per_k(c.refused)
        );
    }
}

/// Requests of each kind whose log bytes are measured.
const LOG_SAMPLES: usize = 20;

/// What one request of `kind` writes to CloudWatch Logs, averaged.
struct LogFigures {
    kind: Kind,
    status: u16,
    /// The functions' own lines: bytes and lines a request.
    function: f64,
    lines: f64,
    /// The answer's body, bytes (the access log's `responseLength`).
    answer: f64,
}

fn report_logs(logs: &[LogFigures], monitoring: &Monitoring) {
    let platform = platform_line_bytes() as f64;
    let retention = 30.0;
    println!(
        "
## What operating it costs: logs, alarms, dashboard
"
    );
    println!(
        "Log bytes a request writes to CloudWatch Logs, measured over {LOG_SAMPLES} requests of each kind: the functions' own lines (their logger, at INFO), Lambda's `START`/`END`/`REPORT` lines ({platform:.0} bytes, text format) and API Gateway's access log line (the template's format with this answer's values). At ${} per GB ingested and ${} per GB-month stored ({retention:.0} days, `LogRetentionDays`' default; raw bytes, an upper bound since storage is billed compressed):
",
        prices::LOGS_INGESTED_GB, prices::LOGS_STORED_GB_MONTH
    );
    println!("| request | status | function lines | function bytes | access log bytes | total bytes | logs $ per million (ingested + stored) |
|---|---:|---:|---:|---:|---:|---:|");
    for l in logs {
        let access =
            access_log_bytes(&monitoring.access_log_format, l.kind.route_key(), l.status, l.answer.round() as usize)
                as f64;
        let total = l.function + platform + access;
        let (ingest, store) = logs_per_million(total, retention);
        println!(
            "| {} | {} | {:.1} | {:.0} | {:.0} | {:.0} | {:.2} + {:.2} = **{:.2}** |",
            l.kind.name(),
            l.status,
            l.lines,
            l.function,
            access,
            total,
            ingest,
            store,
            ingest + store
        );
    }
    println!(
        "
Fixed, every month whatever the traffic: {} alarms reading {} metrics at ${:.2} per alarm metric, and {} dashboard(s) at ${:.2}: **${:.2} a month**.",
        monitoring.alarms,
        monitoring.alarm_metrics,
        prices::ALARM_METRIC_MONTH,
        monitoring.dashboards,
        prices::DASHBOARD_MONTH,
        monitoring.monthly()
    );
}

fn report(
    o: &Options,
    mix: &BTreeMap<Kind, usize>,
    statuses: &BTreeMap<(Kind, u16), usize>,
    calls: &[DynamoCall],
    secs: f64,
) {
    let n = o.requests as f64;
    let per_k = |x: f64| x * 1_000.0 / n;
    println!("# Scale simulation (cargo xtask scale)\n");
    println!(
        "{} environments (each its own App), {} application requests from {} client addresses, {} people signed in before, seed {}; {:.0} s.\n",
        o.environments, o.requests, o.clients, o.people, o.seed, secs
    );
    println!("| request | share | answers |\n|---|---:|---|");
    for (kind, count) in mix {
        let answers: Vec<String> =
            statuses.iter().filter(|((k, _), _)| k == kind).map(|((_, s), c)| format!("{s} ×{c}")).collect();
        println!("| {} | {:.1}% | {} |", kind.name(), *count as f64 * 100.0 / n, answers.join(", "));
    }
    let keys = heat(calls);
    let (reads, writes): (f64, f64) = keys.values().fold((0.0, 0.0), |a, h| (a.0 + h.reads, a.1 + h.writes));
    println!(
        "\nDynamoDB: {:.0} requests per 1,000 application requests, {:.0} read units, {:.0} write units; {} distinct partition keys.\n",
        per_k(calls.len() as f64),
        per_k(reads),
        per_k(writes),
        keys.len()
    );
    let mut hottest: Vec<(&String, &Heat)> = keys.iter().collect();
    hottest.sort_by(|a, b| b.1.requests.total_cmp(&a.1.requests).then(a.0.cmp(b.0)));
    println!("Hottest partition keys, per 1,000 application requests:\n");
    println!("| # | key | requests | read units | write units | app requests/s at its partition limit |\n|---:|---|---:|---:|---:|---:|");
    for (i, (pk, h)) in hottest.iter().take(5).enumerate() {
        let shown = if pk.len() > 40 { format!("{}…", &pk[..40]) } else { (*pk).clone() };
        println!(
            "| {} | `{}` | {:.1} | {:.1} | {:.1} | {} |",
            i + 1,
            shown,
            per_k(h.requests),
            per_k(h.reads),
            per_k(h.writes),
            grouped(ceiling(h, n))
        );
    }
    let mut kinds: BTreeMap<&str, (usize, Heat, Heat)> = BTreeMap::new();
    for (pk, h) in &keys {
        let e = kinds.entry(kind_of(pk)).or_default();
        e.0 += 1;
        (e.1.requests, e.1.reads, e.1.writes) = (e.1.requests + h.requests, e.1.reads + h.reads, e.1.writes + h.writes);
        if h.requests > e.2.requests {
            e.2 = h.clone();
        }
    }
    println!("\nPer kind of key, per 1,000 application requests (all keys of the kind; its busiest key):\n");
    println!("| kind | keys | requests | read units | write units | busiest key: requests | busiest key: app requests/s at its limit |\n|---|---:|---:|---:|---:|---:|---:|");
    for (kind, (count, all, top)) in &kinds {
        println!(
            "| `{kind}` | {count} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            per_k(all.requests),
            per_k(all.reads),
            per_k(all.writes),
            per_k(top.requests),
            grouped(ceiling(top, n))
        );
    }
    if let Some((pk, h)) = hottest.first() {
        let per_100 = h.requests * 100.0 / n;
        let mark = if per_100 <= BUDGET_PER_100 { "✓" } else { "✗" };
        println!(
            "\n{mark} hottest key `{}`: {per_100:.1} requests per 100 application requests (budget {BUDGET_PER_100}); this mix reaches its partition limit at {} application requests a second.",
            kind_of(pk),
            grouped(ceiling(h, n))
        );
    }
    let first_logins = mix
        .iter()
        .filter(|(k, _)| matches!(k, Kind::SyncanoFirstLogin | Kind::RocketChatFirstLogin))
        .map(|(_, c)| *c)
        .sum::<usize>() as f64;
    if first_logins > 0.0 {
        // The instance-wide keys a sign-up may write: the instance's partition and its id counter.
        let instance_wide = |pk: &str| matches!(kind_of(pk), "INST" | "USERIDS");
        let writes: f64 = keys.iter().filter(|(pk, _)| instance_wide(pk)).map(|(_, h)| h.writes).sum();
        if writes > 0.0 {
            let per_signup = writes / first_logins;
            println!(
                "Instance-wide writes (`INST`, `USERIDS`): {per_signup:.3} write units per first login: at most {} sign-ups a second on that partition.",
                grouped(PARTITION_WRITES / per_signup)
            );
        } else {
            println!(
                "No instance-wide write (`INST`, `USERIDS`) in the {first_logins:.0} measured first logins: each environment's block of user ids was reserved before."
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_mode_is_single_unless_asked() {
        let parse = |args: &[&str]| Options::parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>());
        assert_eq!(parse(&[]).expect("defaults").table_mode, TableMode::Single);
        let o = parse(&["--table-mode", "mrsc", "--probe-rounds", "3"]).expect("mrsc");
        assert_eq!((o.table_mode, o.probe_rounds), (TableMode::Mrsc, 3));
        assert!(parse(&["--table-mode", "mrec"]).is_err());
    }
}

//! The benchmark run: build, start the dependencies, prepare real events (`cases`), measure,
//! report (`report`). The functions are the template's (`template.yaml` is the one list).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use local_stack::counting_proxy::DynamoCall;
use local_stack::demo::{self, FACEBOOK_APP_ID};
use local_stack::dynamodb_local::repo_root;
use local_stack::mrsc_proxy::{MrscProxy, MrscSettings, RegionCounts};
use local_stack::regions::REGION_NAMES;
use local_stack::tls_front::{TestCa, TlsFront};
use local_stack::Template;
use serde_json::Value;
use shared::App;

use crate::builds;
use crate::cases::{Case, Event, Events, RunEvents};
use crate::peer;
use crate::report::{report, splice};
use crate::stack::Stack;

/// The bare function every ratio is to.
pub const FLOOR: &str = "floor";
/// The table the benchmark creates in its DynamoDB Local.
const TABLE: &str = "social-login-bench";
/// The table of the MRSC settings: the template's, without TTL, reached through the MRSC proxy.
const TABLE_MRSC: &str = "social-login-bench-mrsc";
/// The region the measured functions run in, of the MRSC proxy's three.
const MRSC_REGION: &str = REGION_NAMES[0];

/// The functions as the template ships them (package = binary name), in template order.
fn functions(template: &Template) -> Vec<String> {
    template.functions()
}

/// The variables that configure a provider (its app or client id, Apple's revocation key): a
/// measured function gets only those its template environment declares.
const PROVIDER_SWITCHES: [&str; 8] = [
    "FACEBOOK_APP_ID",
    "GOOGLE_CLIENT_IDS",
    "TWITTER_CONSUMER_KEY",
    "LINKEDIN_CLIENT_ID",
    "APPLE_CLIENT_IDS",
    "APPLE_TEAM_ID",
    "APPLE_KEY_ID",
    "GITHUB_CLIENT_ID",
];

/// For a function of the template (by package), which of the stack's variables a deployment
/// gives it: a provider switch only if its environment declares it, a secret only if its
/// `SECRET_PARAMETERS` lists it, anything else as it is. `None` for what is not a function of
/// the template (the floors, the peer): every variable.
#[allow(clippy::type_complexity)]
fn deployed_variables(template: &Template, function: &str) -> Result<Option<Box<dyn Fn(&str) -> bool>>, BenchError> {
    let Some(def) = template.function_defs().into_iter().find(|d| d.package == function) else { return Ok(None) };
    let declared = template
        .environment(&def.logical_id, &|_| Some(String::new()))
        .map_err(|e| step("template environment")(e.to_string()))?;
    let secrets: Vec<&'static str> = declared
        .get("SECRET_PARAMETERS")
        .map(String::as_str)
        .unwrap_or_default()
        .split(',')
        .filter_map(|leaf| shared::config::parameter_store::allowed_variable(leaf.trim()))
        .collect();
    Ok(Some(Box::new(move |k: &str| {
        if PROVIDER_SWITCHES.contains(&k) {
            declared.contains_key(k)
        } else if shared::config::parameter_store::SECRET_VARIABLES.contains(&k) {
            secrets.contains(&k)
        } else {
            true
        }
    })))
}

/// Whether `function` is a login (the providers' Syncano routes and Rocket.Chat's `login`):
/// those are held to the init, RSS and round-trip budgets.
pub fn is_login(function: &str) -> bool {
    function == "login" || function.ends_with("-login")
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Usage(String),
    #[error("{what}: {why}")]
    Step { what: String, why: String },
}

pub fn step(what: impl Into<String>) -> impl FnOnce(String) -> BenchError {
    let what = what.into();
    move |why| BenchError::Step { what, why }
}

/// The second floor: the bare function plus only the DynamoDB client (`shared/examples/sdk_floor.rs`),
/// which the login functions' RSS and init budgets are against.
pub const SDK_FLOOR: &str = "sdk-floor";
/// The Node.js 20 + AWS SDK v3 peer of a returning Syncano Facebook login
/// (`../shared/bench/peer-node`), run beside `facebook-login`.
pub const PEER: &str = "peer-node";
/// The memory size whose CPU share the throttled settings run at (`lambda_bench.py --memory`).
pub const THROTTLED_MB: u32 = 128;

/// How a case is run: at full CPU or at the CPU share of a memory size, through plain HTTP or
/// through the TLS fronts, on a single-region table or an MRSC one.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Setting {
    pub memory: Option<u32>,
    pub tls: bool,
    pub table: TableMode,
}

/// The table the functions use (`template.yaml`'s `TableMode`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableMode {
    /// The stack's own table, in the functions' region.
    #[default]
    Single,
    /// A global table with multi-Region strong consistency: its replica in the functions' region,
    /// behind the MRSC proxy (every write and strongly consistent read one cross-region round trip).
    Mrsc,
}

impl Setting {
    pub fn label(&self) -> String {
        let cpu = self.memory.map_or("full CPU".to_string(), |mb| format!("{mb} MB CPU share"));
        let table = match self.table {
            TableMode::Single => "",
            TableMode::Mrsc => ", MRSC table",
        };
        format!("{cpu}, {}{table}", if self.tls { "TLS" } else { "plain HTTP" })
    }

    /// The same setting on the single-region table.
    pub fn single(self) -> Setting {
        Setting { table: TableMode::Single, ..self }
    }
}

pub struct Options {
    pub warm: u32,
    pub repeat: u32,
    arm64: bool,
    out: Option<PathBuf>,
    /// Only these functions (the floors always run).
    only: Vec<String>,
    tls: bool,
    throttled: bool,
    peer: bool,
    /// The MRSC settings too (after the single-region ones).
    mrsc: bool,
    /// Extra variables for every measured function (experiments, e.g. `RUST_LOG=debug`).
    env: Vec<(String, String)>,
    /// The functions' binaries are taken from here instead of built (another tree's release
    /// build, for a before/after on one stack); the floors are still built.
    binaries: Option<PathBuf>,
}

impl Options {
    /// The settings to run, in order: full CPU first (its plain run is the one the round trips
    /// are counted in), plain before TLS, then on the MRSC table the first (full CPU, plain HTTP)
    /// and what Lambda sees (128 MB CPU share, TLS).
    pub fn settings(&self) -> Vec<Setting> {
        let memories = if self.throttled { vec![None, Some(THROTTLED_MB)] } else { vec![None] };
        let transports = if self.tls { vec![false, true] } else { vec![false] };
        let mut settings: Vec<Setting> = memories
            .iter()
            .flat_map(|&memory| transports.iter().map(move |&tls| Setting { memory, tls, table: TableMode::Single }))
            .collect();
        if self.mrsc {
            settings.push(Setting { memory: None, tls: false, table: TableMode::Mrsc });
            if self.throttled && self.tls {
                settings.push(Setting { memory: Some(THROTTLED_MB), tls: true, table: TableMode::Mrsc });
            }
        }
        settings
    }

    /// Whether `function` runs in `setting`: the MRSC settings measure the functions only (the
    /// floors make no write or strongly consistent read, and the peer stays the single-region
    /// comparison).
    fn runs_in(&self, function: &str, setting: Setting) -> bool {
        setting.table == TableMode::Single || !matches!(function, FLOOR | SDK_FLOOR | PEER)
    }

    fn wants(&self, function: &str) -> bool {
        self.only.is_empty()
            || self.only.iter().any(|f| f == function)
            || matches!(function, FLOOR | SDK_FLOOR)
            || (function == PEER && self.peer && self.only.iter().any(|f| f == "facebook-login"))
    }

    pub fn parse(args: &[String]) -> Result<Options, BenchError> {
        let mut o = Options {
            warm: 100,
            repeat: 5,
            arm64: true,
            out: None,
            only: Vec::new(),
            tls: true,
            throttled: true,
            peer: true,
            mrsc: true,
            env: Vec::new(),
            binaries: None,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value =
                |name: &str| it.next().cloned().ok_or_else(|| BenchError::Usage(format!("{name} needs a value")));
            let number = |name: &str, v: String| {
                v.parse::<u32>().map_err(|_| BenchError::Usage(format!("{name}: {v:?} is not a number")))
            };
            match arg.as_str() {
                "--warm" => o.warm = number("--warm", value("--warm")?)?,
                "--repeat" => o.repeat = number("--repeat", value("--repeat")?)?.max(1),
                "--no-arm64" => o.arm64 = false,
                "--out" => o.out = Some(PathBuf::from(value("--out")?)),
                "--only" => o.only.extend(value("--only")?.split(',').map(str::trim).map(str::to_string)),
                "--no-tls" => o.tls = false,
                "--no-128" => o.throttled = false,
                "--no-peer" => o.peer = false,
                "--no-mrsc" => o.mrsc = false,
                "--binaries" => o.binaries = Some(PathBuf::from(value("--binaries")?)),
                "--env" => {
                    let kv = value("--env")?;
                    let (k, v) = kv.split_once('=').ok_or_else(|| BenchError::Usage(format!("--env {kv:?}: K=V")))?;
                    o.env.push((k.to_string(), v.to_string()));
                }
                other => return Err(BenchError::Usage(format!("unknown option {other:?}"))),
            }
        }
        if o.out.is_some()
            && (!o.only.is_empty()
                || !o.tls
                || !o.throttled
                || !o.peer
                || !o.mrsc
                || !o.env.is_empty()
                || o.binaries.is_some())
        {
            return Err(BenchError::Usage("--out writes docs/bench.md: only with the whole run".into()));
        }
        Ok(o)
    }
}

/// What one row measured (medians over the runs).
#[derive(Debug, Default, Clone)]
pub struct Row {
    pub function: String,
    pub case: String,
    pub setting: Setting,
    pub statuses: Vec<String>,
    pub init_ms: f64,
    pub first_ms: f64,
    pub warm_p50_ms: Option<f64>,
    pub warm_p99_ms: Option<f64>,
    pub rss_mib: f64,
    /// The binary's size (none for the Node peer: a script and its node_modules).
    pub binary_bytes: Option<u64>,
    pub zip_bytes: Option<u64>,
    pub invocations: u64,
    pub dynamo: Vec<DynamoCall>,
    pub provider_requests: u64,
    /// What the MRSC proxy saw of the runs (MRSC settings only): writes and strongly consistent
    /// reads, each one cross-region round trip.
    pub replication: Option<RegionCounts>,
}

impl Row {
    /// What a cold start costs the caller: init plus the cold invoke.
    pub fn cold_start_ms(&self) -> f64 {
        self.init_ms + self.first_ms
    }

    pub fn per_invoke(&self) -> (f64, f64, f64, f64) {
        let n = self.invocations.max(1) as f64;
        let (r, w) = self.dynamo.iter().map(DynamoCall::request_units).fold((0.0, 0.0), |a, u| (a.0 + u.0, a.1 + u.1));
        (self.dynamo.len() as f64 / n, self.provider_requests as f64 / n, r / n, w / n)
    }

    /// Per invocation, as the MRSC proxy saw them: writes, strongly consistent reads.
    pub fn replicated_per_invoke(&self) -> Option<(f64, f64)> {
        let n = self.invocations.max(1) as f64;
        self.replication.map(|c| (c.writes as f64 / n, c.consistent_reads as f64 / n))
    }
}

pub async fn run(o: Options) -> Result<(), BenchError> {
    let root = repo_root();
    let target = builds::target_dir(&root)?;
    let template = Template::load(root.join("template.yaml")).map_err(|e| step("template.yaml")(e.to_string()))?;
    let all = functions(&template);
    let functions: Vec<String> = all.iter().filter(|f| o.wants(f)).cloned().collect();
    if let Some(unknown) = o.only.iter().find(|f| !functions.contains(f)) {
        return Err(BenchError::Usage(format!("--only: no function {unknown:?} in template.yaml")));
    }
    let host = builds::host_triple()?;
    builds::host_binaries(&root, &host, if o.binaries.is_some() { &[] } else { &functions })?;
    let zips = if o.arm64 { builds::arm64_zips(&root, &target, &functions)? } else { HashMap::new() };
    let peer = if o.peer && o.wants(PEER) { Some(peer::prepare(&root, &target)?) } else { None };

    eprintln!("== starting DynamoDB Local, the counting proxy and the provider emulator");
    let Stack { dynamodb, proxy, apps, emulator, graph } =
        Stack::start(&template, TABLE).await.map_err(step("stack"))?;
    let mut vars: BTreeMap<String, String> =
        apps.stack_vars(TABLE, "https://api.example.com", proxy.endpoint(), &graph).into_iter().collect();
    vars.insert("RUST_LOG".into(), "info".into());
    let measured_env = o.env.clone();
    let app =
        Arc::new(App::from_vars(&vars.clone().into_iter().collect()).await.map_err(|e| step("app")(e.to_string()))?);
    demo::seed(&app, &emulator, FACEBOOK_APP_ID, 24 * 3600).await.map_err(|e| step("seed")(e.to_string()))?;
    let scratch = target.join("bench-events");
    let single = Table::prepare(&o, app, &emulator, &root, &scratch, &all).await?;

    // The MRSC settings' table: the template's without TTL (as an MRSC table is), seeded by the
    // operator straight (not through a region), its cases prepared as the single table's; the
    // measured functions reach it through the MRSC proxy as region MRSC_REGION.
    let mrsc = if o.mrsc {
        local_stack::regions::create_table(&template, &dynamodb.client(), TABLE_MRSC)
            .await
            .map_err(|e| step("create the MRSC table")(e.to_string()))?;
        let proxy = MrscProxy::start(proxy.endpoint(), &REGION_NAMES, MrscSettings::default())
            .await
            .map_err(|e| step("MRSC proxy")(e.to_string()))?;
        let mut straight = vars.clone();
        straight.insert("TABLE_NAME".into(), TABLE_MRSC.into());
        let app = Arc::new(
            App::from_vars(&straight.clone().into_iter().collect()).await.map_err(|e| step("app")(e.to_string()))?,
        );
        demo::seed_table(&app, 24 * 3600).await.map_err(|e| step("seed the MRSC table")(e.to_string()))?;
        let table = Table::prepare(&o, app, &emulator, &root, &scratch.join("mrsc"), &all).await?;
        Some((proxy, table))
    } else {
        None
    };
    proxy.take();

    // The TLS fronts (kept alive until the end of the run) and the variables that point the
    // functions at them.
    let ca = TestCa::new().map_err(|e| step("test CA")(e.to_string()))?;
    let ca_file = scratch.join("test-ca.pem");
    std::fs::write(&ca_file, ca.pem()).map_err(|e| step("test CA file")(e.to_string()))?;
    let dynamodb_front =
        TlsFront::start(&ca, proxy.endpoint()).await.map_err(|e| step("TLS front (DynamoDB)")(e.to_string()))?;
    // The emulator's listener for a front: the requests it forwards were addressed to https://.
    let behind_tls = emulator.spawn_behind_tls(0).await.map_err(|e| step("emulator")(e.to_string()))?;
    let emulator_front =
        TlsFront::start(&ca, &behind_tls).await.map_err(|e| step("TLS front (emulator)")(e.to_string()))?;
    let tls_vars = over_tls(&vars, &graph, &emulator_front.url(), &dynamodb_front.url(), &ca_file);
    // The MRSC settings' variables: the functions in region MRSC_REGION, their DynamoDB the MRSC
    // proxy's port of that region (through a TLS front of its own for TLS).
    let mut mrsc_fronts = Vec::new();
    let mrsc_vars = match &mrsc {
        None => None,
        Some((proxy, _)) => {
            let endpoint = proxy.endpoint(MRSC_REGION);
            let mut plain = vars.clone();
            plain.insert("TABLE_NAME".into(), TABLE_MRSC.into());
            plain.insert("AWS_REGION".into(), MRSC_REGION.into());
            plain.insert("AWS_ENDPOINT_URL_DYNAMODB".into(), endpoint.clone());
            let front =
                TlsFront::start(&ca, &endpoint).await.map_err(|e| step("TLS front (MRSC proxy)")(e.to_string()))?;
            let tls = over_tls(&plain, &graph, &emulator_front.url(), &front.url(), &ca_file);
            mrsc_fronts.push(front);
            Some((plain, tls))
        }
    };

    let bench = root.join("../shared/bench/lambda_bench.py");
    let mut rows = Vec::new();
    for setting in o.settings() {
        let (table, (plain_vars, tls_vars), replication) = match (setting.table, &mrsc, &mrsc_vars) {
            (TableMode::Single, _, _) => (&single, (&vars, &tls_vars), None),
            (TableMode::Mrsc, Some((proxy, table)), Some((plain, tls))) => (table, (plain, tls), Some(proxy)),
            (TableMode::Mrsc, _, _) => continue,
        };
        for case in table.cases.iter().filter(|c| o.runs_in(&c.function, setting)) {
            eprintln!("== {} ({}) [{}]", case.function, case.name, setting.label());
            // A function is configured for the providers its template environment names, with
            // the secrets its SECRET_PARAMETERS lists, as deployed: which providers decides
            // whether init builds the HTTP client and opens a provider's connection
            // (`Providers::certain_call`).
            let deployed = deployed_variables(&template, &case.function)?;
            let env: Vec<String> = if setting.tls { tls_vars } else { plain_vars }
                .iter()
                .filter(|(k, _)| deployed.as_ref().is_none_or(|keep| keep(k)))
                .chain(measured_env.iter().map(|(k, v)| (k, v)))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let binary = match case.function.as_str() {
                PEER => match &peer {
                    Some(bootstrap) => bootstrap.clone(),
                    None => continue,
                },
                SDK_FLOOR => target.join(&host).join("release/examples/sdk_floor"),
                FLOOR => target.join(&host).join("release").join(FLOOR),
                f => o.binaries.as_ref().unwrap_or(&target.join(&host).join("release")).join(f),
            };
            let mut row = Row {
                function: case.function.clone(),
                case: case.name.to_string(),
                setting,
                binary_bytes: if case.function == PEER { None } else { Some(builds::file_size(&binary)?) },
                zip_bytes: zips.get(&case.function).copied(),
                ..Row::default()
            };
            // A first login's warm invokes would be returning ones: it runs cold only.
            let warm = if matches!(case.event, Event::FirstLogin) { 0 } else { o.warm };
            let files = table.events.for_runs(case, o.repeat).await?;
            proxy.take();
            let asked = emulator.request_count();
            let replicated = replication.map(|p| p.counts(MRSC_REGION));
            let run = Run { bench: &bench, binary: &binary, env: &env, memory: setting.memory };
            let runs = match files {
                RunEvents::Same(file) => run.measure(&file, warm, o.repeat)?,
                RunEvents::Each(files) => {
                    let mut runs = Vec::new();
                    for file in &files {
                        runs.extend(run.measure(file, warm, 1)?);
                    }
                    runs
                }
            };
            row.invocations = u64::from(o.repeat) * (1 + u64::from(warm));
            row.dynamo = proxy.take();
            row.provider_requests = emulator.request_count() - asked;
            row.replication = replication.zip(replicated).map(|(p, before)| {
                let after = p.counts(MRSC_REGION);
                RegionCounts {
                    writes: after.writes - before.writes,
                    consistent_reads: after.consistent_reads - before.consistent_reads,
                    conflicts: after.conflicts - before.conflicts,
                    refused: after.refused - before.refused,
                }
            });
            row.statuses = runs.iter().map(status_of).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
            let median = |key: &str| median(runs.iter().filter_map(|r| r[key].as_f64()).collect());
            row.init_ms = median("init_ms").unwrap_or(f64::NAN);
            row.first_ms = median("first_ms").unwrap_or(f64::NAN);
            row.warm_p50_ms = median("warm_p50_ms");
            row.warm_p99_ms = median("warm_p99_ms");
            row.rss_mib = median("peak_rss_mib").unwrap_or(f64::NAN);
            rows.push(row);
        }
    }
    drop((dynamodb_front, emulator_front, mrsc_fronts));
    let memory_mb = template_memory(&root)?;
    let report = report(&rows, memory_mb, &o)?;
    println!("{report}");
    if let Some(path) = &o.out {
        let old = std::fs::read_to_string(path).unwrap_or_default();
        std::fs::write(path, splice(&old, &report))
            .map_err(|e| step(format!("write {}", path.display()))(e.to_string()))?;
        eprintln!("== written to {}", path.display());
    }
    dynamodb.stop().await.map_err(|e| step("stop DynamoDB Local")(e.to_string()))?;
    Ok(())
}

/// One table's cases: the events made against it and the functions' cases on it.
struct Table<'a> {
    events: Events<'a>,
    cases: Vec<Case>,
}

impl<'a> Table<'a> {
    /// The cases of the functions `o` wants, their events prepared in process through `app`'s
    /// handlers (event files under `scratch`).
    async fn prepare(
        o: &Options,
        app: Arc<App>,
        emulator: &'a emulator::Emulator,
        root: &Path,
        scratch: &Path,
        all: &[String],
    ) -> Result<Table<'a>, BenchError> {
        std::fs::create_dir_all(scratch).map_err(|e| step("scratch dir")(e.to_string()))?;
        let events = Events {
            root: root.to_path_buf(),
            scratch: scratch.to_path_buf(),
            handlers: local_stack::function_handlers(app),
            emulator,
            people: Default::default(),
            made: Default::default(),
        };
        let cases = events.prepare(all).await?.into_iter().filter(|c| o.wants(&c.function)).collect();
        Ok(Table { events, cases })
    }
}

/// The functions' variables with DynamoDB and every provider URL behind the TLS fronts
/// (`https://localhost:PORT`), the test CA trusted through the local-only extra roots (and
/// `NODE_EXTRA_CA_CERTS` for the peer), and no `ALLOW_INSECURE_PROVIDER_URLS`: every URL is
/// `https://` now, as in AWS.
fn over_tls(
    vars: &BTreeMap<String, String>,
    emulator: &str,
    emulator_front: &str,
    dynamodb_front: &str,
    ca_file: &Path,
) -> BTreeMap<String, String> {
    let mut tls: BTreeMap<String, String> = vars
        .iter()
        .filter(|(k, _)| k.as_str() != "ALLOW_INSECURE_PROVIDER_URLS")
        .map(|(k, v)| {
            let v = match v.strip_prefix(emulator) {
                Some(rest) => format!("{emulator_front}{rest}"),
                None => v.clone(),
            };
            (k.clone(), v)
        })
        .collect();
    tls.insert("AWS_ENDPOINT_URL_DYNAMODB".into(), dynamodb_front.to_string());
    let ca = ca_file.display().to_string();
    tls.insert(shared::net::tls::EXTRA_TRUST_ROOTS_VAR.into(), ca.clone());
    tls.insert("NODE_EXTRA_CA_CERTS".into(), ca);
    tls
}

/// One binary under `lambda_bench.py` in one setting.
struct Run<'a> {
    bench: &'a Path,
    binary: &'a Path,
    env: &'a [String],
    memory: Option<u32>,
}

impl Run<'_> {
    fn measure(&self, event: &Path, warm: u32, repeat: u32) -> Result<Vec<Value>, BenchError> {
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
fn status_of(run: &Value) -> String {
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

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// `Globals.Function.MemorySize` of the template, through its parameter default.
fn template_memory(root: &Path) -> Result<f64, BenchError> {
    let text = std::fs::read_to_string(root.join("template.yaml")).map_err(|e| step("template.yaml")(e.to_string()))?;
    // CloudFormation tags (!Ref) are not YAML serde_yaml knows; the default is what we need.
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&text.replace("!Ref ", "")).map_err(|e| step("template.yaml")(e.to_string()))?;
    let memory = &doc["Globals"]["Function"]["MemorySize"];
    let value = match memory.as_str() {
        Some(param) => doc["Parameters"][param]["Default"].as_f64(),
        None => memory.as_f64(),
    };
    value.ok_or_else(|| step("template.yaml")("no MemorySize".into()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_settings_are_full_cpu_first_and_plain_before_tls() {
        let all = Options::parse(&[]).expect("options");
        let labels: Vec<String> = all.settings().iter().map(Setting::label).collect();
        assert_eq!(
            labels,
            [
                "full CPU, plain HTTP",
                "full CPU, TLS",
                "128 MB CPU share, plain HTTP",
                "128 MB CPU share, TLS",
                "full CPU, plain HTTP, MRSC table",
                "128 MB CPU share, TLS, MRSC table"
            ]
        );
        let plain = Options::parse(&["--no-tls".into(), "--no-128".into(), "--no-mrsc".into()]).expect("options");
        assert_eq!(plain.settings(), [Setting::default()]);
        let mrsc = Setting { table: TableMode::Mrsc, ..Setting::default() };
        let no_tls = Options::parse(&["--no-tls".into()]).expect("options");
        assert_eq!(no_tls.settings().last(), Some(&mrsc), "MRSC at full CPU, plain HTTP only: {:?}", no_tls.settings());
        assert!(no_tls.runs_in("me", mrsc) && !no_tls.runs_in(FLOOR, mrsc) && !no_tls.runs_in(PEER, mrsc));
        assert!(Options::parse(&["--no-mrsc".into(), "--out".into(), "x.md".into()]).is_err());
        assert!(Options::parse(&["--only".into(), "me".into(), "--out".into(), "x.md".into()]).is_err());
    }

    #[test]
    fn only_keeps_the_floors_and_the_peer_beside_facebook_login() {
        let o = Options::parse(&["--only".into(), "facebook-login".into()]).expect("options");
        assert!(o.wants("facebook-login") && o.wants(FLOOR) && o.wants(SDK_FLOOR) && o.wants(PEER));
        assert!(!o.wants("me"));
        let me = Options::parse(&["--only".into(), "me".into()]).expect("options");
        assert!(!me.wants(PEER) && me.wants("me"));
    }

    #[test]
    fn over_tls_every_endpoint_is_https_and_nothing_insecure_is_allowed() {
        let vars: BTreeMap<String, String> = [
            ("ALLOW_INSECURE_PROVIDER_URLS", "true"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9"),
            ("FACEBOOK_GRAPH_URL", "http://127.0.0.1:7"),
            ("GOOGLE_JWKS_URL", "http://127.0.0.1:7/google/oauth2/v3/certs"),
            ("TABLE_NAME", "t"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let tls =
            over_tls(&vars, "http://127.0.0.1:7", "https://localhost:8", "https://localhost:10", Path::new("/ca.pem"));
        assert!(!tls.contains_key("ALLOW_INSECURE_PROVIDER_URLS"));
        assert_eq!(tls["FACEBOOK_GRAPH_URL"], "https://localhost:8");
        assert_eq!(tls["GOOGLE_JWKS_URL"], "https://localhost:8/google/oauth2/v3/certs");
        assert_eq!(tls["AWS_ENDPOINT_URL_DYNAMODB"], "https://localhost:10");
        assert_eq!(tls[shared::net::tls::EXTRA_TRUST_ROOTS_VAR], "/ca.pem");
        assert_eq!(tls["NODE_EXTRA_CA_CERTS"], "/ca.pem");
        assert_eq!(tls["TABLE_NAME"], "t");
    }

    #[test]
    fn statuses_are_read_from_a_truncated_answer() {
        let run = json!({ "first_body": "{\"statusCode\":200,\"headers\":{\"content-type\":\"appl" });
        assert_eq!(status_of(&run), "200");
        assert_eq!(status_of(&json!({ "first_body": "{\"isAuthorized\":true,\"context\":{" })), "allow");
    }
}

//! The benchmark run: build, start the dependencies, prepare real events (`cases`), measure,
//! report (`report`). The functions are the template's (`template.yaml` is the one list).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use local_stack::counting_proxy::DynamoCall;
use local_stack::demo::{self, FACEBOOK_APP_ID};
use local_stack::dynamodb_local::repo_root;
use local_stack::mrsc_proxy::{MrscProxy, MrscSettings, RegionCounts};
use local_stack::regions::REGION_NAMES;
use local_stack::tls_front::{TestCa, TlsFront};
use local_stack::Template;
use shared::App;

use crate::builds;
use crate::cases::{Case, Event, Events, RunEvents};
use crate::options::{Options, Setting, TableMode, FLOOR, PEER, SDK_FLOOR};
use crate::peer;
use crate::report::{report, splice};
use crate::runner::{median, status_of, Run};
use crate::stack::Stack;

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
            row.replication = replication.zip(replicated).map(|(p, before)| p.counts(MRSC_REGION).since(before));
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
    use super::*;

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
}

//! The benchmark run: build, start the dependencies, prepare real events, measure, report.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use emulator::Emulator;
use local_stack::budget;
use local_stack::counting_proxy::{CountingProxy, DynamoCall};
use local_stack::demo::{self, Apps, FACEBOOK_APP_ID};
use local_stack::dynamodb_local::{repo_root, DynamoDbLocal};
use local_stack::{Handler, Template};
use serde_json::{json, Value};
use shared::App;

use crate::prices;

/// The functions as the template ships them (package = binary name).
const FUNCTIONS: [&str; 16] = [
    "facebook-login",
    "google-login",
    "twitter-login",
    "linkedin-login",
    "apple-login",
    "github-login",
    "login",
    "me",
    "avatar",
    "logout",
    "remove-other-tokens",
    "current-user",
    "reset-key",
    "syncano-fallback",
    "rocketchat-authorizer",
    "syncano-authorizer",
];
const FLOOR: &str = "floor";
/// The table the benchmark creates in its DynamoDB Local.
const TABLE: &str = "social-login-bench";

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

    #[test]
    fn statuses_are_read_from_a_truncated_answer() {
        let run = json!({ "first_body": "{\"statusCode\":200,\"headers\":{\"content-type\":\"appl" });
        assert_eq!(status_of(&run), "200");
        assert_eq!(status_of(&json!({ "first_body": "{\"isAuthorized\":true,\"context\":{" })), "allow");
    }

    #[test]
    fn first_login_names_are_distinct_letters() {
        assert_eq!([letters(0), letters(25), letters(26), letters(27)], ["a", "z", "ba", "bb"]);
        let names: std::collections::HashSet<String> = (0..2000).map(letters).collect();
        assert_eq!(names.len(), 2000);
        assert!(names.iter().all(|n| n.bytes().all(|b| b.is_ascii_lowercase())));
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Usage(String),
    #[error("{what}: {why}")]
    Step { what: String, why: String },
}

fn step(what: impl Into<String>) -> impl FnOnce(String) -> BenchError {
    let what = what.into();
    move |why| BenchError::Step { what, why }
}

pub struct Options {
    warm: u32,
    repeat: u32,
    arm64: bool,
    out: Option<PathBuf>,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Options, BenchError> {
        let mut o = Options { warm: 100, repeat: 5, arm64: true, out: None };
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
                other => return Err(BenchError::Usage(format!("unknown option {other:?}"))),
            }
        }
        Ok(o)
    }
}

/// What one row measured (medians over the runs).
#[derive(Debug, Default, Clone)]
struct Row {
    function: String,
    case: String,
    statuses: Vec<String>,
    init_ms: f64,
    first_ms: f64,
    warm_p50_ms: Option<f64>,
    warm_p99_ms: Option<f64>,
    rss_mib: f64,
    binary_bytes: u64,
    zip_bytes: Option<u64>,
    invocations: u64,
    dynamo: Vec<DynamoCall>,
    provider_requests: u64,
}

impl Row {
    fn per_invoke(&self) -> (f64, f64, f64, f64) {
        let n = self.invocations.max(1) as f64;
        let (r, w) = self.dynamo.iter().map(DynamoCall::request_units).fold((0.0, 0.0), |a, u| (a.0 + u.0, a.1 + u.1));
        (self.dynamo.len() as f64 / n, self.provider_requests as f64 / n, r / n, w / n)
    }
}

pub async fn run(o: Options) -> Result<(), BenchError> {
    let root = repo_root();
    let target = target_dir(&root)?;
    eprintln!("== building {} functions and the floor (release, host)", FUNCTIONS.len());
    // As the functions ship (.cargo/config.toml): non-PIE, which needs an explicit `--target`
    // so that host proc-macros stay position-independent.
    let host = host_triple()?;
    let mut build = vec!["build", "--release", "--target", host.as_str(), "--package", FLOOR];
    for f in FUNCTIONS {
        build.extend(["--package", f]);
    }
    run_command(
        Command::new("cargo")
            .args(&build)
            .env(
                format!("CARGO_TARGET_{}_RUSTFLAGS", host.to_uppercase().replace(['-', '.'], "_")),
                "-C relocation-model=static",
            )
            .current_dir(&root),
        "cargo build --release",
    )?;
    let zips = if o.arm64 { arm64_zips(&root, &target)? } else { HashMap::new() };

    eprintln!("== starting DynamoDB Local, the counting proxy and the provider emulator");
    let dynamodb = DynamoDbLocal::start(0).await.map_err(|e| step("DynamoDB Local")(e.to_string()))?;
    let proxy = CountingProxy::start(dynamodb.endpoint()).await.map_err(|e| step("counting proxy")(e.to_string()))?;
    let template = Template::load(root.join("template.yaml")).map_err(|e| step("template.yaml")(e.to_string()))?;
    template.table().create(&dynamodb.client(), TABLE).await.map_err(|e| step("create table")(e.to_string()))?;
    let apps = Apps::random();
    let emulator = Emulator::new(apps.emulator_config());
    let graph = emulator.spawn(0).await.map_err(|e| step("emulator")(e.to_string()))?;
    let vars: BTreeMap<String, String> = [
        ("TABLE_NAME", TABLE.to_string()),
        ("PUBLIC_BASE_URL", "https://api.example.com".to_string()),
        ("DEFAULT_INSTANCE", demo::DEMO_INSTANCE.to_string()),
        ("AWS_ENDPOINT_URL_DYNAMODB", proxy.endpoint().to_string()),
        ("RUST_LOG", "info".to_string()),
    ]
    .into_iter()
    .chain(apps.provider_vars(&graph))
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let app =
        Arc::new(App::from_vars(&vars.clone().into_iter().collect()).await.map_err(|e| step("app")(e.to_string()))?);
    demo::seed(&app, &emulator, FACEBOOK_APP_ID, 24 * 3600).await.map_err(|e| step("seed")(e.to_string()))?;
    let handlers = local_stack::function_handlers(app.clone());
    let scratch = target.join("bench-events");
    std::fs::create_dir_all(&scratch).map_err(|e| step("scratch dir")(e.to_string()))?;
    let events = Events { root: root.clone(), scratch, handlers, emulator: &emulator, people: Default::default() };
    let cases = events.prepare().await?;
    proxy.take();

    let bench = root.join("../shared/bench/lambda_bench.py");
    let env: Vec<String> = vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut rows = Vec::new();
    for case in &cases {
        eprintln!("== {} ({})", case.function, case.name);
        let binary = target.join(&host).join("release").join(case.function);
        let mut row = Row {
            function: case.function.to_string(),
            case: case.name.to_string(),
            binary_bytes: file_size(&binary)?,
            zip_bytes: zips.get(case.function).copied(),
            ..Row::default()
        };
        let mut runs = Vec::new();
        proxy.take();
        let asked = emulator.request_count();
        if case.first_login {
            // A fresh person per run, so every cold invoke is a first login (and nothing else runs).
            for _ in 0..o.repeat {
                let event = events.first_login(case.function)?;
                runs.extend(lambda_bench(&bench, &binary, &event, 0, 1, &env)?);
            }
            row.invocations = u64::from(o.repeat);
        } else {
            runs = lambda_bench(&bench, &binary, &case.event, o.warm, o.repeat, &env)?;
            row.invocations = u64::from(o.repeat) * (1 + u64::from(o.warm));
        }
        row.dynamo = proxy.take();
        row.provider_requests = emulator.request_count() - asked;
        row.statuses = runs.iter().map(status_of).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        let median = |key: &str| median(runs.iter().filter_map(|r| r[key].as_f64()).collect());
        row.init_ms = median("init_ms").unwrap_or(f64::NAN);
        row.first_ms = median("first_ms").unwrap_or(f64::NAN);
        row.warm_p50_ms = median("warm_p50_ms");
        row.warm_p99_ms = median("warm_p99_ms");
        row.rss_mib = median("peak_rss_mib").unwrap_or(f64::NAN);
        rows.push(row);
    }
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

/// One benchmark case: a function and the event it is measured with.
struct Case {
    function: &'static str,
    name: &'static str,
    event: PathBuf,
    first_login: bool,
}

struct Events<'a> {
    root: PathBuf,
    scratch: PathBuf,
    handlers: HashMap<String, Handler>,
    emulator: &'a Emulator,
    /// People created for first logins so far (each gets a name of its own).
    people: std::sync::atomic::AtomicU32,
}

impl Events<'_> {
    fn sample(&self, path: &str) -> Result<Value, BenchError> {
        let text = std::fs::read_to_string(self.root.join(path)).map_err(|e| step(path)(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| step(path)(e.to_string()))
    }

    /// The sample at `path` with a Rocket.Chat session's headers.
    fn with_session(&self, path: &str, token: &Value, user_id: &Value) -> Result<Value, BenchError> {
        let mut event = self.sample(path)?;
        event["headers"]["x-auth-token"] = token.clone();
        event["headers"]["x-user-id"] = user_id.clone();
        Ok(event)
    }

    fn write(&self, name: &str, event: &Value) -> Result<PathBuf, BenchError> {
        let path = self.scratch.join(format!("{name}.json"));
        std::fs::write(&path, event.to_string()).map_err(|e| step(name)(e.to_string()))?;
        Ok(path)
    }

    /// Runs `event` through `function` in process; returns its status and JSON body.
    async fn invoke(&self, function: &str, event: &Value) -> Result<(u16, Value), BenchError> {
        let handler = self.handlers.get(function).ok_or_else(|| step(function)("no such function".into()))?;
        let req = lambda_http::request::from_str(&event.to_string()).map_err(|e| step(function)(e.to_string()))?;
        let resp = handler(req).await;
        Ok((resp.status().as_u16(), serde_json::from_slice(resp.body()).unwrap_or_default()))
    }

    /// The events of every case; the sample users log in once first, so the measured logins
    /// are returning ones, and the session and user key the follow-up functions need exist.
    async fn prepare(&self) -> Result<Vec<Case>, BenchError> {
        let mut cases = vec![Case {
            function: FLOOR,
            name: "any event",
            event: self.root.join("events/facebook-login/200-success.json"),
            first_login: false,
        }];
        for function in &FUNCTIONS[..7] {
            let path = format!("events/{function}/200-success.json");
            let (status, body) = self.invoke(function, &self.sample(&path)?).await?;
            if status != 200 {
                return Err(step(format!("{function}: first login of the sample user"))(body.to_string()));
            }
            cases.push(Case { function, name: "returning user", event: self.root.join(&path), first_login: false });
            if matches!(*function, "facebook-login" | "login") {
                cases.push(Case { function, name: "first login", event: PathBuf::new(), first_login: true });
            }
        }
        let (_, rc) = self.invoke("login", &self.sample("events/login/200-success.json")?).await?;
        let (token, rc_user) = (rc["data"]["authToken"].clone(), rc["data"]["userId"].clone());
        let me = self.with_session("events/me/401-unknown-session.json", &token, &rc_user)?;
        let me_path = self.write("me", &me)?;
        cases.push(Case { function: "me", name: "live session", event: me_path, first_login: false });
        let (_, other) = self.invoke("login", &self.sample("events/login/200-success.json")?).await?;
        let logout =
            self.with_session("events/logout/401-unknown-session.json", &other["data"]["authToken"], &rc_user)?;
        let logout_path = self.write("logout", &logout)?;
        cases.push(Case { function: "logout", name: "cold: live session", event: logout_path, first_login: false });

        let (_, user) = self.invoke("facebook-login", &self.sample("events/facebook-login/200-success.json")?).await?;
        let mut current = self.sample("events/current-user/403-wrong-user-key.json")?;
        current["headers"]["x-user-key"] = user["user_key"].clone();
        let current_path = self.write("current-user", &current)?;
        cases.push(Case { function: "current-user", name: "valid user key", event: current_path, first_login: false });
        let id = user["id"].to_string();
        let mut reset = self.sample("events/reset-key/404-unknown-user.json")?;
        let raw_path = format!("/v1.1/instances/{}/users/{id}/reset_key/", demo::DEMO_INSTANCE);
        reset["pathParameters"]["id"] = json!(id);
        reset["rawPath"] = json!(raw_path);
        reset["requestContext"]["http"]["path"] = json!(raw_path);
        let reset_path = self.write("reset-key", &reset)?;
        cases.push(Case { function: "reset-key", name: "existing user", event: reset_path, first_login: false });
        cases.push(Case {
            function: "syncano-fallback",
            name: "wrong method",
            event: self.root.join("events/syncano-fallback/405-wrong-method.json"),
            first_login: false,
        });

        let mut allow =
            self.with_session("events/rocketchat-authorizer/deny-unknown-session.json", &token, &rc_user)?;
        allow["identitySource"] = json!([token, rc_user]);
        let allow_path = self.write("rocketchat-authorizer", &allow)?;
        cases.push(Case {
            function: "rocketchat-authorizer",
            name: "live session",
            event: allow_path,
            first_login: false,
        });
        Ok(cases)
    }

    /// A first-login event of `function` for a person the emulator has just created.
    fn first_login(&self, function: &str) -> Result<PathBuf, BenchError> {
        // A name of its own, so the username is free and the login is one transaction.
        let n = self.people.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let person = self.emulator.create_facebook_user(&format!("Bench {}", letters(n)), None);
        let token = format!("EAABench{}", &person);
        self.emulator.register_facebook_token(&person, FACEBOOK_APP_ID, &token, 3600);
        let (path, field) = match function {
            "login" => ("events/login/200-success.json", "accessToken"),
            _ => ("events/facebook-login/200-success.json", "access_token"),
        };
        let mut event = self.sample(path)?;
        let mut body: Value = serde_json::from_str(event["body"].as_str().unwrap_or("{}")).unwrap_or_default();
        body[field] = json!(token);
        event["body"] = json!(body.to_string());
        self.write(&format!("{function}-first"), &event)
    }
}

/// `n` in letters, base 26 (a username keeps letters; digits would read as a suffix): a, b, …,
/// z, ba, bb, …
fn letters(mut n: u32) -> String {
    let mut out = vec![b'a' + (n % 26) as u8];
    while n >= 26 {
        n /= 26;
        out.push(b'a' + (n % 26) as u8);
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs `lambda_bench.py`; returns its per-run JSON lines.
fn lambda_bench(
    bench: &Path,
    binary: &Path,
    event: &Path,
    warm: u32,
    repeat: u32,
    env: &[String],
) -> Result<Vec<Value>, BenchError> {
    let mut cmd = Command::new("python3");
    cmd.arg(bench).arg(binary).arg(event).args(["--warm", &warm.to_string(), "--repeat", &repeat.to_string()]);
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

fn run_command(cmd: &mut Command, what: &str) -> Result<(), BenchError> {
    let status = cmd.status().map_err(|e| step(what)(e.to_string()))?;
    if status.success() {
        Ok(())
    } else {
        Err(step(what)(format!("exited with {status}")))
    }
}

fn file_size(path: &Path) -> Result<u64, BenchError> {
    std::fs::metadata(path).map(|m| m.len()).map_err(|e| step(path.display().to_string())(e.to_string()))
}

fn target_dir(root: &Path) -> Result<PathBuf, BenchError> {
    let out = Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .map_err(|e| step("cargo metadata")(e.to_string()))?;
    let meta: Value = serde_json::from_slice(&out.stdout).map_err(|e| step("cargo metadata")(e.to_string()))?;
    meta["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| step("cargo metadata")("no target_directory".into()))
}

/// Builds every function and the floor for arm64 with cargo-lambda, zipped as Lambda takes them;
/// returns the zip sizes by binary.
fn arm64_zips(root: &Path, target: &Path) -> Result<HashMap<&'static str, u64>, BenchError> {
    let venv = root.join(".local/venv/bin/cargo-lambda");
    let cargo_lambda = if venv.exists() { venv } else { PathBuf::from("cargo-lambda") };
    eprintln!("== building the arm64 zips ({})", cargo_lambda.display());
    let dir = target.join("bench-lambda");
    let mut cmd = Command::new(&cargo_lambda);
    cmd.args(["lambda", "build", "--release", "--arm64", "--output-format", "zip", "--lambda-dir"])
        .arg(&dir)
        .current_dir(root);
    // cargo-lambda runs zig from the venv's ziglang package.
    if let Some(bin) = cargo_lambda.parent() {
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env("PATH", format!("{}:{path}", bin.display()));
    }
    for f in std::iter::once(FLOOR).chain(FUNCTIONS) {
        cmd.args(["--package", f]);
    }
    run_command(&mut cmd, "cargo lambda build --arm64")?;
    std::iter::once(FLOOR).chain(FUNCTIONS).map(|f| Ok((f, file_size(&dir.join(f).join("bootstrap.zip"))?))).collect()
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

/// The host's target triple, from `rustc -vV`.
fn host_triple() -> Result<String, BenchError> {
    let out = Command::new("rustc").arg("-vV").output().map_err(|e| step("rustc -vV")(e.to_string()))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .ok_or_else(|| step("rustc -vV")("no host line".into()))
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

fn report(rows: &[Row], memory_mb: f64, o: &Options) -> Result<String, BenchError> {
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
        "\nBudget: returning login ≤ {} DynamoDB requests and ≤ {} provider round trip (0 for an ID token whose key is cached); first login ≤ {} DynamoDB requests. `tools/local/tests/api/budget.rs` fails if a change exceeds it.",
        budget::RETURNING_DYNAMODB_MAX,
        budget::RETURNING_PROVIDER_MAX,
        budget::FIRST_DYNAMODB_MAX
    );

    let _ = writeln!(w, "\n### Budget check\n");
    for r in rows.iter().filter(|r| r.function != FLOOR) {
        let mut notes = Vec::new();
        let login = FUNCTIONS[..7].contains(&r.function.as_str());
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
    let init =
        rows.iter().filter(|r| FUNCTIONS[..7].contains(&r.function.as_str())).map(|r| r.init_ms).fold(0.0, f64::max);
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
fn splice(old: &str, report: &str) -> String {
    match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if b < e => format!("{}{BEGIN}\n{report}\n{}", &old[..b], &old[e..]),
        _ => format!("{BEGIN}\n{report}\n{END}\n{old}"),
    }
}

fn check(what: &str, ok: bool) -> String {
    format!("{what} {}", if ok { "✓" } else { "✗" })
}

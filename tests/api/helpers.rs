//! `spawn_app`: a fresh world per test — its own table (created from template.yaml) in DynamoDB
//! Local, its own provider emulator, and the local gateway on a free loopback port.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, Once};

use aws_sdk_dynamodb::types::AttributeValue;
use emulator::Emulator;
use local_stack::demo::Apps;
use local_stack::dynamodb_local::repo_root;
use local_stack::Template;
use rand::distr::{Alphanumeric, SampleString};
use shared::App;

pub use local_stack::demo::DEMO_INSTANCE as INSTANCE;
pub use local_stack::demo::{
    DEMO_ADMIN_API_KEY as ADMIN_API_KEY, DEMO_API_KEY as EVENT_API_KEY, DEMO_FACEBOOK_TOKEN as EVENT_TOKEN,
};
pub use local_stack::demo::{FACEBOOK_APP_ID as APP_ID, OTHER_FACEBOOK_APP_ID as OTHER_APP_ID};
pub const PROVIDER_TIMEOUT_MS: u64 = 800;
/// The floor the configuration allows: the rotation test waits it out.
pub const JWKS_MIN_REFETCH_MS: u64 = shared::config::MIN_JWKS_MIN_REFETCH_MS;

pub type Item = HashMap<String, AttributeValue>;

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub emulator: Emulator,
    pub app: Arc<App>,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub table: String,
    pub api_key: String,
    /// The function configuration the app was built from.
    pub vars: HashMap<String, String>,
    /// The requests the enforcing proxy refused for a function's IAM policy (`least_privilege.rs`):
    /// a test that ends with one fails, since every function must be allowed all it does.
    pub denials: Arc<Mutex<Vec<local_stack::iam::Denied>>>,
    /// The secrets of the emulator's apps for this run (ours and the others).
    pub apps: Apps,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let denials = std::mem::take(&mut *self.denials.lock().unwrap_or_else(|e| e.into_inner()));
        if !denials.is_empty() && !std::thread::panicking() {
            panic!("a function's IAM policy (template.yaml) refused what it did: {denials:?}");
        }
    }
}

/// Each function's policies of template.yaml, as the enforcing proxy applies them.
pub fn policies() -> Arc<local_stack::iam::Policies> {
    static POLICIES: std::sync::OnceLock<Arc<local_stack::iam::Policies>> = std::sync::OnceLock::new();
    POLICIES
        .get_or_init(|| {
            Arc::new(local_stack::iam::Policies::load(repo_root().join("template.yaml")).expect("template policies"))
        })
        .clone()
}

/// A proxy before DynamoDB Local that enforces each function's IAM policy (and counts).
pub async fn enforcing_proxy() -> local_stack::counting_proxy::CountingProxy {
    let upstream = local_stack::dynamodb_local::endpoint_for_tests();
    local_stack::counting_proxy::CountingProxy::start_enforcing(upstream, policies()).await.expect("proxy")
}

fn random(n: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), n)
}

/// All log lines of the test binary, captured at DEBUG for every crate.
pub static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(crate) fn capture_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        tracing_subscriber::fmt()
            .event_format(shared::domain::logging::JsonLines)
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_writer(|| LogWriter)
            .init();
    });
}

/// Every secret any test used: tokens, app secrets, API keys, authTokens, user keys.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

pub fn remember(secret: &str) {
    if !secret.is_empty() {
        SECRETS.lock().unwrap_or_else(|e| e.into_inner()).push(secret.to_string());
    }
}

/// The log lines, parsed, of the request API Gateway numbered `request_id`.
pub fn request_lines(request_id: &str) -> Vec<serde_json::Value> {
    logs()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["api_request_id"] == request_id)
        .collect()
}

pub fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// For the 100-way races, the replay and the soak: a loaded 2-core machine (a debug build, a
/// cold DynamoDB Local sharing the cores) must not turn slow answers into timeouts. The timeouts
/// themselves are tested elsewhere (`faults.rs`, `providers.rs`).
pub fn slow_machine(vars: &mut HashMap<String, String>) {
    vars.insert("PROVIDER_TIMEOUT_MS".into(), "10000".into());
    vars.insert("DYNAMODB_ATTEMPT_TIMEOUT_MS".into(), "10000".into());
    vars.insert("DYNAMODB_TIMEOUT_MS".into(), "30000".into());
}

/// For tests that change an instance's settings or keys between requests and test what the
/// change does, not when it is seen: each execution environment keeps API key checks and
/// instance settings for `API_KEY_CACHE_SECS` (tested in `key_cache.rs`); 0 reads them in
/// every request.
pub fn no_access_cache(vars: &mut HashMap<String, String>) {
    vars.insert("API_KEY_CACHE_SECS".into(), "0".into());
}

/// A test app whose DynamoDB requests go through a counting (and fault-injecting) proxy.
pub async fn spawn_app_behind_proxy() -> (TestApp, local_stack::counting_proxy::CountingProxy) {
    let proxy = enforcing_proxy().await;
    let t = spawn_app_on(&proxy, |_| {}).await;
    proxy.take();
    (t, proxy)
}

/// Like [`spawn_app`], with a chance to change the function configuration first.
///
/// The functions reach DynamoDB Local through [`enforcing_proxy`], each signing as itself
/// (`local_stack::iam`), so every test also checks that each function's IAM policy allows what
/// it does; the test's own client (`dynamo`, `app` used directly) is the operator's, unrestricted.
pub async fn spawn_app_with(customize: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    let proxy = enforcing_proxy().await;
    spawn_app_on(&proxy, customize).await
}

/// [`spawn_app_with`] with the functions' DynamoDB endpoint at `proxy`.
async fn spawn_app_on(
    proxy: &local_stack::counting_proxy::CountingProxy,
    customize: impl FnOnce(&mut HashMap<String, String>),
) -> TestApp {
    capture_logs();
    let endpoint = local_stack::dynamodb_local::endpoint_for_tests();
    let apps = Apps::random();
    let emulator = Emulator::new(apps.emulator_config());
    let graph = emulator.spawn(0).await.expect("emulator");

    let table = format!("test-{}", random(12));
    let template = Template::load(repo_root().join("template.yaml")).expect("template.yaml");
    let dynamo = local_stack::dynamodb_local::client(endpoint);
    template.table().create(&dynamo, &table).await.expect("create table from template.yaml");

    let mut vars = apps.stack_vars(&table, "http://127.0.0.1:3000", proxy.endpoint(), &graph);
    vars.insert("PROVIDER_TIMEOUT_MS".into(), PROVIDER_TIMEOUT_MS.to_string());
    vars.insert("JWKS_MIN_REFETCH_MS".into(), JWKS_MIN_REFETCH_MS.to_string());
    customize(&mut vars);
    let mut app = App::from_vars(&vars).await.expect("app config");
    // Each function's requests signed as that function (the gateway runs each as itself).
    let client = local_stack::iam::with_function_credentials(app.store.client());
    app.store = shared::store::UserStore::new(client, table.clone()).with_user_id_block(app.config.user_id_block);
    let app = Arc::new(app);

    local_stack::demo::seed(&app, &emulator, APP_ID, 3600).await.expect("demo instance, key and user");

    let base = serve_app(app.clone()).await;

    for s in apps.secrets().into_iter().chain([EVENT_API_KEY, ADMIN_API_KEY, EVENT_TOKEN]) {
        remember(s);
    }
    TestApp {
        base,
        http: reqwest::Client::new(),
        emulator,
        app,
        dynamo,
        table,
        api_key: EVENT_API_KEY.to_string(),
        vars,
        denials: proxy.denial_log(),
        apps,
    }
}

/// Routes of an app's own behind each authorizer (local only: not deployed).
pub use local_stack::gateway::{syncano_only, ROCKETCHAT_ONLY};

/// Serves `app` (on this test's table and emulator) through a gateway of its own; its base URL.
pub async fn serve_app(app: Arc<App>) -> String {
    let template = Template::load(repo_root().join("template.yaml")).expect("template.yaml");
    let gateway =
        local_stack::gateway::for_template_with(&template, app, local_stack::gateway::probe_routes()).expect("gateway");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(local_stack::gateway::serve(listener, gateway, std::future::pending()));
    base
}

impl TestApp {
    /// Another execution environment of the functions on this test's table, as another Lambda
    /// environment (or another function) is: its own `App` from the same settings, nothing kept
    /// in memory yet (no cached key check, instance settings or provider apps, no block of user
    /// ids), each function signing as itself.
    pub async fn new_environment(&self) -> App {
        let mut app = App::from_vars(&self.vars).await.expect("app config");
        let client = local_stack::iam::with_function_credentials(app.store.client());
        app.store =
            shared::store::UserStore::new(client, self.table.clone()).with_user_id_block(app.config.user_id_block);
        app
    }

    /// [`TestApp::new_environment`] behind a gateway of its own: its base URL.
    pub async fn new_environment_gateway(&self) -> String {
        serve_app(Arc::new(self.new_environment().await)).await
    }

    pub fn remember(&self, secret: &str) {
        remember(secret);
    }

    /// A Facebook person and a fresh token of our app for them.
    pub fn facebook_user(&self, name: &str, email: Option<&str>) -> (String, String) {
        let person = self.emulator.create_facebook_user(name, email);
        let token = self.token(&person, APP_ID, 3600);
        (person, token)
    }

    pub fn token(&self, person: &str, app_id: &str, ttl: i64) -> String {
        let token = self.emulator.issue_facebook_token(person, app_id, ttl);
        self.remember(&token);
        token
    }

    pub fn syncano_url(&self, instance: &str) -> String {
        format!("{}/v1.1/instances/{instance}/user/auth/facebook/", self.base)
    }

    pub async fn syncano_login(&self, token: &str) -> reqwest::Response {
        self.http
            .post(self.syncano_url(INSTANCE))
            .header("x-api-key", &self.api_key)
            .json(&serde_json::json!({ "access_token": token }))
            .send()
            .await
            .expect("request")
    }

    /// Syncano login at `backend` with `body`; returns (status, JSON).
    pub async fn syncano_at(&self, backend: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.syncano_in(INSTANCE, &self.api_key, backend, body).await
    }

    /// Syncano login in `instance` with its `api_key`, at `backend` with `body`.
    pub async fn syncano_in(
        &self,
        instance: &str,
        api_key: &str,
        backend: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let resp = self
            .http
            .post(format!("{}/v1.1/instances/{instance}/user/auth/{backend}/", self.base))
            .header("x-api-key", api_key)
            .json(&body)
            .send()
            .await
            .expect("request");
        json(resp).await
    }

    /// Another instance, open to sign-ups, and an app's API key of it (which creates users).
    pub async fn open_instance(&self, name: &str) -> String {
        let instance = shared::InstanceName::parse(name).expect("valid");
        let store = &self.app.store;
        store.create_instance_with(&instance, shared::domain::records::SignUpPolicy::Open).await.expect("instance");
        let permissions = shared::domain::records::ApiKeyPermissions { ignore_acl: false, allow_user_create: true };
        let (_, key) = store.create_api_key(&instance, permissions).await.expect("key");
        self.remember(key.expose());
        key.expose().to_string()
    }

    pub async fn rocketchat_login(&self, token: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/api/v1/login", self.base))
            .json(&serde_json::json!({ "serviceName": "facebook", "accessToken": token, "secret": "client-secret", "expiresIn": 3600 }))
            .send()
            .await
            .expect("request")
    }

    /// The status of `GET /api/v1/me` with a session (its token, its user id).
    pub async fn me_status(&self, session: &(String, String)) -> u16 {
        self.me(&session.0, &session.1).await.status().as_u16()
    }

    /// The status of Syncano's `GET user/` with the client API key and `user_key`.
    pub async fn user_key_status(&self, user_key: &str) -> u16 {
        self.user_key_status_in(INSTANCE, &self.api_key, user_key).await
    }

    /// The status of Syncano's `GET user/` in `instance` with its `api_key` and `user_key`.
    pub async fn user_key_status_in(&self, instance: &str, api_key: &str, user_key: &str) -> u16 {
        let req = self
            .http
            .get(format!("{}/v1.1/instances/{instance}/user/", self.base))
            .header("x-api-key", api_key)
            .header("x-user-key", user_key);
        req.send().await.expect("request").status().as_u16()
    }

    /// The reasons of the instance's deletion audit items.
    pub async fn audit_reasons(&self) -> Vec<String> {
        let shards = format!("AUDIT#{INSTANCE}#");
        self.scan()
            .await
            .into_iter()
            .filter(|i| i.get("pk").and_then(|v| v.as_s().ok()).is_some_and(|pk| pk.starts_with(&shards)))
            .filter_map(|i| i.get("reason").and_then(|v| v.as_s().ok()).cloned())
            .collect()
    }

    /// `GET /api/v1/me` with a session's headers.
    pub async fn me(&self, auth: &str, user_id: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/api/v1/me", self.base))
            .header("x-auth-token", auth)
            .header("x-user-id", user_id)
            .send()
            .await
            .expect("me")
    }

    pub async fn scan(&self) -> Vec<Item> {
        scan_table(&self.dynamo, &self.table).await
    }

    /// How many items have a `pk` starting with `prefix`.
    pub async fn count(&self, prefix: &str) -> usize {
        count_prefix(&self.scan().await, prefix)
    }

    /// Users, identities, usernames and sessions: the login writes.
    pub async fn login_writes(&self) -> [usize; 4] {
        [
            self.count("USER#").await,
            self.count("IDENT#").await,
            self.count("UNAME#").await,
            self.count("SESSION#").await,
        ]
    }

    /// Fails if any secret that any test of this binary used so far appears in any log line
    /// captured so far: the last test to finish checks the whole suite's logs.
    pub fn assert_logs_clean(&self) {
        let logs = logs();
        assert!(logs.contains("request"), "the log capture saw no request line at all");
        // All secrets in one pass over the logs (the suite remembers thousands).
        let secrets = SECRETS.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let matcher = aho_corasick::AhoCorasick::new(&secrets).expect("secret matcher");
        if let Some(m) = matcher.find(&logs) {
            let s = &secrets[m.pattern().as_usize()];
            panic!("a secret ({}…) appears in the logs", &s[..6.min(s.len())]);
        }
    }
}

/// Rocket.Chat's answer to an `authRequired` route without valid credentials, every key of it:
/// `unauthorized('You must be logged in to do this.')` plus the old API's `status` and
/// `message` (apps/meteor/app/api/server/ApiClass.ts).
pub fn rc_not_logged_in() -> serde_json::Value {
    serde_json::json!({
        "success": false,
        "status": "error",
        "error": "You must be logged in to do this.",
        "message": "You must be logged in to do this."
    })
}

/// Rocket.Chat's answer to a refused login: every Meteor.Error of a login handler becomes `User
/// not found` (apps/meteor/app/lib/server/lib/loginErrorMessageOverride.ts), which the login
/// route answers as `Unauthorized` (ApiClass.ts).
pub fn rc_login_unauthorized() -> serde_json::Value {
    serde_json::json!({"success": false, "status": "error", "error": "Unauthorized", "message": "Unauthorized"})
}

pub async fn json(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let body = resp.text().await.expect("body");
    let value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON ({status}): {body}"));
    (status, value)
}

/// The whole table `table`, read strongly consistent by the operator's client.
pub async fn scan_table(dynamo: &aws_sdk_dynamodb::Client, table: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = dynamo
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        items.extend(out.items.unwrap_or_default());
        start = out.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

/// How many of `items` have a `pk` starting with `prefix`.
pub fn count_prefix(items: &[Item], prefix: &str) -> usize {
    items.iter().filter(|i| matches!(i.get("pk"), Some(AttributeValue::S(pk)) if pk.starts_with(prefix))).count()
}

//! Three local "regions" (issue 33), as `local-stack --regions 3` runs them
//! (`local_stack::regions`: one implementation for both): each a gateway of its own with its own
//! execution environment (its own `App`: caches, user id blocks) and region name (`AWS_REGION`),
//! over ONE table in DynamoDB Local behind the MRSC proxy (`local_stack::mrsc_proxy`), which gives
//! each region its own DynamoDB endpoint. The table is created from template.yaml WITHOUT TTL, as
//! an MRSC table has none. Behind the MRSC proxy the enforcing proxy still checks each function's
//! IAM policy. [`Regions::kill`] takes a region away mid-request: its functions' in-flight
//! handlers are aborted (between two of their steps), its gateway's connections dropped and its
//! port closed, and its DynamoDB endpoint cut.

use std::collections::HashMap;

use emulator::Emulator;
use local_stack::counting_proxy::CountingProxy;
use local_stack::demo::Apps;
use local_stack::dynamodb_local::repo_root;
use local_stack::mrsc_proxy::{MrscProxy, MrscSettings};
use local_stack::regions::{LocalRegions, RegionsSpec};
use local_stack::Template;
use rand::distr::{Alphanumeric, SampleString};
use shared::App;

use crate::helpers::{self, Item, APP_ID, EVENT_API_KEY, INSTANCE, PROVIDER_TIMEOUT_MS};

pub use local_stack::regions::Region;

pub struct Regions {
    pub regions: Vec<Region>,
    pub proxy: MrscProxy,
    pub emulator: Emulator,
    /// The operator's client, straight to DynamoDB Local.
    pub dynamo: aws_sdk_dynamodb::Client,
    pub table: String,
    pub http: reqwest::Client,
    pub api_key: String,
    /// The IAM-enforcing proxy behind the MRSC proxy: a test that ends with a refusal fails.
    enforcing: CountingProxy,
}

impl Drop for Regions {
    fn drop(&mut self) {
        let denials = self.enforcing.denials();
        if !denials.is_empty() && !std::thread::panicking() {
            panic!("a function's IAM policy (template.yaml) refused what it did: {denials:?}");
        }
    }
}

/// `n` regions (at most 3) with the proxy's default delays.
pub async fn spawn_regions(n: usize) -> Regions {
    spawn_regions_with(n, MrscSettings::default(), |_| {}).await
}

/// [`spawn_regions`] with the proxy's `settings` and a chance to change every region's function
/// configuration.
pub async fn spawn_regions_with(
    n: usize,
    settings: MrscSettings,
    customize: impl Fn(&mut HashMap<String, String>),
) -> Regions {
    helpers::capture_logs();
    let endpoint = local_stack::dynamodb_local::endpoint_for_tests();
    let apps = Apps::random();
    let emulator = Emulator::new(apps.emulator_config());
    let graph = emulator.spawn(0).await.expect("emulator");

    let table = format!("test-{}", Alphanumeric.sample_string(&mut rand::rng(), 12));
    let template = Template::load(repo_root().join("template.yaml")).expect("template.yaml");
    let dynamo = local_stack::dynamodb_local::client(endpoint);
    local_stack::regions::create_table(&template, &dynamo, &table)
        .await
        .expect("create the table from template.yaml, without TTL");

    let enforcing = helpers::enforcing_proxy().await;

    // The operator seeds the demo instance straight (not through a region).
    let mut seed_vars = apps.stack_vars(&table, "http://127.0.0.1:3000", enforcing.endpoint(), &graph);
    customize(&mut seed_vars);
    let seeder = App::from_vars(&seed_vars).await.expect("app config");
    local_stack::demo::seed(&seeder, &emulator, APP_ID, 3600).await.expect("demo instance, key and user");

    let spec = RegionsSpec { template: &template, count: n, upstream: enforcing.endpoint(), settings, first_port: 0 };
    let vars = |_: &str, _: &str, dynamodb: &str| {
        let mut vars = apps.stack_vars(&table, "http://127.0.0.1:3000", dynamodb, &graph);
        vars.insert("PROVIDER_TIMEOUT_MS".into(), PROVIDER_TIMEOUT_MS.to_string());
        vars.insert("JWKS_MIN_REFETCH_MS".into(), helpers::JWKS_MIN_REFETCH_MS.to_string());
        customize(&mut vars);
        vars
    };
    let LocalRegions { regions, proxy } =
        LocalRegions::start(spec, vars, local_stack::gateway::probe_routes, |_| None).await.expect("regions");
    for s in apps.secrets().into_iter().chain([EVENT_API_KEY]) {
        helpers::remember(s);
    }
    Regions {
        regions,
        proxy,
        emulator,
        dynamo,
        table,
        http: reqwest::Client::new(),
        api_key: EVENT_API_KEY.to_string(),
        enforcing,
    }
}

impl Regions {
    pub fn region(&self, i: usize) -> &Region {
        &self.regions[i]
    }

    /// Takes region `i` away: its functions' handlers in flight are aborted where they are, its
    /// gateway's connections are dropped and its port closed, its DynamoDB endpoint cut.
    pub fn kill(&self, i: usize) {
        let region = &self.regions[i];
        region.kill();
        self.proxy.kill(&region.name);
    }

    /// A Facebook person and a fresh token of our app for them.
    pub fn facebook_user(&self, name: &str) -> (String, String) {
        let person = self.emulator.create_facebook_user(name, None);
        let token = self.emulator.issue_facebook_token(&person, APP_ID, 3600);
        helpers::remember(&token);
        (person, token)
    }

    /// Another token of our app for `person`.
    pub fn token(&self, person: &str) -> String {
        let token = self.emulator.issue_facebook_token(person, APP_ID, 3600);
        helpers::remember(&token);
        token
    }

    /// Syncano's Facebook login in region `i`: (status, JSON); status 0 when the region is gone.
    pub async fn syncano_login(&self, i: usize, token: &str) -> (u16, serde_json::Value) {
        let url = format!("{}/v1.1/instances/{INSTANCE}/user/auth/facebook/", self.regions[i].base);
        let body = serde_json::json!({ "access_token": token });
        self.send(self.http.post(url).header("x-api-key", &self.api_key).json(&body)).await
    }

    /// Rocket.Chat's Facebook login in region `i`.
    pub async fn rocketchat_login(&self, i: usize, token: &str) -> (u16, serde_json::Value) {
        let url = format!("{}/api/v1/login", self.regions[i].base);
        let body = serde_json::json!({ "serviceName": "facebook", "accessToken": token, "secret": "client-secret", "expiresIn": 3600 });
        self.send(self.http.post(url).json(&body)).await
    }

    /// `GET /api/v1/me` in region `i` with a session (authToken, userId): the status.
    pub async fn me_status(&self, i: usize, auth: &str, user_id: &str) -> u16 {
        let url = format!("{}/api/v1/me", self.regions[i].base);
        self.send(self.http.get(url).header("x-auth-token", auth).header("x-user-id", user_id)).await.0
    }

    /// `POST /api/v1/logout` in region `i` with a session.
    pub async fn logout(&self, i: usize, auth: &str, user_id: &str) -> (u16, serde_json::Value) {
        let url = format!("{}/api/v1/logout", self.regions[i].base);
        self.send(self.http.post(url).header("x-auth-token", auth).header("x-user-id", user_id)).await
    }

    /// Syncano's `GET user/` in region `i` with a user key: the status.
    pub async fn user_key_status(&self, i: usize, user_key: &str) -> u16 {
        let url = format!("{}/v1.1/instances/{INSTANCE}/user/", self.regions[i].base);
        self.send(self.http.get(url).header("x-api-key", &self.api_key).header("x-user-key", user_key)).await.0
    }

    /// Status and JSON body (null when not JSON); (0, null) when the connection failed.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
        let Ok(resp) = req.send().await else { return (0, serde_json::Value::Null) };
        let status = resp.status().as_u16();
        let Ok(text) = resp.text().await else { return (0, serde_json::Value::Null) };
        (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
    }

    /// The whole table, read strongly consistent by the operator (straight, not through a region).
    pub async fn scan(&self) -> Vec<Item> {
        helpers::scan_table(&self.dynamo, &self.table).await
    }

    /// How many items have a `pk` starting with `prefix`.
    pub async fn count(&self, prefix: &str) -> usize {
        helpers::count_prefix(&self.scan().await, prefix)
    }
}

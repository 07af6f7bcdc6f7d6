//! Local "regions" (issue 33): each a gateway of its own with its own execution environment (its
//! own `App`: caches, user id blocks) and region name (`AWS_REGION`), over ONE table behind ONE
//! MRSC proxy ([`crate::mrsc_proxy`]), which gives each region its own DynamoDB endpoint. The
//! table is created from the template WITHOUT TTL ([`create_table`]), as an MRSC table has none.
//! [`Region::kill`] takes a region's functions and gateway away mid-request (their in-flight
//! handlers aborted between two of their steps, connections dropped, port closed).
//!
//! One implementation for `local-stack --regions N` and the API tests' regions
//! (tests/api/regions.rs).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use shared::App;
use tokio::net::TcpListener;

use crate::gateway::{GatewayError, Handler};
use crate::killable::KillableServer;
use crate::mrsc_proxy::{MrscProxy, MrscSettings};
use crate::tables::TableError;
use crate::template::{Route, Template};

/// The region names, in the US region set of MRSC (us-east-1, us-east-2, us-west-2).
pub const REGION_NAMES: [&str; 3] = ["us-east-1", "us-east-2", "us-west-2"];

/// Why the regions could not start.
#[derive(Debug, thiserror::Error)]
pub enum RegionsError {
    #[error("1 to 3 regions (the US region set of MRSC), not {0}")]
    TooMany(usize),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("cannot start the MRSC proxy: {0}")]
    Proxy(std::io::Error),
    #[error("cannot build region {region}'s app: {source}")]
    App { region: String, source: shared::AppError },
    #[error(transparent)]
    Gateway(#[from] GatewayError),
}

/// One region: its gateway (`base`), its functions' `App`.
pub struct Region {
    pub name: String,
    pub base: String,
    pub app: Arc<App>,
    server: KillableServer,
    kill: tokio::sync::watch::Sender<bool>,
}

impl Region {
    /// Takes the region's functions and gateway away: handlers in flight are aborted where they
    /// are (their answer a 502 nobody receives), connections dropped, the port closed. Its
    /// DynamoDB endpoint is cut by [`LocalRegions::kill`].
    pub fn kill(&self) {
        // Connections first: a handler stopped by the signal answers 502, which must reach no
        // client (a killed region answers nothing; seen under load before this order).
        self.server.kill();
        let _ = self.kill.send(true);
    }
}

/// The regions and the one MRSC proxy before their table.
pub struct LocalRegions {
    pub regions: Vec<Region>,
    pub proxy: MrscProxy,
}

/// What [`LocalRegions::start`] builds.
pub struct RegionsSpec<'a> {
    pub template: &'a Template,
    /// How many regions, the first of [`REGION_NAMES`] (1 to 3).
    pub count: usize,
    /// What the MRSC proxy forwards to: DynamoDB Local, or the IAM-enforcing proxy before it.
    pub upstream: &'a str,
    pub settings: MrscSettings,
    /// The first region's gateway port, the others on the next ones (3000, 3001, 3002); 0 = any
    /// free ports.
    pub first_port: u16,
}

/// The template's table created as an MRSC table is: as the template declares it, without TTL.
pub async fn create_table(
    template: &Template,
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), TableError> {
    let mut def = template.table().clone();
    def.time_to_live = None;
    def.create(client, table).await
}

impl LocalRegions {
    /// Starts the MRSC proxy and `spec.count` regions. `vars(region, base URL, DynamoDB endpoint)`
    /// is each region's function configuration (`AWS_REGION` is set to the region's name after
    /// it); `extra(region)` are routes outside the template (the tests' probes), `merge` a router
    /// served beside the gateway (the playground).
    pub async fn start(
        spec: RegionsSpec<'_>,
        vars: impl Fn(&str, &str, &str) -> HashMap<String, String>,
        extra: impl Fn() -> Vec<(Route, Handler)>,
        merge: impl Fn(&str) -> Option<Router>,
    ) -> Result<LocalRegions, RegionsError> {
        if spec.count == 0 || spec.count > REGION_NAMES.len() {
            return Err(RegionsError::TooMany(spec.count));
        }
        let names = &REGION_NAMES[..spec.count];
        let proxy = MrscProxy::start(spec.upstream, names, spec.settings).await.map_err(RegionsError::Proxy)?;
        let mut regions = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let port = if spec.first_port == 0 { 0 } else { spec.first_port.saturating_add(i as u16) };
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let listener = TcpListener::bind(addr).await.map_err(|source| RegionsError::Listen { addr, source })?;
            let bound = listener.local_addr().map_err(|source| RegionsError::Listen { addr, source })?;
            let base = format!("http://{bound}");
            let mut vars = vars(name, &base, &proxy.endpoint(name));
            vars.insert("AWS_REGION".into(), (*name).to_string());
            let mut app = App::from_vars(&vars)
                .await
                .map_err(|source| RegionsError::App { region: (*name).to_string(), source })?;
            // Each function signs as itself: the enforcing proxy behind the MRSC proxy checks its
            // policy from the template.
            let client = crate::iam::with_function_credentials(app.store.client());
            app.store = shared::store::UserStore::new(client, app.store.table().to_owned())
                .with_user_id_block(app.config.user_id_block);
            let app = Arc::new(app);
            let (kill, killed) = tokio::sync::watch::channel(false);
            let mut gateway = crate::gateway::for_template_wrapped(spec.template, app.clone(), extra(), |handler| {
                abortable(handler, killed.clone())
            })?;
            if let Some(router) = merge(name) {
                gateway = gateway.merge(router);
            }
            let server =
                KillableServer::start_on(listener, gateway).map_err(|source| RegionsError::Listen { addr, source })?;
            regions.push(Region { name: (*name).to_string(), base, app, server, kill });
        }
        Ok(LocalRegions { regions, proxy })
    }

    /// Takes region `i` away: its functions, its gateway and its DynamoDB endpoint.
    pub fn kill(&self, i: usize) {
        let region = &self.regions[i];
        region.kill();
        self.proxy.kill(&region.name);
    }
}

/// `handler`, dropped where it is (between two awaits: two of its steps) once `killed` is true.
fn abortable(handler: Handler, killed: tokio::sync::watch::Receiver<bool>) -> Handler {
    Arc::new(move |req| {
        let run = handler(req);
        let mut killed = killed.clone();
        Box::pin(async move {
            tokio::select! {
                response = run => response,
                _ = killed.wait_for(|k| *k) => {
                    let mut gone = lambda_http::Response::new(lambda_http::Body::Empty);
                    *gone.status_mut() = lambda_http::http::StatusCode::BAD_GATEWAY;
                    gone
                }
            }
        })
    })
}

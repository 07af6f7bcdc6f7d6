//! `local-stack`: the whole of social-login on loopback, offline, in one command.
//!
//! Starts DynamoDB Local (or reuses one), the provider emulator with our Facebook app and another
//! app, creates the users table from `template.yaml`, builds the functions' [`App`] against them,
//! seeds a demo instance, user and token, and serves the template's HTTP API routes like API
//! Gateway. Prints a ready `curl` per API; Ctrl-C stops everything.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use emulator::Emulator;
use local_stack::demo::{
    self, Apps, DEMO_ADMIN_API_KEY, DEMO_API_KEY, DEMO_FACEBOOK_TOKEN, DEMO_INSTANCE, FACEBOOK_APP_ID as APP_ID,
    OTHER_FACEBOOK_APP_ID as OTHER_APP_ID,
};
use local_stack::deployment::{self, Deployment};
use local_stack::dynamodb_local::{self, DynamoDbLocal, DynamoDbLocalError};
use local_stack::gateway::{self, GatewayError};
use local_stack::mrsc_proxy::MrscSettings;
use local_stack::regions::{LocalRegions, RegionsSpec, REGION_NAMES};
use local_stack::tables::TableError;
use local_stack::template::{Template, TemplateError};
use shared::App;
use tokio::net::TcpListener;

/// The local table's name.
const TABLE_NAME: &str = "social-login-local";
/// Lifetime of the demo Facebook tokens, in seconds.
const TOKEN_TTL_SECS: i64 = 3600;

const USAGE: &str = "\
usage: local-stack [OPTIONS]

Runs social-login on 127.0.0.1: DynamoDB Local, the provider emulator and the HTTP API.

options:
  --port PORT                 gateway port (default 3000)
  --regions N                 N local regions (1 to 3, default 1): gateways on PORT, PORT+1, PORT+2
                              as us-east-1, us-east-2 and us-west-2, each its own functions, over
                              one table without TTL behind the MRSC proxy (a multi-Region strongly
                              consistent table: no transactions, delayed writes, conflicts)
  --dynamodb-endpoint URL     reuse a running DynamoDB Local instead of starting one
  --dynamodb-port PORT        port for the DynamoDB Local it starts (default 8000)
  --emulator-port PORT        provider emulator port (default 8081)
  --template PATH             SAM template (default: template.yaml at the repository root)
  --env NAME=VALUE            set a function configuration variable (repeatable), e.g.
                              --env LOGIN_FAILURES_MAX=100000
  --sam-env-vars PATH         also write `sam local`'s --env-vars file for this stack there,
                              and serve the functions' secrets from an SSM stand-in
  --container-host HOST       how a container reaches this machine, in that file
                              (default host.docker.internal; 127.0.0.1 with
                              `sam local ... --docker-network host` on Linux)
  -h, --help                  show this help

Logs go to stderr (RUST_LOG, default info).";

/// Command-line options.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Args {
    port: u16,
    dynamodb_endpoint: Option<String>,
    dynamodb_port: u16,
    emulator_port: u16,
    template: PathBuf,
    /// `--sam-env-vars`: where to write `sam local`'s env-vars file.
    sam_env_vars: Option<PathBuf>,
    /// `--container-host`.
    container_host: String,
    /// `--env` overrides of the functions' configuration, in order.
    env: Vec<(String, String)>,
    /// `--regions`: 1 = one gateway straight on the table (the default), 2 or 3 = local regions
    /// over the MRSC proxy.
    regions: usize,
}

/// Why the stack could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
enum StackError {
    #[error("{0}\n\n{USAGE}")]
    Usage(String),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("cannot write the sam local env-vars file: {0}")]
    SamEnvVars(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    DynamoDbLocal(#[from] DynamoDbLocalError),
    #[error("cannot create the table: {0}")]
    Table(#[from] TableError),
    #[error("cannot start the provider emulator on port {port}: {source}")]
    Emulator { port: u16, source: std::io::Error },
    #[error("cannot build the functions' app: {0}")]
    App(#[from] shared::AppError),
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error("the gateway failed: {0}")]
    Serve(std::io::Error),
    #[error("cannot enforce the functions' IAM policies: {0}")]
    Iam(String),
    #[error(transparent)]
    Regions(#[from] local_stack::regions::RegionsError),
}

impl Args {
    /// Parses the arguments after the program name; `Ok(None)` for `--help`, `Err` with what is
    /// wrong.
    fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
        let mut parsed = Args {
            port: 3000,
            dynamodb_endpoint: None,
            dynamodb_port: dynamodb_local::DEFAULT_PORT,
            emulator_port: 8081,
            template: dynamodb_local::repo_root().join("template.yaml"),
            sam_env_vars: None,
            container_host: "host.docker.internal".to_owned(),
            env: Vec::new(),
            regions: 1,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value.to_owned())),
                _ => (arg, None),
            };
            if flag == "-h" || flag == "--help" {
                return Ok(None);
            }
            let mut value = || inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{flag} needs a value"));
            let port = |v: String| v.parse::<u16>().map_err(|_| format!("{flag}: `{v}` is not a port"));
            match flag.as_str() {
                "--port" => parsed.port = port(value()?)?,
                "--dynamodb-port" => parsed.dynamodb_port = port(value()?)?,
                "--emulator-port" => parsed.emulator_port = port(value()?)?,
                "--dynamodb-endpoint" => parsed.dynamodb_endpoint = Some(value()?),
                "--template" => parsed.template = PathBuf::from(value()?),
                "--sam-env-vars" => parsed.sam_env_vars = Some(PathBuf::from(value()?)),
                "--container-host" => parsed.container_host = value()?,
                "--regions" => {
                    let v = value()?;
                    parsed.regions = match v.parse::<usize>() {
                        Ok(n) if (1..=REGION_NAMES.len()).contains(&n) => n,
                        _ => return Err(format!("--regions: `{v}` is not 1 to {}", REGION_NAMES.len())),
                    };
                }
                "--env" => {
                    let v = value()?;
                    match v.split_once('=') {
                        Some((name, val)) if !name.is_empty() => parsed.env.push((name.to_owned(), val.to_owned())),
                        _ => return Err(format!("--env: `{v}` is not NAME=VALUE")),
                    }
                }
                _ => return Err(format!("unknown argument `{flag}`")),
            }
        }
        if parsed.regions > 1 && parsed.sam_env_vars.is_some() {
            return Err("--sam-env-vars serves one region: not with --regions".into());
        }
        Ok(Some(parsed))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let result = match Args::parse(std::env::args().skip(1)) {
        Ok(Some(args)) => run(args).await,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => Err(StackError::Usage(e)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("local-stack: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Starts everything, serves until Ctrl-C (or SIGTERM), then stops everything.
async fn run(args: Args) -> Result<(), StackError> {
    let template = Template::load(&args.template)?;

    let multi_region = args.regions > 1;
    // Bind first: the public base URL needs the real port, and a taken port should fail fast.
    // Local regions bind theirs (PORT, PORT+1, ...) in local_stack::regions.
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let (listener, base_url) = if multi_region {
        (None, format!("http://{addr}"))
    } else {
        let listener = TcpListener::bind(addr).await.map_err(|source| StackError::Listen { addr, source })?;
        let base_url =
            format!("http://{}", listener.local_addr().map_err(|source| StackError::Listen { addr, source })?);
        (Some(listener), base_url)
    };

    let (dynamodb, dynamodb_endpoint) = match args.dynamodb_endpoint {
        Some(endpoint) => (None, endpoint),
        None => {
            tracing::info!(port = args.dynamodb_port, "starting DynamoDB Local");
            let dynamodb = DynamoDbLocal::start(args.dynamodb_port).await?;
            let endpoint = dynamodb.endpoint().to_owned();
            (Some(dynamodb), endpoint)
        }
    };
    let operator = dynamodb_local::client(&dynamodb_endpoint);
    // An MRSC table has no TTL: the regions' table is created without it.
    let created = if multi_region {
        local_stack::regions::create_table(&template, &operator, TABLE_NAME).await
    } else {
        template.table().create(&operator, TABLE_NAME).await
    };
    match created {
        Ok(()) => tracing::info!(table = TABLE_NAME, ttl = !multi_region, "created the table from the template"),
        Err(TableError::AlreadyExists(_)) => {
            tracing::warn!(table = TABLE_NAME, "the table exists already; reusing it")
        }
        Err(e) => return Err(e.into()),
    }

    let apps = Apps::random();
    let emulator = Emulator::new(apps.emulator_config());
    let graph_url = emulator
        .spawn(args.emulator_port)
        .await
        .map_err(|source| StackError::Emulator { port: args.emulator_port, source })?;

    let mut vars = apps.stack_vars(TABLE_NAME, &base_url, &dynamodb_endpoint, &graph_url);
    vars.insert("PROVIDER_TIMEOUT_MS".into(), "3000".into());
    vars.extend(args.env);
    if let Some(path) = &args.sam_env_vars {
        write_sam_env_vars(&template, &vars, path, &args.container_host).await?;
    }
    // The functions reach DynamoDB Local through a proxy that enforces each one's IAM policy from
    // the template, each signing as itself (local_stack::iam); the printed endpoint stays the
    // operator's (the admin tool, the curls), unrestricted.
    let policies = local_stack::iam::Policies::load(&args.template).map_err(StackError::Iam)?;
    let proxy =
        local_stack::counting_proxy::CountingProxy::start_enforcing_unrecorded(&dynamodb_endpoint, Arc::new(policies))
            .await
            .map_err(|e| StackError::Iam(e.to_string()))?;
    vars.insert("AWS_ENDPOINT_URL_DYNAMODB".into(), proxy.endpoint().to_owned());
    let mut app = App::from_vars(&vars).await?;
    let client = local_stack::iam::with_function_credentials(app.store.client());
    app.store = shared::store::UserStore::new(client, app.store.table().to_owned())
        .with_user_id_block(app.config.user_id_block);

    // With --regions this app is the operator's, straight on the table (not through a region):
    // it seeds the demo world, as the admin tool would.
    let api_key = match demo::seed(&app, &emulator, APP_ID, TOKEN_TTL_SECS).await {
        Ok(()) => Some(DEMO_API_KEY.to_owned()),
        Err(e) => {
            tracing::warn!(instance = DEMO_INSTANCE, error = %e, "could not create the demo instance and API key");
            None
        }
    };
    let mut playground = local_stack::playground::PlaygroundConfig::demo(&graph_url);
    if api_key.is_some() {
        match demo::seed_playground_oidc(&app, &emulator).await {
            Ok(()) => playground = playground.with_demo_oidc(),
            Err(e) => {
                tracing::warn!(error = %e, "could not give the demo instance the playground's OpenID Connect provider")
            }
        }
    }
    let token = DEMO_FACEBOOK_TOKEN.to_owned();
    let person = emulator.create_facebook_user("Another Demo User", None);
    let other_app_token = emulator.issue_facebook_token(&person, OTHER_APP_ID, TOKEN_TTL_SECS);

    let routes = template.routes().iter().map(|r| r.route_key()).collect();
    let Some(listener) = listener else {
        // The regions over the MRSC proxy, each with its own functions and the playground.
        let spec = RegionsSpec {
            template: &template,
            count: args.regions,
            upstream: proxy.endpoint(),
            settings: MrscSettings::default(),
            first_port: args.port,
        };
        let region_vars = |_: &str, base: &str, dynamodb: &str| {
            let mut vars = vars.clone();
            vars.insert("PUBLIC_BASE_URL".into(), base.to_owned());
            vars.insert("AWS_ENDPOINT_URL_DYNAMODB".into(), dynamodb.to_owned());
            vars
        };
        let regions = LocalRegions::start(spec, region_vars, Vec::new, |_| {
            Some(local_stack::playground::router(playground.clone()))
        })
        .await?;
        let listed: Vec<(String, String, String)> =
            regions.regions.iter().map(|r| (r.name.clone(), r.base.clone(), regions.proxy.endpoint(&r.name))).collect();
        print_ready(&Ready {
            base_url: &base_url,
            dynamodb_endpoint: &dynamodb_endpoint,
            graph_url: &graph_url,
            api_key: api_key.as_deref(),
            token: &token,
            other_app_token: &other_app_token,
            routes,
            regions: listed,
        });
        shutdown_signal().await;
        tracing::info!("stopping");
        drop(regions);
        stop_dynamodb(dynamodb).await;
        return Ok(());
    };
    // The playground (local only, never in the template) on the gateway's origin: its calls to
    // both APIs are same-origin.
    let router = gateway::for_template(&template, Arc::new(app))?.merge(local_stack::playground::router(playground));
    print_ready(&Ready {
        base_url: &base_url,
        dynamodb_endpoint: &dynamodb_endpoint,
        graph_url: &graph_url,
        api_key: api_key.as_deref(),
        token: &token,
        other_app_token: &other_app_token,
        routes,
        regions: Vec::new(),
    });

    let served = gateway::serve(listener, router, shutdown_signal()).await;
    tracing::info!("stopping");
    stop_dynamodb(dynamodb).await;
    served.map_err(StackError::Serve)
}

/// Stops the DynamoDB Local the stack started (none when it reused one).
async fn stop_dynamodb(dynamodb: Option<DynamoDbLocal>) {
    if let Some(dynamodb) = dynamodb {
        if let Err(e) = dynamodb.stop().await {
            tracing::warn!(error = %e, "could not stop DynamoDB Local");
        }
    }
}

/// Writes `sam local`'s env-vars file for this stack at `path` and serves its secrets from an
/// SSM stand-in (`local_stack::deployment`), the same settings the shipped-binary check uses.
async fn write_sam_env_vars(
    template: &Template,
    vars: &HashMap<String, String>,
    path: &std::path::Path,
    container_host: &str,
) -> Result<(), StackError> {
    let mut deployment =
        Deployment { template, vars, parameter_overrides: HashMap::new(), ssm_endpoint: String::new() };
    deployment.ssm_endpoint =
        deployment::serve_ssm(deployment.ssm_parameters()).await.map_err(|e| StackError::SamEnvVars(e.to_string()))?;
    let file = deployment.sam_env_vars(container_host)?;
    let text = serde_json::to_string_pretty(&file).map_err(|e| StackError::SamEnvVars(e.to_string()))?;
    std::fs::write(path, text + "\n").map_err(|e| StackError::SamEnvVars(format!("{}: {e}", path.display())))?;
    tracing::info!(path = %path.display(), container_host, "wrote sam local's env-vars file");
    Ok(())
}

/// What [`print_ready`] shows.
struct Ready<'a> {
    base_url: &'a str,
    dynamodb_endpoint: &'a str,
    graph_url: &'a str,
    api_key: Option<&'a str>,
    token: &'a str,
    other_app_token: &'a str,
    routes: Vec<String>,
    /// `--regions`: each region's name, gateway URL and DynamoDB endpoint (the MRSC proxy's).
    regions: Vec<(String, String, String)>,
}

/// Prints where everything runs and a ready `curl` per API (stdout; logs are on stderr).
fn print_ready(ready: &Ready<'_>) {
    let Ready { base_url, dynamodb_endpoint, graph_url, api_key, token, other_app_token, routes, regions } = ready;
    let (key_header, admin_header) = match api_key {
        Some(key) => (format!("\"X-API-KEY: {key}\""), format!("\"X-API-KEY: {DEMO_ADMIN_API_KEY}\"")),
        None => ("\"X-API-KEY: $KEY\"".to_owned(), "\"X-API-KEY: $ADMIN_KEY\"".to_owned()),
    };
    println!(
        "\nsocial-login local stack is ready.\n\n  \
         gateway          {base_url}\n  \
         routes           {}\n  \
         DynamoDB Local   {dynamodb_endpoint} (table {TABLE_NAME})\n  \
         client API key   {} (allow_user_create: what an app ships)\n  \
         admin API key    {} (ignore_acl: key resets; never ship it)\n  \
         provider emulator {graph_url} (Facebook apps `{APP_ID}` = ours, `{OTHER_APP_ID}` = another app)\n  \
         playground       {base_url}{playground} (sign in through the emulator's consent pages, in a browser)\n",
        routes.join(", "),
        api_key.unwrap_or("(none)"),
        if api_key.is_some() { DEMO_ADMIN_API_KEY } else { "(none)" },
        playground = local_stack::playground::PATH,
    );
    if !regions.is_empty() {
        println!(
            "  {} regions over one table without TTL behind the MRSC proxy (no transactions, every write\n  \
             and strongly consistent read {} ms more, conflicts between regions); the curls below use the first:",
            regions.len(),
            MrscSettings::default().write_delay.as_millis()
        );
        for (name, base, dynamodb) in regions {
            println!("    {name:<10} {base}  (its functions' DynamoDB endpoint {dynamodb})");
        }
        println!();
    }
    if api_key.is_none() {
        println!("  (no API key for instance `{DEMO_INSTANCE}` was created; set KEY to one before the Syncano call)\n");
    }
    println!(
        "Syncano dialect:\n  \
         curl -X POST -H {key_header} -H 'Content-Type: application/json' -d '{{\"access_token\":\"{token}\"}}' {base_url}/v1.1/instances/{DEMO_INSTANCE}/user/auth/facebook/\n\n\
         Syncano, an admin resetting user 1's key (the client key gets 403 here):\n  \
         curl -X POST -H {admin_header} {base_url}/v1.1/instances/{DEMO_INSTANCE}/users/1/reset_key/\n\n\
         Rocket.Chat dialect:\n  \
         curl -X POST -H 'Content-Type: application/json' -d '{{\"serviceName\":\"facebook\",\"accessToken\":\"{token}\",\"secret\":\"x\",\"expiresIn\":{TOKEN_TTL_SECS}}}' {base_url}/api/v1/login\n\n\
         A token of the demo user for `{OTHER_APP_ID}` (must be rejected): {other_app_token}\n\n\
         Every other provider (Google, Twitter/X, LinkedIn, Apple, GitHub, Facebook Limited Login) has a demo\n\
         user whose credentials the events/ samples carry; send one with its body, e.g.:\n  \
         python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"body\"])' events/google-login/200-success.json \\\n    \
         | curl -X POST -H {key_header} -H 'Content-Type: application/json' -d @- {base_url}/v1.1/instances/{DEMO_INSTANCE}/user/auth/google-oauth2/\n  \
         (events/login/200-success-<provider>.json for /api/v1/login)\n\n\
         Ctrl-C stops everything."
    );
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        Args::parse(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn parses_flags_with_defaults() {
        let defaults = parse(&[]).expect("ok").expect("args");
        assert_eq!((defaults.port, defaults.dynamodb_port, defaults.emulator_port), (3000, 8000, 8081));
        assert!(defaults.template.ends_with("template.yaml"));

        let args = parse(&["--port", "4000", "--dynamodb-endpoint=http://127.0.0.1:9000", "--template", "t.yaml"])
            .expect("ok")
            .expect("args");
        assert_eq!(args.port, 4000);
        assert_eq!(args.dynamodb_endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(args.template, PathBuf::from("t.yaml"));

        assert!(parse(&["--help"]).expect("ok").is_none());
        assert_eq!(parse(&["--port", "x"]).expect_err("bad port"), "--port: `x` is not a port");
        assert_eq!(parse(&["--port"]).expect_err("no value"), "--port needs a value");
        assert_eq!(parse(&["--bogus"]).expect_err("unknown"), "unknown argument `--bogus`");

        let args = parse(&["--env", "LOGIN_FAILURES_MAX=500", "--env=RUST_LOG=a=b"]).expect("ok").expect("args");
        assert_eq!(
            args.env,
            [("LOGIN_FAILURES_MAX".to_owned(), "500".to_owned()), ("RUST_LOG".to_owned(), "a=b".to_owned())]
        );
        assert_eq!(parse(&["--env", "=1"]).expect_err("no name"), "--env: `=1` is not NAME=VALUE");
        assert_eq!(parse(&["--env", "X"]).expect_err("no value"), "--env: `X` is not NAME=VALUE");

        assert_eq!((defaults.sam_env_vars, defaults.container_host.as_str()), (None, "host.docker.internal"));
        let args = parse(&["--sam-env-vars", "env.json", "--container-host=127.0.0.1"]).expect("ok").expect("args");
        assert_eq!((args.sam_env_vars, args.container_host.as_str()), (Some(PathBuf::from("env.json")), "127.0.0.1"));

        assert_eq!(defaults.regions, 1);
        assert_eq!(parse(&["--regions", "3"]).expect("ok").expect("args").regions, 3);
        assert_eq!(parse(&["--regions", "4"]).expect_err("too many"), "--regions: `4` is not 1 to 3");
        assert_eq!(parse(&["--regions=0"]).expect_err("none"), "--regions: `0` is not 1 to 3");
        assert!(parse(&["--regions", "2", "--sam-env-vars", "e.json"]).is_err());
    }
}

//! `shipped-check`: runs the binaries `sam build` produced, as Lambda would, against DynamoDB
//! Local and the provider emulator, and feeds each its function's `events/` samples.
//!
//! Each `.aws-sam/build/<Function>/bootstrap` (arm64) is started under qemu user-mode emulation
//! with the Lambda Runtime API served on loopback by `../shared/bench/lambda_bench.py` (wrapped
//! by `scripts/invoke-shipped.py`), with the environment SAM would give it
//! ([`local_stack::deployment`]): the template's variables and parameters, its secrets from an
//! SSM stand-in. Every sample must get the status its file name documents. See `.ci/run`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use emulator::Emulator;
use local_stack::demo::{self, Apps, FACEBOOK_APP_ID};
use local_stack::deployment::{self, Deployment};
use local_stack::dynamodb_local::{self, repo_root, DynamoDbLocal};
use local_stack::Template;

const USAGE: &str = "\
usage: shipped-check [--build-dir DIR] [--runner CMD] [--only FUNCTION,...] [--bench DIR]

  --build-dir DIR   sam build's output (default .aws-sam/build), or cargo lambda's (target/lambda)
  --runner CMD      how to start a bootstrap (default `qemu-aarch64-static -L /usr/aarch64-linux-gnu`;
                    `native` runs it directly, for binaries built for this machine)
  --only IDS        only these functions (logical ids, comma-separated)
  --bench DIR       where lambda_bench.py is (default ../shared/bench beside the repository)";

const TABLE_NAME: &str = "social-login-shipped";

struct Args {
    build_dir: PathBuf,
    runner: Vec<String>,
    only: Option<Vec<String>>,
    bench: PathBuf,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let root = repo_root();
    let mut parsed = Args {
        build_dir: root.join(".aws-sam/build"),
        runner: ["qemu-aarch64-static", "-L", "/usr/aarch64-linux-gnu"].map(String::from).to_vec(),
        only: None,
        bench: root.join("../shared/bench"),
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--build-dir" => parsed.build_dir = PathBuf::from(value()?),
            "--runner" => {
                let v = value()?;
                parsed.runner =
                    if v == "native" { Vec::new() } else { v.split_whitespace().map(String::from).collect() }
            }
            "--only" => parsed.only = Some(value()?.split(',').map(String::from).collect()),
            "--bench" => parsed.bench = PathBuf::from(value()?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(tracing::Level::WARN).init();
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("shipped-check: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<bool, Box<dyn std::error::Error>> {
    let root = repo_root();
    let template = Template::load(root.join("template.yaml"))?;
    let dynamodb = DynamoDbLocal::start(0).await?;
    template.table().create(&dynamodb_local::client(dynamodb.endpoint()), TABLE_NAME).await?;
    let apps = Apps::random();
    let emulator = Emulator::new(apps.emulator_config());
    let emulator_url = emulator.spawn(0).await?;

    let vars = apps.stack_vars(TABLE_NAME, "http://127.0.0.1:3000", dynamodb.endpoint(), &emulator_url);
    // The demo instance, keys and users the samples name, written as the local stack does.
    let app = shared::App::from_vars(&vars).await?;
    demo::seed(&app, &emulator, FACEBOOK_APP_ID, 3600).await?;

    let mut deployment = Deployment {
        template: &template,
        vars: &vars,
        parameter_overrides: HashMap::new(),
        ssm_endpoint: String::new(),
    };
    deployment.ssm_endpoint = deployment::serve_ssm(deployment.ssm_parameters()).await?;

    let mut functions = Vec::new();
    for def in template.function_defs() {
        if args.only.as_ref().is_some_and(|only| !only.contains(&def.logical_id)) {
            continue;
        }
        // sam build's layout (`<Function>/bootstrap`), else cargo lambda's (`<package>/bootstrap`).
        let by_id = args.build_dir.join(&def.logical_id).join("bootstrap");
        let binary = if by_id.is_file() { by_id } else { args.build_dir.join(&def.package).join("bootstrap") };
        if !binary.is_file() {
            return Err(format!("{} is missing: run scripts/sam-build first", binary.display()).into());
        }
        let mut events: Vec<PathBuf> = std::fs::read_dir(root.join("events").join(&def.package))
            .map_err(|e| format!("events/{}: {e}", def.package))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        events.sort();
        functions.push(serde_json::json!({
            "function": def.logical_id,
            "package": def.package,
            "binary": binary,
            "env": deployment.environment(&def.logical_id)?,
            "events": events,
        }));
    }
    let plan = serde_json::json!({ "runner": args.runner, "bench": args.bench, "functions": functions });
    let plan_path = std::env::temp_dir().join(format!("shipped-plan-{}.json", std::process::id()));
    std::fs::write(&plan_path, serde_json::to_vec_pretty(&plan)?)?;
    let status = tokio::process::Command::new("python3")
        .arg(root.join("scripts/invoke-shipped.py"))
        .arg(&plan_path)
        .status()
        .await?;
    let _ = std::fs::remove_file(&plan_path);
    dynamodb.stop().await?;
    Ok(status.success())
}

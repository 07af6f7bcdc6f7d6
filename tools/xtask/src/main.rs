//! `cargo xtask bench`: builds every function as it ships plus a bare `floor` function, runs each
//! under `../shared/bench/lambda_bench.py` against DynamoDB Local (through a counting proxy) and
//! the provider emulator, and prints init / cold / warm latency, peak RSS, binary and zip size as
//! ratios to the floor, the DynamoDB requests and provider round trips per login, and what a
//! million logins cost on AWS beside Amazon Cognito. Every case runs at full CPU and at the CPU
//! share of 128 MB, each through plain HTTP and through TLS fronts (a run-time test CA), beside
//! an SDK floor and a Node.js peer, on the single-region table; and on an MRSC table behind the
//! MRSC proxy (issue 33) in two of those settings. It prints figures and ✓/✗ budget lines; it
//! asserts nothing.

mod bench;
mod builds;
mod cases;
mod operating;
mod options;
mod peer;
mod per_operation;
mod prices;
mod report;
mod runner;
mod scale;
mod stack;
mod workload;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask bench [--warm N] [--repeat R] [--no-arm64] [--only F,G] [--no-tls] [--no-128]
                         [--no-peer] [--no-mrsc] [--env K=V] [--binaries DIR] [--out FILE]

  --warm N      warm invocations after the cold one, per run (default 100)
  --repeat R    runs (cold starts) per function (default 5)
  --no-arm64    skip the arm64 zip build (cargo-lambda from scripts/venv.sh)
  --only F,G    only these functions (the floor and the SDK floor always run; the Node peer runs
                beside facebook-login); repeatable
  --no-tls      plain HTTP only (no TLS fronts)
  --no-128      full CPU only (no runs at the 128 MB CPU share)
  --no-peer     without the Node.js peer (no npm install)
  --no-mrsc     the single-region table only (no runs on the MRSC table behind the MRSC proxy)
  --env K=V     an extra variable for every measured function (experiments); repeatable
  --binaries DIR  measure the functions' binaries in DIR instead of building them (another
                tree's release build, for a before/after on the same stack)
  --out FILE    also write the report (Markdown) to FILE, e.g. docs/bench.md (whole runs only)";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bench") => task("bench", USAGE, options::Options::parse(&args[1..]), bench::run).await,
        Some("scale") => task("scale", scale::USAGE, scale::Options::parse(&args[1..]), scale::run).await,
        Some("-h" | "--help") => {
            println!("{USAGE}\n\n{}", scale::USAGE);
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Runs a task on its parsed options: usage errors exit 2 with the task's usage, failures 1.
async fn task<O, E1, E2, F, Fut>(name: &str, usage: &str, parsed: Result<O, E1>, run: F) -> ExitCode
where
    E1: std::fmt::Display,
    E2: std::fmt::Display,
    F: FnOnce(O) -> Fut,
    Fut: std::future::Future<Output = Result<(), E2>>,
{
    match parsed {
        Ok(options) => match run(options).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{name}: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("{e}\n\n{usage}");
            ExitCode::from(2)
        }
    }
}

//! `cargo xtask bench`: builds every function as it ships plus a bare `floor` function, runs each
//! under `../shared/bench/lambda_bench.py` against DynamoDB Local (through a counting proxy) and
//! the provider emulator, and prints init / cold / warm latency, peak RSS, binary and zip size as
//! ratios to the floor, the DynamoDB requests and provider round trips per login, and what a
//! million logins cost on AWS beside Amazon Cognito. It prints figures; it asserts nothing.

mod bench;
mod cases;
mod prices;
mod report;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask bench [--warm N] [--repeat R] [--no-arm64] [--out FILE]

  --warm N      warm invocations after the cold one, per run (default 100)
  --repeat R    runs (cold starts) per function (default 5)
  --no-arm64    skip the arm64 zip build (cargo-lambda from scripts/venv.sh)
  --out FILE    also write the report (Markdown) to FILE, e.g. docs/bench.md";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bench") => match bench::Options::parse(&args[1..]) {
            Ok(options) => match bench::run(options).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("bench: {e}");
                    ExitCode::FAILURE
                }
            },
            Err(e) => {
                eprintln!("{e}\n\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("-h" | "--help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

//! `provider-emulator`: serves the emulator on 127.0.0.1 for the local dev stack.
//!
//! ```text
//! provider-emulator [--port N] --facebook-app ID:SECRET [--facebook-app ID:SECRET ...]
//! ```

use std::process::ExitCode;

use emulator::{Emulator, EmulatorConfig, FacebookApp};

const USAGE: &str = "usage: provider-emulator [--port N] --facebook-app ID:SECRET [--facebook-app ID:SECRET ...]";
const DEFAULT_PORT: u16 = 8081;

#[derive(Debug)]
struct Args {
    port: u16,
    apps: Vec<FacebookApp>,
}

/// Parses the flags (both `--flag value` and `--flag=value`). Errors never echo a secret.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut port = DEFAULT_PORT;
    let mut apps = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_string(), Some(value.to_string())),
            _ => (arg, None),
        };
        let mut value =
            |name: &str| inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--port" => {
                let v = value("--port")?;
                port = v.parse().map_err(|_| format!("--port: not a port number: {v:?}"))?;
            }
            "--facebook-app" => {
                let v = value("--facebook-app")?;
                let app = match v.split_once(':') {
                    Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
                        FacebookApp { id: id.to_string(), secret: secret.to_string() }
                    }
                    _ => return Err("--facebook-app must be ID:SECRET".to_string()),
                };
                apps.push(app);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if apps.is_empty() {
        return Err("at least one --facebook-app ID:SECRET is required".to_string());
    }
    Ok(Args { port, apps })
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("provider-emulator: {message}");
            }
            eprintln!("{USAGE}");
            return if message.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("provider-emulator: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let emulator = Emulator::new(EmulatorConfig { facebook_apps: args.apps, ..Default::default() });
        let url = match emulator.spawn(args.port).await {
            Ok(url) => url,
            Err(e) => {
                eprintln!("provider-emulator: cannot listen on 127.0.0.1:{}: {e}", args.port);
                return ExitCode::FAILURE;
            }
        };
        println!("provider emulator listening on {url}");
        // Serve until killed; Ctrl-C ends quietly.
        let _ = tokio::signal::ctrl_c().await;
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags() {
        let args = parse(&["--port", "9000", "--facebook-app", "1:a", "--facebook-app=2:b:c"]).expect("valid flags");
        assert_eq!(args.port, 9000);
        assert_eq!(args.apps.len(), 2);
        assert_eq!(args.apps[1].id, "2");
        assert_eq!(args.apps[1].secret, "b:c");
        assert_eq!(parse(&["--facebook-app", "1:a"]).expect("valid").port, DEFAULT_PORT);
    }

    #[test]
    fn bad_flags() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["--port", "x", "--facebook-app", "1:a"]).is_err());
        assert!(parse(&["--facebook-app", "1"]).is_err());
        assert!(parse(&["--facebook-app"]).is_err());
        assert!(parse(&["--bogus", "--facebook-app", "1:a"]).is_err());
        let err = parse(&["--facebook-app", ":topsecret"]).err().unwrap_or_default();
        assert!(!err.contains("topsecret"));
    }
}

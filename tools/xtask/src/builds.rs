//! What the benchmark measures, built as it ships: every function, the floor and the SDK floor
//! for the host (release, non-PIE), and, for their sizes, the arm64 zips Lambda takes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::bench::{step, BenchError};
use crate::options::FLOOR;

/// Builds the floor, each function and the SDK floor for `host` in release.
pub fn host_binaries(root: &Path, host: &str, functions: &[String]) -> Result<(), BenchError> {
    eprintln!("== building {} functions, the floor and the SDK floor (release, host)", functions.len());
    // As the functions ship: non-PIE (.cargo/config.toml), which needs an explicit `--target`
    // so that host proc-macros stay position-independent, and aborting on panic, which
    // cargo lambda (`sam build`) passes to cargo as `--config profile.release.panic="abort"`.
    // One build per function, as `sam build` builds them: built together, cargo would unify the
    // features of `shared` and link the SSM client into every function (only those that read a
    // secret enable `ssm`). The SDK floor is an example of `shared` without the SSM client,
    // built with the same profile and flags.
    let floor = [FLOOR].map(|p| vec!["--package", p]);
    let sdk_floor = vec!["--package", "shared", "--no-default-features", "--example", "sdk_floor"];
    let each = functions.iter().map(|f| vec!["--package", f.as_str()]);
    for selection in floor.into_iter().chain(each).chain([sdk_floor]) {
        run_command(
            Command::new("cargo")
                .args(["build", "--release", "--target", host])
                .args(SHIPPED_PROFILE)
                .args(&selection)
                .env(
                    format!("CARGO_TARGET_{}_RUSTFLAGS", host.to_uppercase().replace(['-', '.'], "_")),
                    "-C relocation-model=static",
                )
                .current_dir(root),
            "cargo build --release",
        )?;
    }
    Ok(())
}

/// What cargo lambda adds to the release profile when it builds a function (its rustc command
/// lines under `sam build` show it), so that the host binaries measured are built the same way.
pub const SHIPPED_PROFILE: [&str; 2] = ["--config", "profile.release.panic=\"abort\""];

fn run_command(cmd: &mut Command, what: &str) -> Result<(), BenchError> {
    let status = cmd.status().map_err(|e| step(what)(e.to_string()))?;
    if status.success() {
        Ok(())
    } else {
        Err(step(what)(format!("exited with {status}")))
    }
}
pub fn file_size(path: &Path) -> Result<u64, BenchError> {
    std::fs::metadata(path).map(|m| m.len()).map_err(|e| step(path.display().to_string())(e.to_string()))
}
pub fn target_dir(root: &Path) -> Result<PathBuf, BenchError> {
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
pub fn arm64_zips(root: &Path, target: &Path, functions: &[String]) -> Result<HashMap<String, u64>, BenchError> {
    let venv = root.join(".local/venv/bin/cargo-lambda");
    let cargo_lambda = if venv.exists() { venv } else { PathBuf::from("cargo-lambda") };
    eprintln!("== building the arm64 zips ({})", cargo_lambda.display());
    let dir = target.join("bench-lambda");
    let packages = || std::iter::once(FLOOR).chain(functions.iter().map(String::as_str));
    // One build per function, so that each links only its own features of `shared` (as above).
    for f in packages() {
        let mut cmd = Command::new(&cargo_lambda);
        cmd.args(["lambda", "build", "--release", "--arm64", "--output-format", "zip", "--lambda-dir"])
            .arg(&dir)
            .args(["--package", f])
            .current_dir(root);
        // cargo-lambda runs zig from the venv's ziglang package.
        if let Some(bin) = cargo_lambda.parent() {
            let path = std::env::var("PATH").unwrap_or_default();
            cmd.env("PATH", format!("{}:{path}", bin.display()));
        }
        run_command(&mut cmd, "cargo lambda build --arm64")?;
    }
    packages().map(|f| Ok((f.to_owned(), file_size(&dir.join(f).join("bootstrap.zip"))?))).collect()
}
/// The host's target triple, from `rustc -vV`.
pub fn host_triple() -> Result<String, BenchError> {
    let out = Command::new("rustc").arg("-vV").output().map_err(|e| step("rustc -vV")(e.to_string()))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .ok_or_else(|| step("rustc -vV")("no host line".into()))
}

//! The Node.js peer (`../shared/bench/peer-node`, read-only): copied into the target directory
//! and `npm install`ed there once, then run by `lambda_bench.py` like any function (its
//! `bootstrap` is a shell script that `exec`s node, so the measured process is node itself).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::bench::{step, BenchError};

const FILES: [&str; 3] = ["bootstrap", "login.mjs", "package.json"];

/// The peer's `bootstrap`, ready to run (copied and installed if needed).
pub fn prepare(root: &Path, target: &Path) -> Result<PathBuf, BenchError> {
    let source = root.join("../shared/bench/peer-node");
    let dir = target.join("bench/peer-node");
    std::fs::create_dir_all(&dir).map_err(|e| step("peer-node dir")(e.to_string()))?;
    for file in FILES {
        let (from, to) = (source.join(file), dir.join(file));
        // A copy of a read-only file is read-only: make room for the next copy first.
        if let Ok(meta) = std::fs::metadata(&to) {
            let mut perms = meta.permissions();
            #[allow(clippy::permissions_set_readonly_false)] // our own scratch copy, only by us
            perms.set_readonly(false);
            std::fs::set_permissions(&to, perms).map_err(|e| step(format!("peer-node {file}"))(e.to_string()))?;
        }
        std::fs::copy(&from, &to).map_err(|e| step(format!("copy {}", from.display()))(e.to_string()))?;
    }
    if !dir.join("node_modules/@aws-sdk/client-dynamodb").exists() {
        eprintln!("== npm install in {}", dir.display());
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .map_err(|e| step("npm install (peer-node)")(e.to_string()))?;
        if !status.success() {
            return Err(step("npm install (peer-node)")(format!("exited with {status}")));
        }
    }
    Ok(dir.join("bootstrap"))
}

//! Issue 33: a multi-Region strongly consistent table refuses `TransactWriteItems` and
//! `TransactGetItems`, so nothing in `shared/src` or `functions/` may call them. Read from the
//! source as text (std only, nothing compiled; comment lines are skipped). [`STILL_CONVERTING`]
//! listed the store files while they moved to single-item conditional writes; it is empty.

use std::fs;
use std::path::{Path, PathBuf};

/// What a call of a transaction API looks like in the source.
const TRANSACTION_APIS: [&str; 3] = ["transact_write_items", "transact_get_items", "TransactWriteItem"];

/// The files (from the repository's root) that still use a transaction: none since every store
/// file moved to single-item conditional writes.
const STILL_CONVERTING: &[&str] = &[];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every file under `shared/src` and `functions/` that names a transaction API outside a
/// comment line, as a path from the repository's root, with its first such line.
fn transacting_files() -> Vec<(String, String)> {
    let root = root();
    let mut files = Vec::new();
    rust_files(&root.join("shared/src"), &mut files);
    rust_files(&root.join("functions"), &mut files);
    assert!(files.len() > 20, "the sources were not found under {}", root.display());
    let mut found = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap_or_default();
        let hit = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("//"))
            .find(|l| TRANSACTION_APIS.iter().any(|api| l.contains(api)));
        if let Some(line) = hit {
            let name = file.strip_prefix(&root).unwrap_or(&file).to_string_lossy().replace('\\', "/");
            found.push((name, line.to_owned()));
        }
    }
    found.sort();
    found
}

#[test]
fn nothing_calls_a_transaction_outside_the_files_being_converted() {
    let offending: Vec<String> = transacting_files()
        .into_iter()
        .filter(|(file, _)| !STILL_CONVERTING.contains(&file.as_str()))
        .map(|(file, line)| format!("{file}: {line}"))
        .collect();
    assert!(
        offending.is_empty(),
        "a multi-Region strongly consistent table refuses transactions (issue 33); these files call one:\n{}",
        offending.join("\n")
    );
}

#[test]
fn the_list_of_files_being_converted_names_only_files_that_still_transact() {
    let still: Vec<String> = transacting_files().into_iter().map(|(file, _)| file).collect();
    let done: Vec<&str> = STILL_CONVERTING.iter().copied().filter(|f| !still.iter().any(|s| s == f)).collect();
    assert!(
        done.is_empty(),
        "converted (no transaction left): remove from STILL_CONVERTING in shared/tests/no_transactions.rs: {done:?}"
    );
}

//! The direction of `shared` (docs/architecture.md, issue 29), read from the source as text
//! (std only, nothing compiled): every module has a layer, and outside `#[cfg(test)]`
//!
//! - a module imports (`crate::…` / `super::…`, in `use` lines and in paths in code) only from
//!   its own layer or the layers below;
//! - modules of one layer import each other without a cycle;
//! - `impl App` is written only in the use-case layer;
//! - the entry points never reach into the store through an `App` (`app.store`): they call
//!   use-cases;
//! - each function crate (`functions/*/src`) calls into the entry-point layer only.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const DOMAIN: u8 = 0;
const CONFIG: u8 = 1;
const ADAPTERS: u8 = 2;
const USE_CASES: u8 = 3;
const ENTRY: u8 = 4;

const LAYER_NAMES: [&str; 5] = ["domain", "configuration", "adapters", "use-cases", "entry points"];

/// The layer of each module, by its path under `crate` (the longest prefix that is named wins):
/// one folder per layer, the adapters in three (docs/architecture.md has the same table).
const LAYERS: &[(&str, u8)] = &[
    ("domain", DOMAIN),
    ("config", CONFIG),
    ("store", ADAPTERS),
    ("providers", ADAPTERS),
    ("net", ADAPTERS),
    ("usecases", USE_CASES),
    ("entry", ENTRY),
];

fn layer_of(module: &str) -> Option<u8> {
    LAYERS
        .iter()
        .filter(|(prefix, _)| module == *prefix || module.starts_with(&format!("{prefix}::")))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|&(_, layer)| layer)
}

struct Module {
    path: String,
    file: PathBuf,
    /// The text without comments, literals and `#[cfg(test)]` items.
    code: String,
}

#[test]
fn shared_reads_bottom_up() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = read_modules(&src);
    let known: BTreeSet<String> = modules.iter().map(|m| m.path.clone()).collect();
    // What the crate root re-exports (`pub use usecases::app::App;`): `crate::App` is that module.
    let root = modules.iter().find(|m| m.path.is_empty()).expect("lib.rs");
    let reexports: BTreeMap<String, String> = paths_after(&root.code, "pub use ")
        .into_iter()
        .filter_map(|p| Some((p.last()?.clone(), resolve(&p, &known).filter(|m| !m.is_empty())?)))
        .collect();
    let mut problems = Vec::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();

    for m in modules.iter().filter(|m| !m.path.is_empty()) {
        let Some(layer) = layer_of(&m.path) else {
            problems.push(format!("{}: module `{}` has no layer in LAYERS", m.file.display(), m.path));
            continue;
        };
        for target in references(&m.path, &m.code, &known, &reexports) {
            if target.is_empty() || target == m.path || is_ancestor(&target, &m.path) || is_ancestor(&m.path, &target) {
                continue;
            }
            let Some(to) = layer_of(&target) else { continue };
            if to > layer {
                problems.push(format!(
                    "{}: `{}` ({}) imports `{}` ({}), a higher layer",
                    m.file.display(),
                    m.path,
                    LAYER_NAMES[layer as usize],
                    target,
                    LAYER_NAMES[to as usize]
                ));
            } else if to == layer {
                edges.entry(m.path.clone()).or_default().insert(target);
            }
        }
        if layer != USE_CASES && impls_app(&m.code) {
            problems.push(format!(
                "{}: `impl App` in `{}` ({}); only the use-case layer adds methods to App",
                m.file.display(),
                m.path,
                LAYER_NAMES[layer as usize]
            ));
        }
        if layer == ENTRY && reaches_store(&m.code) {
            problems.push(format!(
                "{}: the entry point `{}` reaches into the store through the App (`app.store`); call a use-case",
                m.file.display(),
                m.path
            ));
        }
    }
    // A module holds its submodules (`mod x;`): an arrow from the parent to each child of its
    // layer, so `a -> b::c` with `b::c -> b -> a`... is seen as the cycle it is.
    for m in &known {
        if let Some((parent, _)) = m.rsplit_once("::") {
            if layer_of(parent).is_some() && layer_of(parent) == layer_of(m) {
                edges.entry(parent.to_string()).or_default().insert(m.clone());
            }
        }
    }
    for cycle in cycles(&edges) {
        problems.push(format!("import cycle within one layer: {}", cycle.join(" -> ")));
    }
    assert!(problems.is_empty(), "shared/src does not read bottom-up:\n{}", problems.join("\n"));
}

/// Each function's `lib.rs` and `main.rs` name `shared`'s modules of the entry-point layer only
/// (the types the crate root re-exports, such as `shared::App`, are names, not calls).
#[test]
fn functions_call_the_entry_points_only() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR"));
    let modules: BTreeSet<String> = read_modules(&shared.join("src")).into_iter().map(|m| m.path).collect();
    let functions = shared.parent().expect("workspace").join("functions");
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for entry in fs::read_dir(&functions).expect("functions/") {
        rust_files(&entry.expect("entry").path().join("src"), &mut files);
    }
    assert!(!files.is_empty(), "no function crates under {}", functions.display());
    for file in files {
        let code = strip_test_items(&clean(&fs::read_to_string(&file).expect("read")), &mut Vec::new());
        for path in paths_after(&code, "shared::") {
            let Some(module) = resolve(&path, &modules) else { continue };
            if module.is_empty() {
                continue;
            }
            if layer_of(&module) != Some(ENTRY) {
                let shown = file.strip_prefix(functions.parent().expect("workspace")).unwrap_or(&file);
                problems.push(format!("{}: calls `shared::{}` (not an entry point)", shown.display(), path.join("::")));
            }
        }
    }
    assert!(problems.is_empty(), "functions reach below the entry points:\n{}", problems.join("\n"));
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every module of `src` with its path (`store::users`; `""` for the crate root), leaving out
/// the files declared under `#[cfg(test)]` (`mod tests;`).
fn read_modules(src: &Path) -> Vec<Module> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut modules = Vec::new();
    let mut test_only = BTreeSet::new();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src").with_extension("");
        let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
            parts.pop();
        }
        let path = parts.join("::");
        let mut test_mods = Vec::new();
        let code = strip_test_items(&clean(&fs::read_to_string(&file).expect("read")), &mut test_mods);
        for name in test_mods {
            test_only.insert(if path.is_empty() { name } else { format!("{path}::{name}") });
        }
        let file = Path::new("shared/src").join(file.strip_prefix(src).expect("under src"));
        modules.push(Module { path, file, code });
    }
    modules.retain(|m| !test_only.iter().any(|t| m.path == *t || is_ancestor(t, &m.path)));
    modules
}

fn is_ancestor(ancestor: &str, module: &str) -> bool {
    ancestor.is_empty() || module.starts_with(&format!("{ancestor}::"))
}

/// The text with comments, string and char literals blanked (so braces and `crate::` in them
/// are not read as code).
fn clean(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if (c == 'r' || (c == 'b' && next == Some('r'))) && (i == 0 || !ident(b[i - 1])) && {
            let mut j = i + if c == 'b' { 2 } else { 1 };
            while b.get(j) == Some(&'#') {
                j += 1;
            }
            b.get(j) == Some(&'"') && (c == 'b' || b.get(i + 1) == Some(&'"') || b.get(i + 1) == Some(&'#'))
        } {
            let mut j = i + if c == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while b[j] == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != '"' {
                j += if b[j] == '\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i = j + 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}', '\''), or a lifetime, left as it is.
            let end = if next == Some('\\') {
                (i + 2..b.len().min(i + 12)).find(|&j| b[j] == '\'' && j > i + 2)
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => {
                    out.push_str("' '");
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The text without the items under `#[cfg(test)]` (a `mod tests { … }` block, or any item up to
/// its `;` or its closing brace); the names of `mod x;` declared so go to `test_mods`.
fn strip_test_items(code: &str, test_mods: &mut Vec<String>) -> String {
    const ATTR: &str = "#[cfg(test)]";
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find(ATTR) {
        out.push_str(&rest[..at]);
        let item = &rest[at + ATTR.len()..];
        let Some(stop) = item.find([';', '{']) else { return out };
        if item.as_bytes()[stop] == b';' {
            let header: Vec<&str> = item[..stop].split_whitespace().collect();
            if let Some(pos) = header.iter().position(|w| *w == "mod") {
                if let Some(name) = header.get(pos + 1) {
                    test_mods.push(name.to_string());
                }
            }
            rest = &item[stop + 1..];
            continue;
        }
        let mut depth = 0;
        let mut end = item.len();
        for (i, c) in item[stop..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = stop + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// Every path written after `start` (`crate::`, `shared::`), use trees expanded:
/// `crate::a::{b::C, d}` gives `[a, b, C]` and `[a, d]`.
fn paths_after(code: &str, start: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(at) = code[from..].find(start) {
        let at = from + at;
        from = at + start.len();
        if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_' || bytes[at - 1] == b':') {
            continue;
        }
        let mut pos = from;
        use_tree(code, &mut pos, Vec::new(), &mut out);
    }
    out
}

fn skip_ws(code: &str, pos: &mut usize) {
    while code[*pos..].starts_with(char::is_whitespace) {
        *pos += code[*pos..].chars().next().map_or(1, char::len_utf8);
    }
}

/// Reads one use tree at `pos` (after a `::`), pushing each whole path onto `out`.
fn use_tree(code: &str, pos: &mut usize, mut prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    loop {
        skip_ws(code, pos);
        if code[*pos..].starts_with('{') {
            *pos += 1;
            loop {
                skip_ws(code, pos);
                if code[*pos..].starts_with('}') {
                    *pos += 1;
                    return;
                }
                let before = *pos;
                use_tree(code, pos, prefix.clone(), out);
                skip_ws(code, pos);
                if code[*pos..].starts_with(',') {
                    *pos += 1;
                } else if *pos == before {
                    // Not a use tree after all: stop reading.
                    return;
                }
            }
        }
        let ident: String = code[*pos..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if ident.is_empty() {
            if code[*pos..].starts_with('*') {
                *pos += 1;
            }
            if !prefix.is_empty() {
                out.push(prefix);
            }
            return;
        }
        *pos += ident.len();
        prefix.push(ident);
        if code[*pos..].starts_with("::") {
            *pos += 2;
        } else {
            out.push(prefix);
            return;
        }
    }
}

/// The longest known module a path names (`Some("")` for an item of the crate root).
fn resolve(path: &[String], modules: &BTreeSet<String>) -> Option<String> {
    (0..=path.len()).rev().map(|n| path[..n].join("::")).find(|p| modules.contains(p))
}

/// The modules `code` (of `module`) names through `crate::` (the root's re-exports followed) and
/// `super::`.
fn references(
    module: &str,
    code: &str,
    modules: &BTreeSet<String>,
    reexports: &BTreeMap<String, String>,
) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for path in paths_after(code, "crate::") {
        match resolve(&path, modules) {
            Some(m) if m.is_empty() => found.extend(path.first().and_then(|name| reexports.get(name)).cloned()),
            Some(m) => {
                found.insert(m);
            }
            None => {}
        }
    }
    let parent: Vec<String> = module.split("::").filter(|s| !s.is_empty()).map(str::to_string).collect();
    for path in paths_after(code, "super::") {
        let mut base = parent[..parent.len().saturating_sub(1)].to_vec();
        let mut rest = path.as_slice();
        while rest.first().is_some_and(|s| s == "super") {
            base.pop();
            rest = &rest[1..];
        }
        base.extend(rest.iter().cloned());
        if let Some(m) = resolve(&base, modules) {
            found.insert(m);
        }
    }
    found
}

/// Whether `code` has an `impl` block whose type is `App` (`impl App`, `impl Trait for App`,
/// `impl crate::app::App`).
fn impls_app(code: &str) -> bool {
    let words: Vec<(usize, &str)> = code
        .match_indices(|c: char| !(c.is_alphanumeric() || c == '_'))
        .scan(0, |start, (i, sep)| {
            let word = (*start, &code[*start..i]);
            *start = i + sep.len();
            Some(word)
        })
        .filter(|(_, w)| *w == "impl")
        .collect();
    words.iter().any(|&(at, _)| {
        let header = &code[at + 4..];
        let header = &header[..header.find(['{', ';']).unwrap_or(header.len())];
        let header = header.split(" where ").next().unwrap_or(header);
        let ty = header.rsplit(" for ").next().unwrap_or(header).trim();
        let ty = ty.split('<').next().unwrap_or(ty).trim();
        ty.rsplit("::").next() == Some("App")
    })
}

/// Whether `code` reaches the store through an `App`: `app.store` (any binding), or `.store.`.
fn reaches_store(code: &str) -> bool {
    code.match_indices(".store").any(|(i, _)| {
        let after = code[i + ".store".len()..].chars().next();
        !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// Each cycle of `edges` (one per strongly connected component of more than one module).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges.keys().chain(edges.values().flatten()).collect();
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(n) = todo.pop() {
            for next in edges.get(&n).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> = nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for n in &nodes {
        if done.contains(*n) || !reachable[n].contains(*n) {
            continue;
        }
        let component: Vec<String> = nodes
            .iter()
            .filter(|m| reachable[n].contains(**m) && reachable[*m].contains(*n))
            .map(|m| (*m).clone())
            .collect();
        done.extend(component.iter().cloned());
        out.push(component);
    }
    out
}

/// `docs/architecture.md` names every file and folder of `shared/src` in its table of modules,
/// each with the layer `LAYERS` gives it (a `mod.rs` is named by its folder), and nothing there
/// that is not in `shared/src`.
#[test]
fn the_architecture_doc_names_every_module_with_its_layer() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = shared.join("src");
    let doc_path = shared.parent().expect("workspace").join("docs/architecture.md");
    let doc = fs::read_to_string(&doc_path).expect("docs/architecture.md");
    let layer_names: Vec<&str> = LAYER_NAMES.iter().copied().chain(["root"]).collect();
    // `| `a.rs`, `b/` | layer | what |`: every name of the first cell, with the layer of the row.
    let mut named: BTreeMap<String, String> = BTreeMap::new();
    for line in doc.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 || !layer_names.contains(&cells[2]) {
            continue;
        }
        for name in cells[1].split('`').skip(1).step_by(2) {
            named.insert(name.to_string(), cells[2].to_string());
        }
    }
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under src");
        let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        for depth in 1..parts.len() {
            let folder = parts[..depth].join("::");
            let layer = layer_of(&folder).map_or("none", |l| LAYER_NAMES[l as usize]);
            expected.insert(format!("{}/", parts[..depth].join("/")), layer.to_string());
        }
        let file_name = parts.last().cloned().unwrap_or_default();
        if file_name == "mod.rs" {
            continue;
        }
        let shown = parts.join("/");
        let layer = if shown == "lib.rs" {
            "root"
        } else {
            let last = parts.len() - 1;
            parts[last] = file_name.trim_end_matches(".rs").to_string();
            layer_of(&parts.join("::")).map_or("none", |l| LAYER_NAMES[l as usize])
        };
        expected.insert(shown, layer.to_string());
    }
    let mut problems = Vec::new();
    for (path, layer) in &expected {
        match named.get(path) {
            None => problems.push(format!("`{path}` ({layer}) is not in the table")),
            Some(said) if said != layer => problems.push(format!("`{path}` is {layer}, the table says {said}")),
            Some(_) => {}
        }
    }
    for path in named.keys().filter(|p| !expected.contains_key(*p) && !p.ends_with("/mod.rs")) {
        problems.push(format!("`{path}` is in the table but not in shared/src"));
    }
    for path in named.keys().filter(|p| p.ends_with("/mod.rs")) {
        if !src.join(path).is_file() {
            problems.push(format!("`{path}` is in the table but not in shared/src"));
        }
    }
    assert!(problems.is_empty(), "docs/architecture.md and shared/src differ:\n{}", problems.join("\n"));
}

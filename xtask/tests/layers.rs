//! The workbench's shape, checked from its own imports. `xtask/src` is in
//! folders by layer, top to bottom: `commands`, `workflows`, `render`,
//! `cli`, `measure`, `model`, `storage`, `vcs`, then the kernel (the files
//! at the crate root). The rules:
//!
//! - a module imports only its own layer, the layers below it and the
//!   kernel (the kernel imports no layer);
//! - no command imports another command, and nothing but the dispatcher in
//!   `lib.rs` imports a command (a command is a module that implements a
//!   `flags::` struct);
//! - the modules form no import cycle.
//!
//! Run it alone with `cargo test -p xtask --test layers`; a failure names
//! the import or the cycle. Test code (`#[cfg(test)] mod tests`, and the
//! test-only `fixtures` and `sim`) may reach anywhere and is not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layer folders, top first.
const LAYERS: [&str; 8] = [
    "commands",
    "workflows",
    "render",
    "cli",
    "measure",
    "model",
    "storage",
    "vcs",
];

/// A module's rank: its layer's place, the kernel below every layer.
fn rank(module: &str) -> usize {
    let top = module.split("::").next().unwrap();
    LAYERS
        .iter()
        .position(|l| *l == top)
        .unwrap_or(LAYERS.len())
}

/// The non-test code of a file.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Every `.rs` file under `dir`.
fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module a source file belongs to: `layer::name` inside a layer
/// folder (a folder module's files are one module), the top-level name
/// otherwise (`measure`'s files are the layer's own modules).
fn module_of(rel: &Path) -> Option<String> {
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    let name = match parts.as_slice() {
        [file] if file == "lib" || file == "main" => return None,
        [file] => file.clone(),
        [layer, rest @ ..] if LAYERS.contains(&layer.as_str()) && layer != "measure" => {
            match rest.first().map(String::as_str) {
                Some("mod") | None => return None,
                Some(m) => format!("{layer}::{m}"),
            }
        }
        [layer, ..] if layer == "measure" => "measure".to_string(),
        [folder, ..] => folder.clone(),
        [] => return None,
    };
    // Test-only modules.
    if ["fixtures", "model::sim", "tidy"].contains(&name.as_str()) || rel.ends_with("tests.rs") {
        return None;
    }
    Some(name)
}

/// The modules `code` names: `crate::layer::m` or `crate::m`, also inside
/// `use crate::{…}`.
fn references(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut paths = Vec::new();
    for part in code.split("crate::").skip(1) {
        if let Some(group) = part.strip_prefix('{') {
            let group = &group[..group.find("};").unwrap_or(group.len())];
            paths.extend(group.split(',').map(|s| s.trim().to_string()));
        } else {
            let path: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            paths.push(path);
        }
    }
    for p in paths {
        let segs: Vec<&str> = p.split("::").filter(|s| !s.is_empty()).collect();
        match segs.as_slice() {
            [layer, m, ..] if LAYERS.contains(layer) && *layer != "measure" => {
                let m = m.trim_start_matches('{');
                out.insert(format!("{layer}::{m}"));
            }
            [first, ..] => {
                out.insert(first.to_string());
            }
            [] => {}
        }
    }
    out
}

/// Module → (the modules it imports, whether it is a command).
fn graph() -> BTreeMap<String, (BTreeSet<String>, bool)> {
    let src = xtask::workspace_root().join("xtask/src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut text: BTreeMap<String, String> = BTreeMap::new();
    for f in &all {
        if let Some(m) = module_of(f.strip_prefix(&src).unwrap()) {
            text.entry(m).or_default().push_str(&code(f));
        }
    }
    let names: BTreeSet<String> = text.keys().cloned().collect();
    text.iter()
        .map(|(m, code)| {
            let mut deps = references(code);
            deps.retain(|d| d != m && names.contains(d));
            (m.clone(), (deps, code.contains("impl flags::")))
        })
        .collect()
}

#[test]
fn imports_only_point_down_the_layers() {
    let g = graph();
    assert!(
        g.len() > 30,
        "only {} modules seen: {:?}",
        g.len(),
        g.keys()
    );
    let mut up = Vec::new();
    for (m, (deps, _)) in &g {
        for d in deps {
            if rank(d) < rank(m) {
                up.push(format!("{m} imports {d}, a layer above it"));
            }
        }
    }
    assert!(up.is_empty(), "{}", up.join("\n"));
}

#[test]
fn no_command_imports_another_and_nothing_else_imports_a_command() {
    let g = graph();
    let commands: BTreeSet<&String> = g.iter().filter(|(_, v)| v.1).map(|(k, _)| k).collect();
    assert!(commands.len() >= 10, "found only the commands {commands:?}");
    assert!(commands.contains(&"commands::bisect".to_string()));
    assert!(
        commands.iter().all(|c| c.starts_with("commands::")),
        "a command outside commands/: {commands:?}"
    );
    let mut wrong = Vec::new();
    for (m, (deps, _)) in &g {
        for d in deps {
            if commands.contains(d) {
                wrong.push(format!("{m} imports the command {d}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_modules_form_no_import_cycle() {
    let g = graph();
    // Depth-first search; a back edge is a cycle, reported with its path.
    fn visit(
        m: &str,
        g: &BTreeMap<String, (BTreeSet<String>, bool)>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<String> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut cycle = path[i..].to_vec();
            cycle.push(m.to_string());
            return Some(cycle.join(" → "));
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for d in &g[m].0 {
            if let Some(c) = visit(d, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for m in g.keys() {
        if let Some(cycle) = visit(m, &g, &mut Vec::new(), &mut done) {
            panic!("import cycle: {cycle}");
        }
    }
}

//! The workbench's shape, checked from its own imports: data flows one way
//! (the command line → a command → measurement and models → storage), so
//!
//! - no command imports another command (a command is a module that
//!   implements a `flags::` struct; only `lib.rs` dispatches to them);
//! - no other module imports a command;
//! - the modules form no import cycle.
//!
//! Run it alone with `cargo test -p xtask --test layers`; a failure names
//! the import or the cycle. Test code (`#[cfg(test)] mod tests`) may reach
//! anywhere and is not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A top-level module of `xtask/src` and the top-level modules its
/// non-test code names (`crate::x`, or `x` inside `use crate::{…}`).
fn graph() -> BTreeMap<String, (BTreeSet<String>, bool)> {
    let src = xtask::workspace_root().join("xtask/src");
    let mut modules: BTreeMap<String, (String, bool)> = BTreeMap::new();
    let mut add = |name: String, path: &Path| {
        let text = std::fs::read_to_string(path).unwrap();
        let code = match text.find("#[cfg(test)]\nmod tests") {
            Some(i) => &text[..i],
            None => &text[..],
        };
        let command = code.contains("impl flags::");
        let e = modules.entry(name).or_default();
        e.0.push_str(code);
        e.1 |= command;
    };
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        let p = e.path();
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            // A folder module: every file in it is the module.
            for f in std::fs::read_dir(&p).unwrap().flatten() {
                if f.path().extension().is_some_and(|x| x == "rs") && name != "site" {
                    add(name.clone(), &f.path());
                }
            }
        } else if p.extension().is_some_and(|x| x == "rs") && name != "main" && name != "lib" {
            add(name, &p);
        }
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(m, (code, command))| {
            let mut deps = BTreeSet::new();
            for part in code.split("crate::").skip(1) {
                let word: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                    .collect();
                if part.starts_with('{') {
                    let group = &part[1..part.find('}').unwrap_or(part.len())];
                    for item in group.split(',') {
                        let first = item.trim().split("::").next().unwrap_or("").trim();
                        deps.insert(first.to_string());
                    }
                } else {
                    deps.insert(word);
                }
            }
            deps.retain(|d| d != m && names.contains(d));
            (m.clone(), (deps, *command))
        })
        .collect()
}

#[test]
fn no_command_imports_another_and_nothing_else_imports_a_command() {
    let g = graph();
    let commands: BTreeSet<&String> = g.iter().filter(|(_, v)| v.1).map(|(k, _)| k).collect();
    assert!(commands.len() >= 10, "found only the commands {commands:?}");
    assert!(commands.contains(&"bisect".to_string()));
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
    assert!(done.len() > 30, "only {} modules seen", done.len());
}

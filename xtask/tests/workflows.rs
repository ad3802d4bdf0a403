//! The GitHub workflows, checked as data: they parse, trigger on what they
//! should (a README-only pull request costs nothing), cancel superseded
//! runs, keep write permissions out of the job that runs pull-request code,
//! name their artifacts per attempt, fail on a regression, and every
//! command they run exists (each `cargo xtask …` parses with the
//! workbench's own flags, each script is in `scripts/` and executable).

use clap::Parser;
use xtask::cli::flags::Xtask;
use yaml_rust2::{Yaml, YamlLoader};

fn load(name: &str) -> Yaml {
    let path = xtask::workspace_root().join(".github/workflows").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{name} does not parse: {e}"))
        .remove(0)
}

fn strings(y: &Yaml) -> Vec<String> {
    y.as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// GitHub's path filter: `**` crosses folders, `*` does not.
fn glob(pattern: &str, path: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p {
            [] => s.is_empty(),
            [b'*', b'*', rest @ ..] => (0..=s.len()).any(|i| go(rest, &s[i..])),
            [b'*', rest @ ..] => (0..=s.len())
                .take_while(|i| *i == 0 || s[i - 1] != b'/')
                .any(|i| go(rest, &s[i..])),
            [c, rest @ ..] => s.first() == Some(c) && go(rest, &s[1..]),
        }
    }
    go(pattern.as_bytes(), path.as_bytes())
}

/// The first of `steps` that uses an action whose name starts with `action`.
fn step_using<'a>(steps: &'a [Yaml], action: &str) -> Option<&'a Yaml> {
    steps
        .iter()
        .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(action)))
}

/// Every `run:` script of every step of every job.
fn runs(w: &Yaml) -> Vec<String> {
    let mut out = Vec::new();
    for (_, job) in w["jobs"].as_hash().unwrap() {
        for step in job["steps"].as_vec().unwrap() {
            if let Some(r) = step["run"].as_str() {
                out.push(r.to_string());
            }
        }
    }
    out
}

/// The commands a script runs that this workspace provides: each `cargo
/// xtask …` parses, each `scripts/…` exists and is executable.
fn check_commands(name: &str, w: &Yaml) {
    let root = xtask::workspace_root();
    let mut xtask_calls = 0;
    for script in runs(w) {
        // Expressions are filled in by GitHub: any word stands in.
        let script = script.replace('\\', " ");
        for line in script.lines() {
            let line = line.trim();
            for word in line.split_whitespace() {
                let word = word.trim_matches('"');
                if let Some(rel) = word.strip_prefix("scripts/") {
                    let p = root.join("scripts").join(rel);
                    assert!(p.is_file(), "{name} runs {word}, which does not exist");
                    use std::os::unix::fs::PermissionsExt;
                    let mode = std::fs::metadata(&p).unwrap().permissions().mode();
                    assert!(mode & 0o111 != 0, "{word} is not executable");
                }
            }
            // What GitHub and the shell fill in, by plausible values.
            let line = line
                .replace("${{ matrix.shard }}", "1")
                .replace("\"${since[@]}\"", "");
            let line = line.as_str();
            if let Some(args) = line.strip_prefix("cargo xtask ") {
                let args = args.split('>').next().unwrap();
                let mut argv = vec!["cargo xtask".to_string()];
                let mut in_expr = false;
                for w in args.split_whitespace() {
                    if w.contains("${{") {
                        in_expr = true;
                    }
                    if in_expr {
                        if w.contains("}}") {
                            in_expr = false;
                            argv.push("REV".into());
                        }
                        continue;
                    }
                    argv.push(w.trim_matches('"').to_string());
                }
                Xtask::try_parse_from(&argv)
                    .unwrap_or_else(|e| panic!("{name}: `{line}` does not parse: {e}"));
                xtask_calls += 1;
            }
        }
    }
    assert!(xtask_calls > 0, "{name} runs no cargo xtask");
}

#[test]
fn the_gate_workflow_triggers_cancels_and_fails_as_it_should() {
    let w = load("bench.yml");
    let on = &w["on"];
    let paths = strings(&on["pull_request"]["paths"]);
    let triggers = |p: &str| paths.iter().any(|g| glob(g, p));
    assert!(
        !triggers("README.md"),
        "a README-only pull request costs nothing"
    );
    assert!(!triggers("docs/notes.md"));
    for p in [
        "zp/src/record.rs",
        "Cargo.lock",
        "xtask/src/commands/ci/mod.rs",
        "profiles/budgets.toml",
    ] {
        assert!(triggers(p), "{p} must trigger the gate");
    }
    assert_eq!(w["concurrency"]["cancel-in-progress"].as_bool(), Some(true));
    assert!(
        w["concurrency"]["group"]
            .as_str()
            .unwrap()
            .contains("pull_request.number")
    );
    // The job that runs pull-request code can write nothing.
    let perms = w["permissions"].as_hash().unwrap();
    assert!(
        perms.values().all(|v| v.as_str() == Some("read")),
        "{perms:?}"
    );
    let gate = &w["jobs"]["gate"];
    let steps = gate["steps"].as_vec().unwrap();
    let upload = step_using(steps, "actions/upload-artifact").expect("the gate keeps its output");
    let name = upload["with"]["name"].as_str().unwrap();
    assert!(
        name.contains("github.run_id") && name.contains("github.run_attempt"),
        "artifact names are unique per attempt: {name}"
    );
    let gate_step = steps
        .iter()
        .find(|s| s["id"].as_str() == Some("gate"))
        .unwrap();
    assert!(
        gate_step["run"]
            .as_str()
            .unwrap()
            .contains("cargo xtask ci --base")
    );
    let fail = steps
        .iter()
        .find(|s| {
            s["if"]
                .as_str()
                .is_some_and(|c| c.contains("steps.gate.outputs.code"))
        })
        .expect("a step fails the job on the gate's exit code");
    assert!(fail["run"].as_str().unwrap().contains("exit 1"));
    // On main: a baseline, history, and Bencher only with its secret.
    assert_eq!(strings(&on["push"]["branches"]), ["main"]);
    let baseline = &w["jobs"]["baseline"];
    assert!(baseline["steps"].as_vec().unwrap().iter().any(|s| {
        s["if"].as_str() == Some("env.BENCHER_API_KEY != ''")
            && s["run"].as_str().is_some_and(|r| r.contains("bencher run"))
    }));
    check_commands("bench.yml", &w);
}

#[test]
fn the_comment_workflow_posts_for_forks_without_running_their_code() {
    let w = load("bench-comment.yml");
    let bench = load("bench.yml");
    assert_eq!(
        strings(&w["on"]["workflow_run"]["workflows"]),
        [bench["name"].as_str().unwrap()],
        "it follows the gate workflow by name"
    );
    assert_eq!(w["permissions"]["pull-requests"].as_str(), Some("write"));
    let job = &w["jobs"]["comment"];
    let steps = job["steps"].as_vec().unwrap();
    assert!(
        steps
            .iter()
            .all(|s| !s["uses"].as_str().is_some_and(|u| u.contains("checkout"))),
        "it never checks out the pull request's code"
    );
    let download = step_using(steps, "actions/download-artifact").unwrap();
    let name = download["with"]["name"].as_str().unwrap();
    assert!(
        name.starts_with("bench-gate-") && name.contains("workflow_run.run_attempt"),
        "{name}"
    );
    assert!(steps.iter().any(|s| {
        s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("marocchino/sticky-pull-request-comment"))
            && s["with"]["path"].as_str() == Some("gate/comment.md")
    }));
    // The pull request's number is checked before use.
    assert!(runs(&w).iter().any(|r| r.contains("*[!0-9]*")));
    assert!(
        job["if"]
            .as_str()
            .unwrap()
            .contains("workflow_run.event == 'pull_request'")
    );
}

#[test]
fn the_path_glob_behaves_like_githubs() {
    assert!(glob("zp/**", "zp/src/record.rs"));
    assert!(glob("rust-toolchain*", "rust-toolchain.toml"));
    assert!(!glob("zp/*", "zp/src/record.rs"));
    assert!(glob("Cargo.toml", "Cargo.toml"));
    assert!(!glob("Cargo.toml", "xtask/Cargo.toml"));
}

#[test]
fn the_history_workflow_shards_merges_and_keeps_the_site() {
    let w = load("history.yml");
    let on = &w["on"];
    assert!(on["schedule"][0]["cron"].as_str().is_some(), "weekly");
    assert!(!on["workflow_dispatch"].is_badvalue(), "by hand");
    let perms = w["permissions"].as_hash().unwrap();
    assert!(perms.values().all(|v| v.as_str() == Some("read")));
    let shard = &w["jobs"]["shard"];
    let matrix: Vec<i64> = shard["strategy"]["matrix"]["shard"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_i64)
        .collect();
    let n = matrix.len() as i64;
    assert_eq!(matrix, (1..=n).collect::<Vec<_>>(), "shards 1..=N");
    let measure = runs(&w)
        .into_iter()
        .find(|r| r.contains("--shard"))
        .expect("a shard step");
    assert!(
        measure.contains(&format!("--shard ${{{{ matrix.shard }}}}/{n}")),
        "{measure}"
    );
    // Every shard counts with the toolchain of the same run; a shard that
    // differs is refused by the merge, not mixed in.
    let merge = &w["jobs"]["merge"];
    assert_eq!(merge["needs"].as_str(), Some("shard"));
    let steps = merge["steps"].as_vec().unwrap();
    let download = step_using(steps, "actions/download-artifact").unwrap();
    let upload = step_using(shard["steps"].as_vec().unwrap(), "actions/upload-artifact").unwrap();
    let pattern = download["with"]["pattern"].as_str().unwrap();
    let name = upload["with"]["name"].as_str().unwrap();
    assert!(
        glob(
            &pattern.replace("${{ matrix.shard }}", "1"),
            &name.replace("${{ matrix.shard }}", "1")
        ),
        "{pattern} fetches {name}"
    );
    assert!(
        runs(&w)
            .iter()
            .any(|r| r.contains("cargo xtask history --merge"))
    );
    assert!(runs(&w).iter().any(|r| r.contains("cargo xtask report")));
    check_commands("history.yml", &w);
}

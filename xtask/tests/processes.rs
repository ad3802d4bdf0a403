//! The workbench as a user runs it: the real binary in real processes, on
//! miniature repositories (`xtask::mini`), off the demo path. Run from
//! another folder, two at a time, interrupted, with a changed build
//! setting, with a build that fails for reasons not the commit's, with
//! damaged cache entries. Probes build in the dev profile, whose
//! dependencies `cargo test` has already built.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use xtask::mini::Mini;

fn target() -> PathBuf {
    static TARGET: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    TARGET
        .get_or_init(|| xtask::vcs::workspace::target_dir(&xtask::workspace_root()).unwrap())
        .clone()
}

fn mini(plant: bool) -> Mini {
    Mini::history(&xtask::workspace_root(), &target(), plant).unwrap()
}

/// The xtask binary, run from `dir` as a user would run it directly (not
/// through `cargo run`), building probes in the dev profile.
fn xtask(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.current_dir(dir)
        .args(args)
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("RUSTFLAGS")
        .env("ZP_WORKBENCH_PROFILE", "dev")
        .env("CARGO_TARGET_DIR", target());
    c
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the binary runs");
    eprintln!(
        "--- {:?} {:?}: {}\n{}",
        cmd.get_program(),
        cmd.get_args().collect::<Vec<_>>(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The newest bisect report's JSON in a repository.
fn bisect_report(root: &Path) -> serde_json::Value {
    let dir = root.join("profiles/reports");
    let mut reports: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("bisect-")
        })
        .map(|p| (std::fs::metadata(&p).unwrap().modified().unwrap(), p))
        .collect();
    reports.sort();
    let (_, newest) = reports.pop().expect("a bisect report");
    serde_json::from_slice(&std::fs::read(newest).unwrap()).unwrap()
}

fn culprit(report: &serde_json::Value) -> Option<String> {
    let finding = &report["outcome"]["finding"];
    (finding["kind"] == "culprit").then(|| {
        let i = finding["step"]["culprit"].as_u64().unwrap() as usize;
        report["commits"][i]["id"].as_str().unwrap().to_string()
    })
}

/// Files and folders under `dir` whose names start with one of `prefixes`.
fn leftovers(dir: &Path, prefixes: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if prefixes.iter().any(|p| name.starts_with(p)) {
            out.push(e.path());
        }
        if e.path().is_dir() {
            out.extend(leftovers(&e.path(), prefixes));
        }
    }
    out
}

#[test]
fn the_workspace_acted_on_is_the_one_the_command_runs_in() {
    let m = mini(false);
    let own_runs = || {
        std::fs::read_dir(xtask::workspace_root().join("profiles/runs"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let before = own_runs();
    // From a subfolder of the miniature checkout: it, not the checkout this
    // binary was built from, is benchmarked and written to.
    let out = run(&mut xtask(
        &m.root().join("zp/src"),
        &["bench", "state_size", "--quick"],
    ));
    assert!(out.status.success());
    let runs: Vec<_> = std::fs::read_dir(m.root().join("profiles/runs"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(runs.len(), 1, "the run is stored in the miniature checkout");
    assert_eq!(
        own_runs(),
        before,
        "nothing was written into the workbench's own checkout"
    );
    let out = run(&mut xtask(m.root(), &["runs"]));
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("runs (1)"), "{listed}");

    // What cargo does with two clones sharing a target directory: it runs
    // the binary built in one clone for the other. cargo says which
    // package it ran (CARGO_MANIFEST_DIR); a mismatch is refused.
    let out = run(xtask(m.root(), &["runs"]).env("CARGO_MANIFEST_DIR", m.root().join("xtask")));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("but cargo ran it for") && err.contains("touch"),
        "{err}"
    );

    // Outside any checkout.
    let nowhere = tempfile::tempdir().unwrap();
    let out = run(&mut xtask(nowhere.path(), &["runs"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not inside a checkout of zp"));
    m.untouched().unwrap();
}

#[test]
fn a_rustflags_change_builds_new_probes_and_measures_them_again() {
    let m = mini(true);
    let good = m.ids[0].to_string();
    let args = [
        "bisect",
        "spin",
        "--good",
        &good,
        "--metric",
        "instructions",
    ];
    let first = run(&mut xtask(m.root(), &args));
    assert!(first.status.success());
    let r1 = bisect_report(m.root());
    let count = |r: &serde_json::Value| r["outcome"]["visits"][0]["samples"][0].as_f64().unwrap();
    assert_eq!(culprit(&r1).as_deref(), Some(m.ids[3].to_string().as_str()));

    // The same bisect with a flag that doubles the routine's work: new
    // build key, new probes, new counts; nothing replayed. (Its own target
    // directory: RUSTFLAGS rebuild every dependency, and the shared one
    // should not be rebuilt twice.)
    let flagged = tempfile::tempdir().unwrap();
    let second = run(xtask(m.root(), &args)
        .env("RUSTFLAGS", "--cfg zp_mini_slow")
        .env("CARGO_TARGET_DIR", flagged.path()));
    assert!(second.status.success());
    let r2 = bisect_report(m.root());
    assert_ne!(r1["build_key"]["hash"], r2["build_key"]["hash"]);
    assert!(
        r2["build_key"]["inputs"]["env RUSTFLAGS"] == "--cfg zp_mini_slow",
        "{:#}",
        r2["build_key"]
    );
    let ratio = count(&r2) / count(&r1);
    assert!(
        (1.8..2.2).contains(&ratio),
        "{} → {}",
        count(&r1),
        count(&r2)
    );
    assert_eq!(r2["cached"], 0, "no count of the other build is replayed");
    assert!(r2["builds"].as_u64().unwrap() >= 2);

    // Without the flag again: the first build's probes and counts return.
    let third = run(&mut xtask(m.root(), &args));
    assert!(third.status.success());
    let r3 = bisect_report(m.root());
    assert_eq!(count(&r3), count(&r1));
    assert_eq!(
        (r3["builds"].as_u64(), r3["measurements"].as_u64()),
        (Some(0), Some(0))
    );
    m.untouched().unwrap();
}

#[test]
fn failures_that_are_not_the_commits_are_not_cached_and_damage_is_repaired() {
    let mut m = mini(false);
    let profile = ["profile", "--counters", "spin", "--rev", "HEAD"];
    let builds = m.root().join("profiles/cache/builds");
    let entries = || -> Vec<PathBuf> {
        std::fs::read_dir(&builds)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
                    .collect()
            })
            .unwrap_or_default()
    };
    // cargo refuses the job count: not the commit's fault, nothing cached.
    let out = run(xtask(m.root(), &profile).env("CARGO_BUILD_JOBS", "0"));
    assert_eq!(out.status.code(), Some(4));
    let err = stderr(&out);
    assert!(
        err.contains("not the commit's code, so nothing was cached"),
        "{err}"
    );
    assert!(entries().is_empty(), "{:?}", entries());
    let out = run(&mut xtask(m.root(), &profile));
    assert!(out.status.success());
    let entry = entries().pop().expect("the build is cached");

    // A truncated probe, then a missing entry.json: each found and rebuilt.
    let probe = entry.join("probe");
    let bytes = std::fs::read(&probe).unwrap();
    std::fs::write(&probe, &bytes[..bytes.len() / 2]).unwrap();
    let out = run(&mut xtask(m.root(), &profile));
    assert!(out.status.success());
    assert!(stderr(&out).contains("rebuilt"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&probe).unwrap().len(), bytes.len());
    std::fs::remove_file(entry.join("entry.json")).unwrap();
    let out = run(&mut xtask(m.root(), &profile));
    assert!(out.status.success());
    assert!(stderr(&out).contains("rebuilt"), "{}", stderr(&out));

    // A compile error is the commit's: cached, with the compiler's message.
    m.edit("broken", "zp/src/lib.rs", |s| {
        s + "pub fn broken() -> u8 { \"no\" }\n"
    })
    .unwrap();
    for _ in 0..2 {
        let out = run(&mut xtask(m.root(), &profile));
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert!(
            err.contains("does not build: error[E0308]: mismatched types at zp/src/lib.rs"),
            "{err}"
        );
    }
    let broken = entries()
        .into_iter()
        .find(|e| {
            e.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&m.ids[8].to_string())
        })
        .expect("the failure is cached");
    let entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(broken.join("entry.json")).unwrap()).unwrap();
    assert_eq!(entry["outcome"]["kind"], "broken");
    m.untouched().unwrap();
}

#[test]
fn two_commands_at_once_each_get_their_own_worktree_and_scratch() {
    let m = mini(true);
    let good = m.ids[0].to_string();
    let spawn = |args: &[&str]| {
        xtask(m.root(), args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Two bisects and a profile of another commit, all building at once.
    let a = spawn(&["bisect", "spin", "--good", &good, "--metric", "time"]);
    let b = spawn(&["bisect", "spin", "--good", &good, "--metric", "time"]);
    let c = spawn(&[
        "profile",
        "--counters",
        "spin",
        "--rev",
        &m.ids[1].to_string(),
    ]);
    for child in [a, b, c] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let reports: Vec<serde_json::Value> = std::fs::read_dir(m.root().join("profiles/reports"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect();
    assert_eq!(reports.len(), 2, "two reports, under distinct names");
    for r in &reports {
        assert_eq!(culprit(r).as_deref(), Some(m.ids[3].to_string().as_str()));
    }
    // Two benches at once: each its own criterion scratch, each its run.
    let a = spawn(&["bench", "spin", "--quick"]);
    let b = spawn(&["bench", "spin", "--quick"]);
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let runs = std::fs::read_dir(m.root().join("profiles/runs"))
        .unwrap()
        .count();
    assert_eq!(runs, 2);
    assert!(leftovers(m.root(), &[".tmp-", ".trash-"]).is_empty());
    m.untouched().unwrap();
}

/// Starts `args`, waits until its standard error shows `marker` and then
/// `delay`, presses Ctrl-C (SIGINT to the process alone), and returns the
/// exit code.
fn interrupt(dir: &Path, args: &[&str], marker: &str, delay: Duration) -> Option<i32> {
    let mut child = xtask(dir, args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let marker = marker.to_string();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if line.contains(&marker) {
                let _ = tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    rx.recv_timeout(Duration::from_secs(120))
        .expect("the command got going");
    std::thread::sleep(delay);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let started = Instant::now();
    let status = child.wait().unwrap();
    let lines = reader.join().unwrap();
    eprintln!("{}", lines.join("\n"));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "it stopped promptly"
    );
    status.code()
}

#[test]
fn ctrl_c_leaves_no_worktree_no_partial_cache_entry_and_the_checkout_as_it_was() {
    let m = mini(true);
    // The user's checkout is dirty: a staged change, an unstaged one, an
    // untracked file and a stash entry. All must survive.
    let repo = git2::Repository::open(m.root()).unwrap();
    std::fs::write(m.root().join("README.md"), "stashed edit\n").unwrap();
    let mut repo = repo;
    let sig = git2::Signature::now("Dev", "dev@example.invalid").unwrap();
    repo.stash_save(&sig, "work in progress", None).unwrap();
    std::fs::write(m.root().join("zp/src/lib.rs"), "// staged\n").unwrap();
    let mut index = repo.index().unwrap();
    index.add_path(Path::new("zp/src/lib.rs")).unwrap();
    index.write().unwrap();
    std::fs::write(m.root().join("README.md"), "unstaged edit\n").unwrap();
    std::fs::write(m.root().join("notes.txt"), "untracked\n").unwrap();
    let before = m.state();
    let good = m.ids[0].to_string();
    let bisect = ["bisect", "spin", "--good", &good, "--metric", "time"];
    let slots = xtask::storage::builds::slots_base(m.root());
    let check = |when: &str| {
        let worktrees: Vec<_> = std::fs::read_dir(&slots)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            worktrees.is_empty(),
            "{when}: worktrees left: {worktrees:?}"
        );
        let partial = leftovers(&m.root().join("profiles"), &[".tmp-", ".trash-"]);
        assert!(partial.is_empty(), "{when}: partial files: {partial:?}");
        assert_eq!(m.state(), before, "{when}: the checkout changed");
    };

    // During the first build of an endpoint.
    let code = interrupt(
        m.root(),
        &bisect,
        "bisecting spin",
        Duration::from_millis(1500),
    );
    assert_eq!(code, Some(130));
    check("interrupted while building");

    // During measurement: everything is built now.
    let out = run(&mut xtask(m.root(), &bisect));
    assert!(out.status.success());
    let code = interrupt(
        m.root(),
        &bisect,
        "bisecting spin",
        Duration::from_millis(1500),
    );
    assert_eq!(code, Some(130));
    check("interrupted while measuring");

    // Whatever the interrupted runs left in the cache is whole: a full
    // run repairs nothing and still finds the culprit.
    let out = run(&mut xtask(m.root(), &bisect));
    assert!(out.status.success());
    let r = bisect_report(m.root());
    assert_eq!(
        r["repaired"].as_array().map(Vec::len),
        Some(0),
        "{:#}",
        r["repaired"]
    );
    assert_eq!(culprit(&r).as_deref(), Some(m.ids[3].to_string().as_str()));
    check("after a full run");
}

/// The CI gate end to end: a head with about 12 % more instructions in the
/// record layer fails (exit 1) and its comment names the function; a head
/// that changes no code passes (exit 0). Nothing in the checkout moves.
#[test]
fn the_gate_fails_a_planted_record_layer_slowdown_and_passes_an_unchanged_head() {
    let mut m = Mini::new(&xtask::workspace_root(), &target()).unwrap();
    let base = m.ids[0].to_string();
    m.edit("docs", "README.md", |s| s + "Documented.\n")
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let gate = |m: &Mini, dir: &str| {
        let dir = out.path().join(dir);
        let o = run(&mut xtask(
            m.root(),
            &[
                "ci",
                "--base",
                &base,
                "--only",
                "encrypt_record",
                "--out",
                dir.to_str().unwrap(),
            ],
        ));
        let comment = std::fs::read_to_string(dir.join("comment.md")).unwrap_or_default();
        (o.status.code(), comment)
    };
    let (code, comment) = gate(&m, "unchanged");
    assert_eq!(code, Some(0), "{comment}");
    assert!(comment.contains("✅ no regression"), "{comment}");

    m.edit("record: checksum while sealing", "zp/src/record.rs", |s| {
        s.replace(
            "// plant: record",
            "for b in data.iter().step_by(20) {\n        state = state.rotate_left(5) ^ u64::from(*b);\n    }",
        )
    })
    .unwrap();
    let (code, comment) = gate(&m, "planted");
    assert_eq!(code, Some(1), "{comment}");
    assert!(
        comment.contains("| ❌ | encrypt_record | datapath |"),
        "{comment}"
    );
    assert!(
        comment.contains("`zp::record::seal`"),
        "the comment names the function: {comment}"
    );
    assert!(
        comment.contains("cargo xtask bisect encrypt_record --good"),
        "{comment}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("planted/gate.json")).unwrap())
            .unwrap();
    let [b, h] = [0, 1].map(|i| json["rows"][0]["instructions"][i].as_f64().unwrap());
    let rise = h / b - 1.0;
    assert!((0.10..0.20).contains(&rise), "planted about 12 %: {rise}");
    assert!(out.path().join("planted/bmf.json").is_file());
    m.untouched().unwrap();
}

/// A history records the CPU features a probe sees under valgrind, found
/// by running the workbench itself there: never more than the host has
/// (valgrind 3.19 hides SHA-NI, ADX, AVX-512, VAES and VPCLMULQDQ of the
/// development machine's CPU).
#[test]
fn the_features_valgrind_shows_are_a_subset_of_the_hosts() {
    let exe = env!("CARGO_BIN_EXE_xtask");
    let features = |under_valgrind: bool| -> Vec<String> {
        let mut c = if under_valgrind {
            let mut c = Command::new("valgrind");
            c.args(["-q", "--tool=none", exe]);
            c
        } else {
            Command::new(exe)
        };
        let out = c
            .env(xtask::storage::measurements::PRINT_FEATURES, "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .split(',')
            .filter(|f| !f.is_empty())
            .map(String::from)
            .collect()
    };
    let host = features(false);
    let seen = features(true);
    assert!(!seen.is_empty() || host.is_empty(), "valgrind ran nothing");
    assert!(seen.iter().all(|f| host.contains(f)), "{seen:?} ⊄ {host:?}");
    eprintln!(
        "host: {}; under valgrind: {}",
        host.join(","),
        seen.join(",")
    );
}

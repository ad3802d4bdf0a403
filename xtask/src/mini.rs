//! A miniature zp: a git repository with a workspace of zp's shape (a
//! `zp` crate whose probe is zp's own `benches/probe.rs`, a registry of a
//! few benchmarks, a criterion target, `profiles/budgets.toml`), built in
//! seconds instead of minutes. The workbench's end-to-end tests run the
//! real commands on it (bisects, concurrent processes, Ctrl-C, a shared
//! target directory), and `cargo xtask corpus --mini` plants its kinds of
//! slowdown in it.
//!
//! Its benchmarks each run `zp::kinds::common` (work the plants never
//! touch) and one function of `zp::kinds` that a plant makes slower, so a
//! hotspot diff has to tell the touched function from the rest.

use crate::Ctx;
use anyhow::{Context, Result, bail};
use git2::{Oid, Repository, Signature};
use std::path::{Path, PathBuf};

/// A miniature repository in a temporary folder (removed when dropped).
pub struct Mini {
    dir: tempfile::TempDir,
    /// Its commits, oldest first.
    pub ids: Vec<Oid>,
    /// The target directory builds share (the workbench's own).
    pub target: PathBuf,
}

const ROOT_MANIFEST: &str = r#"[workspace]
members = ["zp", "probe-protocol", "helper"]
resolver = "3"

[workspace.package]
edition = "2024"
rust-version = "1.89"
license = "MIT OR Apache-2.0"
publish = false

[profile.bench]
debug = "line-tables-only"

[profile.dev.package."*"]
opt-level = 3

# The build-setting plant changes these.
[profile.dev.package.helper]
opt-level = 3

[profile.bench.package.helper]
opt-level = 3
"#;

const ZP_MANIFEST: &str = r#"[package]
name = "zp"
version = "0.1.0"
edition.workspace = true
publish.workspace = true

[lib]
bench = false

[lints.rust]
unexpected_cfgs = { level = "warn", check-cfg = ["cfg(zp_mini_slow)"] }

[dependencies]
helper = { path = "../helper" }

[dev-dependencies]
criterion = { version = "0.8", default-features = false, features = ["cargo_bench_support"] }
dhat = "0.3"
perf-event = "0.4"
pprof = { version = "0.15", default-features = false }
serde_json = "1"
probe-protocol = { path = "../probe-protocol" }

[[bench]]
name = "probe"
harness = false

[[bench]]
name = "datapath"
harness = false
"#;

const HELPER_MANIFEST: &str = r#"[package]
name = "helper"
version = "0.1.0"
edition.workspace = true
publish.workspace = true
"#;

const HELPER_LIB: &str = r#"//! A dependency whose build settings a commit changes.

/// Serial arithmetic: fast when optimised, several times slower when not.
pub fn work(n: u64) -> u64 {
    let mut x = 7u64;
    for i in 0..n {
        x = x.rotate_left(3).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ std::hint::black_box(i);
    }
    x
}
"#;

/// The miniature zp's library.
pub const LIB: &str = r#"//! A miniature zp for the workbench's tests.

/// Iterations of `spin` in the `spin` benchmark.
pub const WORK: u64 = 200_000;

/// Serial arithmetic the optimiser cannot remove; twice as much when
/// built with `--cfg zp_mini_slow` (a build input outside the source).
pub fn spin(n: u64) -> u64 {
    let n = if cfg!(zp_mini_slow) { 2 * n } else { n };
    let mut x = 1u64;
    for i in 0..n {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(i ^ (x >> 7));
    }
    x
}

pub mod kinds;
pub mod record;
"#;

/// A miniature record layer, for the CI gate's test: a keystream XOR over
/// the payload. A plant replaces its `// plant: record` line.
pub const RECORD: &str = r#"//! A miniature record layer.

/// "Seals" `data` in place under `key`.
#[inline(never)]
pub fn seal(data: &mut [u8], key: u64) -> u64 {
    let mut state = key;
    for b in data.iter_mut() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *b ^= (state >> 56) as u8;
    }
    // plant: record
    state
}"#;

/// The functions the corpus's plants slow down, one per kind (in their
/// own file, so profiles name them `zp::kinds::…`); the plants replace
/// their `// plant: KIND` lines.
pub const KINDS: &str = r#"//! One function per kind of slowdown, and the work they all share.

use std::hint::black_box;

/// Work every routine of the corpus does, which no plant touches.
#[inline(never)]
pub fn common() -> u64 {
    super::spin(black_box(60_000))
}

#[inline(never)]
pub fn arithmetic(data: &[u8]) -> u64 {
    let mut sum = data.len() as u64;
    // plant: arithmetic
    sum = black_box(sum);
    sum
}

#[inline(never)]
pub fn copy(data: &[u8], out: &mut [u8]) {
    // plant: copy
    out[0] = data[0];
}

#[inline(never)]
pub fn alloc(n: usize) -> usize {
    let mut total = n;
    // plant: alloc
    total = black_box(total);
    total
}

#[inline(never)]
pub fn syscall() -> u64 {
    let mut calls = 0u64;
    // plant: syscall
    calls = black_box(calls);
    calls
}

#[inline(never)]
pub fn setting() -> u64 {
    helper::work(black_box(150_000))
}
"#;

const SUITE: &str = r#"//! A miniature registry in the shape of zp's `benches/suite/`.

#![allow(dead_code)]

use std::hint::black_box;

pub use probe_protocol::Category;

pub type Routine = Box<dyn FnMut()>;

/// What every setup takes (zp's registry passes its crypto provider).
pub type Env = ();

/// The environment the probe measures in.
pub fn probe_env() -> Env {}

pub enum Kind {
    Time(fn(Env) -> Routine),
    Bytes(fn(Env) -> u64),
}

pub struct Bench {
    pub name: &'static str,
    pub category: Category,
    pub kind: Kind,
}

pub fn all() -> &'static [Bench] {
    BENCHES
}

pub fn find(name: &str) -> Option<&'static Bench> {
    BENCHES.iter().find(|b| b.name == name)
}

static BENCHES: &[Bench] = &[
    Bench { name: "spin", category: Category::Datapath, kind: Kind::Time(spin) },
    Bench { name: "arithmetic", category: Category::Datapath, kind: Kind::Time(arithmetic) },
    Bench { name: "copy", category: Category::Datapath, kind: Kind::Time(copy) },
    Bench { name: "alloc", category: Category::Datapath, kind: Kind::Time(alloc) },
    Bench { name: "syscall", category: Category::Datapath, kind: Kind::Time(syscall) },
    Bench { name: "setting", category: Category::Datapath, kind: Kind::Time(setting) },
    Bench { name: "encrypt_record", category: Category::Datapath, kind: Kind::Time(encrypt_record) },
    Bench { name: "state_size", category: Category::Memory, kind: Kind::Bytes(state_size) },
];

fn spin(_: Env) -> Routine {
    Box::new(|| {
        black_box(zp::spin(black_box(zp::WORK)));
    })
}

fn arithmetic(_: Env) -> Routine {
    let data = vec![0x5au8; 64 * 1024];
    Box::new(move || {
        black_box(zp::kinds::common());
        black_box(zp::kinds::arithmetic(black_box(&data)));
    })
}

fn copy(_: Env) -> Routine {
    let data = vec![0x5au8; 256 * 1024];
    let mut out = vec![0u8; 256 * 1024];
    Box::new(move || {
        black_box(zp::kinds::common());
        zp::kinds::copy(black_box(&data), black_box(&mut out));
    })
}

fn alloc(_: Env) -> Routine {
    Box::new(|| {
        black_box(zp::kinds::common());
        black_box(zp::kinds::alloc(black_box(64)));
    })
}

fn syscall(_: Env) -> Routine {
    Box::new(|| {
        black_box(zp::kinds::common());
        black_box(zp::kinds::syscall());
    })
}

fn setting(_: Env) -> Routine {
    Box::new(|| {
        black_box(zp::kinds::common());
        black_box(zp::kinds::setting());
    })
}

fn encrypt_record(_: Env) -> Routine {
    let mut buf = vec![0x5au8; 1024];
    Box::new(move || {
        black_box(zp::record::seal(black_box(&mut buf), 7));
    })
}

fn state_size(_: Env) -> u64 {
    64
}

pub fn criterion_benches(c: &mut criterion::Criterion, category: Category) {
    let mut group = c.benchmark_group(category.as_str());
    for bench in all().iter().filter(|b| b.category == category) {
        if let Kind::Time(setup) = bench.kind {
            let mut routine = setup(probe_env());
            group.bench_function(bench.name, |b| b.iter(&mut routine));
        }
    }
    group.finish();
}
"#;

const DATAPATH: &str = r#"//! Criterion target for the datapath benchmarks of the registry.

mod suite;

fn benches(c: &mut criterion::Criterion) {
    suite::criterion_benches(c, suite::Category::Datapath);
}

criterion::criterion_group!(group, benches);
criterion::criterion_main!(group);
"#;

const BENCHMARKS: &str = r#"[benchmarks]
spin = { category = "datapath", target_us = 5000, description = "Serial arithmetic" }
arithmetic = { category = "datapath", target_us = 5000, description = "Plant: arithmetic loop" }
copy = { category = "datapath", target_us = 5000, description = "Plant: extra copy" }
alloc = { category = "datapath", target_us = 5000, description = "Plant: allocation per call" }
syscall = { category = "datapath", target_us = 5000, description = "Plant: system call per call" }
setting = { category = "datapath", target_us = 5000, description = "Plant: build setting" }
encrypt_record = { category = "datapath", target_us = 5000, description = "A record layer" }
state_size = { category = "memory", target_bytes = 1024, description = "A size" }
"#;

impl Mini {
    /// A new repository holding the miniature zp as its first commit.
    /// `from` is the workbench checkout whose probe, protocol crate,
    /// thresholds and lockfile it copies; `target` the target directory
    /// its builds share.
    pub fn new(from: &Path, target: &Path) -> Result<Mini> {
        let dir = tempfile::Builder::new()
            .prefix("zp-mini-")
            .tempdir()
            .context("cannot create a temporary folder")?;
        let read = |p: &str| {
            std::fs::read_to_string(from.join(p))
                .with_context(|| format!("cannot read {}", from.join(p).display()))
        };
        let budgets = read("profiles/budgets.toml")?;
        let thresholds = budgets
            .find("[thresholds.crypto]")
            .zip(budgets.find("[benchmarks]"))
            .map(|(a, b)| &budgets[a..b])
            .context("profiles/budgets.toml has no thresholds")?;
        let files: Vec<(&str, String)> = vec![
            ("Cargo.toml", ROOT_MANIFEST.into()),
            ("Cargo.lock", read("Cargo.lock")?),
            (
                ".gitignore",
                "/target\n/profiles/*\n!/profiles/budgets.toml\n".into(),
            ),
            ("README.md", "A miniature zp.\n".into()),
            (
                "probe-protocol/Cargo.toml",
                read("probe-protocol/Cargo.toml")?,
            ),
            (
                "probe-protocol/src/lib.rs",
                read("probe-protocol/src/lib.rs")?,
            ),
            ("helper/Cargo.toml", HELPER_MANIFEST.into()),
            ("helper/src/lib.rs", HELPER_LIB.into()),
            ("zp/Cargo.toml", ZP_MANIFEST.into()),
            ("zp/src/lib.rs", LIB.into()),
            ("zp/src/kinds.rs", KINDS.into()),
            ("zp/src/record.rs", RECORD.into()),
            ("zp/benches/probe.rs", read("zp/benches/probe.rs")?),
            ("zp/benches/suite/mod.rs", SUITE.into()),
            ("zp/benches/datapath.rs", DATAPATH.into()),
            ("profiles/budgets.toml", format!("{thresholds}{BENCHMARKS}")),
        ];
        for (path, text) in &files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().expect("in a folder"))?;
            std::fs::write(&p, text)?;
        }
        // Let cargo trim the copied lockfile to this workspace (offline: all
        // it needs is already locked), so the first build leaves the tree
        // clean.
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = crate::process::output(
            std::process::Command::new(cargo)
                .current_dir(dir.path())
                .env("CARGO_TARGET_DIR", target)
                .args(["update", "--workspace", "--offline"]),
            crate::process::Stderr::Capture,
        )?;
        if !out.status.success() {
            bail!(
                "cargo cannot resolve the miniature workspace offline: {}",
                crate::process::last_lines(&out.stderr, 3)
            );
        }
        Repository::init(dir.path())?;
        let mut mini = Mini {
            dir,
            ids: Vec::new(),
            target: target.to_path_buf(),
        };
        mini.commit("initial", &[])?;
        Ok(mini)
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The workbench on this repository: probes in the dev profile (whose
    /// dependencies `cargo test` built), with the shared target directory.
    pub fn ctx(&self) -> Ctx {
        Ctx::new(self.root().to_path_buf(), "dev", Some(self.target.clone()))
            .expect("the miniature workspace loads")
    }

    /// Writes `changes` (path, contents) and commits every change.
    pub fn commit(&mut self, subject: &str, changes: &[(&str, String)]) -> Result<Oid> {
        for (path, text) in changes {
            let p = self.root().join(path);
            std::fs::create_dir_all(p.parent().expect("in a folder"))?;
            std::fs::write(&p, text)?;
        }
        let repo = Repository::open(self.root())?;
        let mut index = repo.index()?;
        index.add_all(["*"], git2::IndexAddOption::DEFAULT, None)?;
        index.write()?;
        let tree = repo.find_tree(index.write_tree()?)?;
        let sig = Signature::now("Dev", "dev@example.invalid")?;
        let parent = self
            .ids
            .last()
            .map(|id| repo.find_commit(*id))
            .transpose()?;
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        let id = repo.commit(Some("HEAD"), &sig, &sig, subject, &tree, &parents)?;
        self.ids.push(id);
        Ok(id)
    }

    /// Commits `file` changed by `edit`.
    pub fn edit(
        &mut self,
        subject: &str,
        file: &str,
        edit: impl FnOnce(String) -> String,
    ) -> Result<Oid> {
        let text = std::fs::read_to_string(self.root().join(file))
            .with_context(|| format!("cannot read {file}"))?;
        let changed = edit(text);
        self.commit(subject, &[(file, changed)])
    }

    /// Eight commits: two that touch only the README, comments, and (when
    /// `plant`) the `spin` benchmark's work doubled at the fourth.
    pub fn history(from: &Path, target: &Path, plant: bool) -> Result<Mini> {
        let mut m = Mini::new(from, target)?;
        let lib = "zp/src/lib.rs";
        let append = |extra: &'static str| move |s: String| s + extra;
        m.edit("docs", "README.md", append("Documented.\n"))?;
        m.edit("comment", lib, append("// a comment\n"))?;
        m.edit("more work", lib, |s| {
            if plant {
                s.replace("WORK: u64 = 200_000", "WORK: u64 = 400_000")
            } else {
                s + "// no more work\n"
            }
        })?;
        m.edit("another comment", lib, append("// and another\n"))?;
        m.edit("docs again", "README.md", append("Documented twice.\n"))?;
        m.edit("helper", lib, append("pub fn helper() -> u8 { 7 }\n"))?;
        m.edit("last", lib, |s| s.replace("-> u8 { 7 }", "-> u8 { 8 }"))?;
        Ok(m)
    }

    /// Whether the repository is as its last commit left it: HEAD there,
    /// nothing changed or added outside ignored folders, no worktree
    /// registered. `Err` says what differs.
    pub fn untouched(&self) -> std::result::Result<(), String> {
        let repo = Repository::open(self.root()).map_err(|e| e.to_string())?;
        let head = repo.head().ok().and_then(|h| h.target());
        if head != self.ids.last().copied() {
            return Err(format!("HEAD moved to {head:?}"));
        }
        let mut opts = git2::StatusOptions::new();
        opts.include_untracked(true);
        let changed: Vec<String> = repo
            .statuses(Some(&mut opts))
            .map_err(|e| e.to_string())?
            .iter()
            .filter_map(|s| s.path().ok().map(String::from))
            .collect();
        if !changed.is_empty() {
            return Err(format!("the tree changed: {changed:?}"));
        }
        if !repo.worktrees().map_err(|e| e.to_string())?.is_empty() {
            return Err("a git worktree was registered".into());
        }
        Ok(())
    }

    /// Everything of the user's a command must not touch, as text to
    /// compare before and after: HEAD (and what it points at), the index,
    /// every changed or untracked file with its contents, the stash, and
    /// registered worktrees.
    pub fn state(&self) -> String {
        let mut repo = Repository::open(self.root()).expect("the repository opens");
        let mut out = String::new();
        {
            let head = repo.head().ok();
            out += &format!(
                "HEAD {:?} -> {:?}\n",
                head.as_ref().and_then(|h| h.name().ok().map(String::from)),
                head.as_ref().and_then(|h| h.target())
            );
        }
        out += &format!(
            "index tree {:?}\n",
            repo.index().and_then(|mut i| i.write_tree()).ok()
        );
        let mut opts = git2::StatusOptions::new();
        opts.include_untracked(true);
        for e in repo.statuses(Some(&mut opts)).expect("a status").iter() {
            let path = e.path().unwrap_or("?").to_string();
            let content = std::fs::read(self.root().join(&path)).unwrap_or_default();
            out += &format!(
                "{:?} {path} {:016x}\n",
                e.status(),
                crate::host::fnv1a(&content)
            );
        }
        repo.stash_foreach(|i, msg, id| {
            out += &format!("stash {i} {msg} {id}\n");
            true
        })
        .expect("the stash reads");
        out += &format!("worktrees {:?}\n", repo.worktrees().map(|w| w.len()).ok());
        out
    }

    /// Keeps the repository after the value is dropped (for a person to
    /// look at); returns where it is.
    pub fn keep(self) -> PathBuf {
        self.dir.keep()
    }
}

//! The probe built at any commit, outside the user's checkout, and cached.
//!
//! **Where.** Each process writes commits into a worktree of its own: a
//! numbered slot under the system's temporary folder, held by a file lock
//! for as long as the process lives and removed when it ends (Ctrl-C
//! included). The slot is outside the checkout on purpose: cargo reads
//! `.cargo/config.toml` from every folder above the one it runs in, so a
//! worktree inside the checkout would build old commits with today's
//! configuration. git2 writes the files; HEAD, the index, the working tree
//! and the stash of the repository are never touched.
//!
//! **Built where.** In `<target>/workbench-builds`, never beside the
//! checkout's own builds, one build at a time (a file lock), with every
//! file of the worktree dated now. cargo decides that an artifact is fresh
//! by comparing mtimes, and names artifacts by paths relative to the
//! workspace, so two copies of one workspace in one target folder trade
//! artifacts: a commit built in the worktree after the checkout's files were
//! written looked fresh to the checkout's next `cargo bench`, which ran the
//! old commit's code (reproduced, and tested below); and two processes
//! building at once took each other's probes. Dating every file after
//! taking the lock makes cargo rebuild the workspace's own crates in every
//! build; the registry dependencies stay shared.
//!
//! **Keyed by.** An entry is `profiles/cache/builds/<commit>-<key>/`, where
//! the key hashes every input besides the commit that changes the binary:
//! the compiler (`rustc -vV`), the cargo profile, zp's features, the
//! environment cargo and rustc read (`RUSTFLAGS`, `CARGO_ENCODED_RUSTFLAGS`,
//! `CARGO_BUILD_*`, `CARGO_TARGET_*`, `CARGO_PROFILE_*`, wrappers) and every
//! cargo configuration file a build in the worktree reads (above it and in
//! `CARGO_HOME`, by content). The commit covers its own manifests, lockfile,
//! `.cargo/` and toolchain file.
//!
//! **Trusted how.** An entry holds the probe and `entry.json` (its inputs,
//! size and fingerprint). It is verified before every use and rebuilt when
//! damaged; it is installed by renaming a complete folder into place, so no
//! reader ever sees half of one. Only failures that belong to the commit
//! (a compile error, a manifest that does not load, no probe target) are
//! cached; anything else (a signal, no memory, no network, a bad flag)
//! stops the command with cargo's message and caches nothing.

use crate::host::{fingerprint_of, fnv1a};
use crate::process::{self, Stderr};
use crate::units::short;
use crate::vcs::git::{self, CommitInfo};
use crate::{Ctx, storage::atomic};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

mod key;
mod slots;

pub use key::*;
pub use slots::*;

/// Version 1 built in the checkout's target folder, where a probe could be
/// another commit's (see **Built where**): such entries are rebuilt.
const SCHEMA: &str = "zp-workbench-build/2";

crate::message_error!(
    /// cargo failed for a reason that is not the commit's (exit code 4).
    BuildFailed
);

/// A probe binary in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary {
    pub exe: PathBuf,
    /// Hash of its bytes: equal fingerprints, equal code.
    pub fingerprint: String,
}

/// What a commit's build gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Built {
    Ready(Binary),
    /// It cannot be built, for a reason that belongs to the commit.
    Broken(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    schema: String,
    commit: String,
    key: BuildKey,
    outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Outcome {
    Built { fingerprint: String, size: u64 },
    Broken { reason: String },
}

/// How the probes are built.
#[derive(Debug, Clone)]
pub struct Options {
    /// The cargo profile (`bench`; tests use `dev`).
    pub profile: String,
    pub features: Vec<String>,
    /// cargo's `--jobs` (at least 1: the flag refuses 0).
    pub jobs: Option<u32>,
    /// Build again commits cached as broken (`--fresh`).
    pub retry_broken: bool,
}

impl Options {
    /// zp's probe in the workspace's probe profile with its default
    /// features, as the bisect, the gate and the history build it.
    pub fn probe(ctx: &Ctx, jobs: Option<u32>, retry_broken: bool) -> Options {
        Options {
            profile: ctx.probe_profile.clone(),
            features: Vec::new(),
            jobs,
            retry_broken,
        }
    }
}

/// Builds and caches probes of one repository's commits.
pub struct Builder<'r> {
    repo: &'r git2::Repository,
    cache: PathBuf,
    target_dir: PathBuf,
    base: PathBuf,
    opts: Options,
    pub key: BuildKey,
    slot: Option<Slot>,
    seen: BTreeMap<String, Built>,
    /// Builds run by this builder.
    pub builds: usize,
    /// What was found wrong with cache entries (and rebuilt).
    pub repaired: Vec<String>,
}

impl<'r> Builder<'r> {
    pub fn new(ctx: &Ctx, repo: &'r git2::Repository, opts: Options) -> Result<Builder<'r>> {
        let base = slots_base(&ctx.root);
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let out = process::output(
            Command::new(&rustc).arg("-vV").current_dir(&ctx.root),
            Stderr::Capture,
        )?;
        if !out.status.success() {
            bail!(
                "`{rustc} -vV` failed: {}",
                process::last_lines(&out.stderr, 3)
            );
        }
        let env: Vec<(String, String)> = std::env::vars().collect();
        let key = BuildKey::detect(
            &String::from_utf8_lossy(&out.stdout),
            &opts.profile,
            &opts.features,
            &base.join("worktree-0"),
            &env,
        );
        Ok(Builder {
            repo,
            cache: ctx.store.cache().join("builds"),
            target_dir: ctx.target_dir()?.join("workbench-builds"),
            base,
            opts,
            key,
            slot: None,
            seen: BTreeMap::new(),
            builds: 0,
            repaired: Vec::new(),
        })
    }

    fn entry_dir(&self, commit: &str) -> PathBuf {
        self.cache.join(format!("{commit}-{}", self.key.hash))
    }

    /// The probe at `commit`: from the cache when a verified entry exists,
    /// else built and cached.
    pub fn probe(&mut self, commit: &str) -> Result<Built> {
        if let Some(b) = self.seen.get(commit) {
            return Ok(b.clone());
        }
        let dir = self.entry_dir(commit);
        let built = match self.load(commit, &dir) {
            Ok(Some(b)) => b,
            Ok(None) => self.build(commit, &dir)?,
            Err(why) => {
                self.repaired
                    .push(format!("{}: {why}; rebuilt", short(commit)));
                atomic::remove_dir(&dir)?;
                self.build(commit, &dir)?
            }
        };
        self.seen.insert(commit.to_string(), built.clone());
        Ok(built)
    }

    /// A verified entry, `None` when there is none (or a broken one that
    /// `--fresh` retries), or why the entry cannot be trusted.
    fn load(&self, commit: &str, dir: &Path) -> std::result::Result<Option<Built>, String> {
        let file = dir.join("entry.json");
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !dir.exists() => {
                return Ok(None);
            }
            Err(e) => return Err(format!("cannot read its entry.json ({e})")),
        };
        let entry: Entry =
            serde_json::from_str(&text).map_err(|e| format!("its entry.json is damaged ({e})"))?;
        if entry.schema == "zp-workbench-build/1" {
            return Err(
                "it was built by an earlier workbench, in a target folder where cargo could take another checkout's artifacts".into(),
            );
        }
        if entry.schema != SCHEMA || entry.commit != commit || entry.key != self.key {
            return Err("its entry.json describes another build".into());
        }
        match entry.outcome {
            Outcome::Broken { .. } if self.opts.retry_broken => {
                Err("--fresh retries builds that failed".into())
            }
            Outcome::Broken { reason } => Ok(Some(Built::Broken(reason))),
            Outcome::Built { fingerprint, size } => {
                let exe = dir.join("probe");
                let bytes =
                    std::fs::read(&exe).map_err(|e| format!("its probe is missing ({e})"))?;
                if bytes.len() as u64 != size {
                    return Err(format!(
                        "its probe is {} bytes, not the {size} it was built with",
                        bytes.len()
                    ));
                }
                if fingerprint_of(&bytes) != fingerprint {
                    return Err("its probe's bytes changed since it was built".into());
                }
                Ok(Some(Built::Ready(Binary { exe, fingerprint })))
            }
        }
    }

    fn build(&mut self, commit: &str, dir: &Path) -> Result<Built> {
        process::check()?;
        if self.slot.is_none() {
            self.slot = Some(Slot::acquire(&self.base)?);
        }
        let worktree = self.slot.as_ref().expect("acquired").dir.clone();
        let id = git2::Oid::from_str(commit)?;
        // Held until the probe's bytes are read (`install_built`).
        let _lock = self.lock_builds()?;
        git::materialize(self.repo, id, &worktree).with_context(|| {
            format!("cannot write {} into {}", short(commit), worktree.display())
        })?;
        date_now(&worktree)
            .with_context(|| format!("cannot date the files of {}", worktree.display()))?;
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&worktree)
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .args([
                "build",
                "--profile",
                &self.opts.profile,
                "--package",
                "zp",
                "--bench",
                "probe",
                "--message-format=json",
            ]);
        if !self.opts.features.is_empty() {
            cmd.args(["--features", &self.opts.features.join(",")]);
        }
        if let Some(j) = self.opts.jobs {
            cmd.args(["--jobs", &j.to_string()]);
        }
        let out = process::output(&mut cmd, Stderr::Capture)?;
        self.builds += 1;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let outcome = if out.status.success() {
            let exes = crate::vcs::cargo::executables(&stdout);
            let exe = exes
                .get("probe")
                .with_context(|| format!("cargo built no probe at {}", short(commit)))?;
            // The lock and the dated files make this impossible; checked
            // anyway, since a wrong probe would be cached for good.
            if let Some(other) = crate::vcs::origin::compiled_elsewhere(exe, &worktree, "zp/")? {
                bail!(BuildFailed(format!(
                    "cargo handed over a probe for {} whose zp was compiled in {other}, not in the worktree {}; nothing was cached",
                    short(commit),
                    worktree.display()
                )));
            }
            return self.install_built(commit, dir, exe);
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            match commit_failure(&stdout, &stderr) {
                Some(reason) => Outcome::Broken { reason },
                None => bail!(BuildFailed(format!(
                    "cannot build the probe at {}: cargo failed ({}) for a reason that is not the commit's code, so nothing was cached; fix it and run again: {}",
                    short(commit),
                    out.status,
                    process::last_lines(&out.stderr, 4)
                ))),
            }
        };
        let Outcome::Broken { reason } = &outcome else {
            unreachable!("built probes returned above")
        };
        let reason = reason.clone();
        self.install(commit, dir, outcome, None)?;
        Ok(Built::Broken(reason))
    }

    /// The lock every workbench build in this target folder takes, waited
    /// for with a line on stderr.
    fn lock_builds(&self) -> Result<File> {
        std::fs::create_dir_all(&self.target_dir)
            .with_context(|| format!("cannot create {}", self.target_dir.display()))?;
        let path = self.target_dir.join(".workbench-build.lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match lock.try_lock() {
            Ok(()) => return Ok(lock),
            Err(std::fs::TryLockError::WouldBlock) => eprintln!(
                "waiting for another workbench build in {} to finish",
                self.target_dir.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        lock.lock()
            .with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(lock)
    }

    fn install_built(&mut self, commit: &str, dir: &Path, exe: &Path) -> Result<Built> {
        let bytes = std::fs::read(exe).with_context(|| format!("cannot read {}", exe.display()))?;
        let fingerprint = fingerprint_of(&bytes);
        let outcome = Outcome::Built {
            fingerprint: fingerprint.clone(),
            size: bytes.len() as u64,
        };
        self.install(commit, dir, outcome, Some(&bytes))?;
        match self.load(commit, dir) {
            Ok(Some(b)) => Ok(b),
            Ok(None) => bail!("the cache entry {} vanished", dir.display()),
            Err(why) => bail!("the cache entry {} is damaged: {why}", dir.display()),
        }
    }

    /// Writes the entry into a temporary folder beside its final place,
    /// then renames it there. If another process installed the same entry
    /// meanwhile, theirs stays.
    fn install(
        &self,
        commit: &str,
        dir: &Path,
        outcome: Outcome,
        probe: Option<&[u8]>,
    ) -> Result<()> {
        std::fs::create_dir_all(&self.cache)
            .with_context(|| format!("cannot create {}", self.cache.display()))?;
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempdir_in(&self.cache)
            .with_context(|| format!("cannot create a folder in {}", self.cache.display()))?;
        if let Some(bytes) = probe {
            let p = tmp.path().join("probe");
            std::fs::write(&p, bytes).with_context(|| format!("cannot write {}", p.display()))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
        }
        let entry = Entry {
            schema: SCHEMA.into(),
            commit: commit.into(),
            key: self.key.clone(),
            outcome,
        };
        std::fs::write(
            tmp.path().join("entry.json"),
            serde_json::to_vec_pretty(&entry)?,
        )?;
        process::check()?;
        match std::fs::rename(tmp.path(), dir) {
            Ok(()) => {
                let _ = tmp.keep();
                Ok(())
            }
            // Someone else's complete entry is already there.
            Err(_) if dir.join("entry.json").is_file() => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot install {}", dir.display())),
        }
    }
}

/// Sets the modification time of every file under `dir` to now, so that
/// cargo holds nothing built before as fresh (see **Built where**).
fn date_now(dir: &Path) -> Result<()> {
    let now = std::time::SystemTime::now();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            date_now(&path)?;
        } else if meta.is_file() {
            File::options().write(true).open(&path)?.set_modified(now)?;
        }
    }
    Ok(())
}

/// Why a failed build is the commit's fault, from cargo's JSON messages
/// (stdout) and its own errors (stderr); `None` when it is not (a signal,
/// memory, the network, a flag): such failures must not be cached.
pub fn commit_failure(stdout: &str, stderr: &str) -> Option<String> {
    for line in stdout.lines() {
        let Ok(m) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if m["reason"] != "compiler-message" || m["message"]["level"] != "error" {
            continue;
        }
        let msg = &m["message"];
        let text = msg["message"].as_str().unwrap_or("an error");
        let code = msg["code"]["code"]
            .as_str()
            .map_or(String::new(), |c| format!("[{c}]"));
        let place = msg["spans"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["is_primary"] == true)
            .map_or(String::new(), |s| {
                format!(
                    " at {}:{}",
                    s["file_name"].as_str().unwrap_or("?"),
                    s["line_start"]
                )
            });
        return Some(format!("does not build: error{code}: {text}{place}"));
    }
    if stderr.contains("no bench target named `probe`") {
        return Some("has no probe bench target (older than the workbench)".into());
    }
    let manifest = [
        "failed to parse manifest",
        "failed to load manifest",
        "did not match any packages",
        "could not find `Cargo.toml`",
        "failed to parse lock file",
    ];
    if manifest.iter().any(|m| stderr.contains(m)) {
        let first = stderr
            .lines()
            .find(|l| l.starts_with("error"))
            .unwrap_or("cargo refused the manifest");
        return Some(format!("its manifest does not load: {first}"));
    }
    None
}

/// The probe built from `rev` (through the cache), or from the working
/// tree as it is when `rev` is `None`.
pub fn probe_for(ctx: &Ctx, rev: Option<&str>) -> Result<crate::vcs::probe::Process> {
    let Some(rev) = rev else {
        let exes =
            crate::vcs::cargo::build_benches_in(&ctx.root, &["probe"], &ctx.probe_profile, &[])?;
        let label = match git::head(&ctx.root)? {
            Some(h) => format!(
                "{}{}",
                short(&h.commit),
                if h.dirty { "+changes" } else { "" }
            ),
            None => "working tree".to_string(),
        };
        return Ok(crate::vcs::probe::Process::new(
            &exes["probe"],
            &ctx.root,
            &label,
        ));
    };
    let repo = git::open(&ctx.root)?;
    let id = git::resolve(&repo, rev)?;
    let info: CommitInfo = git::info(&repo, id)?;
    let mut builder = Builder::new(ctx, &repo, Options::probe(ctx, None, false))?;
    eprintln!(
        "building the probe at {} {} …",
        short(&info.id),
        info.subject
    );
    let built = builder.probe(&info.id)?;
    for r in &builder.repaired {
        eprintln!("cache: {r}");
    }
    match built {
        Built::Ready(b) => Ok(crate::vcs::probe::Process::new(
            &b.exe,
            &ctx.root,
            short(&info.id),
        )),
        Built::Broken(why) => bail!(crate::Usage(format!("`{rev}` ({}) {why}", short(&info.id)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_key_changes_with_every_input_that_changes_the_binary() {
        let dir = tempfile::tempdir().unwrap();
        let slot = dir.path().join("a/b/worktree-0");
        let home = dir.path().join("home");
        let base_env = env(&[("CARGO_HOME", home.to_str().unwrap()), ("PATH", "/usr/bin")]);
        let key = |env: &[(String, String)], profile: &str, features: &[String]| {
            BuildKey::detect("rustc 1.95.0\nhost: x86_64", profile, features, &slot, env).hash
        };
        let k0 = key(&base_env, "bench", &[]);
        // Irrelevant: PATH, the target directory, the job count.
        let mut e = base_env.clone();
        e.extend(env(&[
            ("PATH", "/other"),
            ("CARGO_TARGET_DIR", "/t"),
            ("CARGO_TARGET_TMPDIR", "/t/tmp"),
            ("CARGO_BUILD_JOBS", "3"),
            ("RUSTUP_TOOLCHAIN", "stable"),
        ]));
        assert_eq!(key(&e, "bench", &[]), k0);
        // Relevant: each of these alone.
        for extra in [
            ("RUSTFLAGS", "--cfg chacha20_backend=\"soft\""),
            ("CARGO_ENCODED_RUSTFLAGS", "-Copt-level=1"),
            ("CARGO_BUILD_RUSTFLAGS", "-Ctarget-cpu=native"),
            ("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS", "-Cx"),
            ("CARGO_PROFILE_BENCH_OPT_LEVEL", "1"),
            ("RUSTC_WRAPPER", "sccache"),
        ] {
            let mut e = base_env.clone();
            e.push((extra.0.into(), extra.1.into()));
            assert_ne!(key(&e, "bench", &[]), k0, "{extra:?}");
        }
        assert_ne!(key(&base_env, "dev", &[]), k0);
        assert_ne!(key(&base_env, "bench", &["aws-lc".into()]), k0);
        assert_ne!(
            BuildKey::detect("rustc 1.96.0", "bench", &[], &slot, &base_env).hash,
            k0
        );
        // Cargo configuration above the worktree and in CARGO_HOME, by content.
        std::fs::create_dir_all(dir.path().join("a/.cargo")).unwrap();
        std::fs::write(
            dir.path().join("a/.cargo/config.toml"),
            "[build]\nrustflags = [\"-Cx\"]\n",
        )
        .unwrap();
        let k1 = key(&base_env, "bench", &[]);
        assert_ne!(k1, k0);
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(
            home.join("config.toml"),
            "[target.x86_64-unknown-linux-gnu]\nrustflags = [\"-Cy\"]\n",
        )
        .unwrap();
        let k2 = key(&base_env, "bench", &[]);
        assert_ne!(k2, k1);
        std::fs::write(
            home.join("config.toml"),
            "[target.x86_64-unknown-linux-gnu]\nrustflags = [\"-Cz\"]\n",
        )
        .unwrap();
        assert_ne!(key(&base_env, "bench", &[]), k2);
    }

    #[test]
    fn only_failures_that_belong_to_the_commit_are_cached() {
        let compile_error = r#"{"reason":"compiler-message","package_id":"zp","message":{"level":"error","message":"cannot find value `x` in this scope","code":{"code":"E0425"},"spans":[{"file_name":"zp/src/record.rs","line_start":12,"is_primary":true}]}}
{"reason":"build-finished","success":false}"#;
        assert_eq!(
            commit_failure(compile_error, "error: could not compile `zp`").unwrap(),
            "does not build: error[E0425]: cannot find value `x` in this scope at zp/src/record.rs:12"
        );
        let warning_only =
            r#"{"reason":"compiler-message","message":{"level":"warning","message":"unused"}}"#;
        assert_eq!(
            commit_failure(warning_only, "error: no bench target named `probe`.\n").unwrap(),
            "has no probe bench target (older than the workbench)"
        );
        assert!(
            commit_failure("", "error: failed to parse manifest at `/w/Cargo.toml`\n")
                .unwrap()
                .starts_with("its manifest does not load: error: failed to parse manifest")
        );
        // Not the commit's: a killed compiler, a bad flag, the network.
        for stderr in [
            "error: could not compile `zp` (lib)\n\nCaused by:\n  process didn't exit successfully: `rustc ...` (signal: 9, SIGKILL: kill)",
            "error: jobs may not be 0",
            "error: failed to download from `https://static.crates.io/...`",
            "error: failed to get `ml-kem` as a dependency of package `zp`",
        ] {
            assert_eq!(commit_failure(warning_only, stderr), None, "{stderr}");
        }
    }

    /// The instructions per call of `spin` in the probe `exe`.
    fn spin_instructions(exe: &Path, dir: &Path) -> f64 {
        let mut p = crate::vcs::probe::Process::new(exe, dir, "test");
        crate::vcs::probe::callgrind(&mut p, "spin", 2)
            .unwrap()
            .instructions_per_iter
    }

    #[test]
    fn a_build_of_another_commit_never_stands_in_for_the_checkouts_own() {
        // cargo decides freshness by mtimes, and keys artifacts by paths
        // relative to the workspace: an old commit built in the worktree
        // after the checkout's files were written looked fresh to the
        // checkout's next build, which then ran the old commit's code.
        let m = crate::fixtures::mini_history(true);
        let ctx = m.ctx();
        let repo = git2::Repository::open(m.root()).unwrap();
        let mut builder = Builder::new(&ctx, &repo, Options::probe(&ctx, None, true)).unwrap();
        // "comment": before the planted doubling; HEAD does twice the work.
        let Built::Ready(old) = builder.probe(&m.ids[2].to_string()).unwrap() else {
            panic!("the miniature zp builds")
        };
        let head = spin_instructions(&crate::fixtures::checkout_probe(&m), m.root());
        let before = spin_instructions(&old.exe, m.root());
        assert!(
            head > 1.5 * before,
            "the checkout's probe ran {head} instructions, the old commit's {before}"
        );
        drop(builder);
        m.untouched().unwrap();
    }

    #[test]
    fn builds_for_two_checkouts_in_one_target_folder_never_trade_probes() {
        // The CI failure this prevents: a bisect measured "comment" at the
        // doubled work of another test's build. Here: A builds "initial",
        // B builds its doubled "more work", then A builds "docs", whose zp
        // files are unchanged since A wrote them and so older than B's build.
        let a = crate::fixtures::mini_history(true);
        let b = crate::fixtures::mini_history(true);
        let (ctx_a, ctx_b) = (a.ctx(), b.ctx());
        let (repo_a, repo_b) = (
            git2::Repository::open(a.root()).unwrap(),
            git2::Repository::open(b.root()).unwrap(),
        );
        let opts = |ctx: &Ctx| Options::probe(ctx, None, true);
        let mut build_a = Builder::new(&ctx_a, &repo_a, opts(&ctx_a)).unwrap();
        let mut build_b = Builder::new(&ctx_b, &repo_b, opts(&ctx_b)).unwrap();
        let spin = |builder: &mut Builder, commit: git2::Oid, dir: &Path| {
            let Built::Ready(p) = builder.probe(&commit.to_string()).unwrap() else {
                panic!("the miniature zp builds")
            };
            spin_instructions(&p.exe, dir)
        };
        let initial = spin(&mut build_a, a.ids[0], a.root());
        let doubled = spin(&mut build_b, b.ids[3], b.root());
        let docs = spin(&mut build_a, a.ids[1], a.root());
        assert!(doubled > 1.5 * initial, "{initial} then {doubled}");
        assert_eq!(docs, initial, "A's \"docs\" ran B's doubled work");
        drop((build_a, build_b));
        a.untouched().unwrap();
        b.untouched().unwrap();
    }

    #[test]
    fn slots_are_held_one_per_process_and_removed_when_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("slots");
        let a = Slot::acquire(&base).unwrap();
        let b = Slot::acquire(&base).unwrap();
        assert_ne!(a.dir, b.dir);
        std::fs::create_dir_all(a.dir.join("zp")).unwrap();
        let a_dir = a.dir.clone();
        drop(a);
        assert!(!a_dir.exists());
        // The freed slot is taken again.
        let c = Slot::acquire(&base).unwrap();
        assert_eq!(c.dir, a_dir);
        drop((b, c));
        assert!(!base.exists(), "the last slot removes the folder");
    }
}

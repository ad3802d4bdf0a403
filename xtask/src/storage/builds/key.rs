//! The build key: every input besides the commit that changes what a probe
//! build produces (toolchain, target, profile, the environment and cargo
//! configuration that affect the build), so that a cached build is reused
//! only for exactly the same inputs.

use super::*;

/// Everything besides the commit that goes into a probe binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildKey {
    /// A short hash of `inputs`.
    pub hash: String,
    /// What was hashed, for people: input name → value (file contents as
    /// their hash).
    pub inputs: BTreeMap<String, String>,
}

impl BuildKey {
    pub fn of(inputs: BTreeMap<String, String>) -> BuildKey {
        let text: String = inputs
            .iter()
            .map(|(k, v)| format!("{k}\u{1f}{v}\u{1e}"))
            .collect();
        BuildKey {
            hash: format!("{:016x}", fnv1a(text.as_bytes())),
            inputs,
        }
    }

    /// The inputs of a build in `build_dir` (a worktree slot) in cargo
    /// profile `profile` with zp's `features`, under the compiler `rustc`
    /// reports, with environment `env`.
    pub fn detect(
        rustc_version: &str,
        profile: &str,
        features: &[String],
        build_dir: &Path,
        env: &[(String, String)],
    ) -> BuildKey {
        let mut inputs = BTreeMap::new();
        inputs.insert("rustc".into(), rustc_version.trim().to_string());
        inputs.insert("profile".into(), profile.to_string());
        inputs.insert("features".into(), features.join(","));
        for (k, v) in env {
            if affects_build(k) {
                inputs.insert(format!("env {k}"), v.clone());
            }
        }
        for file in config_files(build_dir, env) {
            if let Ok(text) = std::fs::read(&file) {
                inputs.insert(
                    format!("config {}", file.display()),
                    format!("{:016x}", fnv1a(&text)),
                );
            }
        }
        BuildKey::of(inputs)
    }
}

/// Environment variables that change what cargo and rustc produce: the
/// flags, the compiler and its wrappers, every `CARGO_PROFILE_*` and
/// `CARGO_BUILD_*` setting, and the `target.<triple>` settings that reach
/// the binary (`CARGO_TARGET_<TRIPLE>_RUSTFLAGS`, `_LINKER`). Not the
/// target directory, the job count, or what `cargo test` and `cargo run`
/// set for their own processes (`CARGO_TARGET_TMPDIR`, `CARGO_PKG_*`).
/// The toolchain itself is keyed by `rustc -vV`.
pub(super) fn affects_build(k: &str) -> bool {
    let exact = [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_BOOTSTRAP",
        "CARGO_INCREMENTAL",
    ];
    let excluded = ["CARGO_BUILD_TARGET_DIR", "CARGO_BUILD_JOBS"];
    exact.contains(&k)
        || (["CARGO_PROFILE_", "CARGO_BUILD_"]
            .iter()
            .any(|p| k.starts_with(p))
            && !excluded.contains(&k))
        || (k.starts_with("CARGO_TARGET_") && (k.ends_with("_RUSTFLAGS") || k.ends_with("_LINKER")))
}

/// The cargo configuration files a build in `dir` reads, besides the
/// commit's own: `.cargo/config.toml` and `.cargo/config` in every folder
/// above `dir`, and in `CARGO_HOME`.
pub(super) fn config_files(dir: &Path, env: &[(String, String)]) -> Vec<PathBuf> {
    let home = env
        .iter()
        .find(|(k, _)| k == "CARGO_HOME")
        .map(|(_, v)| PathBuf::from(v))
        .or_else(|| {
            env.iter()
                .find(|(k, _)| k == "HOME")
                .map(|(_, v)| Path::new(v).join(".cargo"))
        });
    let mut dirs: Vec<PathBuf> = dir.ancestors().skip(1).map(|a| a.join(".cargo")).collect();
    dirs.extend(home);
    let mut files = Vec::new();
    for d in dirs {
        for name in ["config.toml", "config"] {
            let f = d.join(name);
            if f.is_file() && !files.contains(&f) {
                files.push(f);
            }
        }
    }
    files
}

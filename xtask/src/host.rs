//! What a run was measured on and built with: the machine, the toolchain,
//! the bench profile, the crypto crates' versions and the CPU features they
//! use. Two runs are comparable only when these agree; when they do not, the
//! differences are the first evidence a regression report cites.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: u64,
    pub os: String,
    pub kernel: String,
    /// The CPU features zp's crypto dependencies detect at run time.
    pub features: Vec<String>,
    /// A hash of all of the above except the kernel: runs with different
    /// fingerprints were measured on different hardware.
    pub fingerprint: String,
}

/// How the benchmarks were compiled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Build {
    pub toolchain: String,
    /// The bench profile as Cargo resolves it from the workspace manifest
    /// and `CARGO_PROFILE_*` variables (bench inherits release).
    pub opt_level: String,
    pub debug_assertions: bool,
    pub lto: String,
    pub codegen_units: Option<u64>,
    pub rustflags: String,
    /// Versions of the crates that do zp's cryptography, from Cargo.lock;
    /// a path dependency (a vendored crate) is marked as such.
    pub crates: BTreeMap<String, String>,
    /// zp's cargo features (`aws-lc` selects the aws-lc-rs provider).
    #[serde(default)]
    pub features: Vec<String>,
}

/// The crates whose speed is zp's speed.
const CRYPTO_CRATES: &[&str] = &[
    "aes",
    "aws-lc-rs",
    "aws-lc-sys",
    "aes-gcm",
    "chacha20",
    "chacha20poly1305",
    "curve25519-dalek",
    "ghash",
    "hkdf",
    "libcrux-ml-kem",
    "libcrux-sha3",
    "ml-kem",
    "pakery-crypto",
    "pakery-spake2plus",
    "pbkdf2",
    "poly1305",
    "polyval",
    "sha2",
    "twox-hash",
    "universal-hash",
    "x25519-dalek",
];

const FEATURES: &[&str] = &[
    "aes",
    "pclmulqdq",
    "sse4.1",
    "avx",
    "avx2",
    "bmi2",
    "adx",
    "sha",
    "avx512f",
    "avx512ifma",
    "vaes",
    "vpclmulqdq",
];

impl Machine {
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let memory_gib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                let kib: u64 = m
                    .lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()?;
                Some((kib + (1 << 19)) >> 20)
            })
            .unwrap_or(0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string();
        let features = detected_features();
        let os = std::env::consts::OS.to_string();
        let fingerprint = format!(
            "{:016x}",
            fnv1a(format!("{cpu}|{cores}|{memory_gib}|{os}|{}", features.join(",")).as_bytes())
        );
        Machine {
            cpu,
            cores,
            memory_gib,
            os,
            kernel,
            features,
            fingerprint,
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{}, {} cores, {} GiB",
            self.cpu, self.cores, self.memory_gib
        )
    }
}

/// The CPU features of [`FEATURES`] this process sees (under valgrind:
/// those valgrind's virtual CPU reports).
#[cfg(target_arch = "x86_64")]
pub fn detected_features() -> Vec<String> {
    use std::arch::is_x86_feature_detected as has;
    let detected = [
        has!("aes"),
        has!("pclmulqdq"),
        has!("sse4.1"),
        has!("avx"),
        has!("avx2"),
        has!("bmi2"),
        has!("adx"),
        has!("sha"),
        has!("avx512f"),
        has!("avx512ifma"),
        has!("vaes"),
        has!("vpclmulqdq"),
    ];
    FEATURES
        .iter()
        .zip(detected)
        .filter(|(_, on)| *on)
        .map(|(f, _)| f.to_string())
        .collect()
}

#[cfg(not(target_arch = "x86_64"))]
pub fn detected_features() -> Vec<String> {
    let _ = FEATURES;
    Vec::new()
}

/// FNV-1a, 64 bits: a stable, dependency-free hash for fingerprints (not
/// for anything adversarial).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

/// A binary's fingerprint: its FNV-1a hash, as 16 hex digits.
pub fn fingerprint_of(bytes: &[u8]) -> String {
    format!("{:016x}", fnv1a(bytes))
}

impl Build {
    pub fn detect(root: &Path) -> Result<Build> {
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let out = Command::new(&rustc)
            .arg("-V")
            .current_dir(root)
            .output()
            .with_context(|| format!("cannot run {rustc}"))?;
        let toolchain = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let manifest: toml::Table =
            toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml"))?)?;
        let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap_or_default();
        let env = |k: &str| std::env::var(k).ok();
        Ok(Build::resolve(toolchain, &manifest, &lock, env))
    }

    /// The bench profile from the manifest and environment, and the crates
    /// from the lockfile; separated from `detect` so it can be tested.
    pub fn resolve(
        toolchain: String,
        manifest: &toml::Table,
        lock: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Build {
        let profile = |name: &str| {
            manifest
                .get("profile")
                .and_then(|p| p.get(name))
                .and_then(|p| p.as_table())
                .cloned()
        };
        let (release, bench) = (
            profile("release").unwrap_or_default(),
            profile("bench").unwrap_or_default(),
        );
        // Cargo's precedence: environment over bench over release over the
        // release defaults.
        let setting = |key: &str, env_key: &str| -> Option<String> {
            env(&format!("CARGO_PROFILE_BENCH_{env_key}"))
                .or_else(|| bench.get(key).map(show))
                .or_else(|| env(&format!("CARGO_PROFILE_RELEASE_{env_key}")))
                .or_else(|| release.get(key).map(show))
        };
        let rustflags = env("CARGO_ENCODED_RUSTFLAGS")
            .map(|f| f.replace('\u{1f}', " "))
            .or_else(|| env("RUSTFLAGS"))
            .unwrap_or_default();
        Build {
            toolchain,
            opt_level: setting("opt-level", "OPT_LEVEL").unwrap_or_else(|| "3".into()),
            debug_assertions: setting("debug-assertions", "DEBUG_ASSERTIONS")
                .is_some_and(|v| v == "true"),
            lto: setting("lto", "LTO").unwrap_or_else(|| "false".into()),
            codegen_units: setting("codegen-units", "CODEGEN_UNITS").and_then(|v| v.parse().ok()),
            rustflags,
            crates: locked_crates(lock),
            features: Vec::new(),
        }
    }
}

fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn locked_crates(lock: &str) -> BTreeMap<String, String> {
    let Ok(lock) = toml::from_str::<toml::Table>(lock) else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for p in lock
        .get("package")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
    {
        let (Some(name), Some(version)) = (
            p.get("name").and_then(|v| v.as_str()),
            p.get("version").and_then(|v| v.as_str()),
        ) else {
            continue;
        };
        if CRYPTO_CRATES.contains(&name) {
            let v = if p.get("source").is_none() {
                format!("{version} (vendored)")
            } else {
                version.to_string()
            };
            // Two versions of one crate (a dev-dependency reference): list both.
            out.entry(name.to_string())
                .and_modify(|e: &mut String| *e = format!("{e}, {v}"))
                .or_insert(v);
        }
    }
    out
}

/// Now, in UTC: a compact form for ids and RFC 3339 for records.
pub fn utc_now() -> (String, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc(secs)
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
pub fn utc(secs: u64) -> (String, String) {
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s) = (rem / 3600, rem / 60 % 60, rem % 60);
    (
        format!("{y:04}{m:02}{d:02}-{h:02}{mi:02}{s:02}"),
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0).1, "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400).1, "2000-02-29T00:00:00Z");
        assert_eq!(
            utc(1_795_530_905),
            (
                "20261124-143505".to_string(),
                "2026-11-24T14:35:05Z".to_string()
            )
        );
    }

    #[test]
    fn bench_profile_resolution_follows_cargo_precedence() {
        let manifest: toml::Table = toml::from_str(
            "[profile.release]\nopt-level = 2\nlto = \"fat\"\n[profile.bench]\ndebug = 1\n",
        )
        .unwrap();
        let lock = "[[package]]\nname = \"aes-gcm\"\nversion = \"0.11.1\"\nsource = \"registry+x\"\n\
                    [[package]]\nname = \"universal-hash\"\nversion = \"0.6.1\"\n\
                    [[package]]\nname = \"clap\"\nversion = \"4.0.0\"\nsource = \"registry+x\"\n";
        let b = Build::resolve("rustc 1.95.0".into(), &manifest, lock, |_| None);
        assert_eq!(
            (b.opt_level.as_str(), b.lto.as_str(), b.debug_assertions),
            ("2", "fat", false)
        );
        assert_eq!(b.crates.get("aes-gcm").map(String::as_str), Some("0.11.1"));
        assert_eq!(
            b.crates.get("universal-hash").map(String::as_str),
            Some("0.6.1 (vendored)")
        );
        assert!(!b.crates.contains_key("clap"));
        let env = |k: &str| match k {
            "CARGO_PROFILE_BENCH_OPT_LEVEL" => Some("1".to_string()),
            "CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS" => Some("true".to_string()),
            "RUSTFLAGS" => Some("--cfg chacha20_force_soft".to_string()),
            _ => None,
        };
        let b = Build::resolve("rustc 1.95.0".into(), &manifest, lock, env);
        assert_eq!((b.opt_level.as_str(), b.debug_assertions), ("1", true));
        assert_eq!(b.rustflags, "--cfg chacha20_force_soft");
    }
}

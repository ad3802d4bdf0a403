//! Cargo and the benchmark executables: build the bench targets once, then
//! run the executables directly (criterion rounds, the probe), so no round
//! pays for cargo's start-up and every round measures the same binary.

use crate::process::{self, Stderr};
use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `zp`'s bench targets `targets` in cargo profile `profile` and
/// returns each target's executable. Cargo's progress goes to the terminal.
pub fn build_benches_in(
    root: &Path,
    targets: &[&str],
    profile: &str,
    features: &[String],
) -> Result<BTreeMap<String, PathBuf>> {
    build_package_benches(root, "zp", targets, profile, features)
}

/// Builds bench targets `targets` of workspace package `package`.
pub fn build_package_benches(
    root: &Path,
    package: &str,
    targets: &[&str],
    profile: &str,
    features: &[String],
) -> Result<BTreeMap<String, PathBuf>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(root).args([
        "build",
        "--profile",
        profile,
        "--package",
        package,
        "--message-format=json-render-diagnostics",
    ]);
    for t in targets {
        cmd.args(["--bench", t]);
    }
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    let out = process::output(&mut cmd, Stderr::Show)?;
    if !out.status.success() {
        bail!(
            "cannot build the benchmarks: `cargo build --profile {profile} --package {package}` failed ({})",
            out.status
        );
    }
    let exes = executables(&String::from_utf8_lossy(&out.stdout));
    for t in targets {
        let Some(exe) = exes.get(*t) else {
            bail!("cargo built no executable for bench target `{t}`");
        };
        crate::vcs::origin::check_checkout_build(exe, root)?;
    }
    Ok(exes)
}

/// Bench executables from cargo's JSON messages, by target name.
pub fn executables(messages: &str) -> BTreeMap<String, PathBuf> {
    messages
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| {
            m["reason"] == "compiler-artifact"
                && m["target"]["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "bench"))
        })
        .filter_map(|m| {
            Some((
                m["target"]["name"].as_str()?.to_string(),
                PathBuf::from(m["executable"].as_str()?),
            ))
        })
        .collect()
}

/// How long criterion spends on each benchmark in one round.
#[derive(Debug, Clone, Copy)]
pub struct RoundShape {
    pub warm_up_s: f64,
    pub measurement_s: f64,
    pub sample_size: u32,
}

/// Runs one criterion executable over `names` (all in group `group`) with
/// its results under `home`, calling `on_done` as each benchmark finishes.
/// Returns every benchmark's per-iteration sample times (ns).
pub fn criterion_round(
    exe: &Path,
    package_dir: &Path,
    group: &str,
    names: &[&str],
    shape: RoundShape,
    home: &Path,
    on_done: &mut dyn FnMut(),
) -> Result<BTreeMap<String, Vec<f64>>> {
    let filter = format!("^{group}/({})$", names.join("|"));
    // A fresh folder per round: criterion would otherwise compare with the
    // previous round, and `--discard-baseline` would also stop it writing
    // the samples read below.
    let _ = std::fs::remove_dir_all(home);
    let out = process::run(
        Command::new(exe)
            .current_dir(package_dir)
            .env("CRITERION_HOME", home)
            .args(["--bench", &filter, "--noplot", "--nresamples", "1000"])
            .args(["--warm-up-time", &shape.warm_up_s.to_string()])
            .args(["--measurement-time", &shape.measurement_s.to_string()])
            .args(["--sample-size", &shape.sample_size.to_string()]),
        Stderr::Capture,
        // Criterion prints one `time: [low mid high]` line per benchmark.
        &mut |line| {
            if line.contains("time:") {
                on_done();
            }
        },
    )?;
    if !out.status.success() {
        bail!(
            "{} failed ({}): {}",
            exe.display(),
            out.status,
            process::last_lines(&out.stderr, 5)
        );
    }
    let mut samples = BTreeMap::new();
    for name in names {
        let path = home.join(group).join(name).join("new/sample.json");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "criterion wrote no samples for {group}/{name} (expected {})",
                path.display()
            )
        })?;
        samples.insert(
            name.to_string(),
            per_iteration(&text).with_context(|| format!("cannot read {}", path.display()))?,
        );
    }
    Ok(samples)
}

/// Criterion's sample.json holds, per sample, its iteration count and its
/// total time in nanoseconds.
pub fn per_iteration(sample_json: &str) -> Result<Vec<f64>> {
    let v: Value = serde_json::from_str(sample_json)?;
    let iters = v["iters"].as_array().context("no `iters`")?;
    let times = v["times"].as_array().context("no `times`")?;
    if iters.len() != times.len() || iters.is_empty() {
        bail!("`iters` and `times` differ in length or are empty");
    }
    iters
        .iter()
        .zip(times)
        .map(|(i, t)| match (i.as_f64(), t.as_f64()) {
            (Some(i), Some(t)) if i > 0.0 => Ok(t / i),
            _ => bail!("a sample is not a positive number"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executables_are_read_from_cargo_messages() {
        let messages = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"zp"},"executable":null}
{"reason":"compiler-artifact","target":{"kind":["bench"],"name":"probe"},"executable":"/t/release/deps/probe-1"}
not json
{"reason":"build-finished","success":true}"#;
        let exes = executables(messages);
        assert_eq!(exes.len(), 1);
        assert_eq!(exes["probe"], PathBuf::from("/t/release/deps/probe-1"));
    }

    #[test]
    fn criterion_samples_become_per_iteration_times() {
        let v = per_iteration(
            r#"{"sampling_mode":"Linear","iters":[1.0,2.0,4.0],"times":[10.0,22.0,40.0]}"#,
        )
        .unwrap();
        assert_eq!(v, [10.0, 11.0, 10.0]);
        assert!(per_iteration(r#"{"iters":[1.0],"times":[]}"#).is_err());
        assert!(per_iteration(r#"{"iters":[0.0],"times":[3.0]}"#).is_err());
    }
}

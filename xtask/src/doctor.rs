//! `cargo xtask doctor`: what this machine can measure, why not, and the
//! fix for each gap. It builds the probe and asks it, rather than guessing
//! from configuration alone.

use crate::bisect::probe_binary;
use crate::host::Machine;
use crate::{Ctx, flags};
use anyhow::Result;
use std::process::Command;

/// One finding: what, its state, and the fix when it is not fine.
struct Check {
    what: &'static str,
    ok: bool,
    detail: String,
    fix: Option<String>,
}

impl flags::Doctor {
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        let mut checks = Vec::new();
        let (exe, _) = probe_binary(ctx, None)?;
        let zp = ctx.root.join("zp");

        // Counters, as the probe gets them.
        let counters = crate::cargo::probe(
            &exe,
            &zp,
            &[
                "run",
                "parse_frame",
                "--instrument",
                "counters",
                "--iters",
                "100000",
            ],
        )?;
        let c = crate::profile::Counters::from_probe(&counters)?;
        let hw_missing: Vec<String> = c
            .unavailable
            .iter()
            .filter(|(n, _)| {
                ["instructions", "cycles", "branch_misses", "cache_misses"].contains(&n.as_str())
            })
            .map(|(n, r)| format!("{n} ({r})"))
            .collect();
        let pmu = std::path::Path::new("/sys/bus/event_source/devices/cpu").exists();
        checks.push(Check {
            what: "hardware counters (PMU)",
            ok: hw_missing.is_empty(),
            detail: if hw_missing.is_empty() {
                "instructions, cycles, branch and cache misses all readable".into()
            } else if pmu {
                format!("unavailable: {}; the kernel lists a CPU PMU but refuses these events", hw_missing.join(", "))
            } else {
                format!(
                    "unavailable: {}; the kernel lists no CPU PMU (/sys/bus/event_source/devices/cpu is absent, as in a VM without PMU passthrough)",
                    hw_missing.join(", ")
                )
            },
            fix: (!hw_missing.is_empty()).then(|| {
                "on a VM, enable PMU passthrough (e.g. KVM `-cpu host,pmu=on`); meanwhile the workbench counts instructions exactly with callgrind (`--metric instructions`, `profile --counters`)".to_string()
            }),
        });
        let sw: Vec<&str> = c
            .rows
            .iter()
            .filter(|(_, _, s)| s.contains("software"))
            .map(|(n, _, _)| n.as_str())
            .collect();
        let paranoid = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        checks.push(Check {
            what: "software counters",
            ok: !sw.is_empty(),
            detail: format!(
                "{}; kernel.perf_event_paranoid = {}",
                if sw.is_empty() {
                    "none readable".to_string()
                } else {
                    format!("readable: {}", sw.join(", "))
                },
                paranoid.map_or("unknown".into(), |p| p.to_string())
            ),
            fix: (sw.is_empty() || paranoid.is_some_and(|p| p > 2)).then(|| {
                "`sudo sysctl kernel.perf_event_paranoid=2` lets a process count its own events"
                    .to_string()
            }),
        });

        // Sampling rate pprof really delivers.
        let asked = 1000;
        let v = crate::cargo::probe(
            &exe,
            &zp,
            &[
                "run",
                "parse_frame",
                "--instrument",
                "pprof",
                "--seconds",
                "1",
                "--frequency",
                &asked.to_string(),
            ],
        )?;
        let rate = v["samples"].as_f64().unwrap_or(0.0) / v["seconds"].as_f64().unwrap_or(1.0);
        checks.push(Check {
            what: "pprof sampling rate",
            ok: rate >= 200.0,
            detail: format!("asked for {asked} Hz, got {rate:.0} samples/s (the kernel timer caps it); `flame` samples 5 s per benchmark for that reason"),
            fix: (rate < 200.0).then(|| "profile longer: `cargo xtask flame NAME --seconds 20`".to_string()),
        });

        let valgrind = Command::new("valgrind")
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success());
        let found = valgrind.is_some();
        checks.push(Check {
            what: "valgrind (exact instruction counts)",
            ok: found,
            detail: valgrind.map_or("not installed".into(), |o| {
                String::from_utf8_lossy(&o.stdout).trim().to_string()
            }),
            fix: (!found).then(|| {
                "scripts/install-tools.sh (Debian/Ubuntu: apt-get install valgrind)".to_string()
            }),
        });

        let m = Machine::detect();
        let has = |f: &str| m.features.iter().any(|x| x == f);
        let uses = [
            ("aes", "aes-gcm's AES rounds (AES-NI)"),
            ("pclmulqdq", "GHASH in aes-gcm (carry-less multiply)"),
            ("avx2", "ChaCha20 and Poly1305 (4-way AVX2 backends)"),
            ("sha", "SHA-256 in sha2 and HKDF (SHA-NI)"),
        ];
        let missing: Vec<String> = uses
            .iter()
            .filter(|(f, _)| !has(f))
            .map(|(f, u)| format!("{f} ({u})"))
            .collect();
        checks.push(Check {
            what: "CPU features the crypto crates use",
            ok: missing.is_empty(),
            detail: format!("{}: {}", m.cpu, uses.iter().map(|(f, _)| format!("{f} {}", if has(f) { "yes" } else { "NO" })).collect::<Vec<_>>().join(", ")),
            fix: (!missing.is_empty()).then(|| format!("without {} the crates fall back to portable code: timings are not comparable with machines that have them", missing.join(", "))),
        });
        let flags = std::env::var("RUSTFLAGS").unwrap_or_default();
        if flags.contains("force_soft") || flags.contains("curve25519_dalek_backend") {
            checks.push(Check {
                what: "RUSTFLAGS",
                ok: false,
                detail: format!("`{flags}` forces a portable crypto backend"),
                fix: Some("unset RUSTFLAGS for benchmarking".into()),
            });
        }

        let bytes = std::fs::read(&exe).unwrap_or_default();
        let symbols = bytes.windows(11).any(|w| w == b".debug_line");
        checks.push(Check {
            what: "debug symbols in the bench profile",
            ok: symbols,
            detail: if symbols {
                "the probe has line tables: profiles name functions and lines".into()
            } else {
                "the probe has no line tables".into()
            },
            fix: (!symbols).then(|| {
                "set `debug = \"line-tables-only\"` under [profile.bench] in Cargo.toml".to_string()
            }),
        });

        for c in &checks {
            println!(
                "{} {:<36} {}",
                if c.ok { "ok  " } else { "GAP " },
                c.what,
                c.detail
            );
            if let Some(f) = &c.fix {
                println!("     {:<36} fix: {f}", "");
            }
        }
        let gaps = checks.iter().filter(|c| !c.ok).count();
        println!(
            "\n{} checks, {gaps} gap{}",
            checks.len(),
            if gaps == 1 { "" } else { "s" }
        );
        Ok(())
    }
}

//! `cargo xtask doctor`: what this machine can measure, why not, and the
//! fix for each gap. It builds the probe and asks it, rather than guessing
//! from configuration alone.

use crate::host::Machine;
use crate::vcs::probe::{self, Probe};
use crate::{Ctx, cli::flags};
use anyhow::Result;
use std::process::Command;

/// One finding: what, its state, and the fix when it is not fine.
#[derive(Debug)]
pub struct Check {
    pub what: &'static str,
    pub ok: bool,
    pub detail: String,
    pub fix: Option<String>,
}

/// What the machine offers besides what the probe measures.
pub struct Facts {
    pub machine: Machine,
    pub valgrind: Option<String>,
    pub rustflags: String,
    /// Whether the probe binary carries line tables.
    pub symbols: bool,
    pub paranoid: Option<i32>,
    /// Whether the kernel lists a CPU PMU.
    pub pmu: bool,
    /// CPU pressure now (`None` where Linux does not expose it).
    pub pressure: Option<crate::measure::load::Pressure>,
    /// The 1-minute load average and the number of CPUs.
    pub load_average: Option<(f64, usize)>,
}

impl flags::Doctor {
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        let mut probe = crate::storage::builds::probe_for(ctx, None)?;
        let bytes = std::fs::read(&probe.exe).unwrap_or_default();
        let facts = Facts {
            machine: Machine::detect(),
            valgrind: Command::new("valgrind")
                .arg("--version")
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()),
            rustflags: std::env::var("RUSTFLAGS").unwrap_or_default(),
            symbols: bytes.windows(11).any(|w| w == b".debug_line"),
            paranoid: std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok()),
            pmu: std::path::Path::new("/sys/bus/event_source/devices/cpu").exists(),
            pressure: crate::measure::load::Pressure::read(),
            load_average: crate::measure::load::load_average(),
        };
        print!("{}", render(&checks(&mut probe, &facts)?));
        Ok(())
    }
}

/// Every check, asking the probe for what only it can tell.
pub fn checks(p: &mut dyn Probe, f: &Facts) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    // Counters, as the probe gets them.
    let c = crate::measure::counters::Counters::from_probe(&probe::counters(
        p,
        "parse_frame",
        Some(100_000),
    )?);
    let hw_missing: Vec<String> = c
        .unavailable
        .iter()
        .filter(|(n, _)| {
            ["instructions", "cycles", "branch_misses", "cache_misses"].contains(&n.as_str())
        })
        .map(|(n, r)| format!("{n} ({r})"))
        .collect();
    checks.push(Check {
        what: "hardware counters (PMU)",
        ok: hw_missing.is_empty(),
        detail: if hw_missing.is_empty() {
            "instructions, cycles, branch and cache misses all readable".into()
        } else if f.pmu {
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
            f.paranoid.map_or("unknown".into(), |p| p.to_string())
        ),
        fix: (sw.is_empty() || f.paranoid.is_some_and(|p| p > 2)).then(|| {
            "`sudo sysctl kernel.perf_event_paranoid=2` lets a process count its own events"
                .to_string()
        }),
    });

    // Sampling rate pprof really delivers.
    let asked = 1000;
    let v = probe::pprof(p, "parse_frame", 1.0, asked)?;
    let rate = v.samples_total.unwrap_or(v.samples) as f64 / v.seconds;
    checks.push(Check {
        what: "pprof sampling rate",
        ok: rate >= 200.0,
        detail: format!("asked for {asked} Hz, got {rate:.0} samples/s (the kernel timer caps it); `flame` samples 5 s per benchmark for that reason"),
        fix: (rate < 200.0).then(|| "profile longer: `cargo xtask flame NAME --seconds 20`".to_string()),
    });

    // How busy the machine is now: time decisions feel it, counts do not.
    let busy = f
        .pressure
        .is_some_and(|p| p.avg10 >= crate::model::observation::BUSY_PRESSURE)
        || f.load_average.is_some_and(|(l, cpus)| l > cpus as f64);
    checks.push(Check {
        what: "machine load now",
        ok: !busy,
        detail: {
            let mut parts = Vec::new();
            match f.pressure {
                Some(p) => parts.push(format!(
                    "CPU pressure {:.0}% over 10 s, {:.0}% over 60 s (the share of time some task waited for a CPU)",
                    p.avg10 * 100.0,
                    p.avg60 * 100.0
                )),
                None => parts.push("CPU pressure not exposed (/proc/pressure/cpu: Linux 4.20+ with PSI); the probe's own wait for a CPU is still measured".into()),
            }
            if let Some((l, cpus)) = f.load_average {
                parts.push(format!("load average {l:.2} on {cpus} CPUs"));
            }
            parts.join("; ")
        },
        fix: busy.then(|| {
            "time comparisons take more rounds while the machine is busy and may answer \"cannot decide yet\" (exit 7); instruction counts are exact whatever the load: quiet the machine, or rely on `--metric instructions`".to_string()
        }),
    });

    let found = f.valgrind.is_some();
    checks.push(Check {
        what: "valgrind (exact instruction counts)",
        ok: found,
        detail: f.valgrind.clone().unwrap_or_else(|| "not installed".into()),
        fix: (!found).then(|| {
            "scripts/install-tools.sh (Debian/Ubuntu: apt-get install valgrind)".to_string()
        }),
    });

    let m = &f.machine;
    let has = |feature: &str| m.features.iter().any(|x| x == feature);
    let uses = [
        ("aes", "aes-gcm's AES rounds (AES-NI)"),
        ("pclmulqdq", "GHASH in aes-gcm (carry-less multiply)"),
        ("avx2", "ChaCha20 and Poly1305 (4-way AVX2 backends)"),
        ("sha", "SHA-256 in sha2 and HKDF (SHA-NI)"),
    ];
    let missing: Vec<String> = uses
        .iter()
        .filter(|(feature, _)| !has(feature))
        .map(|(feature, u)| format!("{feature} ({u})"))
        .collect();
    checks.push(Check {
        what: "CPU features the crypto crates use",
        ok: missing.is_empty(),
        detail: format!(
            "{}: {}",
            m.cpu,
            uses.iter()
                .map(|(feature, _)| format!("{feature} {}", if has(feature) { "yes" } else { "NO" }))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        fix: (!missing.is_empty()).then(|| format!("without {} the crates fall back to portable code: timings are not comparable with machines that have them", missing.join(", "))),
    });
    if f.rustflags.contains("force_soft")
        || f.rustflags.contains("curve25519_dalek_backend")
        || f.rustflags.contains("_backend=\"soft\"")
    {
        checks.push(Check {
            what: "RUSTFLAGS",
            ok: false,
            detail: format!("`{}` forces a portable crypto backend", f.rustflags),
            fix: Some("unset RUSTFLAGS for benchmarking".into()),
        });
    }
    checks.push(Check {
        what: "debug symbols in the bench profile",
        ok: f.symbols,
        detail: if f.symbols {
            "the probe has line tables: profiles name functions and lines".into()
        } else {
            "the probe has no line tables".into()
        },
        fix: (!f.symbols).then(|| {
            "set `debug = \"line-tables-only\"` under [profile.bench] in Cargo.toml".to_string()
        }),
    });
    Ok(checks)
}

/// One line per check, its fix below it, and the count of gaps.
pub fn render(checks: &[Check]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for c in checks {
        let _ = writeln!(
            out,
            "{} {:<36} {}",
            if c.ok { "ok  " } else { "GAP " },
            c.what,
            c.detail
        );
        if let Some(f) = &c.fix {
            let _ = writeln!(out, "     {:<36} fix: {f}", "");
        }
    }
    let gaps = checks.iter().filter(|c| !c.ok).count();
    let _ = writeln!(
        out,
        "\n{} checks, {gaps} gap{}",
        checks.len(),
        if gaps == 1 { "" } else { "s" }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use probe_protocol::{Body, Instrument};

    /// A machine like this project's VM: no PMU, software counters, pprof
    /// capped at 250 Hz, valgrind present; and one with nothing at all.
    #[test]
    fn doctor_names_each_gap_and_its_fix() {
        let fake = |rate: u64| {
            crate::vcs::probe::Fake::new(move |req| {
                Ok(match &req.instrument {
                    Instrument::Counters { iters } => Body::Counters(probe_protocol::Counters {
                        iters: iters.unwrap_or(1),
                        per_iter: [("task_clock_ns".to_string(), 16.0)].into(),
                        unavailable: ["instructions", "cycles", "branch_misses", "cache_misses"]
                            .iter()
                            .map(|e| probe_protocol::Unavailable {
                                event: e.to_string(),
                                reason: "No such file or directory (os error 2)".into(),
                            })
                            .collect(),
                    }),
                    Instrument::Pprof { seconds, .. } => Body::Pprof(probe_protocol::Pprof {
                        iters: 1,
                        seconds: *seconds,
                        frequency: 1000,
                        samples: rate,
                        folded: vec![],
                        samples_total: Some(rate),
                        cpu_seconds: Some(*seconds),
                    }),
                    other => anyhow::bail!("not asked: {other:?}"),
                })
            })
        };
        let mut facts = Facts {
            machine: crate::fixtures::machine(),
            valgrind: Some("valgrind-3.19.0".into()),
            rustflags: String::new(),
            symbols: true,
            paranoid: Some(2),
            pmu: false,
            pressure: crate::measure::load::Pressure::parse(
                "some avg10=2.00 avg60=3.00 avg300=1.00 total=100",
            ),
            load_average: Some((0.5, 2)),
        };
        let text = render(&checks(&mut fake(248), &facts).unwrap());
        assert!(text.contains("GAP  hardware counters (PMU)"), "{text}");
        assert!(text.contains("the kernel lists no CPU PMU"), "{text}");
        assert!(text.contains("ok   software counters                    readable: task_clock_ns; kernel.perf_event_paranoid = 2"), "{text}");
        assert!(
            text.contains(
                "ok   pprof sampling rate                  asked for 1000 Hz, got 248 samples/s"
            ),
            "{text}"
        );
        assert!(
            text.contains("ok   valgrind (exact instruction counts)  valgrind-3.19.0"),
            "{text}"
        );
        // The fixture machine lacks SHA-NI.
        assert!(text.contains("sha NO"), "{text}");
        assert!(
            text.contains(
                "ok   machine load now                     CPU pressure 2% over 10 s, 3% over 60 s"
            ),
            "{text}"
        );

        facts.valgrind = None;
        facts.symbols = false;
        facts.rustflags = "--cfg chacha20_backend=\"soft\"".into();
        facts.pressure = crate::measure::load::Pressure::parse(
            "some avg10=46.00 avg60=40.00 avg300=20.00 total=100",
        );
        let text = render(&checks(&mut fake(90), &facts).unwrap());
        for gap in [
            "GAP  pprof sampling rate",
            "fix: profile longer",
            "GAP  valgrind (exact instruction counts)  not installed",
            "fix: scripts/install-tools.sh",
            "GAP  RUSTFLAGS",
            "GAP  debug symbols in the bench profile",
            "GAP  machine load now                     CPU pressure 46% over 10 s",
            "may answer \"cannot decide yet\" (exit 7)",
        ] {
            assert!(text.contains(gap), "{gap}: {text}");
        }
        assert!(text.ends_with("gaps\n"), "{text}");
    }
}

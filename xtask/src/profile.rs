//! `cargo xtask profile [TARGET] [--mem] [--counters] [--rev REV]`: why a
//! benchmark costs what it costs. Hotspots (pprof), counters per iteration
//! (perf-event where the kernel allows; callgrind's exact instruction
//! counts where it has no hardware counters) and allocations (dhat: per
//! iteration, peak live, top sites; the dhat-heap JSON opens in DHAT's
//! viewer). Every figure says where it came from.

use crate::bisect::probe_binary;
use crate::budgets::Budget;
use crate::flame::{print_hotspots, sample, timed};
use crate::store::{Allocs, Site};
use crate::{Ctx, flags};
use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;
use std::path::Path;

impl flags::Profile {
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        let benches = timed(ctx, self.target.as_deref())?;
        let (exe, label) = probe_binary(ctx, self.rev.as_deref())?;
        let all = !self.mem && !self.counters;
        let dhat_dir = ctx.root.join("profiles/dhat");
        for b in &benches {
            println!("== {} ({}) at {label}", b.name, b.category);
            if all {
                print_hotspots(&sample(ctx, &exe, &b.name, 3.0)?, 8);
            }
            if all || self.counters {
                print!("{}", counters(ctx, &exe, b)?.render());
            }
            if all || self.mem {
                std::fs::create_dir_all(&dhat_dir)?;
                let out = dhat_dir.join(format!("{}-{label}.json", b.name));
                let v = probe(
                    ctx,
                    &exe,
                    &[
                        "run",
                        &b.name,
                        "--instrument",
                        "alloc",
                        "--iters",
                        "100",
                        "--dhat-out",
                        &out.to_string_lossy(),
                    ],
                )?;
                print!("{}", AllocSummary::from_probe(&v)?.render());
                println!(
                    "  dhat profile: {} (open it in https://nnethercote.github.io/dh_view/dh_view.html)",
                    out.display()
                );
            }
            println!();
        }
        Ok(())
    }
}

fn probe(ctx: &Ctx, exe: &Path, args: &[&str]) -> Result<Value> {
    crate::cargo::probe(exe, &ctx.root.join("zp"), args)
}

/// Counters per iteration and where each came from.
#[derive(Debug, Serialize)]
pub struct Counters {
    pub rows: Vec<(String, f64, String)>,
    pub unavailable: Vec<(String, String)>,
}

pub fn counters(ctx: &Ctx, exe: &Path, b: &Budget) -> Result<Counters> {
    let v = probe(ctx, exe, &["run", &b.name, "--instrument", "counters"])?;
    let mut c = Counters::from_probe(&v)?;
    if !c.rows.iter().any(|(name, _, _)| name == "instructions") {
        match probe(
            ctx,
            exe,
            &["run", &b.name, "--instrument", "callgrind", "--iters", "10"],
        ) {
            Ok(v) => {
                let n = v["instructions_per_iter"]
                    .as_f64()
                    .context("callgrind reported no instructions")?;
                c.rows.insert(
                    0,
                    (
                        "instructions".into(),
                        n,
                        "callgrind, exact: no hardware counter here".into(),
                    ),
                );
            }
            Err(e) => c
                .unavailable
                .push(("instructions (callgrind)".into(), format!("{e:#}"))),
        }
    }
    Ok(c)
}

const HARDWARE: [&str; 4] = ["instructions", "cycles", "branch_misses", "cache_misses"];

impl Counters {
    pub fn from_probe(v: &Value) -> Result<Counters> {
        let per = v["per_iter"]
            .as_object()
            .context("the probe reported no counters")?;
        let rows = per
            .iter()
            .filter_map(|(k, x)| {
                let source = if HARDWARE.contains(&k.as_str()) {
                    "perf-event, hardware"
                } else {
                    "perf-event, software"
                };
                Some((k.clone(), x.as_f64()?, source.to_string()))
            })
            .collect();
        let unavailable = v["unavailable"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|u| {
                (
                    u["event"].as_str().unwrap_or("?").to_string(),
                    u["reason"].as_str().unwrap_or("?").to_string(),
                )
            })
            .collect();
        Ok(Counters { rows, unavailable })
    }

    pub fn render(&self) -> String {
        let mut out = String::from("counters per iteration:\n");
        for (name, value, source) in &self.rows {
            out += &format!("  {name:<22} {:>14}  ({source})\n", fmt_num(*value));
        }
        for (name, reason) in &self.unavailable {
            let name = if name.contains('(') {
                name.clone()
            } else {
                format!("{name} (perf)")
            };
            // Access denied: name the setting that decides it.
            let reason = if reason.contains("os error 13") || reason.contains("os error 1)") {
                let level = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
                    .unwrap_or_default();
                format!(
                    "{reason}; kernel.perf_event_paranoid is {}, `sudo sysctl kernel.perf_event_paranoid=2` allows counting your own process",
                    level.trim()
                )
            } else {
                reason.clone()
            };
            out += &format!("  {name:<22} {:>14}  (unavailable: {reason})\n", "—");
        }
        out
    }
}

/// dhat's view of one iteration.
#[derive(Debug, PartialEq, Serialize)]
pub struct AllocSummary {
    pub iters: u64,
    pub allocs: Allocs,
}

impl AllocSummary {
    pub fn from_probe(v: &Value) -> Result<AllocSummary> {
        Ok(AllocSummary {
            iters: v["iters"].as_u64().context("no iters")?,
            allocs: Allocs::from_probe(v)?,
        })
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "allocations per iteration (dhat, {} iterations): {} allocations, {} bytes; peak live {} bytes\n",
            self.iters,
            fmt_num(self.allocs.per_iter),
            fmt_num(self.allocs.bytes_per_iter),
            self.allocs.peak_live_bytes
        );
        if self.allocs.per_iter == 0.0 {
            out += "  none in the measured routine\n";
            return out;
        }
        out += "  busiest sites over the probe's whole run (setup included):\n";
        for Site {
            blocks,
            bytes,
            stack,
        } in self.allocs.top_sites.iter().filter(|s| s.blocks > 0)
        {
            // The allocator's own frames say nothing about the caller.
            let frames: Vec<&str> = stack
                .iter()
                .map(|f| short_frame(f))
                .filter(|f| {
                    !(f.contains("dhat-")
                        || f.contains("alloc/src/alloc.rs")
                        || f.starts_with("__rust_alloc"))
                })
                .take(4)
                .collect();
            out += &format!(
                "  {:>8.1} allocs/iter {:>10.0} B/iter  {}\n",
                *blocks as f64 / self.iters as f64,
                *bytes as f64 / self.iters as f64,
                frames.join(" ← ")
            );
        }
        out
    }
}

/// dhat frames read `0x1234: zp::x::y (src/x.rs:10:5)`: keep the function
/// and its location.
fn short_frame(f: &str) -> &str {
    f.split_once(": ").map_or(f, |(_, rest)| rest)
}

fn fmt_num(v: f64) -> String {
    if v >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dhat_summary_from_the_probe() {
        let v = json!({
            "iters": 100, "allocs_per_iter": 2.0, "bytes_per_iter": 65552.0, "peak_live_bytes": 65536,
            "top_sites": [
                { "blocks": 100, "bytes": 6553600, "stack": ["0x0: alloc (dhat-0.3.3/src/lib.rs:1176:9)", "0x1: alloc::vec::Vec<T>::with_capacity (vec.rs:1)", "0x2: zp::record::RecordSealer::seal_in_place (zp/src/record.rs:113:9)"] },
                { "blocks": 100, "bytes": 1600, "stack": ["0x3: zp::record::header (zp/src/record.rs:90:1)"] },
                { "blocks": 0, "bytes": 0, "stack": [] }
            ]
        });
        let s = AllocSummary::from_probe(&v).unwrap();
        assert_eq!(
            (
                s.iters,
                s.allocs.per_iter,
                s.allocs.bytes_per_iter,
                s.allocs.peak_live_bytes
            ),
            (100, 2.0, 65552.0, 65536)
        );
        let text = s.render();
        assert!(text.starts_with("allocations per iteration (dhat, 100 iterations): 2 allocations, 65552 bytes; peak live 65536 bytes\n"), "{text}");
        assert!(text.contains("1.0 allocs/iter      65536 B/iter  alloc::vec::Vec<T>::with_capacity (vec.rs:1) ← zp::record::RecordSealer::seal_in_place (zp/src/record.rs:113:9)"), "{text}");
        assert!(!text.contains("dhat-0.3.3"), "{text}");
        assert_eq!(
            text.lines().count(),
            4,
            "sites with no blocks are left out: {text}"
        );
        let mut none = s;
        none.allocs.per_iter = 0.0;
        assert!(none.render().ends_with("  none in the measured routine\n"));
    }

    #[test]
    fn counters_say_where_each_figure_came_from() {
        let v = json!({
            "iters": 1000,
            "per_iter": { "task_clock_ns": 41800.5, "page_faults": 0.0 },
            "unavailable": [{ "event": "cycles", "reason": "No such file or directory (os error 2)" }]
        });
        let c = Counters::from_probe(&v).unwrap();
        let text = c.render();
        assert!(
            text.contains("task_clock_ns                   41800  (perf-event, software)"),
            "{text}"
        );
        assert!(text.contains("cycles (perf)                       —  (unavailable: No such file or directory (os error 2))"), "{text}");
        assert!(Counters::from_probe(&json!({})).is_err());
    }
}

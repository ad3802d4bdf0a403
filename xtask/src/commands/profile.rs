//! `cargo xtask profile [TARGET] [--mem] [--counters] [--rev REV]`: why a
//! benchmark costs what it costs. Hotspots (pprof), counters per iteration
//! (perf-event where the kernel allows; where it has no hardware counters,
//! callgrind's exact instruction count and its simulation of the caches
//! and the branch predictor, with an estimated cycle count, labelled as
//! simulated) and allocations (dhat: per iteration, peak live, top sites;
//! the dhat-heap JSON opens in DHAT's viewer). Every figure says where it
//! came from.

use crate::budgets::Budget;
use crate::measure::counters::{counters, fmt_num};
use crate::measure::sampled::sample;
use crate::render::flamegraph::hotspot_table;
use crate::storage::store::{Allocs, Site};
use crate::vcs::probe::{self, Probe};
use crate::{Ctx, cli::flags};
use anyhow::Result;
use serde::Serialize;
use std::fmt::Write;
use std::path::Path;

impl flags::Profile {
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        let benches = ctx.budgets.timed(self.target.as_deref())?;
        let mut probe = crate::storage::builds::probe_for(ctx, self.rev.as_deref())?;
        let dhat_dir = ctx.store.generated("dhat");
        self.report(&mut probe, &benches, &dhat_dir, &mut |text| {
            print!("{text}")
        })
    }

    /// Each benchmark's profile, handed to `out` as it is measured.
    pub fn report(
        &self,
        probe: &mut dyn Probe,
        benches: &[&Budget],
        dhat_dir: &Path,
        out: &mut dyn FnMut(&str),
    ) -> Result<()> {
        let all = !self.mem && !self.counters;
        let label = probe.origin().to_string();
        for b in benches {
            let mut text = format!("== {} ({}) at {label}\n", b.name, b.category);
            if all {
                let s = sample(probe, &b.name, 3.0)?;
                hotspot_table(&mut text, &s.profile, 8, "samples");
                for n in s.notes() {
                    let _ = writeln!(text, "note: {n}");
                }
            }
            if all || self.counters {
                text += &counters(probe, b)?.render();
            }
            if all || self.mem {
                std::fs::create_dir_all(dhat_dir)?;
                let file = dhat_dir.join(format!("{}-{label}.json", b.name));
                let a = probe::alloc(probe, &b.name, 100, Some(&file))?;
                text += &AllocSummary::from_probe(&a).render();
                let _ = writeln!(
                    text,
                    "  dhat profile: {} (open it in https://nnethercote.github.io/dh_view/dh_view.html)",
                    file.display()
                );
            }
            text.push('\n');
            out(&text);
        }
        Ok(())
    }
}

/// dhat's view of one iteration.
#[derive(Debug, PartialEq, Serialize)]
pub struct AllocSummary {
    pub iters: u64,
    pub allocs: Allocs,
}

impl AllocSummary {
    pub fn from_probe(a: &probe_protocol::Alloc) -> AllocSummary {
        AllocSummary {
            iters: a.iters,
            allocs: Allocs::from_probe(a),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::counters::Counters;
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
        let a: probe_protocol::Alloc = serde_json::from_value(v).unwrap();
        let s = AllocSummary::from_probe(&a);
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
        let c: probe_protocol::Counters = serde_json::from_value(v).unwrap();
        let text = Counters::from_probe(&c).render();
        assert!(
            text.contains("task_clock_ns                   41800  (perf-event, software)"),
            "{text}"
        );
        assert!(text.contains("cycles (perf)                       —  (unavailable: No such file or directory (os error 2))"), "{text}");
    }

    /// The whole command against a fake probe: hotspots, counters with
    /// callgrind standing in for the missing hardware counter, allocations;
    /// and a missing valgrind said as such rather than failing the command.
    #[test]
    fn profile_reports_every_section_and_names_what_is_unavailable() {
        use probe_protocol::{Body, Instrument};
        let valgrind = std::rc::Rc::new(std::cell::Cell::new(true));
        let has_valgrind = valgrind.clone();
        let mut fake = crate::vcs::probe::Fake::new(move |req| {
            Ok(match &req.instrument {
                Instrument::Pprof { .. } => Body::Pprof(probe_protocol::Pprof {
                    iters: 1000,
                    seconds: 3.0,
                    frequency: 250,
                    samples: 700,
                    folded: vec![
                        "zp_probe_measured;zp::record::seal_in_place;chacha20::rounds 600".into(),
                        "zp_probe_measured;zp::record::seal_in_place 100".into(),
                    ],
                    samples_total: Some(700),
                    cpu_seconds: Some(3.0),
                }),
                Instrument::Counters { .. } => Body::Counters(probe_protocol::Counters {
                    iters: 1000,
                    per_iter: [("task_clock_ns".to_string(), 2100.0)].into(),
                    unavailable: vec![probe_protocol::Unavailable {
                        event: "instructions".into(),
                        reason: "No such file or directory (os error 2)".into(),
                    }],
                }),
                Instrument::Alloc { iters, .. } => crate::fixtures::no_allocations(*iters),
                Instrument::Time { .. } | Instrument::Callgrind { .. } => {
                    anyhow::bail!("not asked")
                }
            })
        })
        .with_callgrind(move |_, opts| {
            if !has_valgrind.get() {
                anyhow::bail!(crate::vcs::probe::Unavailable(
                    "valgrind is not installed".into()
                ))
            }
            assert!(opts.iter().any(|o| o == "--cache-sim=yes"), "{opts:?}");
            Ok(
                "events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw Bc Bcm Bi Bim\n\
                fn=(1) zp_probe_measured\n\
                1 121123 30000 20000 50 400 100 10 20 5 9000 300 200 20\n"
                    .into(),
            )
        });
        let budgets = crate::fixtures::budgets();
        let benches = vec![budgets.get("encrypt_record_1k").unwrap()];
        let dhat = tempfile::tempdir().unwrap();
        let flags = flags::Profile {
            target: None,
            mem: false,
            counters: false,
            rev: None,
        };
        let mut text = String::new();
        flags
            .report(&mut fake, &benches, dhat.path(), &mut |t| text += t)
            .unwrap();
        assert!(
            text.starts_with("== encrypt_record_1k (datapath) at fake\n"),
            "{text}"
        );
        // The whole output, with the temporary folder named the same each run.
        insta::assert_snapshot!(
            "profile_output",
            text.replace(&dhat.path().display().to_string(), "[dhat]")
        );
        assert!(
            text.contains("chacha20::rounds (in zp::record::seal_in_place)"),
            "{text}"
        );
        assert!(text.contains("instructions                    12112  (callgrind, exact: no hardware counter here)"), "{text}");
        // Cache misses and mispredicts per iteration, simulated and said so:
        // (50 + 400 + 100) / 10 L1 misses, (10 + 20 + 5) / 10 LL misses.
        assert!(text.contains("L1 misses (sim)                    55  (callgrind's simulation, no hardware counter here)"), "{text}");
        assert!(
            text.contains("LL misses (sim)                  3.50"),
            "{text}"
        );
        assert!(
            text.contains("mispredicts (sim)                  32"),
            "{text}"
        );
        // 12112.3 + 10 × 55 + 100 × 3.5 + 10 × 32 = 13332.3
        assert!(text.contains("est. cycles (sim)               13332  (estimated: Ir + 10 L1m + 100 LLm + 10 mispredicts)"), "{text}");
        assert!(
            text.contains("task_clock_ns                    2100  (perf-event, software)"),
            "{text}"
        );
        assert!(text.contains("none in the measured routine"), "{text}");
        assert!(!text.contains("note:"), "all CPU time was sampled: {text}");

        valgrind.set(false);
        let mut text = String::new();
        flags::Profile {
            counters: true,
            ..flags
        }
        .report(&mut fake, &benches, dhat.path(), &mut |t| text += t)
        .unwrap();
        assert!(
            text.contains("instructions (callgrind)              —  (unavailable:"),
            "{text}"
        );
        assert!(text.contains("valgrind is not installed"), "{text}");
        assert!(!text.contains("hotspots"), "--counters only: {text}");
    }
}

//! Counters per iteration of one benchmark, and where each came from:
//! perf-event where the kernel allows, and where it has no hardware
//! counters, callgrind's exact instruction count and its simulated caches
//! and branch predictor (with KCachegrind's cycle estimate), labelled so.

use crate::budgets::Budget;
use crate::measure::exact::{self, Simulated};
use crate::vcs::probe::{self, Probe};
use anyhow::Result;
use serde::Serialize;

/// Counters per iteration and where each came from.
#[derive(Debug, Serialize)]
pub struct Counters {
    pub rows: Vec<(String, f64, String)>,
    pub unavailable: Vec<(String, String)>,
}

/// perf-event counters; where the kernel gives no hardware counters,
/// callgrind's exact instruction count and its simulated caches and branch
/// predictor, with KCachegrind's cycle estimate.
pub fn counters(p: &mut dyn Probe, b: &Budget) -> Result<Counters> {
    let mut c = Counters::from_probe(&probe::counters(p, &b.name, None)?);
    if !c.rows.iter().any(|(name, _, _)| name == "instructions") {
        let simulated = p
            .callgrind_out(
                &b.name,
                crate::storage::measurements::CALLGRIND_ITERS,
                &exact::Options { simulate: true }.args(),
            )
            .and_then(|text| exact::parse(&text, crate::storage::measurements::CALLGRIND_ITERS));
        match simulated.map(|e| e.simulated()) {
            Ok(Some(s)) => c.rows.splice(0..0, simulated_rows(&s)).for_each(drop),
            Ok(None) => c.unavailable.push((
                "cache simulation (callgrind)".into(),
                "callgrind reported no cache events".into(),
            )),
            Err(e) => {
                crate::process::check()?;
                c.unavailable
                    .push(("instructions (callgrind)".into(), format!("{e:#}")))
            }
        }
    }
    Ok(c)
}

/// Callgrind's simulated machine as counter rows, each labelled so.
pub fn simulated_rows(s: &Simulated) -> Vec<(String, f64, String)> {
    let sim = "callgrind's simulation, no hardware counter here";
    vec![
        (
            "instructions".into(),
            s.instructions,
            "callgrind, exact: no hardware counter here".into(),
        ),
        ("L1 misses (sim)".into(), s.l1_misses, sim.into()),
        ("LL misses (sim)".into(), s.ll_misses, sim.into()),
        ("branches (sim)".into(), s.branches, sim.into()),
        ("mispredicts (sim)".into(), s.mispredicts, sim.into()),
        (
            "est. cycles (sim)".into(),
            s.estimated_cycles,
            "estimated: Ir + 10 L1m + 100 LLm + 10 mispredicts".into(),
        ),
    ]
}

const HARDWARE: [&str; 4] = ["instructions", "cycles", "branch_misses", "cache_misses"];

impl Counters {
    pub fn from_probe(c: &probe_protocol::Counters) -> Counters {
        let rows = c
            .per_iter
            .iter()
            .map(|(k, v)| {
                let source = if HARDWARE.contains(&k.as_str()) {
                    "perf-event, hardware"
                } else {
                    "perf-event, software"
                };
                (k.clone(), *v, source.to_string())
            })
            .collect();
        let unavailable = c
            .unavailable
            .iter()
            .map(|u| (u.event.clone(), u.reason.clone()))
            .collect();
        Counters { rows, unavailable }
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

/// A count for people: whole above 100 or when whole, else two decimals.
pub fn fmt_num(v: f64) -> String {
    if v >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

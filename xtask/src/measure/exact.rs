//! Exact costs from callgrind: the instructions of every call stack inside
//! the probe's marked function, and (when asked) callgrind's simulation of
//! the caches and the branch predictor.
//!
//! Callgrind records costs per function, not per stack; with
//! `--separate-callers=N` it keeps a separate context for every chain of
//! up to N callers, named `leaf'caller'caller's caller…`. A context's own
//! (self) cost is then exactly a folded stack's count: the same format
//! pprof's samples take, with instructions instead of samples, the same
//! every run for the same binary. Deeper stacks are cut at N frames from
//! the leaf, which keeps the innermost zp function that the hotspot diff
//! charges them to; they are rooted under a `[deeper]` frame.
//!
//! The output format is callgrind's (valgrind's manual, "Callgrind Format
//! Specification"): `events:` names the counters, `fn=` starts a function
//! context (`(id) name` the first time a compressed name appears, `(id)`
//! after), a cost line is a position followed by the counts, and the cost
//! line after a `calls=` line is that call's inclusive cost, which belongs
//! to the callee, not to the caller's own cost.

use crate::stacks::Profile;
use crate::storage::measurements::{self, CALLGRIND_ITERS, Key};
use crate::vcs::probe::Probe;
use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Callers kept per context. Stacks inside zp's benchmarks are at most
/// about 30 deep (a handshake through ML-KEM), and the chain also holds
/// the ~15 frames above the marker (main, the probe's dispatch).
const CALLERS: usize = 60;

/// The frame deeper stacks are rooted under.
pub const DEEPER: &str = "[deeper]";

/// Exact costs of one benchmark at one probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exact {
    /// Folded stacks (from the marker down) with their own instruction
    /// counts, over all iterations.
    pub folded: Vec<String>,
    /// Every event's total over the iterations (`Ir`, and with the
    /// simulation `D1mr`, `DLmr`, `Bcm`, …).
    pub totals: BTreeMap<String, u64>,
    pub iters: u64,
}

/// What to run callgrind with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Simulate the caches and the branch predictor (about twice as slow).
    pub simulate: bool,
}

/// The caches callgrind simulates, the same on every host so that a
/// simulation is comparable between machines (and keyed by nothing but
/// these): 32 KiB 8-way L1 instruction and data caches and a 32 MiB
/// 16-way last level, 64-byte lines, like this project's EPYC VM.
const CACHES: [&str; 3] = ["--I1=32768,8,64", "--D1=32768,8,64", "--LL=33554432,16,64"];

impl Options {
    pub fn args(self) -> Vec<String> {
        // One context per recursion depth would put `'2` frames in the
        // chain, which uses the same separator as the callers.
        let mut a = vec![
            format!("--separate-callers={CALLERS}"),
            "--separate-recs=1".to_string(),
        ];
        if self.simulate {
            a.push("--cache-sim=yes".into());
            a.push("--branch-sim=yes".into());
            a.extend(CACHES.iter().map(|c| c.to_string()));
        }
        a
    }

    fn instrument(self) -> String {
        format!(
            "callgrind-stacks --iters {CALLGRIND_ITERS} {}",
            self.args().join(" ")
        )
    }
}

impl Exact {
    pub fn profile(&self) -> Profile {
        Profile::parse(self.folded.iter().map(String::as_str))
    }

    pub fn per_iter(&self, event: &str) -> Option<f64> {
        self.totals
            .get(event)
            .map(|v| *v as f64 / self.iters as f64)
    }

    /// The cache and branch simulation per iteration, if it ran.
    pub fn simulated(&self) -> Option<Simulated> {
        let get = |e: &str| self.per_iter(e);
        let sum = |es: &[&str]| -> Option<f64> { es.iter().map(|e| get(e)).sum() };
        Some(Simulated::new(
            get("Ir")?,
            sum(&["I1mr", "D1mr", "D1mw"])?,
            sum(&["ILmr", "DLmr", "DLmw"])?,
            sum(&["Bc", "Bi"])?,
            sum(&["Bcm", "Bim"])?,
        ))
    }
}

/// Callgrind's simulated machine, per iteration: not measured by a
/// hardware counter, and said so wherever it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Simulated {
    pub instructions: f64,
    pub l1_misses: f64,
    pub ll_misses: f64,
    pub branches: f64,
    pub mispredicts: f64,
    /// KCachegrind's cycle estimate: Ir, plus 10 cycles per L1 miss, 100
    /// per LL miss and 10 per mispredicted branch (the costs Cachegrind's
    /// manual gives for a modern machine: about 10 cycles an L1 miss,
    /// 100–200 an LL miss, 10–30 a mispredicted branch).
    pub estimated_cycles: f64,
}

impl Simulated {
    pub fn new(
        instructions: f64,
        l1_misses: f64,
        ll_misses: f64,
        branches: f64,
        mispredicts: f64,
    ) -> Simulated {
        Simulated {
            instructions,
            l1_misses,
            ll_misses,
            branches,
            mispredicts,
            estimated_cycles: instructions
                + 10.0 * l1_misses
                + 100.0 * ll_misses
                + 10.0 * mispredicts,
        }
    }
}

/// Parses callgrind's output into folded stacks rooted at the probe's
/// marker, and the events' totals.
pub fn parse(text: &str, iters: u64) -> Result<Exact> {
    let mut events: Vec<String> = Vec::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut own: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut totals_line: Option<Vec<u64>> = None;
    let mut current: Option<String> = None;
    let mut after_calls = false;
    // A compressed name: `(id) name` defines it, `(id)` refers to it.
    let mut resolve = |spec: &str| -> String {
        match spec.strip_prefix('(').and_then(|r| r.split_once(')')) {
            Some((id, rest)) => {
                let rest = rest.trim();
                if rest.is_empty() {
                    names.get(id).cloned().unwrap_or_default()
                } else {
                    names.insert(id.to_string(), rest.to_string());
                    rest.to_string()
                }
            }
            None => spec.to_string(),
        }
    };
    let counts = |rest: &str, n: usize| -> Vec<u64> {
        let mut v: Vec<u64> = rest
            .split_whitespace()
            .map(|w| w.parse().unwrap_or(0))
            .collect();
        v.resize(n, 0);
        v
    };
    for line in text.lines() {
        if let Some(e) = line.strip_prefix("events:") {
            events = e.split_whitespace().map(String::from).collect();
        } else if let Some(t) = line
            .strip_prefix("totals:")
            .or_else(|| line.strip_prefix("summary:"))
        {
            totals_line = Some(counts(t, events.len()));
        } else if let Some(f) = line.strip_prefix("fn=") {
            current = Some(resolve(f));
            after_calls = false;
        } else if let Some(f) = line.strip_prefix("cfn=") {
            // Defines a compressed name for later `fn=` lines too.
            resolve(f);
        } else if line.starts_with("calls=") {
            after_calls = true;
        } else if line.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-' || c == '*')
        {
            if after_calls {
                after_calls = false;
                continue;
            }
            let Some(f) = &current else { continue };
            // The first field is the position (`positions: line`).
            let rest = line.split_once(' ').map_or("", |(_, r)| r);
            let c = counts(rest, events.len());
            let slot = own
                .entry(f.clone())
                .or_insert_with(|| vec![0; events.len()]);
            for (a, b) in slot.iter_mut().zip(c) {
                *a += b;
            }
        }
    }
    if events.is_empty() {
        bail!("callgrind's output names no events");
    }
    let ir = events.iter().position(|e| e == "Ir").unwrap_or(0);
    let mut folded: BTreeMap<String, u64> = BTreeMap::new();
    for (context, costs) in &own {
        if costs[ir] == 0 {
            continue;
        }
        *folded.entry(stack(context)).or_default() += costs[ir];
    }
    let summed: Vec<u64> = (0..events.len())
        .map(|i| own.values().map(|c| c[i]).sum())
        .collect();
    let totals = totals_line.unwrap_or(summed);
    Ok(Exact {
        folded: folded
            .into_iter()
            .map(|(s, c)| format!("{s} {c}"))
            .collect(),
        totals: events.into_iter().zip(totals).collect(),
        iters,
    })
}

/// A context name (`leaf'caller'…`) as a folded stack from the marker down.
fn stack(context: &str) -> String {
    let mut frames: Vec<&str> = context.split('\'').collect();
    frames.reverse();
    let marker = frames
        .iter()
        .rposition(|f| f.ends_with(probe_protocol::MARKER));
    let frames: Vec<&str> = match marker {
        Some(m) => frames[m..].to_vec(),
        None => std::iter::once(probe_protocol::MARKER)
            .chain(std::iter::once(DEEPER))
            .chain(frames)
            .collect(),
    };
    // Folded stacks separate frames with `;`, which a name may contain
    // (`[u8; 32]`): such a name keeps a `,` instead.
    frames
        .iter()
        .map(|f| f.replace(';', ","))
        .collect::<Vec<_>>()
        .join(";")
}

/// The exact costs of `bench` at a probe whose fingerprint is `probe_id`,
/// from the cache or measured and cached (a probe binary, valgrind and the
/// CPU features valgrind shows fix them). A probe with no fingerprint (an
/// empty `probe_id`: the checkout's own, rebuilt at will) is measured
/// every time and never cached.
pub fn costs(
    p: &mut dyn Probe,
    cache: &mut measurements::Cache,
    key: (&str, &str, &str),
    bench: &str,
    opts: Options,
) -> Result<Exact> {
    let (probe_id, valgrind, cpu) = key;
    let key = Key {
        probe: probe_id.into(),
        bench: bench.into(),
        instrument: opts.instrument(),
        tool: valgrind.into(),
        machine: cpu.into(),
    };
    let cached = !probe_id.is_empty();
    if cached && let Some(e) = cache.get_doc::<Exact>(&key) {
        return Ok(e);
    }
    let text = p.callgrind_out(bench, CALLGRIND_ITERS, &opts.args())?;
    let exact = parse(&text, CALLGRIND_ITERS)?;
    if exact.folded.is_empty() {
        bail!(
            "callgrind counted nothing inside the probe's marked function for {bench} at {}",
            p.origin()
        );
    }
    if cached {
        cache.put_doc(&key, &exact)?;
    }
    Ok(exact)
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Callgrind output in the shape `--separate-callers` gives (names
    /// compressed, one call line whose inclusive cost must not count).
    pub fn sample_output(seal: u64) -> String {
        format!(
            "version: 1\ncreator: callgrind-3.19.0\npositions: line\nevents: Ir Dr Bcm\nsummary: {total} 0 0\n\n\
             ob=(1) /probe\nfl=(1) probe.rs\n\
             fn=(1) probe::zp_probe_measured'probe::run'main\n3 10 2 0\n\
             cfn=(2) zp::record::seal'probe::zp_probe_measured'probe::run'main\ncalls=10 0\n5 {incl}\n\
             fl=(2) record.rs\nfn=(2)\n7 {seal} 5 1\n\
             cfn=(3) memcpy'zp::record::seal'probe::zp_probe_measured'probe::run'main\ncalls=10 0\n9 40\n\
             fn=(3)\n1 40 0 3\n",
            total = 10 + seal + 40,
            incl = seal + 40,
        )
    }

    #[test]
    fn contexts_become_folded_stacks_of_own_costs() {
        let e = parse(&sample_output(1000), 10).unwrap();
        assert_eq!(
            e.folded,
            [
                "probe::zp_probe_measured 10",
                "probe::zp_probe_measured;zp::record::seal 1000",
                "probe::zp_probe_measured;zp::record::seal;memcpy 40",
            ]
        );
        assert_eq!(e.profile().total(), e.totals["Ir"]);
        assert_eq!(e.per_iter("Ir"), Some(105.0));
        // No cache simulation in this output.
        assert_eq!(e.simulated(), None);
    }

    #[test]
    fn stacks_deeper_than_the_callers_kept_are_rooted_apart() {
        assert_eq!(
            stack("memcpy'zp::a'zp::b"),
            format!("{};[deeper];zp::b;zp::a;memcpy", probe_protocol::MARKER)
        );
        assert_eq!(
            stack("f<[u8; 32]>'probe::zp_probe_measured"),
            "probe::zp_probe_measured;f<[u8, 32]>"
        );
    }

    #[test]
    fn simulated_cycles_follow_kcachegrinds_estimate() {
        let text = "events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw Bc Bcm Bi Bim\nfn=(1) probe::zp_probe_measured\n1 1000 300 200 2 10 3 1 2 0 100 7 4 1\n";
        let e = parse(text, 10).unwrap();
        let s = e.simulated().unwrap();
        let near = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(near(s.instructions, 100.0), "{s:?}");
        assert!(near(s.l1_misses, 1.5) && near(s.ll_misses, 0.3), "{s:?}");
        assert!(near(s.mispredicts, 0.8), "{s:?}");
        assert!((s.estimated_cycles - (100.0 + 15.0 + 30.0 + 8.0)).abs() < 1e-9);
    }

    #[test]
    fn costs_are_cached_by_what_was_measured() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = measurements::Cache::new(dir.path());
        let runs = std::rc::Rc::new(std::cell::Cell::new(0));
        let counted = runs.clone();
        let mut p =
            crate::vcs::probe::Fake::new(|_| unreachable!()).with_callgrind(move |_, opts| {
                counted.set(counted.get() + 1);
                assert!(opts.iter().any(|o| o.starts_with("--separate-callers=")));
                Ok(sample_output(1000))
            });
        let key = ("fp1", "valgrind-3.19.0", "avx2");
        let plain = Options { simulate: false };
        let a = costs(&mut p, &mut cache, key, "encrypt_record_1k", plain).unwrap();
        let b = costs(&mut p, &mut cache, key, "encrypt_record_1k", plain).unwrap();
        assert_eq!((a, runs.get()), (b, 1));
        costs(
            &mut p,
            &mut cache,
            key,
            "encrypt_record_1k",
            Options { simulate: true },
        )
        .unwrap();
        assert_eq!(runs.get(), 2, "the simulation is another measurement");
    }
}

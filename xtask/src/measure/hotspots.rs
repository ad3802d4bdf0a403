//! Why a routine got slower: the diff of its costs by zp function between
//! two probes, the one place every command (bisect, the gate, history's
//! `--explain`, bench) takes it from.
//!
//! **Exact before sampled.** When the change shows in instruction counts,
//! the diff comes from callgrind's exact per-stack costs at both commits
//! (`exact.rs`): the same every run, so the function it names does not
//! depend on how the sampling fell. Only a change the counts cannot see (a
//! system call's time in the kernel, a cache miss) is explained from
//! pprof's samples, with their noise stated (`sampled.rs`). Either way the
//! cost of what a zp function calls outside zp (libc, the kernel, other
//! crates) is charged to it, and the list says which instrument it came
//! from.

use super::exact::{self, Exact};
use super::sampled;
use crate::stacks::{Change, Profile};
use crate::storage::measurements;
use crate::vcs::probe::Probe;
use anyhow::Result;
use serde::{Deserialize, Serialize};

pub use crate::stacks::Instrument;

/// A hotspot diff and how it was obtained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diff {
    pub instrument: Instrument,
    /// Largest growth first (for a slowdown).
    pub changes: Vec<Change>,
    /// Why the diff may mislead, or how it fell back.
    pub notes: Vec<String>,
    /// Both sides' folded stacks, for a differential flamegraph.
    #[serde(skip)]
    pub stacks: Option<(Profile, Profile)>,
}

/// A change is visible in instruction counts when they moved by at least
/// this much (they are exact, so half a percent is real): the instructions
/// that moved are where the code changed, and the exact diff names them.
pub const VISIBLE: f64 = 0.005;

/// What exact profiles need besides the probes: the measurement cache and
/// what the counts depend on.
pub struct Exactly {
    pub cache: measurements::Cache,
    /// `valgrind --version`.
    pub valgrind: String,
    /// The CPU features that pick the crypto crates' code paths.
    pub cpu: String,
}

impl Exactly {
    /// `None` without valgrind: exact diffs are then impossible.
    pub fn new(cache_dir: &std::path::Path) -> Option<Exactly> {
        Some(Exactly {
            cache: measurements::Cache::new(cache_dir),
            valgrind: measurements::valgrind_version()?,
            cpu: crate::host::Machine::detect().features.join(","),
        })
    }

    /// Exact costs of `bench` at the probe with fingerprint `id`.
    pub fn costs(
        &mut self,
        p: &mut dyn Probe,
        id: &str,
        bench: &str,
        opts: exact::Options,
    ) -> Result<Exact> {
        exact::costs(
            p,
            &mut self.cache,
            (id, &self.valgrind, &self.cpu),
            bench,
            opts,
        )
    }
}

/// One side of a diff: a probe and its binary's fingerprint.
pub struct Side<'a> {
    pub probe: &'a mut dyn Probe,
    pub id: String,
}

/// The diff from exact costs.
pub fn exact(
    ex: &mut Exactly,
    before: Side<'_>,
    after: Side<'_>,
    bench: &str,
    top: usize,
) -> Result<Diff> {
    let opts = exact::Options { simulate: false };
    let b = ex.costs(before.probe, &before.id, bench, opts)?;
    let a = ex.costs(after.probe, &after.id, bench, opts)?;
    Ok(from_exact(&b, &a, top))
}

/// The diff of two exact profiles (instruction counts per iteration).
pub fn from_exact(before: &Exact, after: &Exact, top: usize) -> Diff {
    let (pb, pa) = (before.profile(), after.profile());
    let per = |p: &Profile, e: &Exact| p.total() as f64 / e.iters as f64;
    let ratio = per(&pa, after) / per(&pb, before);
    let changes = pa
        .by_zp_function()
        .changes_from(&pb.by_zp_function(), ratio, top);
    Diff {
        instrument: Instrument::Callgrind,
        changes,
        notes: Vec::new(),
        stacks: Some((pb, pa)),
    }
}

/// The diff from pprof samples of `seconds` a side.
pub fn sampled(
    before: &mut dyn Probe,
    after: &mut dyn Probe,
    bench: &str,
    seconds: f64,
    top: usize,
) -> Result<Diff> {
    let b = sampled::sample(before, bench, seconds)?;
    let a = sampled::sample(after, bench, seconds)?;
    let (changes, notes) = sampled::diff(&b, &a, top);
    Ok(Diff {
        instrument: Instrument::Pprof,
        changes,
        notes,
        stacks: Some((b.profile, a.profile)),
    })
}

/// The diff a change calls for. With valgrind, both sides' exact costs
/// are taken first (cached); when their instruction counts differ by at
/// least [`VISIBLE`], the diff is exact, else (a change in time only) it is
/// sampled. Without valgrind, or when callgrind fails, it is sampled, with
/// a note saying why. `time_change` (new over old, minus one), when known,
/// lets the note say how much of a time change the instructions explain.
pub fn explain(
    exactly: Option<&mut Exactly>,
    before: Side<'_>,
    after: Side<'_>,
    bench: &str,
    time_change: Option<f64>,
    top: usize,
) -> Result<Diff> {
    let note = match exactly {
        Some(ex) => {
            let opts = exact::Options { simulate: false };
            let costs = ex
                .costs(before.probe, &before.id, bench, opts)
                .and_then(|b| Ok((b, ex.costs(after.probe, &after.id, bench, opts)?)));
            match costs {
                Ok((b, a)) => {
                    let change = a.profile().total() as f64 / b.profile().total().max(1) as f64
                        * (b.iters as f64 / a.iters as f64)
                        - 1.0;
                    if change.abs() >= VISIBLE {
                        let mut d = from_exact(&b, &a, top);
                        if let Some(t) = time_change.filter(|t| t.abs() > 3.0 * change.abs()) {
                            d.notes.push(format!(
                                "time moved {:+.1}% but instructions only {:+.1}%: most of this change's time is outside what instructions count (the kernel, caches, the branch predictor); these exact hotspots show where the instructions changed, `cargo xtask flame {bench}` samples where the time goes",
                                t * 100.0,
                                change * 100.0
                            ));
                        }
                        return Ok(d);
                    }
                    format!(
                        "instructions moved {:+.2}%, under {:.1}%: a change in time only, so these hotspots are sampled",
                        change * 100.0,
                        VISIBLE * 100.0
                    )
                }
                Err(e) => {
                    crate::process::check()?;
                    format!("callgrind could not profile both sides ({e:#}): these hotspots are sampled")
                }
            }
        }
        None => "valgrind is not installed, so these hotspots are sampled rather than exact (scripts/install-tools.sh installs it)".to_string(),
    };
    let mut d = sampled(before.probe, after.probe, bench, sampled::DIFF_SECONDS, top)?;
    d.notes.push(note);
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::exact::tests::sample_output;

    /// `encrypt_record_1k` explained between two fake probes.
    fn explain_1k(
        exactly: Option<&mut Exactly>,
        before: &mut crate::vcs::probe::Fake,
        after: &mut crate::vcs::probe::Fake,
        time_change: Option<f64>,
    ) -> Diff {
        explain(
            exactly,
            Side {
                probe: before,
                id: "b".into(),
            },
            Side {
                probe: after,
                id: "a".into(),
            },
            "encrypt_record_1k",
            time_change,
            5,
        )
        .unwrap()
    }

    #[test]
    fn exact_diffs_are_the_same_every_time_and_rank_by_growth() {
        let dir = tempfile::tempdir().unwrap();
        let mut ex = Exactly {
            cache: measurements::Cache::new(dir.path()),
            valgrind: "valgrind-3.19.0".into(),
            cpu: String::new(),
        };
        let fake = |seal: u64| {
            crate::vcs::probe::Fake::new(|_| unreachable!())
                .with_callgrind(move |_, _| Ok(sample_output(seal)))
        };
        let (mut b, mut a) = (fake(1000), fake(2000));
        let mut run = |ex: &mut Exactly| explain_1k(Some(ex), &mut b, &mut a, Some(1.0));
        let d = run(&mut ex);
        assert_eq!(d.instrument, Instrument::Callgrind);
        assert_eq!(d.changes[0].function, "zp::record::seal");
        // 1040 of 1050 instructions before; 2040 more of them after.
        assert!(
            (d.changes[0].growth_pct - 100.0 * 1000.0 / 1050.0).abs() < 1e-9,
            "{:?}",
            d.changes
        );
        assert_eq!(d.changes[0].noise_pct, None);
        assert_eq!(run(&mut ex), d);
    }

    #[test]
    fn without_valgrind_the_diff_is_sampled_and_says_so() {
        let pprof = |n: u64| {
            move |_: &probe_protocol::Request| {
                Ok(probe_protocol::Body::Pprof(probe_protocol::Pprof {
                    iters: 100,
                    seconds: 1.0,
                    frequency: 250,
                    samples: n,
                    folded: vec![format!("zp_probe_measured;zp::record::seal {n}")],
                    samples_total: Some(n),
                    cpu_seconds: Some(n as f64 / 250.0),
                }))
            }
        };
        let (mut b, mut a) = (
            crate::vcs::probe::Fake::new(pprof(200)),
            crate::vcs::probe::Fake::new(pprof(250)),
        );
        let d = explain_1k(None, &mut b, &mut a, None);
        assert_eq!(d.instrument, Instrument::Pprof);
        assert!(
            d.notes
                .iter()
                .any(|n| n.contains("valgrind is not installed")),
            "{:?}",
            d.notes
        );
    }
}

//! Sampled stacks (pprof, through the probe): where time goes when
//! instruction counts cannot see it (a system call's time in the kernel, a
//! cache miss, a page fault). A sample is one tick of the profiling timer,
//! which this kernel delivers at most 250 times a second, so a diff of two
//! profiles carries counting noise: a function seen `k` times has a
//! standard error of about √k samples (Poisson). The diff says so when two
//! functions' growths lie within that noise of each other, instead of
//! picking one.

use crate::stacks::{Change, Profile};
use crate::vcs::probe::{self, Probe};
use crate::{Progress, budgets::Budget};
use anyhow::{Result, bail};

/// pprof's sampling rate: the kernel here ticks at 250 Hz, so asking for
/// more only adds sampler overhead (DESIGN.md, "Pitfalls").
pub const FREQUENCY: u32 = 250;
/// Below this share of the CPU time sampled, hotspot shares may mislead.
const COVERAGE_WARNING: f64 = 0.8;
/// Seconds per side of a hotspot diff in time: at 250 Hz, 1 500 samples a
/// side, so a function with a tenth of the time is known to within ±8 %
/// of its own share.
pub const DIFF_SECONDS: f64 = 6.0;

/// A profile, the time per iteration while it was taken, and how much of
/// the CPU time pprof saw.
#[derive(Debug, Clone)]
pub struct Sampled {
    pub profile: Profile,
    /// Seconds per iteration (summed over benchmarks when merged).
    pub per_iter_s: f64,
    /// Samples taken over samples expected from the CPU time used; `None`
    /// from probes too old to say.
    pub coverage: Option<f64>,
    pub origin: String,
}

impl Sampled {
    /// Why the shares may mislead.
    pub fn notes(&self) -> Vec<String> {
        match self.coverage {
            Some(c) if c < COVERAGE_WARNING => vec![format!(
                "pprof sampled only {:.0}% of the CPU time at {} (the kernel's timer delivered fewer signals than asked, or the time went to code pprof cannot unwind): shares may be skewed",
                c * 100.0,
                self.origin
            )],
            _ => Vec::new(),
        }
    }
}

/// Samples one benchmark's routine for `seconds`.
pub fn sample(p: &mut dyn Probe, bench: &str, seconds: f64) -> Result<Sampled> {
    let r = probe::pprof(p, bench, seconds, FREQUENCY)?;
    let coverage = match (r.samples_total, r.cpu_seconds) {
        (Some(n), Some(cpu)) if cpu > 0.0 => Some(n as f64 / (cpu * f64::from(r.frequency))),
        _ => None,
    };
    Ok(Sampled {
        profile: Profile::parse(r.folded.iter().map(String::as_str)),
        per_iter_s: r.seconds / r.iters as f64,
        coverage,
        origin: p.origin().to_string(),
    })
}

/// Samples each benchmark; several are merged under their names.
pub fn sample_all(p: &mut dyn Probe, benches: &[&Budget], seconds: f64) -> Result<Sampled> {
    let origin = p.origin().to_string();
    let progress = Progress::new(benches.len() as u64, "sampling");
    let mut merged = Sampled {
        profile: Profile::default(),
        per_iter_s: 0.0,
        coverage: None,
        origin: origin.clone(),
    };
    for b in benches {
        progress.phase(&format!("{} at {origin} ({seconds} s)", b.name));
        let s = sample(p, &b.name, seconds)?;
        let profile = if benches.len() > 1 {
            s.profile.prefixed(&b.name)
        } else {
            s.profile
        };
        merged.profile.stacks.extend(profile.stacks);
        merged.per_iter_s += s.per_iter_s;
        merged.coverage = match (merged.coverage, s.coverage) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        progress.inc();
    }
    progress.finish();
    if merged.profile.total() == 0 {
        bail!(
            "pprof took no samples in the benchmark's routine: is the probe built with symbols (`debug` in [profile.bench])?"
        );
    }
    Ok(merged)
}

/// The zp functions whose time changed most from `before` to `after`
/// (largest growth first for a slowdown), each with what it calls outside
/// zp, scaled by the time per iteration; each change carries its sampling
/// noise, and the notes say when the top two are within it.
pub fn diff(before: &Sampled, after: &Sampled, top: usize) -> (Vec<Change>, Vec<String>) {
    let ratio = after.per_iter_s / before.per_iter_s;
    let (b, a) = (
        before.profile.by_zp_function(),
        after.profile.by_zp_function(),
    );
    let mut changes = a.changes_from(&b, ratio, top);
    let (bt, at) = (b.total().max(1) as f64, a.total().max(1) as f64);
    for c in &mut changes {
        // Counts from shares; Poisson variance of each side's count.
        let (kb, ka) = (c.before_pct / 100.0 * bt, c.after_pct / 100.0 * at);
        let se = 100.0 * (ka * (ratio / at).powi(2) + kb * (1.0 / bt).powi(2)).sqrt();
        c.noise_pct = Some(se);
    }
    let mut notes = before.notes();
    notes.extend(after.notes());
    if let [first, second, ..] = changes.as_slice()
        && let (Some(s1), Some(s2)) = (first.noise_pct, second.noise_pct)
    {
        let gap = (first.growth_pct - second.growth_pct).abs();
        let noise = 2.0 * (s1 * s1 + s2 * s2).sqrt();
        if gap < noise {
            notes.push(format!(
                "{} ({:+.1}%) and {} ({:+.1}%) are within the sampling noise of each other (±{noise:.1}% at {} and {} samples): the samples cannot tell which grew more",
                crate::stacks::elide_generics(&first.function),
                first.growth_pct,
                crate::stacks::elide_generics(&second.function),
                second.growth_pct,
                before.profile.total(),
                after.profile.total()
            ));
        }
    }
    (changes, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampled(lines: &[&str], per_iter_s: f64) -> Sampled {
        Sampled {
            profile: Profile::parse(lines.iter().copied()),
            per_iter_s,
            coverage: Some(1.0),
            origin: "x".into(),
        }
    }

    #[test]
    fn growths_carry_their_noise_and_near_ties_are_named() {
        let before = sampled(&["m;zp::a 500", "m;zp::b 500"], 1.0);
        // Both grew about as much: within the noise of a thousand samples.
        let after = sampled(&["m;zp::a 560", "m;zp::b 540"], 1.1);
        let (changes, notes) = diff(&before, &after, 5);
        assert!(changes.iter().all(|c| c.noise_pct.is_some()));
        assert!(
            notes
                .iter()
                .any(|n| n.contains("within the sampling noise")),
            "{notes:?}"
        );
        // One clearly grew: no such note, and it comes first.
        let after = sampled(&["m;zp::a 1500", "m;zp::b 500"], 2.0);
        let (changes, notes) = diff(&before, &after, 5);
        assert_eq!(changes[0].function, "zp::a");
        assert!(notes.is_empty(), "{notes:?}");
    }
}

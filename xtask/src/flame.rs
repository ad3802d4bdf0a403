//! `cargo xtask flame TARGET`: pprof samples of a benchmark's routine (or of
//! every routine in a category) through the probe, written as folded stacks
//! and as an inferno SVG under `profiles/flame/`; with `--diff REV`, also
//! a differential flamegraph from REV to the profiled code.

use crate::budgets::{Budget, Category};
use crate::probe::{self, Probe};
use crate::stacks::{Change, Profile};
use crate::{Ctx, Progress, flags};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// pprof's sampling rate: the kernel here ticks at 250 Hz, so asking for
/// more only adds sampler overhead (DESIGN.md, "Pitfalls").
pub const FREQUENCY: u32 = 250;
/// Below this share of the CPU time sampled, hotspot shares may mislead.
const COVERAGE_WARNING: f64 = 0.8;

impl flags::Flame {
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        if !(self.seconds > 0.0 && self.seconds <= 600.0) {
            bail!(crate::Usage(format!(
                "--seconds must be between 0 and 600, not {}",
                self.seconds
            )));
        }
        let benches = timed(ctx, Some(&self.target))?;
        let mut after_probe = crate::builds::probe_for(ctx, self.rev.as_deref())?;
        let label = after_probe.origin().to_string();
        let after = sample_all(&mut after_probe, &benches, self.seconds)?;
        let dir = ctx.store.generated("flame");
        let stem = format!("{}-{}", file_safe(&self.target), file_safe(&label));
        let title = format!("{} at {label}", self.target);
        let svg = render(
            &dir,
            &stem,
            &after.profile.folded(),
            after.profile.total(),
            &title,
            self.seconds,
        )?;
        print_hotspots(&after.profile, 12);
        for n in after.notes() {
            println!("note: {n}");
        }
        println!("\nflamegraph: {}", svg.display());
        if let Some(rev) = &self.diff {
            let mut before_probe = crate::builds::probe_for(ctx, Some(rev))?;
            let before_label = before_probe.origin().to_string();
            let before = sample_all(&mut before_probe, &benches, self.seconds)?;
            let ratio = after.per_iter_s / before.per_iter_s;
            let diff = differential(&before.profile, &after.profile)?;
            let title = format!(
                "{}: {before_label} → {label} (red grew, blue shrank)",
                self.target
            );
            let stem = format!(
                "{}-{}-vs-{}-diff",
                file_safe(&self.target),
                file_safe(&before_label),
                file_safe(&label)
            );
            let path = render(
                &dir,
                &stem,
                &diff,
                after.profile.total(),
                &title,
                self.seconds,
            )?;
            println!(
                "\n{before_label} → {label}: {:+.1}% time per iteration; largest changes by zp function (with what it calls outside zp: libc, the kernel, other crates) (share before → after, change in % of the time before):",
                (ratio - 1.0) * 100.0
            );
            let (changes, notes) = hotspot_diff(&before, &after, 8);
            for c in changes {
                println!(
                    "  {:>6.1}% → {:>6.1}%  {:+6.1}%  {}",
                    c.before_pct,
                    c.after_pct,
                    c.growth_pct,
                    crate::stacks::elide_generics(&c.function)
                );
            }
            for n in notes {
                println!("note: {n}");
            }
            println!("\ndifferential flamegraph: {}", path.display());
        }
        Ok(())
    }
}

/// The time benchmarks a target names (memory ones have nothing to sample).
pub fn timed<'a>(ctx: &'a Ctx, target: Option<&str>) -> Result<Vec<&'a Budget>> {
    let picked: Vec<&Budget> = ctx
        .budgets
        .select(target)?
        .into_iter()
        .filter(|b| b.category != Category::Memory)
        .collect();
    if picked.is_empty() {
        bail!(crate::Usage(format!(
            "`{}` selects only memory benchmarks, which are sizes: there is no time to profile (`cargo xtask bench memory` shows them)",
            target.unwrap_or("")
        )));
    }
    Ok(picked)
}

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

/// The zp functions whose time changed most from `before` to `after`, each
/// with what it calls outside zp (libc, the kernel, other crates), scaled
/// by the time per iteration; and why the diff may mislead.
pub fn hotspot_diff(before: &Sampled, after: &Sampled, top: usize) -> (Vec<Change>, Vec<String>) {
    let ratio = after.per_iter_s / before.per_iter_s;
    let changes =
        after
            .profile
            .by_zp_function()
            .changes_from(&before.profile.by_zp_function(), ratio, top);
    let mut notes = before.notes();
    notes.extend(after.notes());
    (changes, notes)
}

/// Writes `<stem>.folded` and `<stem>.svg` and returns the SVG's path.
pub fn render(
    dir: &Path,
    stem: &str,
    folded: &[String],
    samples: u64,
    title: &str,
    seconds: f64,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join(format!("{stem}.folded")), folded.join("\n") + "\n")?;
    let mut opts = inferno::flamegraph::Options::default();
    opts.title = title.to_string();
    opts.subtitle = Some(format!(
        "{samples} samples at {FREQUENCY} Hz, {seconds} s per benchmark"
    ));
    opts.count_name = "samples".to_string();
    let path = dir.join(format!("{stem}.svg"));
    let file =
        std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
    inferno::flamegraph::from_lines(
        &mut opts,
        folded.iter().map(String::as_str),
        std::io::BufWriter::new(file),
    )
    .with_context(|| format!("cannot render {}", path.display()))?;
    Ok(path)
}

/// inferno's differential folding: lines `stack before after` that its
/// flamegraph colours red where the after-profile grew, blue where it shrank.
pub fn differential(before: &Profile, after: &Profile) -> Result<Vec<String>> {
    let (b, a) = (before.folded().join("\n"), after.folded().join("\n"));
    let mut out = Vec::new();
    inferno::differential::from_readers(
        inferno::differential::Options::default(),
        b.as_bytes(),
        a.as_bytes(),
        &mut out,
    )?;
    Ok(String::from_utf8(out)?.lines().map(String::from).collect())
}

pub fn print_hotspots(p: &Profile, top: usize) {
    let mut text = String::new();
    print_hotspots_to(&mut text, p, top);
    print!("{text}");
}

/// The hotspot table: self and inclusive shares, largest self share first.
pub fn print_hotspots_to(out: &mut String, p: &Profile, top: usize) {
    use std::fmt::Write;
    let _ = writeln!(
        out,
        "hotspots ({} samples; standard-library leaves counted in their caller):\n  self%  incl%  function",
        p.total()
    );
    for s in p.hotspots().into_iter().take(top) {
        let _ = writeln!(
            out,
            "  {:>5.1}  {:>5.1}  {}",
            s.self_pct,
            s.inclusive_pct,
            crate::stacks::elide_generics(&s.function)
        );
    }
}

fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_targets_and_bad_durations_are_refused_before_building() {
        let (_dir, ctx) = crate::fixtures::temp_ctx();
        let err = timed(&ctx, Some("memory")).unwrap_err();
        assert!(
            err.is::<crate::Usage>() && err.to_string().contains("only memory benchmarks"),
            "{err}"
        );
        let flame = |target: &str, seconds: f64| {
            flags::Flame {
                target: target.into(),
                rev: None,
                diff: None,
                seconds,
            }
            .run(&ctx)
        };
        let err = flame("handshake", 0.0).unwrap_err();
        assert!(
            err.is::<crate::Usage>() && err.to_string().contains("--seconds"),
            "{err}"
        );
        let err = flame("handshak3", 1.0).unwrap_err();
        assert!(
            err.is::<crate::Usage>() && err.to_string().contains("did you mean"),
            "{err}"
        );
    }

    /// The real thing on zp: build the probe (in the dev profile, whose
    /// dependencies `cargo test` has already built), sample a benchmark,
    /// render. The SVG must be a complete document naming zp's own code.
    #[test]
    fn flame_renders_an_svg_with_the_benchmarks_own_functions() {
        let root = crate::workspace_root();
        let out = tempfile::tempdir().unwrap();
        let ctx = Ctx::new(root.clone(), "dev", Some(crate::fixtures::target())).unwrap();
        let benches = timed(&ctx, Some("encrypt_record_1k")).unwrap();
        let mut probe = crate::builds::probe_for(&ctx, None).unwrap();
        let s = sample_all(&mut probe, &benches, 1.0).unwrap();
        assert!(s.per_iter_s > 0.0);
        let c = s.coverage.expect("the probe reports what it sampled");
        assert!(c > 0.0 && c < 1.5, "coverage {c}");
        let p = s.profile;
        assert!(
            p.total() > 50,
            "a second at ~250 Hz gave {} samples",
            p.total()
        );
        let svg = render(
            out.path(),
            "t",
            &p.folded(),
            p.total(),
            "encrypt_record_1k at test",
            1.0,
        )
        .unwrap();
        let text = std::fs::read_to_string(svg).unwrap();
        assert!(
            text.starts_with("<?xml") && text.trim_end().ends_with("</svg>"),
            "not a whole SVG"
        );
        assert!(text.contains("encrypt_record_1k at test"), "title missing");
        assert!(
            text.contains("zp::record::RecordSealer"),
            "zp's record layer is not in the flamegraph"
        );
        assert!(
            text.contains("zp_probe_measured"),
            "the probe's marked function is the root"
        );
        let diff = differential(&p, &p).unwrap();
        let after: u64 = diff
            .iter()
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(after, p.total());
        assert!(
            diff.iter().all(|l| {
                let mut it = l.rsplitn(3, ' ');
                let (a, b) = (it.next().unwrap(), it.next().unwrap());
                a == b
            }),
            "a profile against itself has equal counts"
        );
    }
}

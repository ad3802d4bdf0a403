//! `cargo xtask flame TARGET`: pprof samples of a benchmark's routine (or of
//! every routine in a category) through the probe, written as folded stacks
//! and as an inferno SVG under `profiles/flame/`; with `--diff REV`, also
//! a differential flamegraph from REV to the profiled code.

use crate::measure::sampled::{self, FREQUENCY, sample_all};
use crate::render::flamegraph::{Counted, differential, file_safe, hotspot_table, render};
use crate::vcs::probe::Probe;
use crate::{Ctx, cli::flags};
use anyhow::{Result, bail};

impl flags::Flame {
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        if !(self.seconds > 0.0 && self.seconds <= 600.0) {
            bail!(crate::Usage(format!(
                "--seconds must be between 0 and 600, not {}",
                self.seconds
            )));
        }
        let benches = ctx.budgets.timed(Some(&self.target))?;
        let mut after_probe = crate::storage::builds::probe_for(ctx, self.rev.as_deref())?;
        let label = after_probe.origin().to_string();
        let after = sample_all(&mut after_probe, &benches, self.seconds)?;
        let dir = ctx.store.generated("flame");
        let stem = format!("{}-{}", file_safe(&self.target), file_safe(&label));
        let title = format!("{} at {label}", self.target);
        let counted = Counted {
            unit: "samples",
            how: format!("at {FREQUENCY} Hz, {} s per benchmark", self.seconds),
        };
        let svg = render(
            &dir,
            &stem,
            &after.profile.folded(),
            after.profile.total(),
            &title,
            &counted,
        )?;
        let mut table = String::new();
        hotspot_table(&mut table, &after.profile, 12, "samples");
        print!("{table}");
        for n in after.notes() {
            println!("note: {n}");
        }
        println!("\nflamegraph: {}", svg.display());
        if let Some(rev) = &self.diff {
            let mut before_probe = crate::storage::builds::probe_for(ctx, Some(rev))?;
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
            let path = render(&dir, &stem, &diff, after.profile.total(), &title, &counted)?;
            println!(
                "\n{before_label} → {label}: {:+.1}% time per iteration; largest changes by zp function (with what it calls outside zp: libc, the kernel, other crates) (share before → after, change in % of the time before):",
                (ratio - 1.0) * 100.0
            );
            let (changes, notes) = sampled::diff(&before, &after, 8);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_targets_and_bad_durations_are_refused_before_building() {
        let (_dir, ctx) = crate::fixtures::temp_ctx();
        let err = ctx.budgets.timed(Some("memory")).unwrap_err();
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
        let benches = ctx.budgets.timed(Some("encrypt_record_1k")).unwrap();
        let mut probe = crate::storage::builds::probe_for(&ctx, None).unwrap();
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
            &Counted {
                unit: "samples",
                how: "at 250 Hz".into(),
            },
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

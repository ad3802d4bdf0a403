//! `cargo xtask flame TARGET`: pprof samples of a benchmark's routine (or of
//! every routine in a category) through the probe, written as folded stacks
//! and as an inferno SVG under `profiles/flame/`; with `--diff REV`, also
//! a differential flamegraph from REV to the profiled code.

use crate::bisect::probe_binary;
use crate::budgets::{Budget, Category};
use crate::stacks::Profile;
use crate::{Ctx, Progress, flags};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// pprof's sampling rate: the kernel here ticks at 250 Hz, so asking for
/// more only adds sampler overhead (DESIGN.md, "Pitfalls").
pub const FREQUENCY: u32 = 250;

impl flags::Flame {
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        if !(self.seconds > 0.0 && self.seconds <= 600.0) {
            bail!(crate::Usage(format!(
                "--seconds must be between 0 and 600, not {}",
                self.seconds
            )));
        }
        let benches = timed(ctx, Some(&self.target))?;
        let (exe, label) = probe_binary(ctx, self.rev.as_deref())?;
        let (after, after_t) = sample_all(ctx, &exe, &benches, self.seconds, &label)?;
        let dir = ctx.root.join("profiles/flame");
        let stem = format!("{}-{}", file_safe(&self.target), file_safe(&label));
        let title = format!("{} at {label}", self.target);
        let svg = render(
            &dir,
            &stem,
            &after.folded(),
            after.total(),
            &title,
            self.seconds,
        )?;
        print_hotspots(&after, 12);
        println!("\nflamegraph: {}", svg.display());
        if let Some(rev) = &self.diff {
            let (before_exe, before_label) = probe_binary(ctx, Some(rev))?;
            let (before, before_t) =
                sample_all(ctx, &before_exe, &benches, self.seconds, &before_label)?;
            let ratio = after_t / before_t;
            let diff = differential(&before, &after)?;
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
            let path = render(&dir, &stem, &diff, after.total(), &title, self.seconds)?;
            println!(
                "\n{before_label} → {label}: {:+.1}% time per iteration; largest changes by zp function (with what it calls outside zp) (share before → after, change in % of the time before):",
                (ratio - 1.0) * 100.0
            );
            for c in after
                .by_zp_function()
                .changes_from(&before.by_zp_function(), ratio, 8)
            {
                println!(
                    "  {:>6.1}% → {:>6.1}%  {:+6.1}%  {}",
                    c.before_pct,
                    c.after_pct,
                    c.growth_pct,
                    crate::stacks::elide_generics(&c.function)
                );
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

/// Samples each benchmark; several are merged under their names. Also
/// returns the summed time per iteration of the benchmarks (seconds).
pub fn sample_all(
    ctx: &Ctx,
    exe: &Path,
    benches: &[&Budget],
    seconds: f64,
    label: &str,
) -> Result<(Profile, f64)> {
    let progress = Progress::new(benches.len() as u64, "sampling");
    let mut merged = Profile::default();
    let mut per_iter = 0.0;
    for b in benches {
        progress.phase(&format!("{} at {label} ({seconds} s)", b.name));
        let (p, t) = sample_timed(ctx, exe, &b.name, seconds)?;
        let p = if benches.len() > 1 {
            p.prefixed(&b.name)
        } else {
            p
        };
        merged.stacks.extend(p.stacks);
        per_iter += t;
        progress.inc();
    }
    progress.finish();
    if merged.total() == 0 {
        bail!(
            "pprof took no samples in the benchmark's routine: is the probe built with symbols (`debug` in [profile.bench])?"
        );
    }
    Ok((merged, per_iter))
}

pub fn sample(ctx: &Ctx, exe: &Path, name: &str, seconds: f64) -> Result<Profile> {
    Ok(sample_timed(ctx, exe, name, seconds)?.0)
}

/// A profile and the time per iteration while it was taken.
pub fn sample_timed(ctx: &Ctx, exe: &Path, name: &str, seconds: f64) -> Result<(Profile, f64)> {
    let v = crate::cargo::probe(
        exe,
        &ctx.root.join("zp"),
        &[
            "run",
            name,
            "--instrument",
            "pprof",
            "--seconds",
            &seconds.to_string(),
            "--frequency",
            &FREQUENCY.to_string(),
        ],
    )?;
    let lines: Vec<&str> = v["folded"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l.as_str())
        .collect();
    let per_iter =
        v["seconds"].as_f64().unwrap_or(0.0) / v["iters"].as_f64().unwrap_or(1.0).max(1.0);
    Ok((Profile::parse(lines), per_iter))
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
    println!(
        "hotspots ({} samples; standard-library leaves counted in their caller):\n  self%  incl%  function",
        p.total()
    );
    for s in p.hotspots().into_iter().take(top) {
        println!(
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
        let ctx = Ctx::new(root.clone(), "dev", root.join("target")).unwrap();
        let benches = timed(&ctx, Some("encrypt_record_1k")).unwrap();
        let (exe, label) = probe_binary(&ctx, None).unwrap();
        let (p, per_iter) = sample_all(&ctx, &exe, &benches, 1.0, &label).unwrap();
        assert!(per_iter > 0.0);
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

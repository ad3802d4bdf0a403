//! Flamegraphs and hotspot tables, drawn from folded stacks whatever
//! instrument counted them (pprof's samples, callgrind's instructions):
//! inferno's SVGs and its differential folding, and the text table of
//! self and inclusive shares.

use crate::stacks::Profile;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// What a flamegraph counts, for its subtitle and tooltips.
pub struct Counted<'a> {
    /// `samples` or `instructions`.
    pub unit: &'a str,
    /// How they were taken: `at 250 Hz, 3 s per benchmark`, `exact, callgrind`.
    pub how: String,
}

/// Writes `<stem>.folded` and `<stem>.svg` under `dir` and returns the
/// SVG's path.
pub fn render(
    dir: &Path,
    stem: &str,
    folded: &[String],
    total: u64,
    title: &str,
    counted: &Counted<'_>,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join(format!("{stem}.folded")), folded.join("\n") + "\n")?;
    let mut opts = inferno::flamegraph::Options::default();
    opts.title = title.to_string();
    opts.subtitle = Some(format!("{total} {} {}", counted.unit, counted.how));
    opts.count_name = counted.unit.to_string();
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

/// The hotspot table: self and inclusive shares, largest self share first.
pub fn hotspot_table(out: &mut String, p: &Profile, top: usize, unit: &str) {
    use std::fmt::Write;
    let _ = writeln!(
        out,
        "hotspots ({} {unit}; standard-library leaves counted in their caller):\n  self%  incl%  function",
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

/// A hotspot diff as numbered lines, saying which instrument it came from:
/// `1. zp::record::seal - 0% → 13% of instructions (+14.9% of the parent's
/// instructions)`. `code` puts names in backticks (Markdown comments);
/// `before` names the old side ("the parent's", "base's").
pub fn hotspot_diff_lines(
    changes: &[crate::stacks::Change],
    instrument: Option<crate::measure::hotspots::Instrument>,
    before: &str,
    code: bool,
) -> (String, Vec<String>) {
    let (what, unit) = match instrument {
        Some(crate::measure::hotspots::Instrument::Callgrind) => (
            "instructions by zp function, exact (callgrind)",
            "instructions",
        ),
        _ => ("time by zp function, sampled (pprof)", "time"),
    };
    let lines = changes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let name = crate::stacks::elide_generics(&c.function);
            let name = if code { format!("`{name}`") } else { name };
            let noise = c.noise_pct.map_or(String::new(), |n| format!(" ±{n:.1}"));
            format!(
                "{}. {name} - {:.0}% → {:.0}% of {unit} ({:+.1}%{noise} of {before} {unit})",
                i + 1,
                c.before_pct,
                c.after_pct,
                c.growth_pct
            )
        })
        .collect();
    (what.to_string(), lines)
}

/// A name safe in a file name: `[A-Za-z0-9_-]`, anything else `_`.
pub fn file_safe(s: &str) -> String {
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

//! The planted-kinds corpus: does the workbench name the right commit and
//! the right function for every kind of slowdown? One history holds five
//! plants, each in its own function and benchmark, between harmless
//! commits: an arithmetic loop, an extra copy (memcpy in libc), an
//! allocation per call (malloc), a system call per call (time in the
//! kernel), and a build setting (a dependency compiled without
//! optimisation). Each benchmark is bisected with the default metric, and
//! the answer counts only if the bisect names the planted commit *and* the
//! top of its hotspot diff names the function the plant touched (time in
//! libc, the kernel or a dependency charged to the zp function that
//! called it).
//!
//! `cargo xtask corpus` runs it on zp itself (a throwaway clone; minutes);
//! `--mini` and the test below run it on the miniature zp of `mini.rs`.

use crate::cli::flags;
use crate::model::search::{Finding, Metric};
use crate::units::short;
use crate::vcs::plant::{Plant, Step, commit_history};
use crate::workflows::bisect_report::Report;
use crate::workflows::bisection::Request;
use crate::{Ctx, Usage};
use anyhow::{Context, Result, bail};
use git2::{Oid, Repository};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// A history with every plant, each after a harmless commit.
fn history(plants: &[Plant], fillers: &[Step]) -> Vec<Step> {
    let mut steps = Vec::new();
    for (i, p) in plants.iter().enumerate() {
        steps.push(fillers[i % fillers.len()]);
        steps.push(Step::Plant(*p));
    }
    steps.push(fillers[plants.len() % fillers.len()]);
    steps
}

/// What the corpus found for one plant.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    pub kind: String,
    pub bench: String,
    pub planted: String,
    /// The culprit the bisect named, if any.
    pub named: Option<String>,
    /// The metric that answered.
    pub metric: Metric,
    /// The step in that metric, percent.
    pub step_pct: Option<f64>,
    /// The step in time where an instruction culprit was confirmed, percent
    /// (`None` where time could not decide it).
    pub time_pct: Option<f64>,
    /// The top hotspot (largest growth) and its growth.
    pub top: Option<(String, f64)>,
    /// The growth of the function the plant touched, wherever it ranks
    /// among the hotspots.
    pub touched_growth: Option<f64>,
    /// Which instrument the hotspots came from.
    pub instrument: Option<crate::measure::hotspots::Instrument>,
    pub culprit_ok: bool,
    pub hotspot_ok: bool,
    pub builds: usize,
    pub measurements: usize,
    pub wall_s: f64,
}

impl Checked {
    fn of(plant: &Plant, planted: Oid, report: &Report, wall_s: f64) -> Checked {
        let step = match &report.answer.outcome.finding {
            Finding::Culprit { step, .. } => Some(step),
            _ => None,
        };
        let named = step.map(|s| report.commits[s.culprit].id.clone());
        let top = report
            .hotspots
            .first()
            .map(|h| (h.function.clone(), h.growth_pct));
        let touches = |f: &str| plant.touched.iter().all(|t| f.contains(t));
        let hotspot_ok = top
            .as_ref()
            .is_some_and(|(f, growth)| *growth > 0.0 && touches(f));
        let touched_growth = report
            .hotspots
            .iter()
            .find(|h| touches(&h.function))
            .map(|h| h.growth_pct);
        Checked {
            kind: plant.kind.into(),
            bench: plant.bench.into(),
            planted: planted.to_string(),
            culprit_ok: named.as_deref() == Some(&planted.to_string()),
            named,
            metric: report.answer.metric,
            step_pct: step.map(|s| (s.ratio - 1.0) * 100.0),
            time_pct: report
                .answer
                .confirmation
                .as_ref()
                .filter(|c| c.said() == crate::model::sequential::Outcome::Slower)
                .map(|c| (c.ratio - 1.0) * 100.0),
            top,
            touched_growth,
            instrument: report.hotspot_instrument,
            hotspot_ok,
            builds: report.builds,
            measurements: report.measurements,
            wall_s,
        }
    }
}

/// Bisects each plant's benchmark from `good` to HEAD in the repository of
/// `ctx`.
pub fn check(ctx: &Ctx, good: Oid, plants: &[(Plant, Oid)]) -> Result<Vec<Checked>> {
    let mut out = Vec::new();
    for (plant, planted) in plants {
        eprintln!(
            "corpus: {} ({}), planted at {}",
            plant.kind,
            plant.bench,
            short(&planted.to_string())
        );
        let started = Instant::now();
        let report = crate::workflows::bisection::bisect(
            ctx,
            &Request::from_good_to_head(plant.bench, &good.to_string()),
        )?;
        out.push(Checked::of(
            plant,
            *planted,
            &report,
            started.elapsed().as_secs_f64(),
        ));
    }
    Ok(out)
}

/// Plants `plants` (after `fillers`) on top of the repository's HEAD and
/// checks each.
pub fn plant_and_check(ctx: &Ctx, plants: &[Plant], fillers: &[Step]) -> Result<Vec<Checked>> {
    let repo = Repository::open(&ctx.root)?;
    let good = repo.head()?.peel_to_commit()?.id();
    let steps = history(plants, fillers);
    let ids = commit_history(&repo, &ctx.root, &steps)?;
    let planted: Vec<(Plant, Oid)> = steps
        .iter()
        .zip(ids)
        .filter_map(|(s, id)| match s {
            Step::Plant(p) => Some((*p, id)),
            Step::Filler { .. } => None,
        })
        .collect();
    check(ctx, good, &planted)
}

/// The corpus as a table.
pub fn render(rows: &[Checked]) -> String {
    let mut out = String::from(
        "| kind | benchmark | planted | named | step | top hotspot | from | verdict |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let step = match (r.step_pct, r.time_pct) {
            (Some(s), Some(t)) => format!("{s:+.1}% {} ({t:+.1}% time)", r.metric.name()),
            (Some(s), None) => format!("{s:+.1}% {}", r.metric.name()),
            _ => "—".into(),
        };
        let top = r.top.as_ref().map_or("—".to_string(), |(f, g)| {
            format!("{} ({g:+.1}%)", crate::stacks::elide_generics(f))
        });
        let verdict = match (r.culprit_ok, r.hotspot_ok) {
            (true, true) => "correct",
            (true, false) => "WRONG hotspot",
            (false, _) => "WRONG commit",
        };
        let from = match r.instrument {
            Some(crate::measure::hotspots::Instrument::Callgrind) => "callgrind (exact)",
            Some(crate::measure::hotspots::Instrument::Pprof) => "pprof (sampled)",
            None => "—",
        };
        out += &format!(
            "| {} | {} | {} | {} | {step} | {top} | {from} | {verdict} |\n",
            r.kind,
            r.bench,
            short(&r.planted),
            r.named.as_deref().map_or("—", short),
        );
    }
    out
}

/// The miniature zp's plants (see `mini.rs`): each replaces a
/// `// plant: KIND` line of `zp/src/kinds.rs`, or the helper's build
/// setting.
pub const MINI: &[Plant] = &[
    Plant {
        kind: "arithmetic loop",
        bench: "arithmetic",
        subject: "kinds: checksum the data",
        file: "zp/src/kinds.rs",
        find: "// plant: arithmetic",
        replace: "for b in data.iter() {\n        sum = sum.rotate_left(5) ^ u64::from(*b);\n    }",
        touched: &["zp::kinds::arithmetic"],
    },
    Plant {
        kind: "extra copy",
        bench: "copy",
        subject: "kinds: copy the data defensively",
        file: "zp/src/kinds.rs",
        find: "// plant: copy",
        replace: "for _ in 0..32 {\n        out.copy_from_slice(data);\n        black_box(&mut *out);\n    }",
        touched: &["zp::kinds::copy"],
    },
    Plant {
        kind: "allocation per call",
        bench: "alloc",
        subject: "kinds: scratch vectors",
        file: "zp/src/kinds.rs",
        find: "// plant: alloc",
        replace: "for i in 0..3000 {\n        total += black_box(Vec::<u8>::with_capacity(32 + i % 64)).capacity();\n    }",
        touched: &["zp::kinds::alloc"],
    },
    Plant {
        kind: "system call per call",
        bench: "syscall",
        subject: "kinds: look at the file system",
        file: "zp/src/kinds.rs",
        find: "// plant: syscall",
        replace: "for _ in 0..200 {\n        calls += u64::from(std::fs::metadata(\"/\").is_ok());\n    }",
        touched: &["zp::kinds::syscall"],
    },
    Plant {
        kind: "build setting",
        bench: "setting",
        subject: "build: debug the helper",
        file: "Cargo.toml",
        find: "[profile.dev.package.helper]\nopt-level = 3\n\n[profile.bench.package.helper]\nopt-level = 3",
        replace: "[profile.dev.package.helper]\nopt-level = 0\n\n[profile.bench.package.helper]\nopt-level = 0",
        touched: &["zp::kinds::setting"],
    },
];

const MINI_FILLERS: &[Step] = &[
    Step::Filler {
        subject: "docs",
        file: "README.md",
        text: "More documentation.\n",
    },
    Step::Filler {
        subject: "comment",
        file: "zp/src/kinds.rs",
        text: "// A harmless comment.\n",
    },
];

/// zp's plants: one function and one benchmark each, so that no plant
/// moves another's benchmark past the threshold.
pub const ZP: &[Plant] = &[
    Plant {
        kind: "arithmetic loop",
        bench: "parse_frame",
        subject: "frame: checksum frames while parsing",
        file: "zp/src/frame/mod.rs",
        find: "pub fn parse_frame(buf: &[u8]) -> Result<Frame<'_>, Error> {\n    let mut reader = Reader::new(buf);\n",
        replace: "pub fn parse_frame(buf: &[u8]) -> Result<Frame<'_>, Error> {\n    let mut reader = Reader::new(buf);\n    // A debugging checksum of the frame, left in by mistake.\n    let mut sum = 0u32;\n    for b in buf.iter().step_by(16) {\n        sum = sum.rotate_left(5) ^ u32::from(*b);\n    }\n    std::hint::black_box(sum);\n",
        touched: &["zp::frame", "parse_frame"],
    },
    Plant {
        kind: "extra copy",
        bench: "aes256gcm_encrypt_64k",
        subject: "crypto: copy AES-GCM plaintexts defensively",
        file: "zp/src/crypto/rustcrypto.rs",
        find: "            ) -> Result<[u8; TAG_LEN], Error> {\n                let len = buf.len();\n",
        replace: "            ) -> Result<[u8; TAG_LEN], Error> {\n                let len = buf.len();\n                if $alg == AeadAlgorithm::Aes256Gcm {\n                    // A defensive copy of the plaintext, left in by mistake.\n                    let mut scratch = [0u8; 4096];\n                    for _ in 0..4 {\n                        for chunk in buf.chunks(4096) {\n                            scratch[..chunk.len()].copy_from_slice(chunk);\n                            std::hint::black_box(&mut scratch);\n                        }\n                    }\n                }\n",
        touched: &["rustcrypto", "seal_in_place"],
    },
    Plant {
        kind: "allocation per call",
        bench: "serialize_frame",
        subject: "frame: scratch buffer per data frame",
        file: "zp/src/frame/data.rs",
        find: "        self.encode_header(out);\n        out.put(self.payload);\n",
        replace: "        self.encode_header(out);\n        // A scratch buffer per frame, allocated by mistake.\n        let scratch: Vec<u8> = Vec::with_capacity(self.payload.len());\n        std::hint::black_box(&scratch);\n        out.put(self.payload);\n",
        // `DataFrame::encode`, or `Frame::encode` where the compiler inlined
        // it there: callgrind counts real functions (measured: the full
        // corpus's build kept `zp::frame::data::DataFrame::encode`, a build
        // of this plant alone inlined it into `zp::frame::Frame::encode`);
        // pprof names an inlined frame by its module (`zp::data::encode`).
        touched: &["zp::", "::encode"],
    },
    Plant {
        kind: "system call per call",
        bench: "encrypt_record_1k",
        subject: "record: fresh randomness per record",
        file: "zp/src/record.rs",
        find: "        let t = self.key.seal_in_place(&nonce(counter), header, body)?;\n",
        replace: "        // Padding randomness from the OS per record, drawn by mistake.\n        let mut pad = [0u8; 32];\n        getrandom::fill(&mut pad).expect(\"the OS has randomness\");\n        std::hint::black_box(&pad);\n        let t = self.key.seal_in_place(&nonce(counter), header, body)?;\n",
        touched: &["zp::record", "seal_in_place"],
    },
    Plant {
        kind: "build setting",
        bench: "hkdf_derive",
        subject: "build: sha2 without optimisation while debugging",
        file: "Cargo.toml",
        find: "[profile.dev.package.\"*\"]\nopt-level = 3\n",
        replace: "[profile.dev.package.\"*\"]\nopt-level = 3\n\n# Left from debugging sha2.\n[profile.bench.package.sha2]\nopt-level = 0\n",
        touched: &["zp::", "hkdf_sha256"],
    },
];

const ZP_FILLERS: &[Step] = &[
    Step::Filler {
        subject: "codec: explain the reader's bounds",
        file: "zp/src/codec.rs",
        text: "\n// Corpus: the reader never reads past its length prefix.\n",
    },
    Step::Filler {
        subject: "docs: describe the corpus",
        file: "README.md",
        text: "\nCorpus history: a documentation change.\n",
    },
    Step::Filler {
        subject: "session: comment on key rotation",
        file: "zp/src/session.rs",
        text: "\n// Corpus: rotation keeps the previous key for a grace period.\n",
    },
];

/// The corpus on a new miniature zp (copied from the checkout `from`,
/// building in `target` with cargo profile `profile`); returns the rows
/// and the repository.
pub fn mini(
    from: &Path,
    target: &Path,
    profile: &str,
    only: Option<&str>,
) -> Result<(Vec<Checked>, crate::mini::Mini)> {
    let plants: Vec<Plant> = MINI
        .iter()
        .filter(|p| only.is_none_or(|o| p.kind.contains(o)))
        .copied()
        .collect();
    let m = crate::mini::Mini::new(from, target)?;
    let ctx = Ctx::new(m.root().to_path_buf(), profile, Some(target.to_path_buf()))?;
    let rows = plant_and_check(&ctx, &plants, MINI_FILLERS)?;
    Ok((rows, m))
}

impl flags::Corpus {
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        let pick = |all: &[Plant]| -> Result<Vec<Plant>> {
            let picked: Vec<Plant> = all
                .iter()
                .filter(|p| self.only.as_deref().is_none_or(|o| p.kind.contains(o)))
                .copied()
                .collect();
            if picked.is_empty() {
                let kinds: Vec<&str> = all.iter().map(|p| p.kind).collect();
                bail!(Usage(format!(
                    "no kind matches `{}`; the kinds are: {}",
                    self.only.as_deref().unwrap_or(""),
                    kinds.join(", ")
                )));
            }
            Ok(picked)
        };
        let started = Instant::now();
        let (rows, kept) = if self.mini {
            pick(MINI)?;
            let (rows, m) = mini(
                &ctx.root,
                ctx.target_dir()?,
                &ctx.probe_profile,
                self.only.as_deref(),
            )?;
            (rows, m.keep())
        } else {
            let plants = pick(ZP)?;
            let dir = std::env::temp_dir().join(format!("zp-corpus-{}", crate::host::utc_now().0));
            eprintln!(
                "corpus: cloning this repository's HEAD into {} (your checkout is only read)",
                dir.display()
            );
            Repository::clone(&ctx.root.to_string_lossy(), &dir).with_context(|| {
                format!("cannot clone {} into {}", ctx.root.display(), dir.display())
            })?;
            let cctx = Ctx::new(
                dir.clone(),
                &ctx.probe_profile,
                Some(ctx.target_dir()?.to_path_buf()),
            )?;
            (plant_and_check(&cctx, &plants, ZP_FILLERS)?, dir)
        };
        print!("{}", render(&rows));
        let right = rows.iter().filter(|r| r.culprit_ok && r.hotspot_ok).count();
        println!(
            "\n{right} of {} kinds correct (commit and hotspot) in {:.0} s; the history stays in {}",
            rows.len(),
            started.elapsed().as_secs_f64(),
            kept.display()
        );
        if right < rows.len() {
            bail!(
                "{} of {} kinds were misnamed",
                rows.len() - right,
                rows.len()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every plant and filler of zp's corpus still applies to this checkout
    /// (a file moved or a line rewritten would otherwise only show when
    /// someone runs `cargo xtask corpus`).
    #[test]
    fn zp_plants_and_fillers_apply_to_this_checkout() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        for plant in ZP {
            let text = std::fs::read_to_string(root.join(plant.file))
                .unwrap_or_else(|e| panic!("{}: {e}", plant.file));
            assert_eq!(
                text.matches(plant.find).count(),
                1,
                "plant {:?}: {} holds its text once",
                plant.subject,
                plant.file
            );
        }
        for step in ZP_FILLERS {
            if let Step::Filler { file, .. } = step {
                assert!(root.join(file).is_file(), "{file}");
            }
        }
    }
}

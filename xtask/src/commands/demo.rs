//! `cargo xtask demo`: the whole workbench on a built-in example. It clones
//! this repository into a temporary folder, adds a short history to zp there
//! (harmless commits, two that touch only the README, and one that slows
//! the record layer), then runs the real bisect and flamegraphs on it. The
//! user's repository is only read: the clone is where everything happens.

use crate::Ctx;
use crate::cli::flags;
use crate::model::search::{Finding, Metric};
use crate::model::sequential::Outcome as Said;
use crate::vcs::plant::{Plant, Step};
use crate::workflows::bisection::Request;
use anyhow::{Context, Result, bail};
use git2::Repository;
use std::time::Instant;

/// A serial checksum over every 8th payload byte of a record: about +10 %
/// on encrypt_record_64k on the development machine, and more instructions.
const PLANTED: Plant = Plant {
    kind: "arithmetic loop",
    bench: "encrypt_record_64k",
    subject: "record: checksum payloads while sealing",
    file: "zp/src/record.rs",
    find: "        let t = self.key.seal_in_place(&nonce(counter), header, body)?;\n",
    replace: "        // A debugging checksum of the payload, left in by mistake.
        let mut sum = 0u32;
        for b in body.iter().step_by(8) {
            sum = sum.rotate_left(5) ^ u32::from(*b);
        }
        std::hint::black_box(sum);
        let t = self.key.seal_in_place(&nonce(counter), header, body)?;
",
    touched: &["zp::record", "seal_in_place"],
};

const fn filler(subject: &'static str, file: &'static str, text: &'static str) -> Step {
    Step::Filler {
        subject,
        file,
        text,
    }
}

/// Twelve commits: harmless ones, two that touch only the README, and the
/// planted one.
const HISTORY: &[Step] = &[
    filler(
        "codec: explain the reader's bounds",
        "zp/src/codec.rs",
        "\n// Demo: the reader never reads past its length prefix.\n",
    ),
    filler(
        "stream: note the LRU order",
        "zp/src/stream.rs",
        "\n// Demo: streams are evicted least recently used first.\n",
    ),
    filler(
        "docs: describe the demo",
        "README.md",
        "\nDemo history: a documentation change.\n",
    ),
    filler(
        "session: comment on key rotation",
        "zp/src/session.rs",
        "\n// Demo: rotation keeps the previous key for one epoch.\n",
    ),
    filler(
        "frame: comment on padding",
        "zp/src/frame/mod.rs",
        "\n// Demo: frames carry no padding.\n",
    ),
    filler(
        "error: group the codes",
        "zp/src/error.rs",
        "\n// Demo: error codes are grouped by layer.\n",
    ),
    Step::Plant(PLANTED),
    filler(
        "token: note the replay window",
        "zp/src/token.rs",
        "\n// Demo: tokens remember what they resumed.\n",
    ),
    filler(
        "docs: link the design",
        "README.md",
        "\nDemo history: another documentation change.\n",
    ),
    filler(
        "connection: comment on events",
        "zp/src/connection/mod.rs",
        "\n// Demo: events are drained in order.\n",
    ),
    filler(
        "codec: comment on writers",
        "zp/src/codec.rs",
        "\n// Demo: writers append to a Vec.\n",
    ),
    filler(
        "stream: comment on credit",
        "zp/src/stream.rs",
        "\n// Demo: credit is granted per stream.\n",
    ),
];

impl flags::Demo {
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        let started = Instant::now();
        let dir = std::env::temp_dir().join(format!("zp-demo-{}", crate::host::utc_now().0));
        eprintln!(
            "[1/4] cloning this repository's HEAD into {} (your checkout is only read)",
            dir.display()
        );
        let repo = Repository::clone(&ctx.root.to_string_lossy(), &dir).with_context(|| {
            format!("cannot clone {} into {}", ctx.root.display(), dir.display())
        })?;
        eprintln!(
            "[2/4] adding {} commits to zp there, one of which slows the record layer",
            HISTORY.len()
        );
        let good = repo.head()?.peel_to_commit()?.id().to_string();
        let ids = crate::vcs::plant::commit_history(&repo, &dir, HISTORY)?;
        let planted = HISTORY
            .iter()
            .zip(&ids)
            .find(|(s, _)| matches!(s, Step::Plant(_)))
            .map(|(_, id)| id.to_string())
            .context("the demo history plants nothing")?;
        // Shares this repository's builds of the dependencies.
        let clone = Ctx::new(
            dir.clone(),
            &ctx.probe_profile,
            Some(ctx.target_dir()?.to_path_buf()),
        )?;
        eprintln!(
            "[3/4] cargo xtask bisect {} --good {} (the first build of the bench profile takes a few minutes)",
            PLANTED.bench,
            &good[..10]
        );
        let report = crate::workflows::bisection::bisect(
            &clone,
            &Request::from_good_to_head(PLANTED.bench, &good),
        )?;
        let step = match &report.answer.outcome.finding {
            Finding::Culprit { step, .. } => step,
            f if f.undecided() => bail!(crate::CannotDecide(format!(
                "the demo's bisect cannot decide on this machine: {}",
                report.headline()
            ))),
            _ => bail!(
                "the demo's bisect did not name a culprit: {}",
                report.headline()
            ),
        };
        let culprit = report.commits[step.culprit].id.clone();
        eprintln!(
            "[4/4] the culprit's flamegraph (pprof: where its time goes){}",
            match &report.flamegraph {
                Some(_) => ", beside the bisect's differential flamegraph",
                None => "",
            }
        );
        flags::Flame {
            target: PLANTED.bench.into(),
            rev: Some(culprit.clone()),
            diff: None,
            seconds: 3.0,
        }
        .run(&clone)?;
        if let Some(f) = &report.flamegraph {
            println!(
                "differential flamegraph, parent → culprit ({}): {f}",
                report
                    .hotspot_instrument
                    .map_or("sampled", |i| i.describe())
            );
        }
        let verdict = if culprit == planted {
            "correct"
        } else {
            "WRONG"
        };
        let how = match (report.answer.metric, report.answer.confirmation.as_ref()) {
            (Metric::Instructions, Some(c)) if c.said() == Said::Slower => {
                "named by exact instruction counts and confirmed in time".to_string()
            }
            (Metric::Instructions, _) => {
                "named by exact instruction counts; time could not confirm it on this machine (see \"Time:\" above)".to_string()
            }
            (Metric::Time, _) => "named in time".to_string(),
        };
        println!(
            "\nThe planted commit was {}; the bisect named {} ({how}): {verdict}. Total {:.0} s.",
            &planted[..10],
            &culprit[..10],
            started.elapsed().as_secs_f64()
        );
        println!(
            "The demo repository stays in {} for you to look at; delete it when done.",
            dir.display()
        );
        if culprit != planted {
            bail!("the demo's bisect named the wrong commit");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The demo's plant and fillers still apply to this checkout.
    #[test]
    fn the_demo_history_applies_to_this_checkout() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        for step in HISTORY {
            match step {
                Step::Filler { file, .. } => assert!(root.join(file).is_file(), "{file}"),
                Step::Plant(p) => {
                    let text = std::fs::read_to_string(root.join(p.file)).unwrap();
                    assert_eq!(text.matches(p.find).count(), 1, "{}", p.file);
                }
            }
        }
    }
}

//! `cargo xtask demo`: the whole workbench on a built-in example. It clones
//! this repository into a temporary folder, adds a short history to zp there
//! (harmless commits, two that touch only the README, and one that slows
//! the record layer), then runs the real bisect and flamegraphs on it. The
//! user's repository is only read: the clone is where everything happens.

use crate::Ctx;
use crate::flags::{self, Metric};
use crate::search::Finding;
use anyhow::{Context, Result, bail};
use git2::{Repository, Signature};
use std::path::Path;
use std::time::Instant;

/// The benchmark the planted change slows.
const BENCH: &str = "encrypt_record_64k";
/// Where the planted change goes, and the line it is inserted before.
const RECORD: &str = "zp/src/record.rs";
const ANCHOR: &str = "        let t = self.key.seal_in_place(&nonce(counter), header, body)?;\n";
/// A serial checksum over every 8th payload byte: about +10 % on
/// encrypt_record_64k on the development machine, and more instructions.
const PLANTED: &str = "        // A debugging checksum of the payload, left in by mistake.
        let mut sum = 0u32;
        for b in body.iter().step_by(8) {
            sum = sum.rotate_left(5) ^ u32::from(*b);
        }
        std::hint::black_box(sum);
";

/// (subject, file, what to append) for the harmless commits; `None` marks
/// the planted one.
const HISTORY: &[Option<(&str, &str, &str)>] = &[
    Some((
        "codec: explain the reader's bounds",
        "zp/src/codec.rs",
        "\n// Demo: the reader never reads past its length prefix.\n",
    )),
    Some((
        "stream: note the LRU order",
        "zp/src/stream.rs",
        "\n// Demo: streams are evicted least recently used first.\n",
    )),
    Some((
        "docs: describe the demo",
        "README.md",
        "\nDemo history: a documentation change.\n",
    )),
    Some((
        "session: comment on key rotation",
        "zp/src/session.rs",
        "\n// Demo: rotation keeps the previous key for one epoch.\n",
    )),
    Some((
        "frame: comment on padding",
        "zp/src/frame.rs",
        "\n// Demo: frames carry no padding.\n",
    )),
    Some((
        "error: group the codes",
        "zp/src/error.rs",
        "\n// Demo: error codes are grouped by layer.\n",
    )),
    None,
    Some((
        "token: note the replay window",
        "zp/src/token.rs",
        "\n// Demo: tokens remember what they resumed.\n",
    )),
    Some((
        "docs: link the design",
        "README.md",
        "\nDemo history: another documentation change.\n",
    )),
    Some((
        "connection: comment on events",
        "zp/src/connection.rs",
        "\n// Demo: events are drained in order.\n",
    )),
    Some((
        "codec: comment on writers",
        "zp/src/codec.rs",
        "\n// Demo: writers append to a Vec.\n",
    )),
    Some((
        "stream: comment on credit",
        "zp/src/stream.rs",
        "\n// Demo: credit is granted per stream.\n",
    )),
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
        let (good, planted) = plant(&repo, &dir)?;
        // Shares this repository's builds of the dependencies.
        let clone = Ctx::new(dir.clone(), &ctx.probe_profile, ctx.target_dir.clone())?;
        eprintln!(
            "[3/4] cargo xtask bisect {BENCH} --good {} (the first build of the bench profile takes a few minutes)",
            &good[..10]
        );
        let bisect = flags::Bisect {
            bench: BENCH.into(),
            good: Some(good),
            bad: "HEAD".into(),
            metric: Metric::Auto,
            threshold: 5.0,
            jobs: None,
            fresh: false,
        };
        let report = bisect.execute(&clone)?;
        let Finding::Culprit { step, .. } = &report.outcome.finding else {
            bail!(
                "the demo's bisect did not name a culprit: {}",
                report.headline()
            );
        };
        let (culprit, parent) = (
            report.commits[step.culprit].id.clone(),
            report.commits[step.parent].id.clone(),
        );
        eprintln!("[4/4] flamegraphs of the culprit, and of its difference from its parent");
        flags::Flame {
            target: BENCH.into(),
            rev: Some(culprit.clone()),
            diff: Some(parent),
            seconds: 3.0,
        }
        .run(&clone)?;
        let verdict = if culprit == planted {
            "correct"
        } else {
            "WRONG"
        };
        println!(
            "\nThe planted commit was {}; the bisect named {}: {verdict}. Total {:.0} s.",
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

/// Commits the history; returns the good commit (the clone's HEAD) and the
/// planted one.
fn plant(repo: &Repository, dir: &Path) -> Result<(String, String)> {
    let good = repo.head()?.peel_to_commit()?.id().to_string();
    let sig = Signature::now("zp demo", "demo@example.invalid")?;
    let mut planted = String::new();
    for step in HISTORY {
        let (subject, file) = match step {
            Some((subject, file, text)) => {
                let path = dir.join(file);
                let mut body = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {file} in the clone"))?;
                body.push_str(text);
                std::fs::write(&path, body)?;
                (subject.to_string(), file.to_string())
            }
            None => {
                let path = dir.join(RECORD);
                let body = std::fs::read_to_string(&path)?;
                if !body.contains(ANCHOR) {
                    bail!(
                        "{RECORD} no longer contains the line the demo plants its slowdown before; update xtask/src/demo.rs"
                    );
                }
                std::fs::write(
                    &path,
                    body.replacen(ANCHOR, &format!("{PLANTED}{ANCHOR}"), 1),
                )?;
                (
                    "record: checksum payloads while sealing".to_string(),
                    RECORD.to_string(),
                )
            }
        };
        let mut index = repo.index()?;
        index.add_path(Path::new(&file))?;
        index.write()?;
        let tree = repo.find_tree(index.write_tree()?)?;
        let parent = repo.head()?.peel_to_commit()?;
        let id = repo.commit(Some("HEAD"), &sig, &sig, &subject, &tree, &[&parent])?;
        if step.is_none() {
            planted = id.to_string();
        }
    }
    Ok((good, planted))
}

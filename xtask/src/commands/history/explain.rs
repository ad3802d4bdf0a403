//! `--explain`: each change's commands run, through the bisect's library
//! function (`bisection::bisect`) for a slowdown and a hotspot diff for an
//! improvement.

use super::*;

/// Runs the commands of every change (`--explain`): a bisect for a
/// slowdown, a hotspot diff for an improvement or a size change's commit.
pub(super) fn explain(ctx: &Ctx, h: &mut History, jobs: Option<u32>) -> Result<()> {
    let n = h.changes.len();
    for (k, c) in h.changes.iter_mut().enumerate() {
        if c.kind == Kind::Bytes {
            continue;
        }
        eprintln!(
            "explaining change {} of {n}: {} {} {:+.1}% at {}",
            k + 1,
            c.bench,
            c.kind.name(),
            (c.point.ratio - 1.0) * 100.0,
            short(&c.commit)
        );
        let result = if c.improvement() {
            explain_improvement(ctx, c)
        } else {
            explain_slowdown(ctx, h.commits.as_slice(), c, jobs)
        };
        match result {
            Ok(e) => c.explained = Some(e),
            Err(e) => {
                process::check()?;
                c.explained = Some(Explained {
                    culprit: None,
                    summary: format!("could not explain: {e:#}"),
                    hotspots: Vec::new(),
                    notes: Vec::new(),
                });
            }
        }
    }
    Ok(())
}

pub(super) fn explain_slowdown(
    ctx: &Ctx,
    commits: &[Point],
    c: &Change,
    jobs: Option<u32>,
) -> Result<Explained> {
    let change = (c.point.ratio - 1.0) * 100.0;
    // The bisect halves the threshold for counts: ask for less than the
    // change so that it is found.
    let threshold = (change * 0.6).clamp(0.5, 5.0);
    let at = c.at;
    let (good, bad) = match c.kind {
        Kind::Instructions => (c.previous.clone(), c.commit.clone()),
        _ => {
            let measured: Vec<usize> = (0..commits.len())
                .filter(|i| commits[*i].measured)
                .collect();
            let pos = measured.iter().position(|i| *i == at).unwrap_or(0);
            (
                commits[measured[pos.saturating_sub(2)]].commit.id.clone(),
                commits[measured[(pos + 1).min(measured.len() - 1)]]
                    .commit
                    .id
                    .clone(),
            )
        }
    };
    let request = crate::workflows::bisection::Request {
        bench: c.bench.clone(),
        good: Some(good),
        bad,
        metric: match c.kind {
            Kind::Instructions => MetricChoice::Instructions,
            _ => MetricChoice::Time,
        },
        threshold,
        jobs,
        fresh: false,
    };
    let report = crate::workflows::bisection::bisect(ctx, &request)?;
    let culprit = match &report.answer.outcome.finding {
        Finding::Culprit { step, .. } => Some(report.commits[step.culprit].id.clone()),
        _ => None,
    };
    Ok(Explained {
        culprit,
        summary: report.headline(),
        hotspots: report.hotspots.clone(),
        notes: report.hotspot_notes.clone(),
    })
}

pub(super) fn explain_improvement(ctx: &Ctx, c: &Change) -> Result<Explained> {
    let mut before = builds::probe_for(ctx, Some(&c.previous))?;
    let mut after = builds::probe_for(ctx, Some(&c.commit))?;
    let ids = [before.fingerprint()?, after.fingerprint()?];
    let mut exactly = Exactly::new(&ctx.store.cache().join("measurements"));
    let time_change = (c.kind == Kind::Time).then_some(c.point.ratio - 1.0);
    let [b, a] = ids;
    let d = hotspots::explain(
        exactly.as_mut(),
        Side {
            probe: &mut before,
            id: b,
        },
        Side {
            probe: &mut after,
            id: a,
        },
        &c.bench,
        time_change,
        5,
    )?;
    Ok(Explained {
        culprit: Some(c.commit.clone()),
        summary: format!(
            "{} got faster at {}: {:+.1}% {} (hotspots from {})",
            c.bench,
            short(&c.commit),
            (c.point.ratio - 1.0) * 100.0,
            c.kind.name(),
            d.instrument.describe()
        ),
        hotspots: d.changes,
        notes: d.notes,
    })
}

//! The gate's decision policy: exact instruction counts decide, time is
//! the second opinion (a time-only slowdown stands only when a second,
//! independent comparison finds it too), sizes are compared exactly.

use super::*;

/// The verdict on one timed benchmark from its instruction counts (if
/// any) and its paired time judgement at the warning tier.
pub fn decide(
    t: Thresholds,
    category: Category,
    instr: Option<[f64; 2]>,
    time: &Judgement,
) -> (Verdict, String) {
    let tc = time.estimate - 1.0;
    let pct100 = |x: f64| format!("{:+.1}%", x * 100.0);
    let tier = |x: f64| format!("{:.0}%", x * 100.0);
    let words = time.describe();
    let slower = time.outcome == Said::Slower;
    let Some([ib, ih]) = instr else {
        // Time alone: the bench verdicts' tiers, on the paired interval.
        let iv = sequential::Interval {
            estimate: time.estimate,
            low: time.low,
            high: time.high,
        };
        let verdict = decide::tiers(iv, t);
        let why = match verdict {
            Verdict::Regression => format!(
                "time {words} past the {category} failure tier ({}); no instruction counts here",
                tier(t.failure)
            ),
            Verdict::Warning => format!(
                "time {words} past the {category} warning tier ({})",
                tier(t.warning)
            ),
            Verdict::Improvement => format!("time {words}"),
            Verdict::Pass => format!("time {words}, within the {} warning tier", tier(t.warning)),
            Verdict::Inconclusive => format!(
                "time cannot decide yet: {words}, neither past nor within the {} warning tier, and no instruction counts here; {}",
                tier(t.warning),
                time.what_would_decide()
            ),
        };
        return (verdict, why);
    };
    let ic = ih / ib - 1.0;
    let time_said = match time.outcome {
        Said::CannotDecide => format!("time cannot decide: {words}"),
        _ => format!("time {words}"),
    };
    if ic > t.warning {
        (
            Verdict::Regression,
            format!(
                "instructions {} (exact) past the {category} warning tier ({}); {time_said}",
                pct100(ic),
                tier(t.warning)
            ),
        )
    } else if slower && tc > t.failure && ic > 0.0 {
        (
            Verdict::Regression,
            format!(
                "time {words} past the {category} failure tier ({}), and instructions rose too ({})",
                tier(t.failure),
                pct100(ic)
            ),
        )
    } else if slower {
        (
            Verdict::Warning,
            format!(
                "time {words} but instructions {}: a slowdown the counts do not see (cache, layout, frequency), or the runner",
                pct100(ic)
            ),
        )
    } else if ic > t.warning / 2.0 {
        (
            Verdict::Warning,
            format!(
                "instructions {} (exact), under the {category} warning tier ({}); {time_said}",
                pct100(ic),
                tier(t.warning)
            ),
        )
    } else if ic < -t.warning || (time.faster() && ic <= 0.0) {
        (
            Verdict::Improvement,
            format!("instructions {}, {time_said}", pct100(ic)),
        )
    } else {
        (
            Verdict::Pass,
            format!("instructions {}, {time_said}", pct100(ic)),
        )
    }
}

/// The gate's time opinion of one benchmark, and what it observed.
pub struct Opinion {
    /// Time per paired round, base and head, of the comparison that stands.
    pub values: [Vec<f64>; 2],
    pub judgement: Judgement,
    /// A first comparison's slowdown that the second did not confirm.
    pub unconfirmed: Option<Judgement>,
    pub observations: Vec<Observation>,
    pub clock: Clock,
}

/// Paired rounds of base and head judged at the warning tier `tier`. A
/// slowdown that exact counts do not explain (`explained` false) stands
/// only when a second, independent comparison finds it too: the gate asks
/// this of every one of its benchmarks, and one comparison erring at most
/// α each leaves a false time-only WARNING somewhere in a gate of 18
/// benchmarks up to 18 α of the time (measured on an unchanged head here:
/// x25519_keygen +21.5 %, interval +0.0 % to +44.8 %, in one of three
/// gates); two must err together, at most α² each.
pub fn time_opinion(
    rng: &mut Rng,
    budget: RoundBudget,
    tier: f64,
    explained: bool,
    observe: &mut dyn FnMut(usize) -> Result<Observation>,
) -> Result<Opinion> {
    let mut observations = Vec::new();
    let mut unconfirmed = None;
    let mut ran = sequential::judge_pair(rng, budget, tier, observe)?;
    if ran.result.outcome == Said::Slower && !explained {
        observations.extend(ran.observations.iter().flatten());
        let first = ran.result;
        ran = sequential::judge_pair(rng, budget, tier, observe)?;
        if ran.result.outcome != Said::Slower {
            unconfirmed = Some(first);
        }
    }
    observations.extend(ran.observations.iter().flatten());
    let values = [BASE, HEAD].map(|side| {
        ran.observations[side]
            .iter()
            .map(|o| o.value(ran.clock))
            .collect()
    });
    Ok(Opinion {
        values,
        judgement: ran.result,
        unconfirmed,
        observations,
        clock: ran.clock,
    })
}

/// The verdict on a memory size (exact, so the instruction rule).
pub(super) fn decide_bytes(t: Thresholds, category: Category, b: [u64; 2]) -> (Verdict, String) {
    let d = decide::decide_exact(b[BASE] as f64, b[HEAD] as f64, t);
    let change = format!(
        "{} B → {} B ({:+.1}%)",
        b[BASE],
        b[HEAD],
        d.change() * 100.0
    );
    match d.verdict {
        Verdict::Warning | Verdict::Regression => (
            Verdict::Regression,
            format!(
                "{change}, past the {category} warning tier ({:.0}%)",
                t.warning * 100.0
            ),
        ),
        v => (v, change),
    }
}

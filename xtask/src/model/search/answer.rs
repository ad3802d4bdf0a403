//! One answer from the two metrics: `auto` bisects in exact instruction
//! counts first and asks time for its opinion of the culprit step (the
//! culprit stands unless time shows it not slower); `single` uses one
//! metric; `confirm_only` measures a given step in time.

use super::*;

/// Checks a step found with another metric in time: fresh rounds of
/// `parent` and `culprit` only, against `tier`; the share is left at zero
/// (the whole change was measured in the other metric).
pub fn confirm_only<M: Measurer>(
    m: &mut M,
    parent: usize,
    culprit: usize,
    policy: Policy,
    tier: f64,
) -> Result<(Step, Vec<Observation>)> {
    let mut s = State::new(m, policy);
    for i in [parent, culprit] {
        if let Prepared::Skip(why) = s.prepare(i)? {
            anyhow::bail!("cannot confirm in time: candidate {i} {why}");
        }
    }
    let j = s.judge(parent, culprit, tier)?;
    Ok((Step::timed(parent, culprit, j, 0.0), s.observed()))
}

/// What a search concluded, in the metric that answers the question.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    /// The metric of `outcome`'s values.
    pub metric: Metric,
    pub outcome: Outcome,
    /// An instruction culprit's step in time: slower (confirmed), or
    /// undecided (the exact step stands, labelled so).
    pub confirmation: Option<Step>,
    /// An instruction culprit that time showed not slower: kept as a note,
    /// never the answer (the answer then comes from a search in time).
    pub unconfirmed: Option<Unconfirmed>,
    /// How busy the machine was over the time observations of the whole
    /// answer (search and confirmation).
    #[serde(default)]
    pub load: Option<Load>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unconfirmed {
    /// The instruction search that named it.
    pub outcome: Outcome,
    /// Its step in time: not slower.
    pub in_time: Step,
}

impl Answer {
    pub(super) fn only(metric: Metric, outcome: Outcome) -> Answer {
        let load = outcome.load;
        Answer {
            metric,
            outcome,
            confirmation: None,
            unconfirmed: None,
            load,
        }
    }

    /// The time clock the answer's decisions used, if time was measured.
    pub fn clock(&self) -> Option<Clock> {
        self.load.map(|l| l.clock)
    }
}

/// One search in one metric.
pub fn single<M: Measurer>(
    m: &mut M,
    n: usize,
    policy: Policy,
    on_step: OnStep<'_>,
) -> Result<Answer> {
    Ok(Answer::only(policy.metric, bisect(m, n, policy, on_step)?))
}

/// Instructions first (exact, one build and one count per commit), then
/// time. The instruction culprit is the answer unless time shows its step
/// *not slower* (interval within half the time threshold): then, and when
/// the endpoints show no regression in instructions at all, the answer is
/// a search in time. Time that cannot decide leaves the exact answer
/// standing, with the undecided step attached for the report to say so.
pub fn auto<M: Measurer>(
    m: &mut M,
    n: usize,
    exact: Policy,
    time: Policy,
    on_step: OnStep<'_>,
) -> Result<Answer> {
    let counted = bisect(m, n, exact, &mut *on_step)?;
    let Finding::Culprit { step, .. } = &counted.finding else {
        on_step(
            "the regression does not show in instruction counts: bisecting in time",
            n,
        );
        return single(m, n, time, on_step);
    };
    on_step("checking in time", step.culprit);
    let (in_time, observed) =
        confirm_only(m, step.parent, step.culprit, time, time.threshold / 2.0)?;
    if in_time.said() != Said::NotSlower {
        return Ok(Answer {
            metric: Metric::Instructions,
            outcome: counted,
            confirmation: Some(in_time),
            unconfirmed: None,
            load: Load::of(&observed),
        });
    }
    on_step(
        "time shows the instruction culprit's step costs no time: bisecting in time",
        step.culprit,
    );
    let mut answer = single(m, n, time, on_step)?;
    let all: Vec<Observation> = observed
        .into_iter()
        .chain(answer.outcome.observations.iter().copied())
        .collect();
    answer.load = Load::of(&all);
    answer.unconfirmed = Some(Unconfirmed {
        outcome: counted,
        in_time,
    });
    Ok(answer)
}

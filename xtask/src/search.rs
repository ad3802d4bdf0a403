//! The bisection itself, independent of git and cargo: it sees candidate
//! commits as indices and takes every measurement through [`Measurer`], so
//! it is tested with a fake that simulates noise, build failures, missing
//! benchmarks and two-step regressions.
//!
//! 1. Measure the endpoints, interleaved (good, bad, good, bad, …); stop
//!    unless bad is slower than good by more than the threshold with the
//!    rank test's agreement.
//! 2. Binary search. Each midpoint is measured in rounds interleaved with
//!    both endpoints (good, mid, bad, …), so drift hits all three alike,
//!    and classified as good-like or bad-like by the rank test against
//!    each; rounds are added while neither test decides, up to a cap. A
//!    midpoint that cannot be built or lacks the benchmark is skipped, as
//!    `git bisect skip` does, and a neighbour is tried instead.
//! 3. Confirm the culprit against its parent with fresh paired rounds and
//!    report the step with a bootstrap confidence interval and its share of
//!    the whole regression.
//!
//! With an exact metric (instruction counts) one sample is the truth, and
//! classification is by the nearer endpoint.
//!
//! [`auto`] searches in instruction counts, then confirms the culprit in
//! time; when time does not confirm it, the instruction culprit is kept as
//! a note and the search runs again in time, so an instruction step that
//! costs no time is never presented as the cause of a time regression.

use crate::stats::{ALPHA, mann_whitney, median};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a measurement is of. The user's choice (`--metric
/// time|instructions|auto`) is `flags::MetricChoice`; a measurement always
/// has one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Median nanoseconds per iteration of one short run: noisy.
    Time,
    /// Instructions per iteration under callgrind: exact.
    Instructions,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::Time => "time",
            Metric::Instructions => "instructions",
        }
    }
}

/// What a bisect needs from the outside world.
pub trait Measurer {
    /// Builds candidate `i`: its binary's fingerprint, or why it is skipped.
    fn prepare(&mut self, i: usize) -> Result<Prepared>;
    /// One observation of candidate `i` in `metric` (a round median in ns,
    /// or an instruction count). Only called after `prepare` returned
    /// `Ready`.
    fn sample(&mut self, i: usize, metric: Metric) -> Result<f64>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    /// Built; the fingerprint of the benchmark binary.
    Ready(String),
    /// Cannot be measured: it does not build or lacks the benchmark.
    Skip(String),
}

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub metric: Metric,
    /// Smallest relative slowdown that counts (0.05 = 5 %).
    pub threshold: f64,
    pub initial_rounds: usize,
    pub max_rounds: usize,
}

impl Policy {
    /// Instruction counts: no noise, one sample per commit.
    fn exact(&self) -> bool {
        self.metric == Metric::Instructions
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    Good,
    Bad,
    /// Significantly different from both endpoints: part of a multi-step
    /// regression; searched as the side it is nearer to.
    BetweenGoodLike,
    BetweenBadLike,
    /// Still inconclusive at the round cap; searched as the nearer side.
    UncertainGoodLike,
    UncertainBadLike,
    Skipped,
}

impl Class {
    fn bad_like(self) -> bool {
        matches!(
            self,
            Class::Bad | Class::BetweenBadLike | Class::UncertainBadLike
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Visit {
    pub index: usize,
    pub class: Class,
    /// This commit's observations, in the order taken.
    pub samples: Vec<f64>,
    /// Why it was skipped, or which earlier commit had the identical binary.
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    pub parent: usize,
    pub culprit: usize,
    /// Culprit over parent, with a 95 % bootstrap interval.
    pub ratio: f64,
    pub low: f64,
    pub high: f64,
    pub p: Option<f64>,
    /// Share of the whole good→bad change (in log space) this step explains.
    pub share: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Finding {
    /// bad is not slower than good by more than the threshold.
    NoRegression { ratio: f64, p: Option<f64> },
    /// bad is faster than good.
    Improvement { ratio: f64, p: Option<f64> },
    /// The endpoints could not be told apart at the round cap.
    Inconclusive { ratio: f64, p: Option<f64> },
    /// The first bad commit.
    Culprit {
        step: Step,
        other_steps: Vec<(usize, usize, f64)>,
    },
    /// Skips hide the culprit: it is one of the commits in (after, upto].
    Ambiguous { after: usize, upto: usize },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    /// Good over bad endpoints' medians.
    pub total_ratio: f64,
    pub finding: Finding,
    pub visits: Vec<Visit>,
    /// Binaries that were byte-identical to an already measured one.
    pub reused: usize,
}

crate::message_error!(
    /// Error: an endpoint could not be measured (distinct exit code).
    EndpointUnusable
);

/// Progress callback: (what is happening, candidate index).
pub type OnStep<'a> = &'a mut dyn FnMut(&str, usize);

struct State<'m, M: Measurer> {
    m: &'m mut M,
    policy: Policy,
    samples: BTreeMap<usize, Vec<f64>>,
    prepared: BTreeMap<usize, Prepared>,
    /// Fingerprint → the first candidate built with it.
    by_binary: BTreeMap<String, usize>,
    /// Candidate → the candidate whose identical binary stands in for it.
    alias: BTreeMap<usize, usize>,
}

impl<M: Measurer> State<'_, M> {
    fn prepare(&mut self, i: usize) -> Result<Prepared> {
        if let Some(p) = self.prepared.get(&i) {
            return Ok(p.clone());
        }
        let p = self.m.prepare(i)?;
        if let Prepared::Ready(fp) = &p {
            match self.by_binary.get(fp) {
                Some(&j) if j != i => {
                    self.alias.insert(i, j);
                }
                _ => {
                    self.by_binary.insert(fp.clone(), i);
                }
            }
        }
        self.prepared.insert(i, p.clone());
        Ok(p)
    }

    fn target(&self, i: usize) -> usize {
        self.alias.get(&i).copied().unwrap_or(i)
    }

    fn sample(&mut self, i: usize) -> Result<f64> {
        let t = self.target(i);
        if self.policy.exact()
            && let Some(v) = self.samples.get(&t).and_then(|s| s.first())
        {
            return Ok(*v);
        }
        let v = self.m.sample(t, self.policy.metric)?;
        self.samples.entry(t).or_default().push(v);
        Ok(v)
    }

    fn all(&self, i: usize) -> Vec<f64> {
        self.samples
            .get(&self.target(i))
            .cloned()
            .unwrap_or_default()
    }
}

/// Runs the whole bisection over candidates `0..=n` where 0 is good and n
/// is bad.
pub fn bisect<M: Measurer>(
    m: &mut M,
    n: usize,
    policy: Policy,
    on_step: OnStep<'_>,
) -> Result<Outcome> {
    assert!(n >= 1, "need two endpoints");
    let mut s = State {
        m,
        policy,
        samples: BTreeMap::new(),
        prepared: BTreeMap::new(),
        by_binary: BTreeMap::new(),
        alias: BTreeMap::new(),
    };
    for (i, which) in [(0, "good"), (n, "bad")] {
        on_step(&format!("building the {which} endpoint"), i);
        if let Prepared::Skip(why) = s.prepare(i)? {
            anyhow::bail!(EndpointUnusable(format!(
                "the {which} commit cannot be measured: {why}"
            )));
        }
    }

    // 1. Endpoints, interleaved. "No regression" needs as much evidence as
    // "regression": the 95 % interval of the ratio must lie within the
    // threshold, not just its point estimate.
    on_step("measuring the endpoints", n);
    let (mut g, mut b) = (Vec::new(), Vec::new());
    let (total_ratio, p, decided) = loop {
        let rounds = if g.is_empty() {
            policy.initial_rounds
        } else {
            1
        };
        for _ in 0..if policy.exact() { 1 } else { rounds } {
            g.push(s.sample(0)?);
            b.push(s.sample(n)?);
        }
        let ratio = median(&b) / median(&g);
        if policy.exact() {
            break (ratio, None, true);
        }
        let p = mann_whitney(&b, &g);
        let (low, high) = bootstrap_ratio(&g, &b, 1000);
        let shifted = p < ALPHA && (ratio - 1.0).abs() > policy.threshold;
        let within = low > 1.0 - policy.threshold && high < 1.0 + policy.threshold;
        if shifted || within {
            break (ratio, Some(p), true);
        }
        if g.len() >= policy.max_rounds {
            // Out of rounds: a change within the threshold is still "no
            // regression"; a larger one that the test cannot confirm is not.
            break (ratio, Some(p), (ratio - 1.0).abs() <= policy.threshold);
        }
    };
    let finding = if !decided {
        Some(Finding::Inconclusive {
            ratio: total_ratio,
            p,
        })
    } else if total_ratio - 1.0 > policy.threshold {
        None
    } else if total_ratio - 1.0 < -policy.threshold {
        Some(Finding::Improvement {
            ratio: total_ratio,
            p,
        })
    } else {
        Some(Finding::NoRegression {
            ratio: total_ratio,
            p,
        })
    };
    if let Some(finding) = finding {
        let visits = visits(&s, n, &[], &BTreeMap::new());
        let reused = s.alias.len();
        return Ok(Outcome {
            total_ratio,
            finding,
            visits,
            reused,
        });
    }

    // 2. Binary search between the last good-like and first bad-like.
    let (mut lo, mut hi) = (0usize, n);
    let mut skipped: Vec<usize> = Vec::new();
    let mut classes: BTreeMap<usize, Class> = BTreeMap::new();
    let mut backtracks = 0;
    let step = loop {
        while hi - lo > 1 {
            // The untried candidate nearest the middle, as git bisect picks
            // around skipped commits.
            let mid = (lo + hi) / 2;
            let pick = (0..hi - lo)
                .flat_map(|d| [mid.checked_sub(d), Some(mid + d)])
                .flatten()
                .find(|i| *i > lo && *i < hi && !skipped.contains(i));
            let Some(mid) = pick else {
                let visits = visits(&s, n, &skipped, &classes);
                let reused = s.alias.len();
                return Ok(Outcome {
                    total_ratio,
                    finding: Finding::Ambiguous {
                        after: lo,
                        upto: hi,
                    },
                    visits,
                    reused,
                });
            };
            on_step("building", mid);
            if let Prepared::Skip(_) = s.prepare(mid)? {
                skipped.push(mid);
                continue;
            }
            // A binary identical to a bracket end's is that end's result.
            let class = if s.target(mid) == s.target(lo) {
                Class::Good
            } else if s.target(mid) == s.target(hi) {
                Class::Bad
            } else {
                on_step("measuring", mid);
                classify(&mut s, lo, mid, hi)?
            };
            classes.insert(mid, class);
            if class.bad_like() { hi = mid } else { lo = mid }
        }

        // 3. Confirm the step with fresh paired rounds.
        on_step("confirming against its parent", hi);
        let step = confirm(&mut s, lo, hi, total_ratio)?;
        let holds = policy.exact() || confirms(&step, policy.threshold);
        if holds || backtracks >= 3 {
            // The endpoints have been sampled in every round since: their
            // medians now give the whole change far better than at first.
            let total = median(&s.all(n)) / median(&s.all(0));
            let share = if s.policy.exact() {
                step.share
            } else {
                step.ratio.ln() / total.ln()
            };
            break Step { share, ..step };
        }
        // The step did not reproduce, so one of its ends was misjudged:
        // both are good-like (the culprit lies above) or both bad-like
        // (below). All samples taken so far say which; search on from the
        // nearest commit already judged the other way.
        backtracks += 1;
        let (g, b, h) = (median(&s.all(0)), median(&s.all(n)), median(&s.all(hi)));
        if (h / g).ln() < 0.5 * (b / g).ln() {
            classes.insert(hi, Class::UncertainGoodLike);
            lo = hi;
            hi = classes
                .range(hi + 1..)
                .find(|(_, c)| c.bad_like())
                .map_or(n, |(i, _)| *i);
        } else {
            classes.insert(lo, Class::UncertainBadLike);
            hi = lo;
            lo = classes
                .range(..lo)
                .rev()
                .find(|(_, c)| !c.bad_like())
                .map_or(0, |(i, _)| *i);
        }
    };
    let visits = visits(&s, n, &skipped, &classes);
    // Other steps of comparable size between consecutive measured commits.
    let measured: Vec<(usize, f64)> = visits
        .iter()
        .filter(|v| !v.samples.is_empty())
        .map(|v| (v.index, median(&v.samples)))
        .collect();
    let other_steps = measured
        .windows(2)
        .filter(|w| !(w[0].0 == lo && w[1].0 == hi))
        .map(|w| (w[0].0, w[1].0, w[1].1 / w[0].1))
        .filter(|(_, _, r)| r.ln() >= 0.5 * step.ratio.ln() && r - 1.0 > policy.threshold)
        .collect();
    let reused = s.alias.len();
    Ok(Outcome {
        total_ratio,
        finding: Finding::Culprit { step, other_steps },
        visits,
        reused,
    })
}

/// Every candidate the search touched, in history order: the endpoints,
/// each classified midpoint and each skipped commit.
fn visits<M: Measurer>(
    s: &State<M>,
    n: usize,
    skipped: &[usize],
    classes: &BTreeMap<usize, Class>,
) -> Vec<Visit> {
    let visit = |index: usize, class: Class| Visit {
        index,
        class,
        samples: if class == Class::Skipped {
            Vec::new()
        } else {
            s.all(index)
        },
        note: match class {
            Class::Skipped => skip_note(s, index),
            _ => s
                .alias
                .get(&index)
                .map(|j| format!("binary identical to candidate {j}'s")),
        },
    };
    let mut out: Vec<Visit> = skipped.iter().map(|&i| visit(i, Class::Skipped)).collect();
    out.extend([visit(0, Class::Good), visit(n, Class::Bad)]);
    out.extend(classes.iter().map(|(&i, &c)| visit(i, c)));
    out.sort_by_key(|v| v.index);
    out
}

fn skip_note<M: Measurer>(s: &State<M>, i: usize) -> Option<String> {
    match s.prepared.get(&i) {
        Some(Prepared::Skip(why)) => Some(why.clone()),
        _ => None,
    }
}

/// Good-like or bad-like, by rank tests against both ends of the current
/// bracket, measured in the same interleaved rounds. Comparing with the
/// bracket rather than the original endpoints keeps a multi-step
/// regression searchable: once a midpoint between two steps becomes the
/// good end, the next step is judged against it.
fn classify<M: Measurer>(s: &mut State<M>, lo: usize, mid: usize, hi: usize) -> Result<Class> {
    if s.policy.exact() {
        let (g, m, b) = (s.sample(lo)?, s.sample(mid)?, s.sample(hi)?);
        // Nearer in log space; an exact tie with good is good.
        return Ok(if (m / g).ln() > (b / m).ln() {
            Class::Bad
        } else {
            Class::Good
        });
    }
    let (mut g, mut m, mut b) = (Vec::new(), Vec::new(), Vec::new());
    loop {
        let rounds = if m.is_empty() {
            s.policy.initial_rounds
        } else {
            1
        };
        for _ in 0..rounds {
            g.push(s.sample(lo)?);
            m.push(s.sample(mid)?);
            b.push(s.sample(hi)?);
        }
        let (pg, pb) = (mann_whitney(&m, &g), mann_whitney(&m, &b));
        // Where the midpoint sits between the ends, in log space: 0 at the
        // good end, 1 at the bad end.
        let gap = (median(&b) / median(&g)).ln();
        let x = if gap.abs() < 1e-12 {
            0.5
        } else {
            (median(&m) / median(&g)).ln() / gap
        };
        let nearer_bad = x > 0.5;
        let class = match (pg < ALPHA, pb < ALPHA) {
            (false, true) if !nearer_bad => Some(Class::Good),
            (true, false) if nearer_bad => Some(Class::Bad),
            (true, true) => Some(if nearer_bad {
                Class::BetweenBadLike
            } else {
                Class::BetweenGoodLike
            }),
            _ if m.len() >= s.policy.max_rounds => Some(if nearer_bad {
                Class::UncertainBadLike
            } else {
                Class::UncertainGoodLike
            }),
            // Neither test decides, or the test and the position disagree.
            _ => None,
        };
        if let Some(c) = class {
            return Ok(c);
        }
    }
}

/// Confirms a step found with another metric: fresh paired rounds of
/// `parent` and `culprit` only, the share left at zero (the whole change
/// was measured in the other metric).
pub fn confirm_only<M: Measurer>(
    m: &mut M,
    parent: usize,
    culprit: usize,
    policy: Policy,
) -> Result<Step> {
    let mut s = State {
        m,
        policy,
        samples: BTreeMap::new(),
        prepared: BTreeMap::new(),
        by_binary: BTreeMap::new(),
        alias: BTreeMap::new(),
    };
    for i in [parent, culprit] {
        if let Prepared::Skip(why) = s.prepare(i)? {
            anyhow::bail!("cannot confirm in time: candidate {i} {why}");
        }
    }
    confirm(&mut s, parent, culprit, 0.0)
}

/// What a search concluded, in the metric that answers the question.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    /// The metric of `outcome`'s observations.
    pub metric: Metric,
    pub outcome: Outcome,
    /// An instruction culprit's step confirmed in time.
    pub confirmation: Option<Step>,
    /// An instruction culprit that time did not confirm: kept as a note,
    /// never the answer (the answer then comes from a search in time).
    pub unconfirmed: Option<Unconfirmed>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unconfirmed {
    /// The instruction search that named it.
    pub outcome: Outcome,
    /// Its step in time: not a significant slowdown.
    pub in_time: Step,
}

impl Answer {
    fn only(metric: Metric, outcome: Outcome) -> Answer {
        Answer {
            metric,
            outcome,
            confirmation: None,
            unconfirmed: None,
        }
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
/// time: an instruction culprit is the answer only if time confirms its
/// step (significant at `ALPHA` and more than half the threshold, the rule
/// a confirmation in time follows). Otherwise, and when the endpoints show
/// no regression in instructions at all, the answer is a search in time.
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
    on_step("confirming in time", step.culprit);
    let in_time = confirm_only(m, step.parent, step.culprit, time)?;
    if confirms(&in_time, time.threshold) {
        return Ok(Answer {
            metric: Metric::Instructions,
            outcome: counted,
            confirmation: Some(in_time),
            unconfirmed: None,
        });
    }
    on_step(
        "time does not confirm the instruction culprit: bisecting in time",
        step.culprit,
    );
    let mut answer = single(m, n, time, on_step)?;
    answer.unconfirmed = Some(Unconfirmed {
        outcome: counted,
        in_time,
    });
    Ok(answer)
}

/// A step in time that counts as a slowdown.
fn confirms(step: &Step, threshold: f64) -> bool {
    step.p.is_some_and(|p| p < ALPHA) && step.ratio - 1.0 > threshold / 2.0
}

fn confirm<M: Measurer>(
    s: &mut State<M>,
    parent: usize,
    culprit: usize,
    total: f64,
) -> Result<Step> {
    let (mut p, mut c) = (Vec::new(), Vec::new());
    // Paired rounds, more of them while the step is neither confirmed nor
    // clearly absent, up to three times a classification's cap.
    let (ratio, low, high, pv) = loop {
        let rounds = if s.policy.exact() {
            1
        } else if p.is_empty() {
            s.policy.initial_rounds * 2
        } else {
            2
        };
        for _ in 0..rounds {
            p.push(s.sample(parent)?);
            c.push(s.sample(culprit)?);
        }
        let ratio = median(&c) / median(&p);
        if s.policy.exact() {
            break (ratio, ratio, ratio, None);
        }
        let pv = mann_whitney(&c, &p);
        let (low, high) = bootstrap_ratio(&p, &c, 2000);
        let absent = high < 1.0 + s.policy.threshold / 2.0;
        if pv < ALPHA || absent || p.len() >= 3 * s.policy.max_rounds {
            break (ratio, low, high, Some(pv));
        }
    };
    let share = if total > 0.0 && total.ln().abs() > 1e-12 {
        ratio.ln() / total.ln()
    } else {
        0.0
    };
    Ok(Step {
        parent,
        culprit,
        ratio,
        low,
        high,
        p: pv,
        share,
    })
}

/// 95 % percentile-bootstrap interval of median(c) / median(p), resampling
/// both sides independently (Efron & Tibshirani 1993, ch. 13), with a fixed
/// seed so a report is reproducible from its samples.
pub fn bootstrap_ratio(p: &[f64], c: &[f64], resamples: usize) -> (f64, f64) {
    let mut state = 0x2545f4914f6cdd1du64;
    let mut next = move |len: usize| {
        // xorshift64* (Vigna 2016)
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545f4914f6cdd1d) >> 33) as usize % len
    };
    let mut ratios: Vec<f64> = (0..resamples)
        .map(|_| {
            let rp: Vec<f64> = (0..p.len()).map(|_| p[next(p.len())]).collect();
            let rc: Vec<f64> = (0..c.len()).map(|_| c[next(c.len())]).collect();
            median(&rc) / median(&rp)
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| ratios[((resamples - 1) as f64 * q).round() as usize];
    (at(0.025), at(0.975))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A history of n+1 candidates whose true time steps up by `steps`
    /// (index, relative change); every observation in time strays by up to
    /// ±8 %. Instruction counts are exact and step by `instr_steps` (the
    /// same steps as time unless set).
    struct Fake {
        steps: Vec<(usize, f64)>,
        instr_steps: Option<Vec<(usize, f64)>>,
        broken: Vec<usize>,
        missing: Vec<usize>,
        /// Candidates whose code equals their predecessor's.
        unchanged: Vec<usize>,
        rng: u64,
        samples_taken: BTreeMap<usize, usize>,
        taken_in: BTreeMap<Metric, usize>,
    }

    impl Fake {
        fn new(steps: &[(usize, f64)], seed: u64) -> Fake {
            Fake {
                steps: steps.to_vec(),
                instr_steps: None,
                broken: vec![],
                missing: vec![],
                unchanged: vec![],
                rng: seed.wrapping_mul(0x9e3779b97f4a7c15).wrapping_add(1),
                samples_taken: BTreeMap::new(),
                taken_in: BTreeMap::new(),
            }
        }
        fn truth(&self, i: usize, metric: Metric) -> f64 {
            let steps = match (metric, &self.instr_steps) {
                (Metric::Instructions, Some(s)) => s,
                _ => &self.steps,
            };
            steps
                .iter()
                .filter(|(at, _)| *at <= i)
                .fold(1000.0, |t, (_, c)| t * (1.0 + c))
        }
        fn noise(&mut self) -> f64 {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            1.0 + 0.16 * ((self.rng >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
        }
    }

    impl Measurer for Fake {
        fn prepare(&mut self, i: usize) -> Result<Prepared> {
            if self.broken.contains(&i) {
                return Ok(Prepared::Skip("does not build".into()));
            }
            if self.missing.contains(&i) {
                return Ok(Prepared::Skip("has no benchmark `x`".into()));
            }
            // Same code, same binary: walk back over unchanged candidates.
            let mut j = i;
            while self.unchanged.contains(&j) {
                j -= 1;
            }
            Ok(Prepared::Ready(format!("binary-{j}")))
        }
        fn sample(&mut self, i: usize, metric: Metric) -> Result<f64> {
            *self.samples_taken.entry(i).or_default() += 1;
            *self.taken_in.entry(metric).or_default() += 1;
            let t = self.truth(i, metric);
            Ok(match metric {
                Metric::Instructions => t * 100.0,
                Metric::Time => t * self.noise(),
            })
        }
    }

    const TIME: Policy = Policy {
        metric: Metric::Time,
        threshold: 0.05,
        initial_rounds: 5,
        max_rounds: 15,
    };
    const EXACT: Policy = Policy {
        metric: Metric::Instructions,
        threshold: 0.025,
        initial_rounds: 1,
        max_rounds: 1,
    };

    fn run(f: &mut Fake, n: usize, policy: Policy) -> Outcome {
        bisect(f, n, policy, &mut |_, _| {}).unwrap()
    }

    fn culprit(o: &Outcome) -> Option<usize> {
        match &o.finding {
            Finding::Culprit { step, .. } => Some(step.culprit),
            _ => None,
        }
    }

    #[test]
    fn a_10_percent_step_is_found_at_every_position_under_noise() {
        let n = 16;
        let mut wrong = Vec::new();
        for at in 1..=n {
            for seed in 0..5 {
                let o = run(&mut Fake::new(&[(at, 0.10)], seed), n, TIME);
                if culprit(&o) != Some(at) {
                    wrong.push((at, seed, o.finding));
                }
            }
        }
        assert!(wrong.is_empty(), "{wrong:?}");
    }

    #[test]
    fn the_confirmed_step_has_an_interval_and_explains_the_whole_change() {
        let o = run(&mut Fake::new(&[(7, 0.10)], 3), 16, TIME);
        let Finding::Culprit { step, .. } = &o.finding else {
            panic!("{:?}", o.finding)
        };
        assert_eq!((step.parent, step.culprit), (6, 7));
        assert!(
            step.low < 1.10 && 1.10 < step.high && step.low > 1.0,
            "{step:?}"
        );
        assert!((0.6..1.4).contains(&step.share), "{step:?}");
    }

    #[test]
    fn no_regression_and_improvement_stop_after_the_endpoints() {
        let mut f = Fake::new(&[], 1);
        let o = run(&mut f, 16, TIME);
        assert!(
            matches!(o.finding, Finding::NoRegression { .. }),
            "{:?}",
            o.finding
        );
        assert_eq!(
            f.samples_taken.keys().copied().collect::<Vec<_>>(),
            [0, 16],
            "only the endpoints were measured"
        );
        let o = run(&mut Fake::new(&[(9, -0.3)], 1), 16, TIME);
        assert!(
            matches!(o.finding, Finding::Improvement { .. }),
            "{:?}",
            o.finding
        );
    }

    #[test]
    fn unbuildable_and_benchmarkless_commits_are_skipped() {
        let mut f = Fake::new(&[(11, 0.2)], 2);
        f.broken = vec![8];
        f.missing = vec![4];
        let o = run(&mut f, 16, TIME);
        assert_eq!(culprit(&o), Some(11));
        assert!(o.visits.iter().any(|v| v.index == 8
            && v.class == Class::Skipped
            && v.note.as_deref() == Some("does not build")));
    }

    #[test]
    fn a_skipped_culprit_leaves_the_range_it_lies_in() {
        let mut f = Fake::new(&[(5, 0.2)], 2);
        f.broken = vec![5, 6];
        let o = run(&mut f, 16, TIME);
        assert!(
            matches!(o.finding, Finding::Ambiguous { after: 4, upto: 7 }),
            "{:?}",
            o.finding
        );
    }

    #[test]
    fn an_endpoint_that_does_not_build_is_an_error() {
        let mut f = Fake::new(&[(5, 0.2)], 2);
        f.broken = vec![0];
        let err = bisect(&mut f, 16, TIME, &mut |_, _| {}).unwrap_err();
        assert!(
            err.is::<EndpointUnusable>() && err.to_string().contains("good commit"),
            "{err}"
        );
    }

    #[test]
    fn a_two_step_regression_names_one_step_and_reports_its_share() {
        let mut found = BTreeMap::new();
        for seed in 0..10 {
            let o = run(&mut Fake::new(&[(4, 0.08), (11, 0.08)], seed), 16, TIME);
            let Finding::Culprit { step, .. } = &o.finding else {
                panic!("{:?}", o.finding)
            };
            assert!([4, 11].contains(&step.culprit), "seed {seed}: {step:?}");
            // Each step is half the change; the share's estimate carries
            // the noise of both the step and the endpoints.
            assert!(
                (0.25..0.95).contains(&step.share),
                "seed {seed}: about half the change, got {step:?}"
            );
            *found.entry(step.culprit).or_insert(0) += 1;
        }
        assert_eq!(found.values().sum::<usize>(), 10);
    }

    #[test]
    fn identical_binaries_are_not_measured_twice() {
        let mut f = Fake::new(&[(12, 0.2)], 4);
        f.unchanged = (1..12).filter(|i| *i != 6).collect();
        let o = run(&mut f, 16, TIME);
        assert_eq!(culprit(&o), Some(12));
        assert!(o.reused > 0);
        // No two sampled candidates share a binary.
        let sampled_ids: Vec<usize> = f.samples_taken.keys().copied().collect();
        let mut binaries: Vec<Prepared> =
            sampled_ids.iter().map(|i| f.prepare(*i).unwrap()).collect();
        let sampled = binaries.len();
        binaries.dedup();
        assert_eq!(binaries.len(), sampled, "{:?}", f.samples_taken);
    }

    #[test]
    fn exact_counts_need_one_sample_per_commit() {
        let mut f = Fake::new(&[(9, 0.10)], 0);
        let o = run(&mut f, 16, EXACT);
        assert_eq!(culprit(&o), Some(9));
        assert!(
            f.samples_taken.values().all(|n| *n == 1),
            "{:?}",
            f.samples_taken
        );
        let Finding::Culprit { step, .. } = &o.finding else {
            unreachable!()
        };
        assert!((step.ratio - 1.10).abs() < 1e-9 && (step.share - 1.0).abs() < 1e-9);
    }

    fn auto(f: &mut Fake, n: usize) -> Answer {
        super::auto(f, n, EXACT, TIME, &mut |_, _| {}).unwrap()
    }

    #[test]
    fn auto_answers_in_instructions_when_time_confirms_the_culprit() {
        let mut f = Fake::new(&[(9, 0.15)], 5);
        let a = auto(&mut f, 16);
        assert_eq!(a.metric, Metric::Instructions);
        assert_eq!(culprit(&a.outcome), Some(9));
        let c = a.confirmation.expect("confirmed in time");
        assert!(c.p.unwrap() < ALPHA && c.ratio > 1.05, "{c:?}");
        assert!(a.unconfirmed.is_none());
    }

    #[test]
    fn auto_never_answers_a_time_regression_with_an_unconfirmed_instruction_culprit() {
        // Commit 5 adds 10 % instructions that cost no time (say, cheap
        // arithmetic hidden under memory stalls); commit 11 slows time by
        // 15 % without more instructions (a cache-hostile layout).
        for seed in 0..5 {
            let mut f = Fake::new(&[(11, 0.15)], seed);
            f.instr_steps = Some(vec![(5, 0.10)]);
            let a = auto(&mut f, 16);
            assert_eq!(a.metric, Metric::Time, "seed {seed}");
            assert_eq!(
                culprit(&a.outcome),
                Some(11),
                "seed {seed}: {:?}",
                a.outcome.finding
            );
            let u = a
                .unconfirmed
                .expect("the instruction culprit is kept as a note");
            assert_eq!(culprit(&u.outcome), Some(5));
            assert!(!confirms(&u.in_time, TIME.threshold), "{:?}", u.in_time);
        }
    }

    #[test]
    fn auto_searches_in_time_when_instructions_show_nothing() {
        let mut f = Fake::new(&[(7, 0.2)], 3);
        f.instr_steps = Some(vec![]);
        let a = auto(&mut f, 16);
        assert_eq!((a.metric, culprit(&a.outcome)), (Metric::Time, Some(7)));
        assert!(a.unconfirmed.is_none() && a.confirmation.is_none());
        assert_eq!(
            f.taken_in[&Metric::Instructions],
            2,
            "only the endpoints were counted"
        );
    }

    #[test]
    fn bootstrap_interval_brackets_the_ratio() {
        let p: Vec<f64> = (0..10).map(|i| 100.0 + i as f64).collect();
        let c: Vec<f64> = p.iter().map(|x| x * 1.2).collect();
        let (lo, hi) = bootstrap_ratio(&p, &c, 2000);
        assert!(lo < 1.2 && 1.2 < hi && lo > 1.05 && hi < 1.35, "{lo} {hi}");
    }
}

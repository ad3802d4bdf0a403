//! Deciding "slower" in time with the error rates the reports claim, when
//! rounds are added until the evidence decides.
//!
//! **Three outcomes.** A comparison of a new side with an old one, against
//! a tier (the smallest slowdown that matters), ends in one of:
//!
//! - *slower*: the interval lies above no change (the test rejects "not
//!   slower" at its level) and the estimate is past the tier;
//! - *not slower*: the interval's upper end lies within the tier. This is
//!   an equivalence claim (Schuirmann's two one-sided tests, 1987) and needs
//!   as much evidence as a regression: a test that is merely not
//!   significant never gives it;
//! - *cannot decide yet*: anything else, with the interval, so that a
//!   reader sees how far the evidence is from either answer.
//!
//! **Intervals.** Distribution-free, from ranks, so a heavy-tailed round
//! (a neighbour's burst) moves them no more than any other round:
//!
//! - paired rounds (both sides measured in the same round, in a random
//!   order): the Wilcoxon signed-rank interval for the centre of the
//!   per-round log ratios, from the Walsh averages (Tukey 1949; Hollander,
//!   Wolfe & Chicken, *Nonparametric Statistical Methods*, 3rd ed., §3.3).
//!   The order of the sides is drawn at random for the first round of
//!   every block of two, the second round taking the reverse order, so
//!   under "the two binaries run alike" each log ratio's sign is as likely
//!   either way whatever the machine does (drift, a burst, a bias against
//!   whichever runs second): a randomization argument (Fisher 1935). The
//!   signed-rank null distribution treats the signs as independent, which
//!   the blocks do not make them exactly: within a block a position bias
//!   pushes the two ratios opposite ways, so the test errs on the careful
//!   side, and the simulations below measure how far;
//! - unpaired samples (a run against a stored baseline): the Mann-Whitney
//!   interval for the shift of the log times, from the pairwise differences
//!   (Moses 1965; the same book, §4.3).
//!
//! **Every look.** Rounds are added until a decision, so the intervals are
//! looked at many times. Looks happen only at pre-planned round counts
//! ([`Looks`]), and look k spends `α / (k (k + 1))` of the error rate on
//! each side; these sum to α over all k, so by the union bound the chance
//! that *any* look's interval misses on a given side is at most α, however
//! the rounds are stopped, and however large a budget a busy machine is
//! given (an α-spending sequence in the sense of Lan & DeMets, Biometrika
//! 1983, combined by Bonferroni, so no correlation between looks is
//! assumed). The simulations in the tests below measure the error of the
//! whole adaptive procedure.

use crate::model::observation::{self, Clock, Load, Observation};
use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The error rate on each side over every look: a false *slower* (and a
/// false *not slower*) at most 1 % of the time. The intervals reported are
/// therefore two-sided 98 % intervals valid at whatever look stopped.
pub const ALPHA: f64 = 0.01;

/// The two-sided confidence of a reported interval, in percent.
pub const CONFIDENCE_PCT: f64 = 100.0 * (1.0 - 2.0 * ALPHA);

/// When the intervals are looked at: after `first` rounds, then at round
/// counts growing by `growth` (rounded up). Only these round counts are
/// looks; the budget decides how many of them a comparison may reach.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Looks {
    pub first: usize,
    pub growth: f64,
}

impl Looks {
    /// Paired rounds: eight rounds all in one direction are already
    /// significant at the first look's 0.5 % (2^-8 = 0.39 %).
    pub const PAIRED: Looks = Looks {
        first: 8,
        growth: 1.5,
    };
    /// A run against a stored baseline of five rounds: five rounds all above
    /// the baseline's five are significant at 1/252 = 0.40 % < 0.5 %.
    pub const UNPAIRED: Looks = Looks {
        first: 5,
        growth: 1.5,
    };

    /// The round count of look `k` (1-based).
    pub fn at(&self, k: usize) -> usize {
        let mut n = self.first.max(1);
        for _ in 1..k {
            n = ((n as f64) * self.growth).ceil() as usize;
        }
        n
    }

    /// The last look at or below `rounds` rounds: `(k, rounds at look k)`.
    pub fn reached(&self, rounds: usize) -> Option<(usize, usize)> {
        let mut last = None;
        for k in 1.. {
            let n = self.at(k);
            if n > rounds {
                break;
            }
            last = Some((k, n));
        }
        last
    }

    /// The round count of the next look after `rounds`.
    pub fn next_after(&self, rounds: usize) -> usize {
        (1..)
            .map(|k| self.at(k))
            .find(|n| *n > rounds)
            .unwrap_or(rounds + 1)
    }

    /// The one-sided error spent at look `k`: α / (k (k + 1)).
    pub fn level(k: usize) -> f64 {
        ALPHA / (k * (k + 1)) as f64
    }
}

/// The answer to "is the new side slower than the old, by the tier?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Slower,
    NotSlower,
    CannotDecide,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Slower => "slower",
            Outcome::NotSlower => "not slower",
            Outcome::CannotDecide => "cannot decide yet",
        }
    }
}

/// An estimate of new over old with its interval (ratios; an interval
/// end is infinite when the rounds cannot bound it at this level).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

/// A comparison's state at one look.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    /// New over old (Hodges-Lehmann estimate) and its interval.
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    /// Rounds (pairs, or the new side's samples when unpaired) judged.
    pub rounds: usize,
    /// The look (1-based) and the one-sided error spent there.
    pub look: usize,
    pub level: f64,
    /// The tier the outcome is against (0.05 = 5 %).
    pub tier: f64,
    pub outcome: Outcome,
}

impl Judgement {
    /// Judges `iv` at look `look` against `tier`.
    pub fn of(iv: Interval, rounds: usize, look: usize, tier: f64) -> Judgement {
        let outcome = if iv.low > 1.0 && iv.estimate > 1.0 + tier {
            Outcome::Slower
        } else if iv.high < 1.0 + tier {
            Outcome::NotSlower
        } else {
            Outcome::CannotDecide
        };
        Judgement {
            estimate: iv.estimate,
            low: iv.low,
            high: iv.high,
            rounds,
            look,
            level: Looks::level(look),
            tier,
            outcome,
        }
    }

    /// The interval excludes no change, upwards: a slowdown of some size.
    pub fn significantly_slower(&self) -> bool {
        self.low > 1.0
    }

    /// Faster by more than the tier, with the interval below no change.
    pub fn faster(&self) -> bool {
        self.high < 1.0 && self.estimate < 1.0 - self.tier
    }

    /// `+12.3% (98% interval +8.1% to +16.0%, 12 rounds)`.
    pub fn describe(&self) -> String {
        format!(
            "{} ({:.0}% interval {} to {}, {} rounds)",
            pct(self.estimate),
            CONFIDENCE_PCT,
            pct(self.low),
            pct(self.high),
            self.rounds
        )
    }

    /// What would decide an undecided comparison: about how many rounds
    /// the interval needs, at the spread it shows, to fall within the
    /// tier or above no change (intervals narrow with the square root of
    /// the rounds).
    pub fn what_would_decide(&self) -> String {
        let (e, lo, hi) = (self.estimate.ln(), self.low.ln(), self.high.ln());
        let tier = (1.0 + self.tier).ln();
        let scale = |have: f64, need: f64| -> Option<usize> {
            (have.is_finite() && need > 0.0 && have > 0.0)
                .then(|| ((self.rounds as f64) * (have / need).powi(2)).ceil() as usize)
        };
        let rounds = if e > tier {
            scale(e - lo, e)
        } else {
            scale(hi - e, tier - e)
        };
        match rounds {
            Some(n) if n > self.rounds => format!(
                "about {n} rounds at this spread (this comparison stopped at {}), or a quieter machine",
                self.rounds
            ),
            _ => "more rounds, or a quieter machine".to_string(),
        }
    }
}

/// `+12.3%`; an unbounded end is `−∞`/`+∞`.
pub fn pct(r: f64) -> String {
    if r.is_infinite() || r == 0.0 {
        return if r > 1.0 {
            "+∞".into()
        } else {
            "−∞".into()
        };
    }
    format!("{:+.1}%", (r - 1.0) * 100.0)
}

/// Paired rounds: `old[i]` and `new[i]` were measured in the same round.
/// The one-sided error of each end is `level`.
pub fn paired(old: &[f64], new: &[f64], level: f64) -> Interval {
    assert_eq!(old.len(), new.len(), "paired rounds");
    let d: Vec<f64> = old.iter().zip(new).map(|(o, n)| (n / o).ln()).collect();
    let n = d.len();
    let mut walsh = Vec::with_capacity(n * (n + 1) / 2);
    for i in 0..n {
        for j in i..n {
            walsh.push((d[i] + d[j]) / 2.0);
        }
    }
    walsh.sort_by(f64::total_cmp);
    let excluded = excluded(&signed_rank_cdf(n), level);
    interval(&walsh, excluded)
}

/// Unpaired samples: the shift of `new` over `old` in log space. The
/// one-sided error of each end is `level`.
pub fn unpaired(old: &[f64], new: &[f64], level: f64) -> Interval {
    let mut diffs = Vec::with_capacity(old.len() * new.len());
    for o in old {
        for n in new {
            diffs.push((n / o).ln());
        }
    }
    diffs.sort_by(f64::total_cmp);
    let excluded = excluded(&rank_sum_cdf(old.len(), new.len()), level);
    interval(&diffs, excluded)
}

/// The estimate (the median of `sorted`) and the interval that leaves out
/// `excluded` values at each end, as ratios.
fn interval(sorted: &[f64], excluded: usize) -> Interval {
    if sorted.is_empty() {
        return Interval {
            estimate: 1.0,
            low: 0.0,
            high: f64::INFINITY,
        };
    }
    let m = sorted.len();
    let estimate = crate::stats::median(sorted).exp();
    if excluded == 0 || excluded > m / 2 {
        return Interval {
            estimate,
            low: 0.0,
            high: f64::INFINITY,
        };
    }
    Interval {
        estimate,
        low: sorted[excluded - 1].exp(),
        high: sorted[m - excluded].exp(),
    }
}

/// How many of the ordered Walsh averages (or differences) the interval
/// leaves out at each end: one more than the largest statistic value `c`
/// with P(T <= c) <= level; zero when even P(T = 0) exceeds it.
fn excluded(cdf: &[f64], level: f64) -> usize {
    cdf.iter().take_while(|p| **p <= level).count()
}

/// Which null distribution a cached table is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Table {
    SignedRank(usize),
    RankSum(usize, usize),
}

type Cache = Mutex<HashMap<Table, Arc<Vec<f64>>>>;

fn cached(key: Table, make: impl FnOnce() -> Vec<f64>) -> Arc<Vec<f64>> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().expect("not poisoned").get(&key) {
        return v.clone();
    }
    let v = Arc::new(make());
    cache.lock().expect("not poisoned").insert(key, v.clone());
    v
}

/// Largest sample sizes whose null distributions are counted exactly;
/// beyond them the normal approximation (with continuity correction) is
/// close enough for the tails used here.
const EXACT_SIGNED_RANK: usize = 120;
const EXACT_RANK_SUM: usize = 60;

/// P(T+ <= t) for t = 0..=n(n+1)/2, where T+ is the signed-rank statistic
/// of n rounds under "no difference": the sum of a uniformly random subset
/// of {1, …, n}.
pub fn signed_rank_cdf(n: usize) -> Arc<Vec<f64>> {
    cached(Table::SignedRank(n), || {
        let top = n * (n + 1) / 2;
        if n > EXACT_SIGNED_RANK {
            let sd = ((n * (n + 1) * (2 * n + 1)) as f64 / 24.0).sqrt();
            return normal_table(top, sd);
        }
        // counts[s] = subsets of {1..k} summing to s, built up over k.
        let mut counts = vec![0.0f64; top + 1];
        counts[0] = 1.0;
        for k in 1..=n {
            for s in (k..=k * (k + 1) / 2).rev() {
                counts[s] += counts[s - k];
            }
        }
        cumulative(&counts)
    })
}

/// P(U <= u) for u = 0..=mn, where U is the Mann-Whitney statistic of
/// samples of sizes m and n under "same distribution".
pub fn rank_sum_cdf(m: usize, n: usize) -> Arc<Vec<f64>> {
    let (m, n) = (m.min(n), m.max(n));
    cached(Table::RankSum(m, n), || {
        let top = m * n;
        if m + n > EXACT_RANK_SUM {
            let sd = ((m * n * (m + n + 1)) as f64 / 12.0).sqrt();
            return normal_table(top, sd);
        }
        cumulative(&crate::stats::rank_sum_counts(m, n))
    })
}

/// The distribution function of counts of arrangements per statistic value.
fn cumulative(counts: &[f64]) -> Vec<f64> {
    let total: f64 = counts.iter().sum();
    let mut acc = 0.0;
    counts
        .iter()
        .map(|c| {
            acc += c;
            acc / total
        })
        .collect()
}

/// The normal approximation, with a continuity correction, of a statistic
/// symmetric about `top / 2` with standard deviation `sd`.
fn normal_table(top: usize, sd: f64) -> Vec<f64> {
    let mean = top as f64 / 2.0;
    (0..=top)
        .map(|t| normal_cdf((t as f64 + 0.5 - mean) / sd))
        .collect()
}

/// Φ(z), from the complementary error function.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * crate::stats::erfc(-z / std::f64::consts::SQRT_2)
}

/// A randomly ordered round: the order in which `sides` candidates are
/// measured in one round. Under "they run alike" the order carries no
/// information, which is what makes the paired test exact.
pub fn round_order(rng: &mut Rng, sides: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..sides).collect();
    rng.shuffle(&mut order);
    order
}

/// The order of round `round` (0-based), given the previous one: rounds
/// come in blocks of two, a random order and then its reverse (permuted
/// blocks, counterbalanced). A carry-over from whichever side ran last (its
/// state left in caches and predictors) then falls on each side equally
/// often within every block, instead of on a run of rounds that chance
/// tilted one way, which would leave consecutive log ratios leaning
/// together and make the signed-rank test too bold.
fn next_order(rng: &mut Rng, round: usize, previous: &[usize], sides: usize) -> Vec<usize> {
    if round % 2 == 1 && previous.len() == sides {
        previous.iter().rev().copied().collect()
    } else {
        round_order(rng, sides)
    }
}

/// How many rounds a comparison may take: `quiet` while the machine is
/// quiet, up to `busy` once its observations show it busy (the looks'
/// error spending holds for any budget, so a budget may grow with load).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RoundBudget {
    pub quiet: usize,
    pub busy: usize,
}

impl RoundBudget {
    /// Looks at 8, 12, 18 and 27 rounds; 41 and 62 when busy.
    pub const DEFAULT: RoundBudget = RoundBudget {
        quiet: 27,
        busy: 62,
    };
}

/// Judges a comparison's values at a look: `(values per side, look,
/// rounds)` to its result and whether that result decides.
pub type Judge<'a, T> = &'a mut dyn FnMut(&[Vec<f64>], usize, usize) -> (T, bool);

/// What a comparison found, with everything it observed.
#[derive(Debug, Clone)]
pub struct Ran<T> {
    pub result: T,
    /// Per side, in the order taken.
    pub observations: Vec<Vec<Observation>>,
    pub clock: Clock,
    /// The machine was busy, so the larger budget applied.
    pub busy: bool,
}

/// Rounds of `sides` candidates, each round in a random order, judged at
/// every look by `judge(values, look, rounds)`, which returns its result
/// and whether it decides; at the budget the last look's result stands.
pub fn compare<T>(
    sides: usize,
    rng: &mut Rng,
    budget: RoundBudget,
    observe: &mut dyn FnMut(usize) -> anyhow::Result<Observation>,
    judge: Judge<'_, T>,
) -> anyhow::Result<Ran<T>> {
    let mut obs: Vec<Vec<Observation>> = vec![Vec::new(); sides];
    let mut order = Vec::new();
    let mut look = 1;
    loop {
        let n = Looks::PAIRED.at(look);
        while obs[0].len() < n {
            order = next_order(rng, obs[0].len(), &order, sides);
            for &side in &order {
                let o = observe(side)?;
                obs[side].push(o);
            }
        }
        let refs: Vec<&[Observation]> = obs.iter().map(Vec::as_slice).collect();
        let (clock, values) = observation::values(&refs);
        let (result, done) = judge(&values, look, n);
        let all: Vec<Observation> = obs.iter().flatten().copied().collect();
        let busy = Load::of(&all).is_some_and(|l| l.busy());
        let cap = if busy { budget.busy } else { budget.quiet };
        if done || Looks::PAIRED.at(look + 1) > cap {
            return Ok(Ran {
                result,
                observations: obs,
                clock,
                busy,
            });
        }
        look += 1;
    }
}

/// The judge of paired rounds of old (side 0) and new (side 1) against
/// `tier`: decided once the outcome is not "cannot decide".
pub fn pair_judge(tier: f64) -> impl FnMut(&[Vec<f64>], usize, usize) -> (Judgement, bool) {
    move |v, look, n| {
        let j = Judgement::of(paired(&v[0], &v[1], Looks::level(look)), n, look, tier);
        (j, j.outcome != Outcome::CannotDecide)
    }
}

/// Paired rounds of old (side 0) and new (side 1) until the comparison
/// against `tier` decides or the budget ends.
pub fn judge_pair(
    rng: &mut Rng,
    budget: RoundBudget,
    tier: f64,
    observe: &mut dyn FnMut(usize) -> anyhow::Result<Observation>,
) -> anyhow::Result<Ran<Judgement>> {
    compare(2, rng, budget, observe, &mut pair_judge(tier))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_looks_and_their_levels_spend_alpha_once() {
        let l = Looks::PAIRED;
        assert_eq!(
            (1..=7).map(|k| l.at(k)).collect::<Vec<_>>(),
            [8, 12, 18, 27, 41, 62, 93]
        );
        assert_eq!(l.reached(7), None);
        assert_eq!(l.reached(20), Some((3, 18)));
        assert_eq!(l.next_after(18), 27);
        let spent: f64 = (1..100_000).map(Looks::level).sum();
        assert!((spent - ALPHA).abs() < 1e-6, "{spent}");
        // The first look can decide: eight rounds in one direction.
        assert!(signed_rank_cdf(8)[0] <= Looks::level(1));
        assert!(rank_sum_cdf(5, 5)[0] <= Looks::level(1));
    }

    #[test]
    fn signed_rank_distribution_matches_published_values() {
        // n = 10: P(T+ <= 3) = 5/1024; the two-sided 5 % critical value
        // is 8 (P(T+ <= 8) = 25/1024 = 0.0244), Hollander & Wolfe, table A.4.
        let c = signed_rank_cdf(10);
        assert!((c[3] - 5.0 / 1024.0).abs() < 1e-12);
        assert!((c[8] - 25.0 / 1024.0).abs() < 1e-12);
        assert_eq!(excluded(&c, 0.025), 9);
        // Symmetric, and the whole range sums to one.
        assert!((c[c.len() - 1] - 1.0).abs() < 1e-12);
        assert!((c[27] - (1.0 - c[27])).abs() < 0.1);
        // The normal approximation agrees in the tail at the exact limit.
        let n = EXACT_SIGNED_RANK;
        let exact = signed_rank_cdf(n);
        let mean = (n * (n + 1)) as f64 / 4.0;
        let sd = ((n * (n + 1) * (2 * n + 1)) as f64 / 24.0).sqrt();
        let t = (mean - 2.5 * sd) as usize;
        let approx = normal_cdf((t as f64 + 0.5 - mean) / sd);
        assert!(
            (approx / exact[t] - 1.0).abs() < 0.1,
            "{approx} {}",
            exact[t]
        );
    }

    #[test]
    fn rank_sum_distribution_matches_published_values() {
        // 5 vs 5: counts 1, 1, 2, 3, 5 for U = 0..4 of 252.
        let c = rank_sum_cdf(5, 5);
        assert!((c[2] - 4.0 / 252.0).abs() < 1e-12);
        assert!((c[4] - 12.0 / 252.0).abs() < 1e-12);
        assert_eq!(rank_sum_cdf(3, 7), rank_sum_cdf(7, 3));
    }

    #[test]
    fn the_paired_interval_is_the_walsh_averages_order_statistics() {
        // Ten rounds, log ratios known: the 95 % two-sided interval leaves
        // out the nine smallest and nine largest of the 55 Walsh averages.
        let d = [0.03, 0.05, -0.01, 0.08, 0.02, 0.04, 0.06, 0.01, 0.07, 0.05];
        let old = vec![100.0; 10];
        let new: Vec<f64> = d.iter().map(|x: &f64| 100.0 * x.exp()).collect();
        let iv = paired(&old, &new, 0.025);
        let mut walsh = Vec::new();
        for i in 0..10 {
            for j in i..10 {
                walsh.push((d[i] + d[j]) / 2.0);
            }
        }
        walsh.sort_by(f64::total_cmp);
        assert!((iv.low.ln() - walsh[8]).abs() < 1e-12);
        assert!((iv.high.ln() - walsh[46]).abs() < 1e-12);
        assert!((iv.estimate.ln() - walsh[27]).abs() < 1e-12);
        // Too few rounds for the level: unbounded, never a false bound.
        let iv = paired(&old[..3], &new[..3], 0.005);
        assert_eq!((iv.low, iv.high), (0.0, f64::INFINITY));
    }

    #[test]
    fn outcomes_need_their_own_evidence() {
        let j = |estimate, low, high| {
            Judgement::of(
                Interval {
                    estimate,
                    low,
                    high,
                },
                10,
                1,
                0.05,
            )
            .outcome
        };
        assert_eq!(j(1.15, 1.08, 1.22), Outcome::Slower);
        assert_eq!(j(1.01, 0.98, 1.04), Outcome::NotSlower);
        assert_eq!(j(0.80, 0.75, 0.85), Outcome::NotSlower);
        // Not significant is not "not slower".
        assert_eq!(j(1.02, 0.90, 1.20), Outcome::CannotDecide);
        // Significant but perhaps below the tier, perhaps above.
        assert_eq!(j(1.04, 1.01, 1.07), Outcome::CannotDecide);
        let undecided = Judgement::of(
            Interval {
                estimate: 1.02,
                low: 0.97,
                high: 1.07,
            },
            8,
            1,
            0.05,
        );
        assert!(
            undecided.what_would_decide().starts_with("about 22 rounds"),
            "{}",
            undecided.what_would_decide()
        );
    }

    /// On the simulated busy machine (heavy tails, drift, a position
    /// bias), two sides that run alike: the adaptive procedure (look, add
    /// rounds, look again, up to a budget of 93 rounds) says *slower* at
    /// most α of the time; and with a real +15 % it never says *not
    /// slower*.
    #[test]
    fn the_whole_adaptive_procedure_keeps_its_error_rates() {
        let budget = RoundBudget {
            quiet: 93,
            busy: 93,
        };
        let run = |seed: u64, change: f64| {
            let mut machine = crate::model::sim::Machine::busy(seed);
            let mut rng = Rng::new(!seed);
            judge_pair(&mut rng, budget, 0.05, &mut |side| {
                Ok(machine.observe(side, if side == 0 { 100.0 } else { 100.0 * change }))
            })
            .unwrap()
            .result
            .outcome
        };
        let runs = 2000u64;
        let false_slower = (0..runs)
            .filter(|s| run(*s, 1.0) == Outcome::Slower)
            .count();
        let rate = false_slower as f64 / runs as f64;
        eprintln!(
            "no change, busy machine: {false_slower} of {runs} said slower ({:.2} %, α = {:.0} %)",
            rate * 100.0,
            ALPHA * 100.0
        );
        assert!(rate <= ALPHA, "false slower {rate}");
        let mut told = [0usize; 3];
        for s in 0..runs {
            told[run(s + 10_000, 1.15) as usize] += 1;
        }
        eprintln!(
            "+15 %, busy machine: slower {}, not slower {}, cannot decide {}",
            told[0], told[1], told[2]
        );
        assert_eq!(told[1], 0, "a real +15 % was called not slower");
        assert!(told[0] * 10 >= runs as usize * 9, "{told:?}");
    }
}

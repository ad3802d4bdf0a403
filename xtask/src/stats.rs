//! Deciding "slower" on a noisy machine.
//!
//! A benchmark's evidence is a handful of *round medians*: each round is a
//! separate short criterion run, and its median per-iteration time is one
//! observation. Samples inside one run are correlated (they share the run's
//! frequency, cache and neighbour state), so treating them as independent
//! makes every test overconfident; this is how criterion reports
//! "regressed, p = 0.01" for unchanged code. Between rounds the noise is
//! closer to independent, so the rank test runs on round medians.
//!
//! A change is reported only when two things hold: the Mann-Whitney U test
//! (Mann & Whitney 1947) rejects "same distribution" at `ALPHA`, *and* the
//! ratio of medians passes the category's threshold. When the effect is
//! large but the test is not yet convinced, the answer is INCONCLUSIVE and
//! the caller takes more rounds, up to `MAX_ROUNDS`.

use crate::budgets::Thresholds;
use serde::Serialize;
use std::fmt;

/// Significance level of the rank test.
pub const ALPHA: f64 = 0.01;
/// Rounds a run starts with. With five rounds on each side the smallest
/// two-sided p-value the exact test can give is 2/252 = 0.0079 < ALPHA.
pub const INITIAL_ROUNDS: usize = 5;
/// Rounds a run may grow to while a verdict is inconclusive.
pub const MAX_ROUNDS: usize = 15;

pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

fn sorted(xs: &[f64]) -> Vec<f64> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

pub fn median(xs: &[f64]) -> f64 {
    quantile(xs, 0.5)
}

/// The q-quantile by linear interpolation between order statistics
/// (Hyndman & Fan's type 7, the default of R and NumPy).
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    assert!(!xs.is_empty(), "quantile of nothing");
    let v = sorted(xs);
    let h = (v.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

/// Summary of per-iteration times (nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    pub median: f64,
    pub p99: f64,
    pub min: f64,
    pub max: f64,
    /// Interquartile range over the median: a unit-free spread.
    pub spread: f64,
}

impl Summary {
    pub fn of(xs: &[f64]) -> Summary {
        let median = median(xs);
        Summary {
            n: xs.len(),
            mean: mean(xs),
            median,
            p99: quantile(xs, 0.99),
            min: quantile(xs, 0.0),
            max: quantile(xs, 1.0),
            spread: (quantile(xs, 0.75) - quantile(xs, 0.25)) / median,
        }
    }
}

/// Two-sided p-value of the Mann-Whitney U test that `a` and `b` come from
/// the same distribution. Exact (by counting rank arrangements) for small
/// samples without ties; otherwise the normal approximation with the tie
/// correction and a continuity correction.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> f64 {
    let (m, n) = (a.len(), b.len());
    if m == 0 || n == 0 {
        return 1.0;
    }
    // U counts the pairs in which a's value is the larger, ties as halves.
    let mut u2 = 0usize; // 2U, to stay in integers
    for x in a {
        for y in b {
            u2 += match x.total_cmp(y) {
                std::cmp::Ordering::Greater => 2,
                std::cmp::Ordering::Equal => 1,
                std::cmp::Ordering::Less => 0,
            };
        }
    }
    let mut all: Vec<f64> = a.iter().chain(b).copied().collect();
    all.sort_by(f64::total_cmp);
    let mut tie_term = 0.0; // sum of t^3 - t over groups of equal values
    let mut i = 0;
    while i < all.len() {
        let j = all[i..].iter().take_while(|v| **v == all[i]).count();
        tie_term += (j * j * j - j) as f64;
        i += j;
    }
    if tie_term == 0.0 && m + n <= 40 {
        exact_two_sided(m, n, u2 / 2)
    } else {
        normal_two_sided(m, n, u2 as f64 / 2.0, tie_term)
    }
}

/// The normal approximation to U's distribution, with the variance
/// corrected for ties and a continuity correction of one half.
fn normal_two_sided(m: usize, n: usize, u: f64, tie_term: f64) -> f64 {
    let (mf, nf) = (m as f64, n as f64);
    let total = mf + nf;
    let var = mf * nf / 12.0 * ((total + 1.0) - tie_term / (total * (total - 1.0)));
    if var <= 0.0 {
        return 1.0;
    }
    let z = ((u - mf * nf / 2.0).abs() - 0.5).max(0.0) / var.sqrt();
    erfc(z / std::f64::consts::SQRT_2).min(1.0)
}

/// P(U <= u or U >= mn - u), doubled from the nearer tail, where U is the
/// statistic for samples of sizes m and n under the null hypothesis. The
/// count of arrangements with statistic u obeys
/// c(m, n, u) = c(m-1, n, u-n) + c(m, n-1, u).
fn exact_two_sided(m: usize, n: usize, u: usize) -> f64 {
    // table[i][j] = counts for sizes (i, j), built up to (m, n).
    let mut table: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); n + 1]; m + 1];
    for i in 0..=m {
        for j in 0..=n {
            table[i][j] = if i == 0 || j == 0 {
                vec![1.0]
            } else {
                (0..=i * j)
                    .map(|k| {
                        let with_last_a = if k >= j {
                            table[i - 1][j].get(k - j).copied().unwrap_or(0.0)
                        } else {
                            0.0
                        };
                        with_last_a + table[i][j - 1].get(k).copied().unwrap_or(0.0)
                    })
                    .collect()
            };
        }
    }
    let counts = &table[m][n];
    let total: f64 = counts.iter().sum();
    let lower: f64 = counts[..=u].iter().sum::<f64>() / total;
    let upper: f64 = counts[u..].iter().sum::<f64>() / total;
    (2.0 * lower.min(upper)).min(1.0)
}

/// Complementary error function, |error| < 1.2e-7 (Numerical Recipes,
/// 2nd ed., section 6.2, `erfcc`), ample for a p-value compared with 0.01.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.26551223
        + t * (1.00002368
            + t * (0.37409196
                + t * (0.09678418
                    + t * (-0.18628806
                        + t * (0.27886807
                            + t * (-1.13520398
                                + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Pass,
    Improvement,
    Inconclusive,
    Warning,
    Regression,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "PASS",
            Verdict::Improvement => "IMPROVEMENT",
            Verdict::Inconclusive => "INCONCLUSIVE",
            Verdict::Warning => "WARNING",
            Verdict::Regression => "REGRESSION",
        })
    }
}

/// What the evidence says about one benchmark against its baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Decision {
    /// New over old: medians for time, bytes for memory.
    pub ratio: f64,
    /// The rank test's p-value; `None` for exact quantities (bytes).
    pub p: Option<f64>,
    pub verdict: Verdict,
}

impl Decision {
    pub fn change(&self) -> f64 {
        self.ratio - 1.0
    }
}

/// Verdict on time from the round medians of both sides.
pub fn decide_time(old: &[f64], new: &[f64], t: Thresholds) -> Decision {
    let ratio = median(new) / median(old);
    let p = mann_whitney(new, old);
    let change = ratio - 1.0;
    let significant = p < ALPHA;
    let verdict = if change.abs() <= t.warning {
        Verdict::Pass
    } else if !significant {
        Verdict::Inconclusive
    } else if change > t.failure {
        Verdict::Regression
    } else if change > 0.0 {
        Verdict::Warning
    } else {
        Verdict::Improvement
    };
    Decision {
        ratio,
        p: Some(p),
        verdict,
    }
}

/// Verdict on an exact quantity (bytes): no noise, so no test.
pub fn decide_exact(old: f64, new: f64, t: Thresholds) -> Decision {
    let ratio = if old == 0.0 {
        if new == 0.0 { 1.0 } else { f64::INFINITY }
    } else {
        new / old
    };
    let change = ratio - 1.0;
    let verdict = if change > t.failure {
        Verdict::Regression
    } else if change > t.warning {
        Verdict::Warning
    } else if change < -t.warning {
        Verdict::Improvement
    } else {
        Verdict::Pass
    };
    Decision {
        ratio,
        p: None,
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRYPTO: Thresholds = Thresholds {
        warning: 0.10,
        failure: 0.25,
    };

    /// SplitMix64 (Steele, Lea & Flood 2014): a small deterministic
    /// generator so the simulations below are reproducible by seed.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// How a round median strays from the routine's true time: every round
    /// moves by up to ±8 % (what five back-to-back criterion runs show on
    /// this machine), and a fraction `hit_rate` of rounds is also hit by a
    /// neighbour and runs 20-40 % slow.
    #[derive(Clone, Copy)]
    struct Noise {
        hit_rate: f64,
    }
    const PLAIN: Noise = Noise { hit_rate: 0.0 };
    const HITS: Noise = Noise { hit_rate: 0.05 };

    fn round(rng: &mut Rng, noise: Noise, t: f64) -> f64 {
        let shift = 1.0 + 0.16 * (rng.next() - 0.5);
        let hit = if rng.next() < noise.hit_rate {
            1.2 + 0.2 * rng.next()
        } else {
            1.0
        };
        t * shift * hit
    }

    /// The whole adaptive procedure: a stored baseline of INITIAL_ROUNDS
    /// rounds; the new run starts with as many and adds one round at a time
    /// while the verdict is inconclusive, up to MAX_ROUNDS.
    fn simulate(change: f64, noise: Noise, seed: u64) -> Verdict {
        let mut rng = Rng(seed);
        let old: Vec<f64> = (0..INITIAL_ROUNDS)
            .map(|_| round(&mut rng, noise, 100.0))
            .collect();
        let new_t = 100.0 * (1.0 + change);
        let mut new: Vec<f64> = (0..INITIAL_ROUNDS)
            .map(|_| round(&mut rng, noise, new_t))
            .collect();
        loop {
            let d = decide_time(&old, &new, CRYPTO);
            if d.verdict != Verdict::Inconclusive || new.len() >= MAX_ROUNDS {
                return d.verdict;
            }
            new.push(round(&mut rng, noise, new_t));
        }
    }

    /// Verdict counts in the order of `Verdict`: PASS, IMPROVEMENT,
    /// INCONCLUSIVE, WARNING, REGRESSION.
    fn tally(change: f64, noise: Noise, seeds: u64) -> [usize; 5] {
        let mut counts = [0; 5];
        for seed in 0..seeds {
            counts[simulate(change, noise, seed) as usize] += 1;
        }
        eprintln!(
            "change {:+.0} %, hit rate {:.0} %, {seeds} seeds: PASS {}, IMPROVEMENT {}, INCONCLUSIVE {}, WARNING {}, REGRESSION {}",
            change * 100.0,
            noise.hit_rate * 100.0,
            counts[0],
            counts[1],
            counts[2],
            counts[3],
            counts[4]
        );
        counts
    }

    #[test]
    fn no_change_under_8_percent_noise_is_never_a_regression() {
        let seeds = 5000;
        for noise in [PLAIN, HITS] {
            let [pass, _, _, warning, regression] = tally(0.0, noise, seeds);
            eprintln!(
                "  false-alarm rate (WARNING or REGRESSION): {:.2} %",
                100.0 * (warning + regression) as f64 / seeds as f64
            );
            assert_eq!(regression, 0);
            // A false WARNING needs a 10 % shift *and* separated ranks.
            assert!(
                warning * 500 <= seeds as usize,
                "false WARNING rate above 0.2 %: {warning}"
            );
            assert!(pass as f64 >= 0.98 * seeds as f64, "only {pass} PASS");
        }
    }

    #[test]
    fn a_30_percent_slowdown_under_the_same_noise_is_always_caught() {
        let [pass, improvement, inconclusive, warning, regression] = tally(0.30, PLAIN, 5000);
        assert_eq!(pass + improvement + inconclusive, 0);
        assert!(
            regression > warning,
            "the failure tier should dominate: {regression} vs {warning}"
        );
        // When neighbours' hits also pollute the five-round baseline (one
        // in five baselines has a round 20-40 % slow), the ranks overlap: a
        // tenth of the cases stay INCONCLUSIVE after every extra round, and
        // a baseline with two or more hit rounds can hide the change.
        // Measured: 3753 REGRESSION, 819 WARNING, 422 INCONCLUSIVE, 6 PASS.
        let [pass, improvement, inconclusive, warning, regression] = tally(0.30, HITS, 5000);
        assert_eq!(improvement, 0);
        assert!(pass * 500 <= 5000, "PASS {pass} of 5000");
        assert!(
            inconclusive * 10 <= 5000,
            "INCONCLUSIVE {inconclusive} of 5000"
        );
        assert!((warning + regression) * 10 >= 5000 * 9);
    }

    #[test]
    fn improvements_are_never_reported_as_regressions() {
        for noise in [PLAIN, HITS] {
            for change in [-0.05, -0.15, -0.30, -0.50] {
                let [_, improvement, _, warning, regression] = tally(change, noise, 2000);
                assert_eq!(warning + regression, 0, "change {change}");
                if change <= -0.30 && noise.hit_rate == 0.0 {
                    assert_eq!(improvement, 2000, "change {change}");
                }
            }
        }
    }

    #[test]
    fn exact_mann_whitney_matches_published_values() {
        // Fully separated 5 vs 5: 2 / C(10, 5) = 2/252.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [6.0, 7.0, 8.0, 9.0, 10.0];
        assert!((mann_whitney(&a, &b) - 2.0 / 252.0).abs() < 1e-12);
        assert_eq!(mann_whitney(&a, &b), mann_whitney(&b, &a));
        // 3 vs 4 with U = 1: P(U <= 1) = 2/35, two-sided 4/35.
        let p = mann_whitney(&[1.0, 2.0, 4.0], &[3.0, 5.0, 6.0, 7.0]);
        assert!((p - 4.0 / 35.0).abs() < 1e-12, "{p}");
        // Interleaved samples: no evidence at all.
        assert_eq!(
            mann_whitney(&[1.0, 4.0, 5.0, 8.0], &[2.0, 3.0, 6.0, 7.0]),
            1.0
        );
    }

    #[test]
    fn normal_approximation_agrees_with_the_exact_distribution() {
        // Same sizes and statistic through both routes, around p = 0.01,
        // where the verdict is decided.
        for (m, n, u) in [(20, 20, 100), (15, 25, 100), (12, 12, 30)] {
            let exact = exact_two_sided(m, n, u);
            let approx = normal_two_sided(m, n, u as f64, 0.0);
            assert!(
                (approx / exact - 1.0).abs() < 0.2,
                "m {m} n {n} u {u}: exact {exact}, approximate {approx}"
            );
        }
        // Ties take the approximation and still see a clear difference.
        let a = [1.0, 1.0, 2.0, 2.0, 3.0, 3.0];
        let b = [5.0, 5.0, 6.0, 6.0, 7.0, 7.0];
        assert!(mann_whitney(&a, &b) < 0.01);
        assert!((erfc(0.0) - 1.0).abs() < 1e-7 && (erfc(1.0) - 0.157_299_207).abs() < 1e-6);
    }

    #[test]
    fn summary_statistics() {
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0, 100.0]);
        assert_eq!((s.n, s.median, s.min, s.max), (5, 3.0, 1.0, 100.0));
        assert_eq!(s.mean, 22.0);
        assert!((s.p99 - 96.16).abs() < 1e-9, "{}", s.p99);
        assert!((s.spread - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn exact_quantities_use_the_tiers_without_a_test() {
        let mem = Thresholds {
            warning: 0.20,
            failure: 0.50,
        };
        assert_eq!(decide_exact(544.0, 544.0, mem).verdict, Verdict::Pass);
        assert_eq!(decide_exact(500.0, 650.0, mem).verdict, Verdict::Warning);
        assert_eq!(decide_exact(500.0, 800.0, mem).verdict, Verdict::Regression);
        assert_eq!(
            decide_exact(500.0, 300.0, mem).verdict,
            Verdict::Improvement
        );
        assert_eq!(decide_exact(0.0, 8.0, mem).verdict, Verdict::Regression);
    }
}

//! Change points in a benchmark's history: E-divisive means (Matteson &
//! James, "A Nonparametric Approach for Multiple Change Point Analysis of
//! Multivariate Data", JASA 2014), the method Apache Otava (formerly
//! Hunter) and MongoDB use on performance series.
//!
//! The statistic for a split of a segment into `X` (before τ) and `Y`
//! (from τ) is the scaled energy distance
//! `Q(τ) = |X||Y|/(|X|+|Y|) · (2·E|X−Y| − E|X−X'| − E|Y−Y'|)` (α = 1),
//! which is large when the two sides differ in any way and is not moved
//! much by a single outlier. Splits are found hierarchically: the best
//! split of every current segment, the largest kept if a permutation test
//! (shuffling the points within each segment, as the paper does) says it
//! is significant, then again on the new segments, until none is. A change
//! point is also reported only if the medians either side differ by more
//! than a minimum effect.
//!
//! Exact series (instruction counts, sizes) have no noise to test against:
//! there every change of at least the minimum effect from one measured
//! commit to the next is a change point, whatever its size relative to the
//! rest of the series (E-divisive, a test of distributions, has little
//! power on a dozen identical values and a step).

use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// One change: the series is different from `index` on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangePoint {
    /// The first point of the new segment.
    pub index: usize,
    /// Median of the segment before and of the segment after.
    pub before: f64,
    pub after: f64,
    /// After over before.
    pub ratio: f64,
    /// 95 % bootstrap interval of the ratio (equal to it for exact series).
    pub low: f64,
    pub high: f64,
    /// The permutation test's p-value (0 in an exact series: no test).
    pub p: f64,
}

impl ChangePoint {
    pub fn is_improvement(&self) -> bool {
        self.ratio < 1.0
    }

    /// Whether its size is decided: the interval excludes no change (always,
    /// in an exact series). The permutation test says the series changed
    /// somewhere near here; only an interval that excludes 1 says which
    /// way, so a noisy point whose interval spans 1 is "cannot decide yet".
    pub fn decided(&self) -> bool {
        self.low > 1.0 || self.high < 1.0
    }
}

/// How detection runs.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// The series has no noise: compare neighbours instead of testing.
    pub exact: bool,
    /// Significance level of the permutation test.
    pub alpha: f64,
    /// Permutations per test.
    pub permutations: usize,
    /// Fewest points a segment may have.
    pub min_size: usize,
    /// Smallest relative change of the median reported.
    pub min_effect: f64,
    pub seed: u64,
}

impl Settings {
    /// For instruction counts and sizes: exact, so a 1 % change from one
    /// commit to the next is a change.
    pub const EXACT: Settings = Settings {
        exact: true,
        alpha: 0.05,
        permutations: 199,
        min_size: 1,
        min_effect: 0.01,
        seed: 0x5eed,
    };
    /// For time: segments of at least two points, 5 % changes.
    pub const TIME: Settings = Settings {
        exact: false,
        alpha: 0.05,
        permutations: 199,
        min_size: 2,
        min_effect: 0.05,
        seed: 0x5eed,
    };
}

/// Sums of |x_i − x_j| over pairs, for O(1) within/between sums of any
/// split, from cumulative tables (O(n²) to build).
struct Distances {
    /// `within[a][b]` = Σ |x_i − x_j| over a ≤ i < j < b.
    within: Vec<Vec<f64>>,
}

impl Distances {
    fn new(x: &[f64]) -> Distances {
        let n = x.len();
        let mut within = vec![vec![0.0; n + 1]; n + 2];
        // within[a][c] = within[a+1][c] + Σ_{a<j<c} |x_a − x_j|.
        for a in (0..n).rev() {
            let mut row = 0.0;
            for c in a + 2..=n {
                row += (x[a] - x[c - 1]).abs();
                within[a][c] = within[a + 1][c] + row;
            }
        }
        Distances { within }
    }

    /// Q for splitting [a, c) at t (a < t < c).
    fn q(&self, a: usize, t: usize, c: usize) -> f64 {
        let (m, k) = ((t - a) as f64, (c - t) as f64);
        let wx = self.within[a][t];
        let wy = self.within[t][c];
        let total = self.within[a][c];
        let between = total - wx - wy;
        let pairs = |n: f64| n * (n - 1.0) / 2.0;
        let ex = if m > 1.0 { wx / pairs(m) } else { 0.0 };
        let ey = if k > 1.0 { wy / pairs(k) } else { 0.0 };
        let e = 2.0 * between / (m * k) - ex - ey;
        m * k / (m + k) * e
    }
}

/// The best split of each segment: (segment index, τ, Q).
fn best_splits(x: &[f64], bounds: &[usize], min: usize) -> Option<(usize, usize, f64)> {
    let d = Distances::new(x);
    let mut best: Option<(usize, usize, f64)> = None;
    for (s, w) in bounds.windows(2).enumerate() {
        let (a, c) = (w[0], w[1]);
        for t in a + min..=c.saturating_sub(min) {
            if t <= a || t >= c {
                continue;
            }
            let q = d.q(a, t, c);
            if best.is_none_or(|(_, _, bq)| q > bq) {
                best = Some((s, t, q));
            }
        }
    }
    best
}

/// 95 % percentile-bootstrap interval of median(after) / median(before),
/// resampling both sides independently (Efron & Tibshirani 1993, ch. 13),
/// with a fixed seed so a history is reproducible from its values.
pub fn bootstrap_ratio(before: &[f64], after: &[f64], resamples: usize) -> (f64, f64) {
    let mut rng = Rng::new(0x2545f4914f6cdd1d);
    let mut resample = |xs: &[f64]| -> f64 {
        let r: Vec<f64> = (0..xs.len()).map(|_| xs[rng.below(xs.len())]).collect();
        median(&r)
    };
    let mut ratios: Vec<f64> = (0..resamples)
        .map(|_| {
            let b = resample(before);
            resample(after) / b
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| ratios[((resamples - 1) as f64 * q).round() as usize];
    (at(0.025), at(0.975))
}

fn median(xs: &[f64]) -> f64 {
    crate::stats::median(xs)
}

/// The change points of `series`, in order.
pub fn detect(series: &[f64], s: Settings) -> Vec<ChangePoint> {
    if s.exact {
        return steps(series, s.min_effect);
    }
    let n = series.len();
    if n < 2 * s.min_size.max(1) {
        return Vec::new();
    }
    let mut bounds = vec![0, n];
    let mut rng = Rng::new(s.seed);
    let mut found: Vec<(usize, f64)> = Vec::new();
    while let Some((seg, tau, q)) = best_splits(series, &bounds, s.min_size) {
        if q <= 0.0 {
            break;
        }
        // Permutation test: shuffle within each current segment, and see
        // how often the best split of the shuffled series is as strong.
        let mut at_least = 0usize;
        let mut shuffled = series.to_vec();
        for _ in 0..s.permutations {
            for w in bounds.windows(2) {
                let part = &mut shuffled[w[0]..w[1]];
                for i in (1..part.len()).rev() {
                    part.swap(i, rng.below(i + 1));
                }
            }
            if best_splits(&shuffled, &bounds, s.min_size).is_some_and(|(_, _, pq)| pq >= q - 1e-12)
            {
                at_least += 1;
            }
        }
        let p = (at_least + 1) as f64 / (s.permutations + 1) as f64;
        if p >= s.alpha {
            break;
        }
        found.push((tau, p));
        bounds.insert(seg + 1, tau);
    }
    found.sort_by_key(|(t, _)| *t);
    // Effect sizes from the final segments around each change.
    let mut cuts: Vec<usize> = found.iter().map(|(t, _)| *t).collect();
    cuts.insert(0, 0);
    cuts.push(n);
    found
        .iter()
        .enumerate()
        .filter_map(|(k, (tau, p))| {
            let before = &series[cuts[k]..*tau];
            let after = &series[*tau..cuts[k + 2]];
            let (b, a) = (median(before), median(after));
            let ratio = a / b;
            if (ratio - 1.0).abs() < s.min_effect {
                return None;
            }
            let (low, high) = bootstrap_ratio(before, after, 1000);
            Some(ChangePoint {
                index: *tau,
                before: b,
                after: a,
                ratio,
                low,
                high,
                p: *p,
            })
        })
        .collect()
}

/// The change points of an exact series: every step of at least
/// `min_effect` from one point to the next.
fn steps(series: &[f64], min_effect: f64) -> Vec<ChangePoint> {
    series
        .windows(2)
        .enumerate()
        .filter_map(|(i, w)| {
            let ratio = w[1] / w[0];
            ((ratio - 1.0).abs() >= min_effect).then_some(ChangePoint {
                index: i + 1,
                before: w[0],
                after: w[1],
                ratio,
                low: ratio,
                high: ratio,
                p: 0.0,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reproducible simulated series.
    struct Sim(Rng);
    impl Sim {
        fn unit(&mut self) -> f64 {
            self.0.unit()
        }
        /// A series of `n` points around 1000 that steps by `steps`
        /// (index, relative change), with ±`noise` uniform noise and a
        /// fraction `outliers` of points 20–40 % high.
        fn series(
            &mut self,
            n: usize,
            steps: &[(usize, f64)],
            noise: f64,
            outliers: f64,
        ) -> Vec<f64> {
            (0..n)
                .map(|i| {
                    let level = steps
                        .iter()
                        .filter(|(at, _)| *at <= i)
                        .fold(1000.0, |v, (_, c)| v * (1.0 + c));
                    let mut x = level * (1.0 + noise * (2.0 * self.unit() - 1.0));
                    if self.unit() < outliers {
                        x *= 1.2 + 0.2 * self.unit();
                    }
                    x
                })
                .collect()
        }
    }

    #[test]
    fn exact_steps_are_found_where_they_are_with_their_size() {
        let mut series = vec![383_560.0; 12];
        series.extend(vec![440_863.0; 9]);
        series.extend(vec![400_000.0; 9]);
        let cps = detect(&series, Settings::EXACT);
        let at: Vec<usize> = cps.iter().map(|c| c.index).collect();
        assert_eq!(at, [12, 21], "{cps:?}");
        assert!((cps[0].ratio - 440_863.0 / 383_560.0).abs() < 1e-12);
        assert!(cps[1].is_improvement());
        assert!(detect(&[5.0; 30], Settings::EXACT).is_empty());
        // Below the minimum effect: real, but not reported.
        let mut tiny = vec![1000.0; 10];
        tiny.extend(vec![1005.0; 10]);
        assert!(detect(&tiny, Settings::EXACT).is_empty());
    }

    /// Simulated noisy series (±5 % noise, 5 % outliers 20–40 % high) of 40
    /// commits: a 15 % step somewhere, or none. The detection rate and the
    /// false positives are measured and bounded here.
    #[test]
    fn noisy_series_detection_rate_and_false_positives() {
        let mut sim = Sim(Rng::new(42));
        let trials = 200;
        let (mut found, mut near, mut false_series, mut false_points) = (0, 0, 0, 0);
        for t in 0..trials {
            let at = 8 + t % 24;
            let s = sim.series(40, &[(at, 0.15)], 0.05, 0.05);
            let cps = detect(&s, Settings::TIME);
            if cps.iter().any(|c| c.index.abs_diff(at) <= 1) {
                found += 1;
                if cps.iter().any(|c| c.index == at) {
                    near += 1;
                }
            }
            false_points += cps.iter().filter(|c| c.index.abs_diff(at) > 1).count();
            let flat = sim.series(40, &[], 0.05, 0.05);
            if !detect(&flat, Settings::TIME).is_empty() {
                false_series += 1;
            }
        }
        eprintln!(
            "15% step, ±5% noise, 5% outliers, 40 points, {trials} series: found within one commit {found}, exactly {near}; other change points {false_points}; flat series with a change point {false_series}"
        );
        assert!(
            found * 100 >= trials * 95,
            "detection rate {found}/{trials}"
        );
        assert!(
            false_series * 100 <= trials * 8,
            "false positives {false_series}/{trials}"
        );
        assert!(
            false_points * 100 <= trials * 10,
            "spurious points {false_points}"
        );
    }

    #[test]
    fn two_steps_and_an_improvement_in_noise() {
        let mut sim = Sim(Rng::new(7));
        let mut hits = 0;
        for _ in 0..50 {
            let s = sim.series(60, &[(15, 0.20), (40, -0.25)], 0.04, 0.03);
            let cps = detect(&s, Settings::TIME);
            let ok = cps
                .iter()
                .any(|c| c.index.abs_diff(15) <= 1 && !c.is_improvement())
                && cps
                    .iter()
                    .any(|c| c.index.abs_diff(40) <= 1 && c.is_improvement());
            hits += usize::from(ok);
            for c in &cps {
                assert!(c.low <= c.ratio && c.ratio <= c.high, "{c:?}");
            }
        }
        assert!(hits >= 47, "both steps found in {hits} of 50");
    }

    /// History's time pass on the simulated machines: 20 commits, three
    /// passes in alternating direction, each commit the median of its
    /// rounds, 1000 histories with no change. Quiet (±8 % scatter): a
    /// change point whose interval excludes no change appears at most α
    /// (the permutation test's 5 %) of the time. Busy (heavy tails, drift,
    /// a carry-over bias): the drift makes steps of its own and the rate is
    /// above α, which is why history leaves time change points undecided
    /// when its load says the machine was busy (`history::undecided`).
    #[test]
    fn flat_histories_claim_a_change_at_most_alpha_of_the_time_on_a_quiet_machine() {
        let claimed = |busy: bool| {
            (0..1000u64)
                .filter(|seed| {
                    let mut m = if busy {
                        crate::model::sim::Machine::busy(*seed)
                    } else {
                        crate::model::sim::Machine::quiet(*seed)
                    };
                    let n = 20;
                    let mut rounds: Vec<Vec<f64>> = vec![Vec::new(); n];
                    for pass in 0..3 {
                        let order: Vec<usize> = if pass % 2 == 0 {
                            (0..n).collect()
                        } else {
                            (0..n).rev().collect()
                        };
                        for c in order {
                            rounds[c].push(m.observe(c, 1000.0).cpu_ns.unwrap());
                        }
                    }
                    let series: Vec<f64> = rounds.iter().map(|r| median(r)).collect();
                    detect(&series, Settings::TIME).iter().any(|c| c.decided())
                })
                .count()
        };
        let (quiet, busy) = (claimed(false), claimed(true));
        eprintln!(
            "1000 flat histories of 20 commits with a decided change point: quiet machine {quiet}, busy machine {busy} (α = 5 %)"
        );
        assert!(quiet as f64 <= Settings::TIME.alpha * 1000.0, "{quiet}");
    }
}

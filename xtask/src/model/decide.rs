//! The five verdicts of a run against its baseline, from the Mann-Whitney
//! interval of the change (`sequential.rs`) at the look the new run's
//! rounds reached: slower past a tier only when the interval lies above no
//! change and the estimate is past the tier; PASS only when the interval's
//! upper end lies within the warning tier (an equivalence claim needs as
//! much evidence as a regression); INCONCLUSIVE, "cannot decide yet",
//! otherwise, and the caller takes rounds up to the next look, up to
//! `MAX_ROUNDS`. Exact quantities (bytes) need no test.

use crate::budgets::Thresholds;
use crate::model::sequential::{self, Interval, Looks};
use serde::Serialize;
use std::fmt;

/// Rounds a run starts with: the first look of [`Looks::UNPAIRED`].
pub const INITIAL_ROUNDS: usize = 5;
/// Rounds a run may grow to while a verdict cannot be decided: the looks
/// at 5, 8 and 12 rounds.
pub const MAX_ROUNDS: usize = 12;

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
    /// New over old: the Hodges-Lehmann shift for time, bytes for memory.
    pub ratio: f64,
    /// Time: the interval of `ratio` (two-sided, `sequential::ALPHA` on
    /// each side over every look); `None` for exact quantities (bytes).
    pub interval: Option<(f64, f64)>,
    pub verdict: Verdict,
}

impl Decision {
    pub fn change(&self) -> f64 {
        self.ratio - 1.0
    }

    /// Slower with the interval above no change (always, for an exact
    /// quantity that grew).
    pub fn surely_slower(&self) -> bool {
        match self.interval {
            Some((low, _)) => low > 1.0,
            None => self.ratio > 1.0,
        }
    }

    /// `98% interval +1.2% to +9.8%`, for time.
    pub fn interval_text(&self) -> Option<String> {
        self.interval.map(|(low, high)| {
            format!(
                "{:.0}% interval {} to {}",
                sequential::CONFIDENCE_PCT,
                sequential::pct(low),
                sequential::pct(high)
            )
        })
    }
}

/// Verdict on time from the round medians of both sides (unpaired: the
/// baseline was measured in another run), at the look the new side's
/// rounds reached.
pub fn decide_time(old: &[f64], new: &[f64], t: Thresholds) -> Decision {
    let (look, _) = Looks::UNPAIRED.reached(new.len()).unwrap_or((1, new.len()));
    let iv = sequential::unpaired(old, new, Looks::level(look));
    Decision {
        ratio: iv.estimate,
        interval: Some((iv.low, iv.high)),
        verdict: tiers(iv, t),
    }
}

/// The five verdicts from an interval and the category's tiers.
pub fn tiers(iv: Interval, t: Thresholds) -> Verdict {
    if iv.low > 1.0 && iv.estimate > 1.0 + t.failure {
        Verdict::Regression
    } else if iv.low > 1.0 && iv.estimate > 1.0 + t.warning {
        Verdict::Warning
    } else if iv.high < 1.0 && iv.estimate < 1.0 - t.warning {
        Verdict::Improvement
    } else if iv.high < 1.0 + t.warning {
        Verdict::Pass
    } else {
        Verdict::Inconclusive
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
        interval: None,
        verdict,
    }
}

//! One time observation and what the machine was doing while it was
//! taken. The measurement layer (`measure/`) makes them; the decisions
//! (`search.rs`, the gate, history) read them.
//!
//! **Which clock.** A probe of protocol 3 or later reports, beside each
//! sample's wall time, the CPU time its measuring thread used and the time
//! it spent runnable but waiting for a CPU (`/proc/thread-self/schedstat`).
//! Decisions use the thread's CPU time when every observation of a
//! comparison has it: on a machine whose cores other processes keep busy
//! the routine is descheduled in the middle of samples, which adds the
//! neighbours' time to the wall clock but not to the thread's CPU time
//! (the kernel's time spent on the routine's behalf, a system call's, is
//! in both). Wall time is kept and reported beside it; older probes give
//! only wall time, and a comparison that includes one uses wall time for
//! every side.

use crate::stats::{median, quantile};
use serde::{Deserialize, Serialize};

/// A sample counts as descheduled when its thread waited for a CPU for
/// more than this share of the sample's wall time.
pub const DESCHEDULED: f64 = 0.05;
/// The machine is busy when CPU pressure (the share of time some task
/// waited for a CPU) is at least this high in half the observations, or
/// when at least `BUSY_DESCHEDULED` of the observations were descheduled.
pub const BUSY_PRESSURE: f64 = 0.10;
pub const BUSY_DESCHEDULED: f64 = 0.2;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Median wall time per iteration over the probe's samples, ns.
    pub wall_ns: f64,
    /// Median CPU time per iteration of the measuring thread, ns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ns: Option<f64>,
    /// Share of the samples' wall time the thread waited for a CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<f64>,
    /// CPU pressure over the observation (`/proc/pressure/cpu`, "some"):
    /// the share of its wall time at least one task waited for a CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pressure: Option<f64>,
}

impl Observation {
    /// Wall time only (old probes, simulations).
    pub fn wall(ns: f64) -> Observation {
        Observation {
            wall_ns: ns,
            cpu_ns: None,
            waiting: None,
            pressure: None,
        }
    }

    pub fn value(&self, clock: Clock) -> f64 {
        match (clock, self.cpu_ns) {
            (Clock::Cpu, Some(c)) => c,
            _ => self.wall_ns,
        }
    }

    /// The probe's thread waited for a CPU for a noticeable share of the
    /// observation (or, without the probe's figure, the wall clock ran
    /// ahead of the CPU clock by as much).
    pub fn descheduled(&self) -> bool {
        match (self.waiting, self.cpu_ns) {
            (Some(w), _) => w > DESCHEDULED,
            (None, Some(c)) => self.wall_ns > c * (1.0 + DESCHEDULED),
            (None, None) => false,
        }
    }
}

/// Which clock a comparison's values come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Clock {
    /// The measuring thread's CPU time.
    Cpu,
    /// Wall time.
    Wall,
}

impl Clock {
    /// CPU time when every observation has it, else wall time for all.
    pub fn of<'a>(obs: impl IntoIterator<Item = &'a Observation>) -> Clock {
        if obs.into_iter().all(|o| o.cpu_ns.is_some()) {
            Clock::Cpu
        } else {
            Clock::Wall
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Clock::Cpu => "thread CPU time",
            Clock::Wall => "wall time",
        }
    }
}

/// The values of several sides' observations in one clock.
pub fn values(sides: &[&[Observation]]) -> (Clock, Vec<Vec<f64>>) {
    let clock = Clock::of(sides.iter().flat_map(|s| s.iter()));
    (
        clock,
        sides
            .iter()
            .map(|s| s.iter().map(|o| o.value(clock)).collect())
            .collect(),
    )
}

/// How busy the machine was over a set of observations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Load {
    pub observations: usize,
    /// Observations taken while the probe was descheduled.
    pub descheduled: usize,
    /// CPU pressure: median and 90th percentile over the observations
    /// (`None` where Linux does not expose `/proc/pressure/cpu`).
    pub pressure_median: Option<f64>,
    pub pressure_p90: Option<f64>,
    /// Median of wall time over CPU time, where the probe reported both.
    pub wall_over_cpu: Option<f64>,
    /// The clock decisions used when all observations agreed on one.
    pub clock: Clock,
}

impl Load {
    pub fn of(obs: &[Observation]) -> Option<Load> {
        if obs.is_empty() {
            return None;
        }
        let pressure: Vec<f64> = obs.iter().filter_map(|o| o.pressure).collect();
        let stretch: Vec<f64> = obs
            .iter()
            .filter_map(|o| o.cpu_ns.map(|c| o.wall_ns / c))
            .collect();
        Some(Load {
            observations: obs.len(),
            descheduled: obs.iter().filter(|o| o.descheduled()).count(),
            pressure_median: (!pressure.is_empty()).then(|| median(&pressure)),
            pressure_p90: (!pressure.is_empty()).then(|| quantile(&pressure, 0.9)),
            wall_over_cpu: (!stretch.is_empty()).then(|| median(&stretch)),
            clock: Clock::of(obs),
        })
    }

    pub fn busy(&self) -> bool {
        self.pressure_median.is_some_and(|p| p >= BUSY_PRESSURE)
            || self.descheduled as f64 >= BUSY_DESCHEDULED * self.observations as f64
    }

    /// `CPU busy: pressure 46% (median; 90th percentile 71%), 31 of 40
    /// observations descheduled, wall time 1.52× the thread's CPU time`.
    /// A busy machine's comparisons were allowed their larger budget of
    /// rounds; the caller says how large.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match (self.pressure_median, self.pressure_p90) {
            (Some(m), Some(p90)) => parts.push(format!(
                "pressure {:.0}% (median; 90th percentile {:.0}%)",
                m * 100.0,
                p90 * 100.0
            )),
            _ => parts.push("CPU pressure not exposed by this kernel".to_string()),
        }
        parts.push(format!(
            "{} of {} observations descheduled",
            self.descheduled, self.observations
        ));
        if let Some(s) = self.wall_over_cpu {
            parts.push(format!("wall time {s:.2}× the thread's CPU time"));
        }
        format!(
            "CPU {}: {}",
            if self.busy() { "busy" } else { "quiet" },
            parts.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(
        wall: f64,
        cpu: Option<f64>,
        waiting: Option<f64>,
        pressure: Option<f64>,
    ) -> Observation {
        Observation {
            wall_ns: wall,
            cpu_ns: cpu,
            waiting,
            pressure,
        }
    }

    #[test]
    fn the_cpu_clock_is_used_only_when_every_side_has_it() {
        let new = [obs(150.0, Some(100.0), Some(0.3), Some(0.5))];
        let old = [obs(100.0, None, None, None)];
        let (clock, v) = values(&[&old, &new]);
        assert_eq!(clock, Clock::Wall);
        assert_eq!(v, [vec![100.0], vec![150.0]]);
        let (clock, v) = values(&[&new, &new]);
        assert_eq!(clock, Clock::Cpu);
        assert_eq!(v[0], [100.0]);
    }

    #[test]
    fn load_says_how_busy_and_flags_descheduled_observations() {
        let quiet: Vec<Observation> = (0..10)
            .map(|_| obs(100.0, Some(99.0), Some(0.0), Some(0.01)))
            .collect();
        let l = Load::of(&quiet).unwrap();
        assert!(!l.busy());
        assert_eq!(l.descheduled, 0);
        let mut busy = quiet.clone();
        for o in busy.iter_mut().take(4) {
            *o = obs(160.0, Some(100.0), Some(0.35), Some(0.6));
        }
        let l = Load::of(&busy).unwrap();
        assert!(l.busy(), "{l:?}");
        assert_eq!(l.descheduled, 4);
        assert!(
            l.describe().starts_with("CPU busy: pressure 1% (median; 90th percentile 60%), 4 of 10 observations descheduled"),
            "{}",
            l.describe()
        );
        // Without the probe's figures, a wall clock far ahead of the CPU's.
        assert!(obs(120.0, Some(100.0), None, None).descheduled());
        assert!(!obs(120.0, None, None, None).descheduled());
    }
}

//! One time observation of a benchmark through its probe: the median wall
//! time per iteration of a few samples, with the measuring thread's CPU
//! time and its wait for a CPU (probe protocol 3), and the CPU pressure
//! around it. Every command that measures time takes its observations here.

use super::load::Span;
use crate::model::observation::Observation;
use crate::stats::median;
use crate::vcs::probe::{self, Probe};
use anyhow::Result;

/// Probe samples per observation (about 10 ms each): the observation is
/// their median, so one sample hit by a neighbour does not move it.
pub const SAMPLES: u32 = 10;

/// The instrument and parameters of an observation, for cache keys.
pub const INSTRUMENT: &str = "time --samples 10 (median)";

pub fn observe(p: &mut dyn Probe, bench: &str) -> Result<Observation> {
    let span = Span::start();
    let t = probe::time(p, bench, SAMPLES)?;
    let pressure = span.share();
    let wall_ns = median(&t.samples_ns);
    let cpu_ns = t.cpu_ns.as_deref().map(median);
    let waiting = t.wait_ns.as_deref().map(|w| {
        let waited: f64 = w.iter().sum();
        let wall: f64 = t.samples_ns.iter().sum();
        if wall > 0.0 {
            (waited / wall).min(1.0)
        } else {
            0.0
        }
    });
    Ok(Observation {
        wall_ns,
        cpu_ns,
        waiting,
        pressure,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use probe_protocol::{Body, Time};

    #[test]
    fn an_observation_is_the_median_of_each_clock_and_the_share_waited() {
        let mut p = crate::vcs::probe::Fake::new(|_| {
            Ok(Body::Time(Time {
                iters_per_sample: 10,
                samples_ns: vec![100.0, 300.0, 110.0],
                cpu_ns: Some(vec![95.0, 100.0, 104.0]),
                wait_ns: Some(vec![0.0, 200.0, 4.0]),
            }))
        });
        let o = observe(&mut p, "x").unwrap();
        assert_eq!((o.wall_ns, o.cpu_ns), (110.0, Some(100.0)));
        assert!((o.waiting.unwrap() - 204.0 / 510.0).abs() < 1e-12);
        assert!(o.descheduled());
        // A probe of protocol 2: wall time only.
        let mut p = crate::vcs::probe::Fake::new(|_| {
            Ok(Body::Time(Time {
                iters_per_sample: 10,
                samples_ns: vec![100.0],
                cpu_ns: None,
                wait_ns: None,
            }))
        });
        let o = observe(&mut p, "x").unwrap();
        assert_eq!((o.cpu_ns, o.waiting), (None, None));
    }
}

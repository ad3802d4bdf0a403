//! A simulated machine for the decisions' tests: what a time observation
//! of a routine whose true time is `truth` looks like on a quiet machine
//! and on a busy one. Instruction counts need no simulation (exact).
//!
//! The busy machine is unkind in every way seen on the 2-core runners:
//! heavy-tailed bursts (a fifth of the observations hit by a neighbour, up
//! to 3× slow), a drift that wanders through the run (a random walk of 2 %
//! per observation, between 0.7× and 1.5×), a bias against whichever
//! candidate follows another (+4 %: caches and predictors still hold the
//! other binary's state), everything 30 % slow, and 8 % Gaussian scatter.

use crate::model::observation::Observation;
use crate::rng::Rng;

pub struct Machine {
    pub rng: Rng,
    busy: bool,
    drift: f64,
    last: Option<usize>,
    /// Half-width of the quiet machine's uniform scatter.
    pub spread: f64,
}

impl Machine {
    /// Every observation strays by up to ±8 % (five back-to-back criterion
    /// runs on an idle machine here).
    pub fn quiet(seed: u64) -> Machine {
        Machine {
            rng: Rng::new(seed),
            busy: false,
            drift: 1.0,
            last: None,
            spread: 0.08,
        }
    }

    pub fn busy(seed: u64) -> Machine {
        Machine {
            busy: true,
            ..Machine::quiet(seed)
        }
    }

    /// One observation of candidate `who`, whose routine takes `truth` ns.
    pub fn observe(&mut self, who: usize, truth: f64) -> Observation {
        let r = &mut self.rng;
        if !self.busy {
            let v = truth * (1.0 + 2.0 * self.spread * (r.unit() - 0.5));
            return Observation {
                wall_ns: v,
                cpu_ns: Some(v),
                waiting: Some(0.0),
                pressure: Some(0.01),
            };
        }
        self.drift = (self.drift * (1.0 + 0.02 * r.normal())).clamp(0.7, 1.5);
        let burst = if r.unit() < 0.2 {
            1.0 + 2.0 * r.unit().powi(2)
        } else {
            1.0
        };
        let follows_another = self.last.is_some_and(|l| l != who);
        self.last = Some(who);
        let bias = if follows_another { 1.04 } else { 1.0 };
        let cpu = truth * 1.3 * self.drift * burst * bias * (1.0 + 0.08 * r.normal()).max(0.5);
        let waiting = 0.2 + 0.6 * r.unit();
        Observation {
            wall_ns: cpu / (1.0 - waiting),
            cpu_ns: Some(cpu),
            waiting: Some(waiting),
            pressure: Some(0.3 + 0.6 * r.unit()),
        }
    }
}

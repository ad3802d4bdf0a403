//! The one measurement layer. Every command that measures goes through
//! these modules, so that an observation means the same thing in a bench,
//! a bisect, the gate and a history:
//!
//! - `time`: one time observation through a probe (wall time, the
//!   measuring thread's CPU time, its wait for a CPU, CPU pressure);
//! - `load`: what Linux says about how busy the machine is;
//! - `exact`: callgrind at a probe, for exact per-function costs (call
//!   stacks of instruction counts) and simulated caches and branches;
//! - `sampled`: pprof's sampled stacks, for what counts cannot see;
//! - `counters`: counters per iteration (perf-event, or callgrind's
//!   simulation where the kernel has no hardware counters);
//! - `clock`: the CPU's clock while it computes (for cycles per byte);
//! - `hotspots`: the diff of two commits' costs by zp function, exact
//!   where the change shows in instruction counts, sampled where only time
//!   shows it.
//!
//! Commands import this layer; it imports the models (`observation`,
//! `sequential`, `stacks`, `stats`), the probe client and the measurement
//! cache, never a command.

pub mod clock;
pub mod counters;
pub mod exact;
pub mod hotspots;
pub mod load;
pub mod sampled;
pub mod time;

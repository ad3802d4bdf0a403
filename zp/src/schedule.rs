//! §3.3.8's stream scheduling (`ZP_STREAM_PRIORITY`): which stream's bytes
//! go out next when several have data waiting. zp's [`crate::Connection`]
//! sends what the caller hands it, one stream at a time, and holds no send
//! queue; the caller keeps the bytes and asks a [`Scheduler`] whose turn it
//! is and how much to send.
//!
//! - [`SchedulingMode::Fifo`] (the default): streams in order of their first
//!   byte's arrival; the first is served until it has nothing left.
//! - [`SchedulingMode::RoundRobin`]: one quantum from each stream in turn.
//! - [`SchedulingMode::Weighted`]: bandwidth share
//!   `priority / sum(priorities)` of the streams waiting, by deficit round
//!   robin (each turn a stream earns `quantum × priority / 128` bytes of
//!   credit, so the default priority 128 earns one quantum). Priority 0 is
//!   clamped to 1 (§3.3.8 "Priority Zero Handling").

use crate::stream::{DEFAULT_PRIORITY, clamp_priority};

/// How waiting streams share the sending side (`ZP_STREAM_PRIORITY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchedulingMode {
    /// Streams served in order of first byte arrival.
    #[default]
    Fifo,
    /// Equal chunks from each stream in rotation.
    RoundRobin,
    /// Proportional to each stream's priority.
    Weighted,
}

/// Bytes a stream is granted per turn at the default priority.
pub const DEFAULT_QUANTUM: usize = 16 * 1024;

#[derive(Debug, Clone)]
struct Waiting {
    stream_id: u32,
    pending: u64,
    priority: u8,
    /// Weighted mode's earned, unspent credit.
    deficit: u64,
}

/// Decides the order in which waiting streams send (§3.3.8).
#[derive(Debug, Clone)]
pub struct Scheduler {
    mode: SchedulingMode,
    quantum: usize,
    /// Streams with bytes waiting, in order of their first byte's arrival.
    waiting: Vec<Waiting>,
    /// The next stream's turn (round robin and weighted).
    cursor: usize,
}

impl Scheduler {
    /// A scheduler granting at most `quantum` bytes per turn (at the
    /// default priority; at least 1).
    pub fn new(mode: SchedulingMode, quantum: usize) -> Self {
        Scheduler {
            mode,
            quantum: quantum.max(1),
            waiting: Vec::new(),
            cursor: 0,
        }
    }

    /// The mode.
    pub fn mode(&self) -> SchedulingMode {
        self.mode
    }

    /// `bytes` more are waiting on `stream_id`. A stream not waiting yet
    /// joins last (FIFO's "order of first byte arrival"); one waiting
    /// keeps its place. Also the way to hand back bytes a send refused.
    pub fn push(&mut self, stream_id: u32, bytes: u64) {
        if bytes == 0 {
            return;
        }
        match self.waiting.iter_mut().find(|w| w.stream_id == stream_id) {
            Some(w) => w.pending = w.pending.saturating_add(bytes),
            None => self.waiting.push(Waiting {
                stream_id,
                pending: bytes,
                priority: DEFAULT_PRIORITY,
                deficit: 0,
            }),
        }
    }

    /// Sets a waiting stream's weight (0 is clamped to 1); the priority
    /// applies while the stream waits (set it again if it returns).
    pub fn set_priority(&mut self, stream_id: u32, priority: u8) {
        if let Some(w) = self.waiting.iter_mut().find(|w| w.stream_id == stream_id) {
            w.priority = clamp_priority(priority);
        }
    }

    /// Forgets a stream (reset, or closed with bytes unsent).
    pub fn remove(&mut self, stream_id: u32) {
        if let Some(i) = self.waiting.iter().position(|w| w.stream_id == stream_id) {
            self.waiting.remove(i);
            if i < self.cursor {
                self.cursor -= 1;
            }
        }
    }

    /// Bytes waiting on `stream_id`.
    pub fn pending(&self, stream_id: u32) -> u64 {
        self.waiting
            .iter()
            .find(|w| w.stream_id == stream_id)
            .map_or(0, |w| w.pending)
    }

    /// The next turn: which stream sends and how many of its waiting bytes
    /// (taken off its count), or `None` when nothing waits.
    pub fn next_turn(&mut self) -> Option<(u32, usize)> {
        if self.waiting.is_empty() {
            return None;
        }
        let quantum = self.quantum as u64;
        let (i, grant) = match self.mode {
            SchedulingMode::Fifo => (0, self.waiting[0].pending.min(quantum)),
            SchedulingMode::RoundRobin => {
                let i = self.cursor % self.waiting.len();
                self.cursor = i + 1;
                (i, self.waiting[i].pending.min(quantum))
            }
            SchedulingMode::Weighted => {
                let i = self.cursor % self.waiting.len();
                self.cursor = i + 1;
                let w = &mut self.waiting[i];
                let earned = quantum
                    .saturating_mul(u64::from(w.priority))
                    .div_ceil(u64::from(DEFAULT_PRIORITY));
                w.deficit = w.deficit.saturating_add(earned);
                let grant = w.deficit.min(w.pending);
                w.deficit -= grant;
                (i, grant)
            }
        };
        let w = &mut self.waiting[i];
        w.pending -= grant;
        let stream_id = w.stream_id;
        if w.pending == 0 {
            // DRR: a stream that empties keeps no credit.
            self.waiting.remove(i);
            if i < self.cursor {
                self.cursor -= 1;
            }
        }
        Some((stream_id, grant as usize))
    }
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler::new(SchedulingMode::default(), DEFAULT_QUANTUM)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes each stream was granted over `turns` turns.
    fn shares(s: &mut Scheduler, turns: usize) -> Vec<(u32, u64)> {
        let mut got: Vec<(u32, u64)> = Vec::new();
        for _ in 0..turns {
            let Some((id, n)) = s.next_turn() else { break };
            match got.iter_mut().find(|g| g.0 == id) {
                Some(g) => g.1 += n as u64,
                None => got.push((id, n as u64)),
            }
        }
        got
    }

    #[test]
    fn fifo_serves_the_first_stream_to_arrive_until_it_is_empty() {
        let mut s = Scheduler::new(SchedulingMode::Fifo, 10);
        s.push(7, 25);
        s.push(3, 10);
        s.push(7, 5); // keeps its place
        let order: Vec<_> = std::iter::from_fn(|| s.next_turn()).collect();
        assert_eq!(order, [(7, 10), (7, 10), (7, 10), (3, 10)]);
        assert_eq!(s.next_turn(), None);
    }

    #[test]
    fn round_robin_takes_equal_chunks_in_rotation() {
        let mut s = Scheduler::new(SchedulingMode::RoundRobin, 4);
        s.push(1, 8);
        s.push(2, 5);
        s.push(3, 4);
        let order: Vec<_> = std::iter::from_fn(|| s.next_turn()).collect();
        assert_eq!(order, [(1, 4), (2, 4), (3, 4), (1, 4), (2, 1)]);
    }

    /// §3.3.8's example: priorities 200 and 50 share 80 % / 20 %.
    #[test]
    fn weighted_shares_bandwidth_by_priority() {
        let mut s = Scheduler::new(SchedulingMode::Weighted, 1000);
        s.push(1, u64::MAX / 4);
        s.push(2, u64::MAX / 4);
        s.set_priority(1, 200);
        s.set_priority(2, 50);
        let got = shares(&mut s, 2000);
        let total = (got[0].1 + got[1].1) as f64;
        assert_eq!(got[0].0, 1);
        let a = got[0].1 as f64 / total;
        assert!((a - 0.8).abs() < 0.001, "stream 1's share {a}");
    }

    #[test]
    fn priority_zero_is_clamped_to_one_and_still_served() {
        let mut s = Scheduler::new(SchedulingMode::Weighted, 128);
        s.push(1, 1 << 20);
        s.push(2, 1 << 20);
        s.set_priority(1, 0);
        let got = shares(&mut s, 1000);
        let one = got.iter().find(|g| g.0 == 1).unwrap().1;
        let two = got.iter().find(|g| g.0 == 2).unwrap().1;
        // Priority 1 against the default 128.
        assert_eq!(two, 128 * one);
    }

    #[test]
    fn removed_streams_are_skipped_and_rotation_continues() {
        let mut s = Scheduler::new(SchedulingMode::RoundRobin, 1);
        for id in 1..=3 {
            s.push(id, 3);
        }
        assert_eq!(s.next_turn(), Some((1, 1)));
        s.remove(2);
        assert_eq!(s.next_turn(), Some((3, 1)));
        assert_eq!(s.next_turn(), Some((1, 1)));
        assert_eq!(s.pending(3), 2);
        assert_eq!(s.pending(2), 0);
    }
}

//! zp's own reliability layer for unordered, unreliable transports
//! (§6.4.4), used only by a connection on
//! [`Transport::Unordered`](crate::stream::Transport::Unordered): the
//! sender keeps what it sent until an AckFrame covers it and sends it
//! again when the retransmission timeout (§3.3.2) expires; the receiver
//! copies what arrives ahead of a gap and hands it over in order.
//!
//! Sans-IO like the rest of zp: a record's retransmission clock starts at
//! the first time input after it was sent (an accepted record to
//! `receive`, `handle_timeout`, `poll_acks` or `poll_retransmit`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Most heap a sender holds for sent and unacknowledged data
/// (`ZP_RETRANSMIT_BUFFER_MAX`, 4 MB, read as 4 MiB): each record's bytes
/// plus [`RETRANSMIT_ENTRY_COST`], so that many small records cannot hold
/// more than the cap says. Past it, sending is refused until AckFrames
/// free room.
pub const RETRANSMIT_BUFFER_MAX: usize = 4 * 1024 * 1024;
/// What one unacknowledged record costs beyond its bytes: its entry in the
/// retransmit queue and that queue's room to grow (kept at most twice its
/// length).
pub const RETRANSMIT_ENTRY_COST: usize = 2 * size_of::<Pending>();
/// The retransmission timeout's floor (§3.3.2).
pub const MIN_RTO: Duration = Duration::from_millis(200);
/// The retransmission timeout before any round trip was measured (RFC 6298
/// §2.1: one second), unless the path carries an RTT estimate.
pub const INITIAL_RTO: Duration = Duration::from_secs(1);
/// Backed-off timeouts stop growing here (RFC 6298 §2.5 allows 60 s).
pub const MAX_RTO: Duration = Duration::from_secs(60);
/// Consecutive expirations without an acknowledgement after which the path
/// counts as degraded (§3.3.2: migration triggers at 3).
pub const DEGRADED_AFTER: u32 = 3;

/// Data sent on an unordered transport and not yet acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pending {
    pub stream_id: u32,
    pub seq: u64,
    /// The DataFrame's flags: FIN, or RST (a reset is kept and sent
    /// again like data until an AckFrame names its offset).
    pub flags: u8,
    pub data: Vec<u8>,
    /// When it was (last) sent: the first time input after.
    pub sent_at: Option<Instant>,
    /// Sent more than once: its acknowledgement gives no round-trip sample
    /// (Karn's rule).
    pub retransmitted: bool,
}

/// What a receiver on an unordered transport tracks of one stream (§6.4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Received {
    pub(crate) stream_id: u32,
    /// Inclusive byte ranges received: sorted, disjoint, not adjacent.
    pub(crate) ranges: Vec<(u64, u64)>,
    /// The offset the FIN closes the stream at, once it arrived.
    pub(crate) fin_at: Option<u64>,
    /// DataFrames since the last AckFrame.
    pub(crate) unacked: u8,
    /// When the AckFrame for them is due.
    pub(crate) ack_at: Option<Instant>,
    /// Bytes handed over in order (by [`crate::Event::Data`] or
    /// [`crate::Connection::read`]); flow-control credit follows this offset.
    pub(crate) delivered: u64,
    /// What arrived beyond a gap, copied: all at or past `delivered`.
    pub(crate) buffer: ReorderBuffer,
    /// The FIN was handed over.
    pub(crate) fin_read: bool,
}

impl Received {
    /// What an AckFrame of this stream names: the byte ranges received,
    /// and once the FIN arrived, its offset too (one past the last byte,
    /// which no data range can name), so that an empty FIN is acknowledged
    /// only once it arrived. It was taken as acknowledged with the bytes
    /// before it, and a lost empty FIN was never sent again (found by the
    /// network fuzzer). Past [`crate::frame::MAX_ACK_RANGES`] the offset is left out.
    pub(crate) fn ack_ranges(&self) -> Vec<(u64, u64)> {
        match self.fin_at {
            Some(f) => {
                let (with_fin, _) = add_range(&self.ranges, f, f + 1);
                if with_fin.len() <= crate::frame::MAX_ACK_RANGES {
                    with_fin
                } else {
                    self.ranges.clone()
                }
            }
            None => self.ranges.clone(),
        }
    }

    /// Bytes its reorder buffer holds.
    pub(crate) fn buffered_bytes(&self) -> u64 {
        self.buffer.bytes()
    }
}

/// The sender's side: the retransmit buffer and the round-trip estimate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Retransmits {
    pub pending: VecDeque<Pending>,
    /// Payload bytes held.
    bytes: usize,
    /// Heap charged against [`RETRANSMIT_BUFFER_MAX`]: the payload plus
    /// [`RETRANSMIT_ENTRY_COST`] per record.
    cost: usize,
    srtt: Option<Duration>,
    rttvar: Duration,
    /// Expirations since data was last acknowledged.
    pub timeouts: u32,
}

impl Retransmits {
    pub const EMPTY: Retransmits = Retransmits {
        pending: VecDeque::new(),
        bytes: 0,
        cost: 0,
        srtt: None,
        rttvar: Duration::ZERO,
        timeouts: 0,
    };

    pub fn has_room(&self, len: usize) -> bool {
        self.cost + len + RETRANSMIT_ENTRY_COST <= RETRANSMIT_BUFFER_MAX
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn push(&mut self, stream_id: u32, seq: u64, flags: u8, data: &[u8]) {
        self.bytes += data.len();
        self.cost += data.len() + RETRANSMIT_ENTRY_COST;
        self.pending.push_back(Pending {
            stream_id,
            seq,
            flags,
            data: data.to_vec(),
            sent_at: None,
            retransmitted: false,
        });
    }

    pub fn stamp(&mut self, now: Instant) {
        for p in &mut self.pending {
            p.sent_at.get_or_insert(now);
        }
    }

    /// `smoothed_RTT + 4 × RTT_variance`, at least [`MIN_RTO`] (§3.3.2),
    /// doubled for every expiration since the last acknowledgement.
    /// `path_rtt`: the path's estimate (a resumed connection's), used until
    /// a round trip is measured.
    pub fn rto(&self, path_rtt: Option<Duration>) -> Duration {
        let base = match (self.srtt, path_rtt) {
            (Some(srtt), _) => srtt + 4 * self.rttvar,
            // RFC 6298 §2.2 with the estimate as the first sample.
            (None, Some(rtt)) => rtt * 3,
            (None, None) => INITIAL_RTO,
        };
        base.max(MIN_RTO)
            .saturating_mul(1 << self.timeouts.min(16))
            .min(MAX_RTO)
    }

    /// When the oldest unacknowledged record's timeout expires.
    pub fn deadline(&self, path_rtt: Option<Duration>) -> Option<Instant> {
        let oldest = self.pending.iter().filter_map(|p| p.sent_at).min()?;
        Some(oldest + self.rto(path_rtt))
    }

    /// Drops what the AckFrame's inclusive `ranges` cover on `stream_id`
    /// (`acked`: the stream's contiguously acknowledged offset after it).
    /// An empty FIN or an RST is covered by a range that names its
    /// offset (one past the last byte sent: no data range can).
    /// Samples the round trip from the newest record sent once (RFC 6298
    /// §3).
    pub fn acknowledge(&mut self, stream_id: u32, ranges: &[(u64, u64)], now: Instant) {
        let covered = |p: &Pending| {
            if p.data.is_empty() {
                return ranges.iter().any(|&(a, b)| a <= p.seq && p.seq <= b);
            }
            let last = p.seq + p.data.len() as u64 - 1;
            ranges.iter().any(|&(a, b)| a <= p.seq && last <= b)
        };
        let (mut sample, mut freed, mut removed) = (None, 0, 0);
        self.pending.retain(|p| {
            if p.stream_id != stream_id || !covered(p) {
                return true;
            }
            freed += p.data.len();
            removed += 1;
            // An empty FIN's acknowledgement is inferred: no sample.
            if !p.retransmitted
                && !p.data.is_empty()
                && let Some(t) = p.sent_at
            {
                sample = Some(now.saturating_duration_since(t));
            }
            false
        });
        if removed == 0 {
            return;
        }
        self.release(freed, removed);
        self.timeouts = 0;
        if let Some(r) = sample {
            self.sample(r);
        }
    }

    /// RFC 6298 §2.2–2.3.
    fn sample(&mut self, r: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                let diff = srtt.abs_diff(r);
                self.rttvar = (self.rttvar * 3 + diff) / 4;
                self.srtt = Some((srtt * 7 + r) / 8);
            }
        }
    }

    /// The smoothed round trip, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// Whether anything of `stream_id` awaits its acknowledgement.
    pub fn holds(&self, stream_id: u32) -> bool {
        self.pending.iter().any(|p| p.stream_id == stream_id)
    }

    pub fn forget_stream(&mut self, stream_id: u32) {
        let (mut freed, mut removed) = (0, 0);
        self.pending.retain(|p| {
            let keep = p.stream_id != stream_id;
            if !keep {
                freed += p.data.len();
                removed += 1;
            }
            keep
        });
        self.release(freed, removed);
    }

    /// `removed` records of `freed` bytes left the queue; the queue keeps
    /// at most twice its length in room (what the entry cost counts).
    fn release(&mut self, freed: usize, removed: usize) {
        self.bytes -= freed;
        self.cost -= freed + removed * RETRANSMIT_ENTRY_COST;
        if self.pending.capacity() > 2 * self.pending.len().max(8) {
            self.pending.shrink_to(self.pending.len().max(8));
        }
    }

    pub fn heap_bytes(&self) -> usize {
        self.pending.capacity() * size_of::<Pending>()
            + self
                .pending
                .iter()
                .map(|p| p.data.capacity())
                .sum::<usize>()
    }
}

/// The receiver's side of one stream: what arrived ahead of a gap, copied,
/// as sorted, disjoint chunks keyed by offset. Chunks that touch are merged
/// as they arrive, so the buffer holds at most one chunk per received byte
/// range (at most [`crate::frame::MAX_ACK_RANGES`]), whatever the number or
/// order of frames: 20 000 one-byte frames ahead of a gap are one chunk,
/// and frames in descending order each cost their own length (a chunk grows
/// at either end). Heap: at most twice the bytes held (growth by doubling)
/// plus one chunk header per range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ReorderBuffer {
    chunks: Vec<(u64, VecDeque<u8>)>,
    bytes: u64,
}

impl ReorderBuffer {
    /// What one chunk costs beyond its bytes.
    pub const CHUNK_HEADER: usize = size_of::<(u64, VecDeque<u8>)>();

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether a chunk starts at `offset`.
    pub fn starts_at(&self, offset: u64) -> bool {
        self.chunks.first().is_some_and(|c| c.0 == offset)
    }

    /// Copies `data` in at `at`; it overlaps nothing held (the receiver
    /// copies only bytes its ranges did not cover).
    pub fn insert(&mut self, at: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let end = at + data.len() as u64;
        let i = self.chunks.partition_point(|c| c.0 < at);
        let joins_prev = i > 0 && {
            let (start, bytes) = &self.chunks[i - 1];
            start + bytes.len() as u64 == at
        };
        let joins_next = self.chunks.get(i).is_some_and(|c| c.0 == end);
        let prepend = |chunk: &mut VecDeque<u8>, bytes: &[u8]| {
            chunk.reserve(bytes.len());
            bytes.iter().rev().for_each(|&b| chunk.push_front(b));
        };
        match (joins_prev, joins_next) {
            (false, false) => self.chunks.insert(i, (at, data.to_vec().into())),
            (true, false) => self.chunks[i - 1].1.extend(data),
            (false, true) => {
                let next = &mut self.chunks[i];
                prepend(&mut next.1, data);
                next.0 = at;
            }
            (true, true) => {
                // The gap between two chunks filled: the smaller one moves,
                // so each byte is copied O(log n) times at most.
                let (_, mut next) = self.chunks.remove(i);
                let prev = &mut self.chunks[i - 1].1;
                if prev.len() >= next.len() {
                    prev.extend(data);
                    prev.extend(next);
                } else {
                    prepend(&mut next, data);
                    let (a, b) = prev.as_slices();
                    prepend(&mut next, b);
                    prepend(&mut next, a);
                    *prev = next;
                }
            }
        }
        self.bytes += data.len() as u64;
    }

    /// Takes the chunk starting at `offset` (the delivery point), if one does:
    /// everything in order from there, since touching chunks are merged.
    pub fn take_at(&mut self, offset: u64) -> Option<Vec<u8>> {
        if !self.starts_at(offset) {
            return None;
        }
        let (_, chunk) = self.chunks.remove(0);
        self.bytes -= chunk.len() as u64;
        Some(chunk.into())
    }

    /// Heap bytes owned.
    pub fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * Self::CHUNK_HEADER
            + self.chunks.iter().map(|c| c.1.capacity()).sum::<usize>()
    }
}

/// Data a receiver on an unordered transport handed over in order, from
/// its reorder buffer ([`crate::Connection::read`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Offset of the first byte.
    pub seq: u64,
    /// The stream's end: the peer finished it here.
    pub fin: bool,
    /// The bytes, in order.
    pub data: Vec<u8>,
}

/// `ranges` (inclusive, sorted, disjoint) with `[start, end)` added
/// (merged), and how many of its bytes were new.
pub(crate) fn add_range(ranges: &[(u64, u64)], start: u64, end: u64) -> (Vec<(u64, u64)>, u64) {
    if start == end {
        return (ranges.to_vec(), 0);
    }
    let (mut lo, mut hi) = (start, end - 1);
    let mut covered = 0;
    let mut out = Vec::with_capacity(ranges.len() + 1);
    for &(a, b) in ranges {
        if b.saturating_add(1) < lo || hi.saturating_add(1) < a {
            out.push((a, b));
        } else {
            covered += b
                .min(end - 1)
                .saturating_add(1)
                .saturating_sub(a.max(start));
            lo = lo.min(a);
            hi = hi.max(b);
        }
    }
    out.push((lo, hi));
    out.sort_unstable();
    (out, (end - start) - covered)
}

/// The parts of `[start, end)` that `ranges` (inclusive, sorted, disjoint)
/// do not cover, as half-open intervals in order.
pub(crate) fn uncovered(ranges: &[(u64, u64)], start: u64, end: u64) -> Vec<(u64, u64)> {
    let mut parts = Vec::new();
    let mut at = start;
    for &(a, b) in ranges {
        if at >= end {
            break;
        }
        if b < at {
            continue;
        }
        if a > at {
            parts.push((at, a.min(end)));
        }
        at = at.max(b.saturating_add(1));
    }
    if at < end {
        parts.push((at, end));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_and_count_only_new_bytes() {
        let (r, new) = add_range(&[], 0, 3);
        assert_eq!((r.as_slice(), new), (&[(0, 2)][..], 3));
        let (r, new) = add_range(&r, 6, 9);
        assert_eq!((r.as_slice(), new), (&[(0, 2), (6, 8)][..], 3));
        // Adjacent on both sides: one range, three new bytes.
        let (r, new) = add_range(&r, 3, 6);
        assert_eq!((r.as_slice(), new), (&[(0, 8)][..], 3));
        // A repeat and a partial overlap.
        assert_eq!(add_range(&r, 2, 5).1, 0);
        let (r, new) = add_range(&r, 7, 12);
        assert_eq!((r.as_slice(), new), (&[(0, 11)][..], 3));
        // Spanning two ranges and the gap between.
        let (r, _) = add_range(&[(0, 1), (5, 6), (10, 11)], 1, 11);
        assert_eq!(r, [(0, 11)]);
        assert_eq!(add_range(&[(4, 5)], 7, 7), (vec![(4, 5)], 0));
    }

    #[test]
    fn the_reorder_buffer_merges_touching_chunks_from_either_side() {
        let mut b = ReorderBuffer::default();
        b.insert(10, b"klm");
        b.insert(15, b"p");
        b.insert(14, b"o"); // prepends to "p"
        b.insert(13, b"n"); // fills the gap: "op" moves onto "klm" + "n"
        assert_eq!(b.chunks.len(), 1);
        b.insert(3, b"d");
        b.insert(5, b"f");
        b.insert(6, b"ghij"); // appends to "f", then touches "klmnop"
        b.insert(4, b"e"); // the smaller chunk "d" moves onto "efghij…"
        assert_eq!(b.chunks.len(), 1);
        assert_eq!(b.bytes(), 13);
        assert!(!b.starts_at(0) && b.starts_at(3));
        assert_eq!(b.take_at(0), None);
        assert_eq!(b.take_at(3).unwrap(), b"defghijklmnop");
        assert_eq!((b.bytes(), b.chunks.len()), (0, 0));
    }

    #[test]
    fn uncovered_parts_are_the_new_bytes_in_order() {
        let ranges = [(2, 3), (6, 8)];
        assert_eq!(uncovered(&ranges, 0, 10), [(0, 2), (4, 6), (9, 10)]);
        assert_eq!(uncovered(&ranges, 2, 4), []);
        assert_eq!(uncovered(&ranges, 3, 7), [(4, 6)]);
        assert_eq!(uncovered(&[], 5, 9), [(5, 9)]);
        assert_eq!(uncovered(&ranges, 4, 4), []);
        // The new bytes of every case are what add_range counts.
        for (s, e) in [(0, 10), (3, 7), (1, 9), (8, 12)] {
            let n: u64 = uncovered(&ranges, s, e).iter().map(|(a, b)| b - a).sum();
            assert_eq!(n, add_range(&ranges, s, e).1, "[{s}, {e})");
        }
    }

    #[test]
    fn the_timeout_follows_rfc_6298_with_a_200_ms_floor_and_backs_off() {
        let t0 = Instant::now();
        let mut r = Retransmits::default();
        assert_eq!(r.rto(None), INITIAL_RTO);
        let path = Some(Duration::from_millis(90));
        assert_eq!(
            r.rto(path),
            Duration::from_millis(270),
            "3 × the path's RTT"
        );
        assert_eq!(r.rto(Some(Duration::from_millis(40))), MIN_RTO, "floored");
        r.push(2, 0, 0, b"abcd");
        r.stamp(t0);
        r.acknowledge(2, &[(0, 3)], t0 + Duration::from_millis(100));
        // First sample R = 100 ms: SRTT 100, RTTVAR 50, RTO 300 ms (the
        // path's estimate no longer counts).
        assert_eq!(r.rto(path), Duration::from_millis(300));
        assert_eq!((r.bytes(), r.pending.len()), (0, 0));
        r.push(2, 4, 0, b"efgh");
        r.stamp(t0);
        r.acknowledge(2, &[(0, 7)], t0 + Duration::from_millis(200));
        // R = 200: RTTVAR (3 × 50 + 100) / 4 = 62.5, SRTT 112.5.
        assert_eq!(r.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(r.rto(path), Duration::from_micros(112_500 + 4 * 62_500));
        let base = r.rto(path);
        r.timeouts = 2;
        assert_eq!(r.rto(path), base * 4);
        r.timeouts = 30;
        assert_eq!(r.rto(path), MAX_RTO);
    }

    #[test]
    fn acknowledgements_free_whole_records_and_retransmissions_give_no_sample() {
        let t0 = Instant::now();
        let mut r = Retransmits::default();
        r.push(2, 0, 0, b"abc");
        r.push(2, 3, 0, b"def");
        r.push(2, 6, crate::frame::FLAG_FIN, b"");
        r.push(4, 0, 0, b"xyz");
        r.stamp(t0);
        r.timeouts = 2;
        // A range covering part of a record frees nothing.
        r.acknowledge(2, &[(0, 4)], t0);
        assert_eq!(r.bytes(), 9 - 3);
        assert_eq!(r.timeouts, 0, "progress ends the back-off");
        r.pending[0].retransmitted = true;
        // The FIN's offset (6) named too: the empty FIN arrived.
        r.acknowledge(2, &[(0, 6)], t0 + Duration::from_secs(9));
        assert_eq!(
            r.srtt(),
            Some(Duration::ZERO),
            "only the first, unrepeated record sampled"
        );
        // The empty FIN at 6 went with them; stream 4 stays.
        assert_eq!(r.pending.len(), 1);
        assert_eq!(r.pending[0].stream_id, 4);
        r.forget_stream(4);
        assert_eq!((r.bytes(), r.pending.len()), (0, 0));
    }
}

//! One stream's state: offsets, flow-control windows and flags. Fixed-size
//! and heap-free, so a connection's streams cost `size_of::<Stream>()` each.
//!
//! Client-initiated stream IDs are even, server-initiated odd; 0 names the
//! connection in WindowUpdate and 0xFFFFFFFF is reserved. `seq` is the byte
//! offset of a payload's first byte and only grows.

use crate::error::Error;
use crate::frame::RESERVED_STREAM_ID;
use crate::handshake::Role;

/// Default per-stream flow-control window (256 KiB).
pub const DEFAULT_STREAM_WINDOW: u64 = 256 * 1024;
/// Windows saturate here (2^32 - 1).
pub const MAX_WINDOW: u64 = u32::MAX as u64;

/// State flags of a stream (as stored in a state token).
pub mod flags {
    /// The stream is open.
    pub const OPEN: u8 = 1 << 0;
    /// This side finished sending.
    pub const HALF_CLOSED_LOCAL: u8 = 1 << 1;
    /// The peer finished sending.
    pub const HALF_CLOSED_REMOTE: u8 = 1 << 2;
    /// A reset is waiting to be sent or acknowledged.
    pub const RESET_PENDING: u8 = 1 << 3;
    /// Every defined flag.
    pub const ALL: u8 = OPEN | HALF_CLOSED_LOCAL | HALF_CLOSED_REMOTE | RESET_PENDING;
}

/// The party that opens streams of this ID's parity.
pub fn initiator_of(stream_id: u32) -> Role {
    if stream_id.is_multiple_of(2) {
        Role::Client
    } else {
        Role::Server
    }
}

/// The transport under a connection, which decides its stream IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// TCP, WebSocket or a WebRTC DataChannel: EncryptedRecords (§3.3.13).
    /// Client streams are 2, 4, 6, …, server streams 1, 3, 5, …. Stream
    /// 0 is never a data stream: §3.3.1 lists it among the client's IDs,
    /// but §3.3.9 gives 0 to the connection in every WindowUpdate, so a
    /// stream 0 could never be granted credit.
    #[default]
    Records,
    /// A WebRTC DataChannel opened unordered and unreliable (§6.4.3):
    /// records, with stream IDs as [`Transport::Records`], that may arrive
    /// out of order, twice or never. zp opens them within a replay window,
    /// acknowledges the byte ranges each stream received with AckFrames,
    /// sends again what the peer did not acknowledge in time, and hands
    /// data over in order (§6.4.4, [`crate::reliability`]).
    Unordered,
    /// QUIC (§3.4): zp stream IDs are QUIC's bidirectional stream IDs.
    /// Stream 0 is the control stream (data on it is a protocol
    /// violation); data streams are 4, 8, 12, … (client) and 5, 9, 13, …
    /// (server).
    Quic,
}

impl Transport {
    /// The first data stream `role` opens.
    pub fn first_stream_id(self, role: Role) -> u32 {
        match (self, role) {
            (Transport::Records | Transport::Unordered, Role::Client) => 2,
            (Transport::Records | Transport::Unordered, Role::Server) => 1,
            (Transport::Quic, Role::Client) => 4,
            (Transport::Quic, Role::Server) => 5,
        }
    }

    /// The distance between one side's consecutive stream IDs.
    pub fn stream_id_step(self) -> u32 {
        match self {
            Transport::Records | Transport::Unordered => 2,
            Transport::Quic => 4,
        }
    }

    /// Whether `stream_id` can name a data stream on this transport.
    pub fn is_data_stream(self, stream_id: u32) -> bool {
        is_valid_stream_id(stream_id)
            && match self {
                Transport::Records | Transport::Unordered => true,
                Transport::Quic => stream_id >= 4 && stream_id % 4 <= 1,
            }
    }
}

/// A stream's weight when none is set (§3.3.8).
pub const DEFAULT_PRIORITY: u8 = 128;

/// A priority as used: 0 is clamped to 1 (§3.3.8 "Priority Zero Handling",
/// so that bandwidth shares never divide by zero).
pub fn clamp_priority(priority: u8) -> u8 {
    priority.max(1)
}

/// Whether `stream_id` can name a stream at all.
pub fn is_valid_stream_id(stream_id: u32) -> bool {
    stream_id != 0 && stream_id != RESERVED_STREAM_ID
}

/// One stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    pub(crate) id: u32,
    pub(crate) state_flags: u8,
    pub(crate) priority: u8,
    /// Offset of the next byte this side sends.
    pub(crate) send_offset: u64,
    /// Offset of the next byte expected from the peer.
    pub(crate) recv_offset: u64,
    /// Highest offset the peer acknowledged.
    pub(crate) last_acked: u64,
    /// Highest offset this side may send up to (peer's credit).
    pub(crate) send_limit: u64,
    /// Highest offset the peer may send up to (our credit).
    pub(crate) recv_limit: u64,
    /// Recency tick for LRU eviction.
    pub(crate) last_used: u64,
}

impl Stream {
    /// A newly opened stream with the default windows.
    pub fn new(id: u32) -> Self {
        Stream {
            id,
            state_flags: flags::OPEN,
            priority: DEFAULT_PRIORITY,
            send_offset: 0,
            recv_offset: 0,
            last_acked: 0,
            send_limit: DEFAULT_STREAM_WINDOW,
            recv_limit: DEFAULT_STREAM_WINDOW,
            last_used: 0,
        }
    }

    /// The stream ID.
    pub fn id(&self) -> u32 {
        self.id
    }
    /// The state flags (see [`flags`]).
    pub fn state_flags(&self) -> u8 {
        self.state_flags
    }
    /// Bytes sent so far: §3.3.1's `global_seq`, the stream's own
    /// monotonic byte counter (the `seq` of its next DataFrame, §3.3.10),
    /// which Sync frames and the state token carry.
    pub fn send_offset(&self) -> u64 {
        self.send_offset
    }
    /// Bytes received so far.
    pub fn recv_offset(&self) -> u64 {
        self.recv_offset
    }
    /// The stream's weight, 1 to 255 (§3.3.8).
    pub fn priority(&self) -> u8 {
        self.priority
    }
    /// Highest offset the peer acknowledged.
    pub fn last_acked(&self) -> u64 {
        self.last_acked
    }
    /// Credit left to send.
    pub fn send_window(&self) -> u64 {
        self.send_limit.saturating_sub(self.send_offset)
    }
    /// Credit left to the peer.
    pub fn recv_window(&self) -> u64 {
        self.recv_limit.saturating_sub(self.recv_offset)
    }

    /// Reserves `len` bytes to send; returns the payload's `seq`.
    pub(crate) fn reserve_send(&mut self, len: usize, fin: bool) -> Result<u64, Error> {
        if self.state_flags & flags::HALF_CLOSED_LOCAL != 0 || self.state_flags & flags::OPEN == 0 {
            return Err(Error::StreamClosed(self.id));
        }
        let end = self
            .send_offset
            .checked_add(len as u64)
            .ok_or(Error::FlowControl)?;
        if end > self.send_limit {
            return Err(Error::FlowControl);
        }
        let seq = self.send_offset;
        self.send_offset = end;
        if fin {
            self.state_flags |= flags::HALF_CLOSED_LOCAL;
        }
        Ok(seq)
    }

    /// Accepts a DataFrame's range: `seq` may skip ahead but never go back,
    /// and the data must fit in the credit this side granted.
    pub(crate) fn accept_data(
        &mut self,
        seq: u64,
        len: usize,
        frame_flags: u8,
    ) -> Result<(), Error> {
        use crate::frame::{FLAG_FIN, FLAG_RST};
        // After the peer's FIN only its RST may follow, empty, at the FIN's
        // offset, while this side still sends: `Connection::reset` lets a
        // side reset a stream it finished (refused before, found in review).
        let reset_after_fin = frame_flags & FLAG_RST != 0
            && len == 0
            && seq == self.recv_offset
            && self.state_flags & flags::OPEN != 0;
        if self.state_flags & flags::HALF_CLOSED_REMOTE != 0 && !reset_after_fin {
            return Err(Error::StreamClosed(self.id));
        }
        if seq < self.recv_offset {
            return Err(Error::SequenceRegression);
        }
        let end = seq.checked_add(len as u64).ok_or(Error::FlowControl)?;
        if end > self.recv_limit {
            return Err(Error::FlowControl);
        }
        self.recv_offset = end;
        if frame_flags & FLAG_FIN != 0 {
            self.state_flags |= flags::HALF_CLOSED_REMOTE;
        }
        if frame_flags & FLAG_RST != 0 {
            self.state_flags = (self.state_flags & !flags::OPEN) | flags::HALF_CLOSED_REMOTE;
        }
        Ok(())
    }

    /// More credit from the peer; the window saturates at 2^32 - 1.
    pub(crate) fn grant_send(&mut self, increment: u64) {
        self.send_limit = (self.send_limit.saturating_add(increment))
            .min(self.send_offset.saturating_add(MAX_WINDOW));
    }

    /// More credit for the peer; returns the increment actually granted.
    pub(crate) fn grant_recv(&mut self, increment: u64) -> u64 {
        let before = self.recv_limit;
        self.recv_limit = (self.recv_limit.saturating_add(increment))
            .min(self.recv_offset.saturating_add(MAX_WINDOW));
        self.recv_limit - before
    }

    /// The peer acknowledged up to `offset`.
    /// Byte ranges the peer received (inclusive, as an AckFrame carries
    /// them): what is acknowledged grows through the range that reaches
    /// it, so a gap holds it back.
    pub(crate) fn acknowledge_ranges(&mut self, ranges: &[(u64, u64)]) {
        let mut sorted = ranges.to_vec();
        sorted.sort_unstable();
        for (start, end) in sorted {
            if start <= self.last_acked {
                self.acknowledge(end.saturating_add(1));
            }
        }
    }

    pub(crate) fn acknowledge(&mut self, offset: u64) {
        self.last_acked = self.last_acked.max(offset.min(self.send_offset));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parity_and_reserved_ids() {
        assert_eq!(initiator_of(4), Role::Client);
        assert_eq!(initiator_of(5), Role::Server);
        assert!(!is_valid_stream_id(0));
        assert!(!is_valid_stream_id(RESERVED_STREAM_ID));
    }

    #[test]
    fn sequence_only_grows_and_windows_hold() {
        let mut s = Stream::new(2);
        s.accept_data(0, 10, 0).unwrap();
        assert_eq!(s.accept_data(5, 1, 0), Err(Error::SequenceRegression));
        assert_eq!(
            s.accept_data(10, DEFAULT_STREAM_WINDOW as usize, 0),
            Err(Error::FlowControl)
        );
        assert_eq!(
            s.reserve_send(DEFAULT_STREAM_WINDOW as usize + 1, false),
            Err(Error::FlowControl)
        );
        assert_eq!(s.reserve_send(3, true).unwrap(), 0);
        assert_eq!(s.reserve_send(1, false), Err(Error::StreamClosed(2)));
    }

    #[test]
    fn windows_saturate_at_u32_max() {
        let mut s = Stream::new(2);
        s.grant_send(u64::MAX);
        assert_eq!(s.send_window(), MAX_WINDOW);
        assert_eq!(s.grant_recv(u64::MAX), MAX_WINDOW - DEFAULT_STREAM_WINDOW);
        assert_eq!(s.recv_window(), MAX_WINDOW);
    }
}

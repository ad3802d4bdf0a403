//! Migration frames (spec §3.3.5, §3.3.6): Sync and SyncAck, both under
//! the magic "ZPMI". Each type's reader sits next to its encoder, with its
//! magic and type byte.
//!
//! A Sync's integrity values are carried as read, not checked by the
//! parser: a bad one marks that stream MISMATCH in the answer (§3.3.5),
//! it does not refuse the frame.

use super::{magic, prefix};
use crate::codec::{Put, Reader};
use crate::crypto::xxh64;
use crate::error::Error;

/// Sync flag: process with priority.
pub const SYNC_URGENT: u8 = 0b01;
/// Sync flag: no more migrations expected.
pub const SYNC_FINAL: u8 = 0b10;
/// Bytes per stream entry of a Sync.
pub const SYNC_ENTRY_LEN: usize = 28;
/// Bytes per stream entry of a SyncAck.
pub const SYNC_ACK_ENTRY_LEN: usize = 21;

/// One stream's state in a Sync frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncStream {
    /// The stream.
    pub stream_id: u32,
    /// Bytes sent on the stream.
    pub global_seq: u64,
    /// Highest offset the peer acknowledged.
    pub last_acked: u64,
    /// `XXH64` of the three fields above as on the wire, as carried.
    pub integrity: u64,
}

impl SyncStream {
    /// An entry with its integrity value computed.
    pub fn new(stream_id: u32, global_seq: u64, last_acked: u64) -> Self {
        let mut s = SyncStream {
            stream_id,
            global_seq,
            last_acked,
            integrity: 0,
        };
        s.integrity = s.expected_integrity();
        s
    }

    /// `XXH64(seed 0)` of `stream_id || global_seq || last_acked`, all LE
    /// (20 bytes, §3.3.5).
    pub fn expected_integrity(&self) -> u64 {
        let mut buf = [0u8; 20];
        buf[..4].copy_from_slice(&self.stream_id.to_le_bytes());
        buf[4..12].copy_from_slice(&self.global_seq.to_le_bytes());
        buf[12..].copy_from_slice(&self.last_acked.to_le_bytes());
        xxh64(&buf, 0)
    }

    /// Whether the carried integrity value matches the fields.
    pub fn integrity_ok(&self) -> bool {
        self.integrity == self.expected_integrity()
    }
}

/// Sync (0x01): stream positions after a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sync {
    /// The session being migrated.
    pub session_id: [u8; 16],
    /// [`SYNC_URGENT`], [`SYNC_FINAL`]; bits 2–7 are reserved.
    pub flags: u8,
    /// The streams, at most 65 535 (the count is a u16).
    pub streams: Vec<SyncStream>,
}

impl Sync {
    /// "ZPMI".
    pub const MAGIC: u32 = magic::SYNC;
    /// The type byte.
    pub const TYPE: u8 = 0x01;

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let session_id = r.array()?;
        let count = usize::from(r.u16()?);
        let flags = r.u8()?;
        if flags & !(SYNC_URGENT | SYNC_FINAL) != 0 {
            return Err(Error::ReservedNonZero);
        }
        // The count is checked against what arrived before allocating.
        if r.remaining() < count * SYNC_ENTRY_LEN {
            return Err(Error::Truncated);
        }
        let mut streams = Vec::with_capacity(count);
        for _ in 0..count {
            streams.push(SyncStream {
                stream_id: r.u32()?,
                global_seq: r.u64()?,
                last_acked: r.u64()?,
                integrity: r.u64()?,
            });
        }
        Ok(Sync {
            session_id,
            flags,
            streams,
        })
    }

    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        debug_assert!(self.streams.len() <= usize::from(u16::MAX));
        prefix(out, Self::MAGIC, Self::TYPE);
        out.put(&self.session_id);
        out.put_u16(self.streams.len() as u16);
        out.put_u8(self.flags);
        for s in &self.streams {
            out.put_u32(s.stream_id);
            out.put_u64(s.global_seq);
            out.put_u64(s.last_acked);
            out.put_u64(s.integrity);
        }
    }
}

/// A SyncAck's frame-level status (§3.3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStatus {
    /// Every stream synchronized.
    Ok = 0,
    /// Some streams are UNKNOWN or MISMATCH.
    Partial = 1,
    /// No such session, or a version or state mismatch: abort the migration.
    Reject = 2,
}

/// One stream's status in a SyncAck (§3.3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamSyncStatus {
    /// Resume from the indicated offsets.
    Ok = 0,
    /// The receiver has no such stream: treat it as new.
    Unknown = 1,
    /// Inconsistent offsets or integrity: discard, reset, resend from zero.
    Mismatch = 2,
}

/// One stream's answer in a SyncAck frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncAckStream {
    /// The stream.
    pub stream_id: u32,
    /// Per-stream status.
    pub status: StreamSyncStatus,
    /// Last byte offset the receiver acknowledged.
    pub receiver_last_acked: u64,
    /// Next offset the receiver expects: the sender resumes from here.
    pub receiver_seq: u64,
}

/// SyncAck (0x02). Invariant (§3.3.6): status OK only when every stream
/// is OK; the parser refuses a frame that breaks it and
/// [`SyncAck::answer`] cannot build one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncAck {
    /// Overall status.
    pub status: SyncStatus,
    /// The streams, at most 65 535.
    pub streams: Vec<SyncAckStream>,
}

impl SyncAck {
    /// "ZPMI", shared with Sync.
    pub const MAGIC: u32 = magic::SYNC;
    /// The type byte.
    pub const TYPE: u8 = 0x02;

    /// The answer for these streams: OK if all are, else PARTIAL.
    pub fn answer(streams: Vec<SyncAckStream>) -> Self {
        let all_ok = streams.iter().all(|s| s.status == StreamSyncStatus::Ok);
        SyncAck {
            status: if all_ok {
                SyncStatus::Ok
            } else {
                SyncStatus::Partial
            },
            streams,
        }
    }

    /// A REJECT with no streams.
    pub fn reject() -> Self {
        SyncAck {
            status: SyncStatus::Reject,
            streams: Vec::new(),
        }
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let count = usize::from(r.u16()?);
        let status = match r.u8()? {
            0 => SyncStatus::Ok,
            1 => SyncStatus::Partial,
            2 => SyncStatus::Reject,
            _ => return Err(Error::InvalidValue("sync status")),
        };
        if r.remaining() < count * SYNC_ACK_ENTRY_LEN {
            return Err(Error::Truncated);
        }
        let mut streams = Vec::with_capacity(count);
        for _ in 0..count {
            let stream_id = r.u32()?;
            let status = match r.u8()? {
                0 => StreamSyncStatus::Ok,
                1 => StreamSyncStatus::Unknown,
                2 => StreamSyncStatus::Mismatch,
                _ => return Err(Error::InvalidValue("stream sync status")),
            };
            streams.push(SyncAckStream {
                stream_id,
                status,
                receiver_last_acked: r.u64()?,
                receiver_seq: r.u64()?,
            });
        }
        if status == SyncStatus::Ok && streams.iter().any(|s| s.status != StreamSyncStatus::Ok) {
            return Err(Error::InvalidValue("sync status OK with a stream not OK"));
        }
        Ok(SyncAck { status, streams })
    }

    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        debug_assert!(self.streams.len() <= usize::from(u16::MAX));
        prefix(out, Self::MAGIC, Self::TYPE);
        out.put_u16(self.streams.len() as u16);
        out.put_u8(self.status as u8);
        for s in &self.streams {
            out.put_u32(s.stream_id);
            out.put_u8(s.status as u8);
            out.put_u64(s.receiver_last_acked);
            out.put_u64(s.receiver_seq);
        }
    }
}

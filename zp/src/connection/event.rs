//! What a received record meant ([`Event`]) and what opening a stream
//! returns ([`Opened`]).

use super::*;

/// What a received record meant.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// Stream data, borrowed from the record buffer.
    Data {
        /// The stream.
        stream_id: u32,
        /// Offset of the payload's first byte.
        seq: u64,
        /// The peer finished the stream.
        fin: bool,
        /// The payload.
        payload: &'a [u8],
    },
    /// The peer announced a key update; the acknowledgement was appended to
    /// the output.
    KeyUpdated {
        /// The new epoch.
        epoch: u32,
    },
    /// The peer acknowledged this side's key update.
    KeyUpdateAcknowledged {
        /// The acknowledged epoch.
        epoch: u32,
    },
    /// The peer granted more credit.
    WindowUpdated {
        /// The stream, or 0 for the connection.
        stream_id: u32,
    },
    /// The peer acknowledged data.
    Acked {
        /// The stream.
        stream_id: u32,
    },
    /// The peer reported an error.
    PeerError(ErrorCode),
    /// The peer sent a Sync for this session; the SyncAck was appended to
    /// the output, and every stream answered MISMATCH was reset to zero.
    Synced {
        /// The answer's status (OK or PARTIAL).
        status: SyncStatus,
    },
    /// A Sync beyond §8.1's [`SYNCS_PER_MINUTE`]: ignored, not answered.
    /// The peer sends it again after its Sync timeout (or its migration
    /// fails); a caller that wants to say why may send an ErrorFrame
    /// `ERR_RATE_LIMITED`.
    SyncRateLimited,
    /// A multiplexed DataFrame (§3.3.7, stream ID 0xFFFFFFFF): its chunks,
    /// each already applied to its stream, in order. A chunk for a stream
    /// this side reset (or released) was ignored: skip it.
    Multiplexed {
        /// The chunks, borrowed from the record buffer.
        chunks: StreamChunks<'a>,
    },
    /// The peer answered this side's Sync with OK or PARTIAL; streams it
    /// reported MISMATCH were reset to zero (resend from the start), and
    /// UNKNOWN ones are new to the peer. On an ordered transport, an OK
    /// stream whose `receiver_seq` is below what this side sent lost those
    /// bytes with the old path: its send offset went back to
    /// `receiver_seq`; send them again from there (§3.3.6).
    SyncAcked(SyncAck),
    /// The peer reset a stream (§3.3.11 RST): it is closed at once, what
    /// was buffered for it should be discarded, and it lingers for
    /// [`STREAM_LINGER`] before its state is released.
    Reset {
        /// The stream.
        stream_id: u32,
        /// The offset the peer had reached (the RST frame's `seq`).
        seq: u64,
    },
    /// A DataFrame for a stream that was reset and still lingers: data in
    /// flight when the reset crossed it, ignored as §3.3.11 says (it still
    /// counts against the connection's flow-control window); or, on an
    /// unordered transport, data that had already arrived.
    Ignored {
        /// The stream.
        stream_id: u32,
    },
    /// Unordered transports (§6.4.4): data that arrived ahead of a gap was
    /// copied into the stream's reorder buffer; nothing can be handed over
    /// yet.
    Buffered {
        /// The stream.
        stream_id: u32,
    },
    /// Unordered transports: this record filled the gap at the stream's
    /// delivery point; the bytes from there on are in order now. Call
    /// [`Connection::read`] until it returns `None`.
    Readable {
        /// The stream.
        stream_id: u32,
    },
}

/// Result of opening a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// The new stream's ID.
    pub stream_id: u32,
}

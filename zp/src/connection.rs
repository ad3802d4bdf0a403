//! An established connection: the session's records, its streams (up to
//! [`Limits::max_streams`] at once), connection-level flow control,
//! migration (Sync and SyncAck), and the path facts a state token saves.
//! Sans-IO: records in, records out, and time as an input (`now` on
//! receive, [`Connection::poll_timeout`] and
//! [`Connection::handle_timeout`]); nothing here reads a clock.
//!
//! A frame that is refused changes nothing: every check runs before any
//! state moves. Streams either side opens beyond the limit are refused
//! ([`Error::StreamLimit`], `ERR_STREAM_LIMIT`); no stream is ever evicted
//! from a live connection (only a state token holds at most 12, see
//! [`crate::token::TokenOverflow`]).

use crate::error::{Error, ErrorCode};
use crate::frame::MULTIPLEXED;
use crate::frame::{
    AckFrame, DataFrame, ErrorFrame, FLAG_FIN, FLAG_RST, Frame, KeyDirection, MAX_ACK_RANGES,
    STREAM_CHUNK_OVERHEAD, StreamChunk, StreamChunks, StreamSyncStatus, Sync, SyncAck,
    SyncAckStream, SyncStatus, SyncStream, WindowUpdate, parse_frame,
};
use crate::handshake::{Role, SessionKeys};
use crate::reliability::{Delivery, ReorderBuffer, Retransmits, add_range, uncovered};
use crate::session::Session;
use crate::stream::{self, DEFAULT_STREAM_WINDOW, Stream, Transport};
use std::time::{Duration, Instant};

/// Default connection-level flow-control window (1 MiB).
pub const DEFAULT_CONNECTION_WINDOW: u64 = 1024 * 1024;
/// How long sending may stay blocked by flow control before the
/// connection fails with `ERR_FLOW_STALL` (`ZP_FLOW_TIMEOUT`, §3.3.9).
pub const FLOW_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Default most streams open at once on a live connection.
pub const DEFAULT_MAX_STREAMS: usize = 256;
/// How long a receiver on an unordered transport waits before it
/// acknowledges a single DataFrame (§6.4.4: after every 2 packets or 50 ms).
pub const ACK_DELAY: Duration = Duration::from_millis(50);

/// How long a Sync waits for its SyncAck before it is sent again
/// (`ZP_SYNC_TIMEOUT`, §3.3.3); each retry waits twice as long, up to
/// [`SYNC_TIMEOUT_MAX`].
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest wait for a SyncAck (§3.3.3's back-off: 2 s → 4 s → 8 s).
pub const SYNC_TIMEOUT_MAX: Duration = Duration::from_secs(8);
/// Most times a Sync is sent again before the migration fails (§3.3.3,
/// RETRY "max 3").
pub const SYNC_RETRIES: u8 = 3;
/// §8.1: "Sync-Frames per connection: 5/min". Syncs beyond it in any
/// 60-second window are ignored ([`Event::SyncRateLimited`]).
pub const SYNCS_PER_MINUTE: usize = 5;

/// Where a transport migration stands (§3.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Migration {
    /// No migration under way.
    #[default]
    Active,
    /// Degradation was detected (§3.3.2): the caller is connecting the new
    /// transport ([`Connection::begin_migration`]).
    Migrating,
    /// The Sync went out on the new transport ([`Connection::migrate`]);
    /// `retries` times it was sent again. A SyncAck (OK or PARTIAL) makes
    /// the connection [`Migration::Active`] again.
    SyncSent {
        /// Retries so far (at most [`SYNC_RETRIES`]).
        retries: u8,
    },
    /// No SyncAck came after the last retry ([`Error::MigrationFailed`],
    /// `ERR_MIGRATION_FAILED`): close the connection.
    Failed,
}

/// Most times a KeyUpdate is sent again before the key update fails
/// (§4.6.4: "after 3 retries, abort connection with ERR_REKEY_FAILED").
pub const KEY_UPDATE_RETRIES: u8 = 3;

/// This side's KeyUpdate, until its Ack arrives (§4.6.4 "Lost KeyUpdate").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyUpdateInFlight {
    frame: crate::frame::KeyUpdate,
    /// When it was (last) sent: the first time input after.
    sent_at: Option<Instant>,
    retries: u8,
}

/// How long a closed stream is kept before its state is released
/// (`ZP_STREAM_LINGER`, §3.3.11): frames still in flight for it are
/// recognised (and, after a reset, ignored) until then.
pub const STREAM_LINGER: Duration = Duration::from_secs(30);
/// Default data volume sent under one key before this side rotates it
/// (`ZP_REKEY_INTERVAL_BYTES`, §4.6.1: "1GB", read as 2^30 bytes).
pub const DEFAULT_REKEY_BYTES: u64 = 1 << 30;
/// Default time one sending key is used before this side rotates it
/// (`ZP_REKEY_INTERVAL_SECS`, §4.6.1).
pub const DEFAULT_REKEY_INTERVAL: Duration = Duration::from_secs(3600);

/// A connection's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most streams open at once per initiator (default 256): this side
    /// opens at most this many, and so may the peer; one side's streams
    /// never use up the other's. Opening one more is refused with
    /// [`Error::StreamLimit`].
    pub max_streams: usize,
    /// Whether this side rotates its sending key on its own
    /// (`ZP_REKEY_ENABLED`, default true).
    pub rekey_enabled: bool,
    /// Stream bytes sent under one key before it is rotated.
    pub rekey_bytes: u64,
    /// How long one sending key is used before it is rotated.
    pub rekey_interval: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_streams: DEFAULT_MAX_STREAMS,
            rekey_enabled: true,
            rekey_bytes: DEFAULT_REKEY_BYTES,
            rekey_interval: DEFAULT_REKEY_INTERVAL,
        }
    }
}

/// Path facts kept for migration and resumption (the token's connection
/// context).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PathInfo {
    /// Connection ID.
    pub connection_id: [u8; 20],
    /// Peer address: 16 bytes of IPv6 (or IPv4-mapped) address, then the port (LE).
    pub peer_address: [u8; 18],
    /// Smoothed RTT in microseconds.
    pub rtt_estimate: u32,
    /// Congestion window in bytes.
    pub congestion_window: u32,
    /// [`crate::token::ip_hash`] of the address this side is on: a
    /// token opener with `ZP_TOKEN_BIND_IP` on resumes the token only from
    /// that address ([`crate::token::TokenOpener::bind_ip`]).
    pub bind_ip_hash: u32,
}

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

/// An established zp connection.
#[derive(Debug)]
pub struct Connection {
    session: Session,
    limits: Limits,
    streams: Vec<Stream>,
    next_stream_id: u32,
    transport: Transport,
    tick: u64,
    conn_sent: u64,
    conn_send_limit: u64,
    conn_received: u64,
    conn_recv_limit: u64,
    /// A send was refused for want of credit since the last WindowUpdate.
    blocked: bool,
    /// When the stall clock started (the first time input while blocked).
    blocked_since: Option<Instant>,
    /// Stream bytes sent since this side's last rotation (or the start).
    sent_under_key: u64,
    /// When the current sending key was first seen in use: the first time
    /// input after it was installed (zp reads no clock).
    key_since: Option<Instant>,
    /// A rotation trigger fired; the KeyUpdate goes out after the next
    /// record this side sends.
    rekey_due: bool,
    /// This side's KeyUpdate awaiting its Ack, sent again after 2 × RTT.
    key_update: Option<KeyUpdateInFlight>,
    /// Stream data (or a FIN) went out since this side's last Sync: only
    /// then can the old path have lost some, and only then does this side
    /// sync back when the peer's Sync arrives (else two Syncs answering
    /// each other would never end).
    sent_since_sync: bool,
    /// §3.4: on QUIC, whether the client opened stream 0 with its
    /// connection-level WindowUpdate; until then neither side sends a
    /// control frame (true on every other transport, and once resumed).
    control_open: bool,
    /// What only closed streams and unordered transports need, allocated
    /// the first time one does (a connection that never closes a stream
    /// pays one pointer for it).
    extras: Option<Box<Extras>>,
    path: PathInfo,
}

/// What a resumed connection needs beyond its session and kept streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Continuity {
    pub transport: Transport,
    /// The next ID this side opens (0: none saved).
    pub next_stream_id: u32,
    /// The highest ID the peer opened (0: none).
    pub highest_peer_stream: u32,
}

/// Per-stream state beyond [`Stream`], kept out of line.
#[derive(Debug, Default)]
struct Extras {
    /// Closed streams waiting out [`STREAM_LINGER`], with when their
    /// clock started (the first time input after the close); `reset` for
    /// a reset (in-flight data for it is ignored, not refused).
    lingering: Vec<Linger>,
    /// Per stream, what arrived (unordered transports only).
    received: Vec<Received>,
    /// Bytes held in the streams' reorder buffers (`Received::buffer`).
    buffered: u64,
    /// What was sent and not yet acknowledged (unordered transports only).
    sent: Retransmits,
    /// The stream IDs released after their linger, per initiator (client,
    /// server): a late frame for one is ignored and never opens it again
    /// (§3.3.1: IDs are never reused).
    released: [Released; 2],
    /// The migration (§3.3.3), the flags its Sync carries, and when the
    /// Sync was last sent (the first time input after).
    migration: Migration,
    sync_flags: u8,
    sync_sent_at: Option<Instant>,
    /// When the peer's last [`SYNCS_PER_MINUTE`] Syncs were taken (§8.1).
    syncs_taken: [Option<Instant>; SYNCS_PER_MINUTE],
}

/// What a receiver on an unordered transport tracks of one stream (§6.4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Received {
    stream_id: u32,
    /// Inclusive byte ranges received: sorted, disjoint, not adjacent.
    ranges: Vec<(u64, u64)>,
    /// The offset the FIN closes the stream at, once it arrived.
    fin_at: Option<u64>,
    /// DataFrames since the last AckFrame.
    unacked: u8,
    /// When the AckFrame for them is due.
    ack_at: Option<Instant>,
    /// Bytes handed over in order (by [`Event::Data`] or
    /// [`Connection::read`]); flow-control credit follows this offset.
    delivered: u64,
    /// What arrived beyond a gap, copied: all at or past `delivered`.
    buffer: ReorderBuffer,
    /// The FIN was handed over.
    fin_read: bool,
}

impl Received {
    /// What an AckFrame of this stream names: the byte ranges received,
    /// and once the FIN arrived, its offset too (one past the last byte,
    /// which no data range can name), so that an empty FIN is acknowledged
    /// only once it arrived. It was taken as acknowledged with the bytes
    /// before it, and a lost empty FIN was never sent again (found by the
    /// network fuzzer). Past [`MAX_ACK_RANGES`] the offset is left out.
    fn ack_ranges(&self) -> Vec<(u64, u64)> {
        match self.fin_at {
            Some(f) => {
                let (with_fin, _) = add_range(&self.ranges, f, f + 1);
                if with_fin.len() <= MAX_ACK_RANGES {
                    with_fin
                } else {
                    self.ranges.clone()
                }
            }
            None => self.ranges.clone(),
        }
    }

    /// Bytes its reorder buffer holds.
    fn buffered_bytes(&self) -> u64 {
        self.buffer.bytes()
    }
}

/// The stream IDs of one initiator that were released: every ID up to
/// `floor`, and those in `above`. Released in order, IDs move into the
/// floor and `above` stays short; it holds at most [`RELEASED_ABOVE_MAX`]
/// IDs, past which the floor rises to the lowest of them (an ID below it
/// that never arrived is then taken as released too). A high-water mark
/// alone took an ID whose every frame was lost so far for a released one,
/// and its data was ignored for good (found by the network fuzzer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Released {
    floor: u32,
    above: Vec<u32>,
}

/// The index of `initiator`'s IDs in [`Extras::released`] (client, server).
fn released_slot(initiator: Role) -> usize {
    match initiator {
        Role::Client => 0,
        Role::Server => 1,
    }
}

/// Most released stream IDs kept above the floor, per initiator.
const RELEASED_ABOVE_MAX: usize = 1024;

impl Released {
    fn contains(&self, id: u32) -> bool {
        id <= self.floor || self.above.binary_search(&id).is_ok()
    }

    fn highest(&self) -> u32 {
        self.above.last().copied().unwrap_or(0).max(self.floor)
    }

    /// Releases `id`; `next(floor)` is the ID after `floor` (the first one
    /// for a floor of 0).
    fn release(&mut self, id: u32, next: impl Fn(u32) -> u32) {
        if self.contains(id) {
            return;
        }
        let at = self.above.partition_point(|&x| x < id);
        self.above.insert(at, id);
        while self.above.first() == Some(&next(self.floor)) {
            self.floor = self.above.remove(0);
        }
        if self.above.len() > RELEASED_ABOVE_MAX {
            self.floor = self.above.remove(0);
        }
    }
}

/// A closed stream's linger (§3.3.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Linger {
    stream_id: u32,
    since: Option<Instant>,
    reset: bool,
}

impl Connection {
    /// The connection a handshake established.
    pub fn new(keys: SessionKeys, path: PathInfo) -> Self {
        Self::from_parts(Session::new(keys), Vec::new(), path, Continuity::default())
    }

    /// A connection from saved parts (a state token's). Stream IDs go on
    /// past every ID either side used, including streams the token did not
    /// keep (§3.3.1: never reused within a session): frames for those are
    /// ignored as for a released stream.
    pub(crate) fn from_parts(
        mut session: Session,
        streams: Vec<Stream>,
        path: PathInfo,
        saved: Continuity,
    ) -> Self {
        let role = session.role();
        let transport = saved.transport;
        let step = transport.stream_id_step();
        let mine = |id: u32| stream::initiator_of(id) == role;
        let highest_mine = streams.iter().map(Stream::id).filter(|&id| mine(id)).max();
        let next_stream_id = highest_mine
            .map_or(transport.first_stream_id(role), |id| {
                id.saturating_add(step)
            })
            .max(saved.next_stream_id);
        let highest_peer = streams
            .iter()
            .map(Stream::id)
            .filter(|&id| !mine(id))
            .max()
            .unwrap_or(0)
            .max(saved.highest_peer_stream);
        session.set_reordering(transport == Transport::Unordered);
        let tick = streams.iter().map(|s| s.last_used).max().unwrap_or(0);
        let mut streams = streams;
        streams.reserve_exact(1);
        // IDs below these that no stream holds were released (or dropped
        // by the token): late frames for them must not open them again.
        let released = {
            let own = next_stream_id.saturating_sub(step);
            let (client, server) = match role {
                Role::Client => (own, highest_peer),
                Role::Server => (highest_peer, own),
            };
            [client, server]
        };
        let first = |r| transport.first_stream_id(r);
        let extras = (released[0] >= first(Role::Client) || released[1] >= first(Role::Server))
            .then(|| {
                Box::new(Extras {
                    released: released.map(|floor| Released {
                        floor,
                        above: Vec::new(),
                    }),
                    ..Extras::default()
                })
            });
        Connection {
            session,
            limits: Limits::default(),
            streams,
            next_stream_id,
            transport,
            tick,
            conn_sent: 0,
            conn_send_limit: DEFAULT_CONNECTION_WINDOW,
            conn_received: 0,
            conn_recv_limit: DEFAULT_CONNECTION_WINDOW,
            blocked: false,
            blocked_since: None,
            sent_under_key: 0,
            key_since: None,
            rekey_due: false,
            key_update: None,
            sent_since_sync: false,
            control_open: true,
            extras,
            path,
        }
    }

    /// What a state token saves beyond the streams it keeps: the
    /// transport, and where stream IDs stand.
    pub(crate) fn continuity(&self) -> Continuity {
        let role = self.session.role();
        let peer = released_slot(match role {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        });
        let highest_peer_stream = self
            .streams
            .iter()
            .map(Stream::id)
            .filter(|&id| stream::initiator_of(id) != role)
            .max()
            .unwrap_or(0)
            .max(
                self.extras
                    .as_ref()
                    .map_or(0, |e| e.released[peer].highest()),
            );
        Continuity {
            transport: self.transport,
            next_stream_id: self.next_stream_id,
            highest_peer_stream,
        }
    }

    /// Sets the transport the connection runs on (default
    /// [`Transport::Records`]), which decides its stream IDs (§3.3.1,
    /// §3.4). Only before any stream is open.
    pub fn set_transport(&mut self, transport: Transport) -> Result<(), Error> {
        if !self.streams.is_empty() {
            return Err(Error::InvalidValue(
                "transport set after streams were opened",
            ));
        }
        // §3.4: the client opens QUIC stream 0 with a connection-level
        // WindowUpdate that advertises its receive window; the server's
        // connection credit starts from that WindowUpdate.
        let (was, quic) = (
            self.transport == Transport::Quic,
            transport == Transport::Quic,
        );
        if was != quic {
            self.control_open = !quic;
            if self.session.role() == Role::Server {
                self.conn_send_limit = if quic { 0 } else { DEFAULT_CONNECTION_WINDOW };
            }
        }
        self.transport = transport;
        self.next_stream_id = transport.first_stream_id(self.session.role());
        self.session
            .set_reordering(transport == Transport::Unordered);
        Ok(())
    }

    /// The transport the connection runs on.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Sets the connection's limits. Streams already open stay open even
    /// past a lower `max_streams`; new ones are refused until below it.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The connection's limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The session (keys, epochs).
    pub fn session(&self) -> &Session {
        &self.session
    }
    /// The path facts.
    pub fn path(&self) -> &PathInfo {
        &self.path
    }
    /// The open streams, in no particular order.
    pub fn streams(&self) -> &[Stream] {
        &self.streams
    }
    /// A stream by ID.
    pub fn stream(&self, id: u32) -> Option<&Stream> {
        self.streams.iter().find(|s| s.id == id)
    }

    /// `size_of::<Connection>()` plus every heap byte it owns.
    pub fn memory_footprint(&self) -> usize {
        size_of::<Self>()
            + self.streams.capacity() * size_of::<Stream>()
            + self.extras.as_ref().map_or(0, |e| {
                size_of::<Extras>()
                    + e.lingering.capacity() * size_of::<Linger>()
                    + e.received.capacity() * size_of::<Received>()
                    + e.received
                        .iter()
                        .map(|r| r.ranges.capacity() * 16 + r.buffer.heap_bytes())
                        .sum::<usize>()
                    + e.sent.heap_bytes()
                    + e.released
                        .iter()
                        .map(|r| r.above.capacity() * size_of::<u32>())
                        .sum::<usize>()
            })
            + self.session.heap_bytes()
    }

    /// The most [`Connection::memory_footprint`] can be, whatever the peer
    /// or the network does, given the limits and the connection-level
    /// credit this side has granted and not yet seen used (`W`, the
    /// reorder buffers' most; 1 MiB unless the caller grants more):
    ///
    /// `size_of::<Connection>() + E + 2·S·P + 2·W + R + K`, where
    /// - `S` = 2 × [`Limits::max_streams`] (each initiator's pool; closed
    ///   streams count until released), or the streams held if more;
    /// - `P` = a stream's state, its linger entry and its receive state,
    ///   with room for [`MAX_ACK_RANGES`]` + 1` received ranges and as
    ///   many reorder chunk headers (chunks merge as they touch, so
    ///   there are never more than ranges); the factor 2 is vectors'
    ///   room to grow;
    /// - `2·W`: the reorder buffers' bytes, with their room to grow;
    /// - `R` = [`crate::reliability::RETRANSMIT_BUFFER_MAX`] plus a few
    ///   queue entries (the cap counts each record's entry);
    /// - `K` = four expanded keys (sending; receiving current, next and
    ///   previous), `E` the out-of-line state's own size, and the
    ///   released stream IDs kept (at most `RELEASED_ABOVE_MAX` per
    ///   initiator, with room to grow).
    ///
    /// A test and the `network` fuzz target check it after every step.
    pub fn memory_bound(&self) -> usize {
        use crate::reliability::{RETRANSMIT_BUFFER_MAX, RETRANSMIT_ENTRY_COST};
        let streams = (2 * self.limits.max_streams).max(self.streams.len());
        let per_stream = size_of::<Stream>()
            + size_of::<Linger>()
            + size_of::<Received>()
            + (MAX_ACK_RANGES + 1) * (16 + ReorderBuffer::CHUNK_HEADER);
        let consumed = self.conn_received - self.extras.as_ref().map_or(0, |e| e.buffered);
        let window =
            usize::try_from(self.conn_recv_limit.saturating_sub(consumed)).unwrap_or(usize::MAX);
        size_of::<Self>()
            + size_of::<Extras>()
            + 2 * streams * per_stream
            + window.saturating_mul(2)
            + RETRANSMIT_BUFFER_MAX
            + 8 * RETRANSMIT_ENTRY_COST
            + 4 * self.session.key_heap_bytes()
            + 2 * 2 * (RELEASED_ABOVE_MAX + 1) * size_of::<u32>()
    }

    fn lingering(&self) -> &[Linger] {
        self.extras.as_ref().map_or(&[], |e| &e.lingering)
    }

    fn received(&self) -> &[Received] {
        self.extras.as_ref().map_or(&[], |e| &e.received)
    }

    fn extras(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Box::default)
    }

    /// Whether `id` was reset and still lingers.
    fn was_reset(&self, id: u32) -> bool {
        self.lingering()
            .iter()
            .any(|l| l.stream_id == id && l.reset)
    }

    /// Whether `id` names a stream that was released after its linger.
    fn was_released(&self, id: u32) -> bool {
        self.extras.as_ref().is_some_and(|e| {
            e.released[released_slot(stream::initiator_of(id))].contains(id)
                && self.index(id).is_none()
        })
    }

    /// Frames for a stream that was reset (and lingers) or released are
    /// ignored: they were in flight when it closed.
    fn ignores(&self, id: u32) -> bool {
        self.was_reset(id) || self.was_released(id)
    }

    fn touch(&mut self, idx: usize) {
        self.tick += 1;
        self.streams[idx].last_used = self.tick;
    }

    fn index(&self, id: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.id == id)
    }

    /// Opens a stream of this side's parity, within [`Limits::max_streams`].
    pub fn open_stream(&mut self) -> Result<Opened, Error> {
        let id = self.next_stream_id;
        let step = self.transport.stream_id_step();
        if !self.transport.is_data_stream(id) || id > u32::MAX - step {
            return Err(Error::TooMany {
                what: "stream IDs",
                max: (u32::MAX / step) as usize,
            });
        }
        if self.opened_by(self.session.role()) >= self.limits.max_streams {
            return Err(Error::StreamLimit(self.limits.max_streams));
        }
        self.next_stream_id = id + step;
        self.streams.push(Stream::new(id));
        let idx = self.streams.len() - 1;
        self.touch(idx);
        Ok(Opened { stream_id: id })
    }

    /// Sets a stream's priority (§3.3.8): 0 is clamped to 1.
    pub fn set_priority(&mut self, stream_id: u32, priority: u8) -> Result<(), Error> {
        let idx = self
            .index(stream_id)
            .ok_or(Error::UnknownStream(stream_id))?;
        self.streams[idx].priority = stream::clamp_priority(priority);
        Ok(())
    }

    /// Appends one record carrying `payload` on `stream_id` to `out`.
    /// With enough capacity in `out`, nothing is allocated. Refused with
    /// [`Error::FlowControl`] when either window is short (§3.3.9); then
    /// the stall clock runs until a WindowUpdate arrives.
    pub fn send(
        &mut self,
        stream_id: u32,
        payload: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let idx = self
            .index(stream_id)
            .ok_or(Error::UnknownStream(stream_id))?;
        self.check_not_migrating()?;
        if self.conn_sent + payload.len() as u64 > self.conn_send_limit {
            self.blocked = true;
            return Err(Error::FlowControl);
        }
        let unordered = self.transport == Transport::Unordered;
        if unordered && !self.retransmits().has_room(payload.len()) {
            return Err(Error::RetransmitBufferFull);
        }
        let snapshot = self.streams[idx].clone();
        let seq = match self.streams[idx].reserve_send(payload.len(), fin) {
            Ok(seq) => seq,
            Err(e) => {
                self.blocked |= e == Error::FlowControl;
                return Err(e);
            }
        };
        let frame = DataFrame {
            stream_id,
            seq,
            flags: if fin { FLAG_FIN } else { 0 },
            payload,
        };
        if let Err(e) = self.session.sealer().seal_append(out, |b| frame.encode(b)) {
            self.streams[idx] = snapshot;
            return Err(e);
        }
        self.conn_sent += payload.len() as u64;
        if unordered {
            self.extras()
                .sent
                .push(stream_id, seq, frame.flags, payload);
        } else {
            self.sent_since_sync = true;
        }
        self.touch(idx);
        self.close_if_finished(idx);
        self.count_sent(payload.len(), out)
    }

    /// On an ordered transport, stream data waits while a migration is
    /// under way ([`Error::MigrationPending`]): the SyncAck says where each
    /// stream resumes (§3.3.6), and data sent before it could land past a
    /// gap or be sent twice (the network fuzzer found both).
    fn check_not_migrating(&self) -> Result<(), Error> {
        if self.awaiting_sync_ack() {
            return Err(Error::MigrationPending);
        }
        Ok(())
    }

    /// On an ordered transport, a migration of this side's is under way:
    /// until its SyncAck, where each stream stands is not known.
    fn awaiting_sync_ack(&self) -> bool {
        self.transport != Transport::Unordered
            && matches!(
                self.migration(),
                Migration::Migrating | Migration::SyncSent { .. }
            )
    }

    /// The retransmit buffer (empty but for unordered transports).
    fn retransmits(&self) -> &Retransmits {
        static EMPTY: Retransmits = Retransmits::EMPTY;
        self.extras.as_ref().map_or(&EMPTY, |e| &e.sent)
    }

    /// Counts stream bytes sent under the current key; past
    /// [`Limits::rekey_bytes`] the rotation starts at once, its KeyUpdate
    /// appended after the record that crossed the line.
    fn count_sent(&mut self, bytes: usize, out: &mut Vec<u8>) -> Result<(), Error> {
        self.sent_under_key = self.sent_under_key.saturating_add(bytes as u64);
        if self.limits.rekey_enabled && self.sent_under_key >= self.limits.rekey_bytes {
            self.rekey_due = true;
        }
        self.rekey_if_due(out)
    }

    /// Starts the due rotation of this side's sending key (§4.6.1), unless
    /// a key update is already under way (then it waits for that one).
    fn rekey_if_due(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        if !self.rekey_due || self.session.update_pending() {
            return Ok(());
        }
        let direction = match self.session.role() {
            Role::Client => KeyDirection::ClientToServer,
            Role::Server => KeyDirection::ServerToClient,
        };
        self.update_keys(direction, out)
    }

    /// Whether a rotation trigger (bytes or time) has fired and its
    /// KeyUpdate waits for the next record this side sends (it follows
    /// that record, so a refused send writes nothing).
    pub fn rekey_due(&self) -> bool {
        self.rekey_due
    }

    /// Resets a stream (§3.3.11 RST): appends a record carrying a DataFrame
    /// with the RST flag and no payload, and closes the stream at once in
    /// both directions (zp buffers nothing, so nothing pending is left to
    /// discard). The stream lingers for [`STREAM_LINGER`], ignoring data
    /// still in flight from the peer, and is then released.
    pub fn reset(&mut self, stream_id: u32, out: &mut Vec<u8>) -> Result<(), Error> {
        let idx = self
            .index(stream_id)
            .ok_or(Error::UnknownStream(stream_id))?;
        if self.was_reset(stream_id) {
            return Err(Error::StreamClosed(stream_id));
        }
        let frame = DataFrame {
            stream_id,
            seq: self.streams[idx].send_offset,
            flags: FLAG_RST,
            payload: &[],
        };
        self.session
            .sealer()
            .seal_append(out, |b| frame.encode(b))?;
        self.close(idx, true);
        self.forget_unordered(stream_id);
        if self.transport == Transport::Unordered {
            // It may be lost: sent again until the peer acknowledges it
            // (§3.3.11 step 4), or until the stream is released.
            self.extras().sent.push(stream_id, frame.seq, FLAG_RST, &[]);
        }
        Ok(())
    }

    /// Drops what the reliability layer holds for a stream: what was sent
    /// and not acknowledged, and what its reorder buffer holds.
    fn forget_unordered(&mut self, stream_id: u32) {
        let Some(e) = self.extras.as_deref_mut() else {
            return;
        };
        e.sent.forget_stream(stream_id);
        if let Some(r) = e.received.iter_mut().find(|r| r.stream_id == stream_id) {
            e.buffered -= r.buffered_bytes();
            r.buffer = ReorderBuffer::default();
        }
    }

    /// Marks a stream closed both ways and starts its linger.
    fn close(&mut self, idx: usize, reset: bool) {
        let s = &mut self.streams[idx];
        s.state_flags = (s.state_flags & !stream::flags::OPEN)
            | stream::flags::HALF_CLOSED_LOCAL
            | stream::flags::HALF_CLOSED_REMOTE;
        let stream_id = s.id;
        let lingering = &mut self.extras().lingering;
        lingering.retain(|l| l.stream_id != stream_id);
        lingering.push(Linger {
            stream_id,
            since: None,
            reset,
        });
    }

    /// A stream both sides finished (FIN each way) is closed and lingers
    /// (§3.3.11; zp takes the FINs' delivery as their acknowledgement, as
    /// reliable transports give it).
    fn close_if_finished(&mut self, idx: usize) {
        use stream::flags::{HALF_CLOSED_LOCAL, HALF_CLOSED_REMOTE, OPEN};
        let f = self.streams[idx].state_flags;
        if f & OPEN != 0 && f & HALF_CLOSED_LOCAL != 0 && f & HALF_CLOSED_REMOTE != 0 {
            self.close(idx, false);
        }
    }

    /// Releases streams whose linger is over at `now`.
    fn release_lingering(&mut self, now: Instant) {
        let Some(extras) = self.extras.as_deref_mut() else {
            return;
        };
        let Extras {
            lingering,
            received,
            buffered,
            sent,
            released,
            ..
        } = extras;
        let streams = &mut self.streams;
        let transport = self.transport;
        lingering.retain(|l| match l.since {
            // On an unordered transport a stream stays until what it sent
            // is acknowledged: its tail (and FIN, or RST) may still be
            // lost after the linger, and releasing it would stop sending
            // them again (found in review).
            Some(t) if now >= t + STREAM_LINGER && !sent.holds(l.stream_id) => {
                streams.retain(|s| s.id != l.stream_id);
                received.retain(|r| {
                    let keep = r.stream_id != l.stream_id;
                    if !keep {
                        *buffered -= r.buffered_bytes();
                    }
                    keep
                });
                sent.forget_stream(l.stream_id);
                let role = stream::initiator_of(l.stream_id);
                released[released_slot(role)].release(l.stream_id, |floor| {
                    if floor == 0 {
                        transport.first_stream_id(role)
                    } else {
                        // At the top of the ID space nothing follows
                        // (found in review: an overflow a peer could reach).
                        floor.saturating_add(transport.stream_id_step())
                    }
                });
                false
            }
            _ => true,
        });
    }

    /// Appends one record carrying a multiplexed DataFrame (§3.3.7, for
    /// TCP fallback): stream ID 0xFFFFFFFF and one StreamChunk per entry,
    /// each continuing its stream. All entries are sent or none is.
    pub fn send_multiplexed(
        &mut self,
        chunks: &[(u32, &[u8])],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        if chunks.is_empty() {
            return Err(Error::Empty("stream chunks"));
        }
        if self.transport == Transport::Unordered {
            return Err(Error::InvalidValue(
                "a multiplexed DataFrame on an unordered transport",
            ));
        }
        self.check_not_migrating()?;
        let total: u64 = chunks.iter().map(|c| c.1.len() as u64).sum();
        if self.conn_sent + total > self.conn_send_limit {
            self.blocked = true;
            return Err(Error::FlowControl);
        }
        let saved = self.streams.clone();
        for &(id, payload) in chunks {
            let reserved = self
                .index(id)
                .ok_or(Error::UnknownStream(id))
                .and_then(|idx| self.streams[idx].reserve_send(payload.len(), false));
            if let Err(e) = reserved {
                self.blocked |= e == Error::FlowControl;
                self.streams = saved;
                return Err(e);
            }
        }
        let len: usize = chunks
            .iter()
            .map(|c| STREAM_CHUNK_OVERHEAD + c.1.len())
            .sum();
        let conn_sent = self.conn_sent;
        let sealed = self.session.sealer().seal_append(out, |b| {
            DataFrame {
                stream_id: MULTIPLEXED,
                seq: conn_sent,
                flags: 0,
                payload: &[],
            }
            .encode_header(b);
            let at = b.len() - 4;
            b[at..].copy_from_slice(&(len as u32).to_le_bytes());
            for &(stream_id, payload) in chunks {
                StreamChunk { stream_id, payload }.encode(b);
            }
        });
        if let Err(e) = sealed {
            self.streams = saved;
            return Err(e);
        }
        self.conn_sent += total;
        self.sent_since_sync = true;
        for &(id, _) in chunks {
            if let Some(idx) = self.index(id) {
                self.touch(idx);
            }
        }
        self.count_sent(total as usize, out)
    }

    /// Appends a record carrying a control frame to `out`: a WindowUpdate,
    /// an AckFrame, a Sync or SyncAck, or an ErrorFrame. A KeyUpdate or
    /// KeyUpdate-Ack would move the peer's keys without this side's (they
    /// go through [`Connection::update_keys`] and [`Connection::receive`]),
    /// and a DataFrame past this side's stream state: both are refused
    /// with [`Error::InvalidValue`]. On QUIC, no control frame goes out
    /// before the client opened stream 0
    /// ([`Connection::open_control_stream`]; [`Error::ControlStreamClosed`]).
    pub fn send_control(&mut self, frame: &Frame<'_>, out: &mut Vec<u8>) -> Result<(), Error> {
        match frame {
            Frame::KeyUpdate(_) | Frame::KeyUpdateAck(_) => Err(Error::InvalidValue(
                "key updates are sent by update_keys and receive",
            )),
            Frame::Data(_) => Err(Error::InvalidValue("stream data is sent by send")),
            _ => self.seal_frame(frame, out),
        }
    }

    /// Seals any frame, bypassing every state this side keeps: for tests
    /// and fuzz targets that play a misbehaving peer. Using it on a real
    /// connection desynchronises keys and streams.
    #[doc(hidden)]
    pub fn send_frame_unchecked(
        &mut self,
        frame: &Frame<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.seal_frame(frame, out)
    }

    fn seal_frame(&mut self, frame: &Frame<'_>, out: &mut Vec<u8>) -> Result<(), Error> {
        if !matches!(frame, Frame::Data(_)) {
            self.check_control_open()?;
        }
        self.session.sealer().seal_append(out, |b| frame.encode(b))
    }

    /// §3.4: on QUIC, no control frame before the client opened stream 0.
    fn check_control_open(&self) -> Result<(), Error> {
        if self.control_open {
            Ok(())
        } else {
            Err(Error::ControlStreamClosed)
        }
    }

    /// Whether a control frame can go out now, checked before any state
    /// moves for it: the control stream is open, and the sending counter
    /// is not used up (found in review: a grant or a key update moved
    /// state, then failed to seal).
    fn check_control_sendable(&mut self) -> Result<(), Error> {
        self.check_control_open()?;
        if self.session.sealer().exhausted() {
            return Err(Error::CounterExhausted);
        }
        Ok(())
    }

    /// §3.4, QUIC only, the client, once, right after the handshake: opens
    /// the control stream (QUIC stream 0) with a connection-level
    /// WindowUpdate advertising this side's receive window
    /// ([`DEFAULT_CONNECTION_WINDOW`] unless granted more), appended to
    /// `out`. The server's connection credit starts from it, and neither
    /// side sends another control frame before it.
    pub fn open_control_stream(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        if self.transport != Transport::Quic || self.session.role() != Role::Client {
            return Err(Error::InvalidValue(
                "the control stream is opened by a QUIC client",
            ));
        }
        if self.control_open {
            return Err(Error::InvalidValue("the control stream is already open"));
        }
        self.control_open = true;
        let frame = Frame::WindowUpdate(WindowUpdate {
            stream_id: 0,
            increment: self.conn_recv_limit - self.conn_received,
        });
        if let Err(e) = self.seal_frame(&frame, out) {
            self.control_open = false;
            return Err(e);
        }
        Ok(())
    }

    /// Grants the peer `increment` more bytes on a stream (or the
    /// connection, with 0) and appends the WindowUpdate record to `out`.
    pub fn grant(
        &mut self,
        stream_id: u32,
        increment: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.check_control_sendable()?;
        let granted = if stream_id == 0 {
            let before = self.conn_recv_limit;
            self.conn_recv_limit = (self.conn_recv_limit.saturating_add(increment))
                .min(self.conn_received.saturating_add(stream::MAX_WINDOW));
            self.conn_recv_limit - before
        } else {
            let idx = self
                .index(stream_id)
                .ok_or(Error::UnknownStream(stream_id))?;
            self.streams[idx].grant_recv(increment)
        };
        self.seal_frame(
            &Frame::WindowUpdate(WindowUpdate {
                stream_id,
                increment: granted,
            }),
            out,
        )
    }

    /// Starts a key update; appends the KeyUpdate record to `out`. The
    /// rotation triggers (§4.6.1) count from here again.
    pub fn update_keys(&mut self, direction: KeyDirection, out: &mut Vec<u8>) -> Result<(), Error> {
        self.check_control_sendable()?;
        let update = self.session.initiate_key_update(direction)?;
        self.seal_frame(&Frame::KeyUpdate(update), out)?;
        self.key_update = Some(KeyUpdateInFlight {
            frame: update,
            sent_at: None,
            retries: 0,
        });
        self.rekey_due = false;
        self.sent_under_key = 0;
        self.key_since = None;
        Ok(())
    }

    /// When [`Connection::handle_timeout`] next has something to do: the
    /// end of a key's grace period, of `ZP_FLOW_TIMEOUT` while sending is
    /// blocked by flow control, of the sending key's
    /// [`Limits::rekey_interval`] (§4.6.1), of a closed stream's
    /// [`STREAM_LINGER`], or on an unordered transport of an AckFrame's
    /// [`ACK_DELAY`] (then call [`Connection::poll_acks`]) or of a
    /// retransmission timeout, and on any transport of a KeyUpdate's
    /// or a Sync's wait for its answer (then call
    /// [`Connection::poll_retransmit`]).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let stall = self.blocked_since.map(|t| t + FLOW_TIMEOUT);
        let rekey = self
            .key_since
            .filter(|_| self.limits.rekey_enabled && !self.rekey_due)
            .map(|t| t + self.limits.rekey_interval);
        let linger = self
            .lingering()
            .iter()
            .filter(|l| !self.retransmits().holds(l.stream_id))
            .filter_map(|l| l.since)
            .min()
            .map(|t| t + STREAM_LINGER);
        let ack = self.received().iter().filter_map(|r| r.ack_at).min();
        let retransmit = self.retransmits().deadline(self.path_rtt());
        [
            self.session.poll_timeout(),
            stall,
            rekey,
            linger,
            ack,
            retransmit,
            self.sync_deadline(),
            self.key_update_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Does what is due at `now`: erases keys whose grace period is over,
    /// and fails with [`Error::FlowStall`] once sending has been blocked by
    /// flow control for `ZP_FLOW_TIMEOUT` (30 s) with no WindowUpdate
    /// (§3.3.9; send [`Connection::error_frame`] with its code and close).
    /// The stall clock starts at the first time input (an accepted record
    /// to `receive`, or `handle_timeout`) after a send was refused for want
    /// of credit.
    /// Once the sending key has been in use for [`Limits::rekey_interval`]
    /// (counted from the first time input after it was installed) a
    /// rotation is due: its KeyUpdate follows the next record sent
    /// ([`Connection::rekey_due`]). A KeyUpdate sent again
    /// [`KEY_UPDATE_RETRIES`] times with no Ack fails with
    /// [`Error::RekeyFailed`] once its last wait is over (§4.6.4).
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        self.session.handle_timeout(now);
        self.note_time(now);
        self.release_lingering(now);
        if self.limits.rekey_enabled
            && self
                .key_since
                .is_some_and(|t| now >= t + self.limits.rekey_interval)
        {
            self.rekey_due = true;
        }
        self.fail_migration_if_exhausted(now)?;
        self.fail_rekey_if_exhausted(now)?;
        match self.blocked_since {
            Some(t) if now >= t + FLOW_TIMEOUT => Err(Error::FlowStall),
            _ => Ok(()),
        }
    }

    fn note_time(&mut self, now: Instant) {
        if self.blocked && self.blocked_since.is_none() {
            self.blocked_since = Some(now);
        }
        if self.key_since.is_none() {
            self.key_since = Some(now);
        }
        if let Some(k) = &mut self.key_update {
            k.sent_at.get_or_insert(now);
        }
        if let Some(e) = self.extras.as_deref_mut() {
            for l in &mut e.lingering {
                l.since.get_or_insert(now);
            }
            e.sent.stamp(now);
            if matches!(e.migration, Migration::SyncSent { .. }) {
                e.sync_sent_at.get_or_insert(now);
            }
        }
    }

    /// Appends a plaintext ErrorFrame (§3.3.12: never inside a record, so
    /// that it arrives even when the keys disagree). Close the transport
    /// after it.
    pub fn error_frame(code: ErrorCode, out: &mut Vec<u8>) {
        ErrorFrame { code }.encode(out);
    }

    /// Appends a record carrying a Sync of every open stream (§3.3.5), to
    /// send on the new path after a migration.
    pub fn sync(&mut self, flags: u8, out: &mut Vec<u8>) -> Result<(), Error> {
        if self.streams.len() > usize::from(u16::MAX) {
            return Err(Error::TooManyStreams {
                max: usize::from(u16::MAX),
            });
        }
        let frame = Sync {
            session_id: *self.session.session_id(),
            flags,
            streams: self
                .streams
                .iter()
                .map(|s| SyncStream::new(s.id, s.send_offset, s.last_acked))
                .collect(),
        };
        self.seal_frame(&Frame::Sync(frame), out)
    }

    /// Where a migration stands (§3.3.3).
    pub fn migration(&self) -> Migration {
        self.extras
            .as_ref()
            .map_or(Migration::Active, |e| e.migration)
    }

    /// Degradation was detected (§3.3.2: for instance
    /// [`Connection::consecutive_timeouts`] reached 3): ACTIVE → MIGRATING,
    /// while the caller connects the new transport. Refused once the
    /// migration failed.
    pub fn begin_migration(&mut self) -> Result<(), Error> {
        match self.migration() {
            Migration::Failed => Err(Error::MigrationFailed),
            Migration::SyncSent { .. } => Ok(()),
            Migration::Active | Migration::Migrating => {
                self.extras().migration = Migration::Migrating;
                Ok(())
            }
        }
    }

    /// The new transport is connected: appends the Sync of every stream
    /// (with `flags`, §3.3.5) and waits for the SyncAck (MIGRATING →
    /// SYNC_SENT). [`Connection::poll_retransmit`] sends it again after
    /// [`SYNC_TIMEOUT`], then 4 s, then 8 s, at most [`SYNC_RETRIES`]
    /// times; 8 s after the last retry the migration fails. The Sync is
    /// sealed under the confirmed sending key (§3.3.4); a key update of
    /// this side's that awaits its Ack stays pending (it is not aborted).
    pub fn migrate(&mut self, flags: u8, out: &mut Vec<u8>) -> Result<(), Error> {
        if self.migration() == Migration::Failed {
            return Err(Error::MigrationFailed);
        }
        self.sync(flags, out)?;
        self.sent_since_sync = false;
        let e = self.extras();
        e.migration = Migration::SyncSent { retries: 0 };
        e.sync_flags = flags;
        e.sync_sent_at = None;
        Ok(())
    }

    /// When the Sync under way is due to be sent again (or, after the last
    /// retry, when the migration fails).
    fn sync_deadline(&self) -> Option<Instant> {
        let e = self.extras.as_deref()?;
        let Migration::SyncSent { retries } = e.migration else {
            return None;
        };
        let wait = (SYNC_TIMEOUT * (1 << retries.min(8))).min(SYNC_TIMEOUT_MAX);
        e.sync_sent_at.map(|t| t + wait)
    }

    /// When this side's KeyUpdate is due to be sent again, or after the
    /// last retry, when the key update fails: 2 × RTT after it was sent
    /// (§4.6.4; the smoothed RTT, else the path's estimate, else
    /// [`crate::reliability::INITIAL_RTO`]), at least
    /// [`crate::reliability::MIN_RTO`].
    fn key_update_deadline(&self) -> Option<Instant> {
        let k = self.key_update.as_ref()?;
        let rtt = self
            .retransmits()
            .srtt()
            .or(self.path_rtt())
            .unwrap_or(crate::reliability::INITIAL_RTO);
        k.sent_at
            .map(|t| t + (2 * rtt).max(crate::reliability::MIN_RTO))
    }

    /// A KeyUpdate sent [`KEY_UPDATE_RETRIES`] times again with no Ack,
    /// its last wait over: [`Error::RekeyFailed`].
    fn fail_rekey_if_exhausted(&mut self, now: Instant) -> Result<(), Error> {
        let exhausted = self
            .key_update
            .is_some_and(|k| k.retries >= KEY_UPDATE_RETRIES)
            && self.key_update_deadline().is_some_and(|t| now >= t);
        if exhausted {
            return Err(Error::RekeyFailed);
        }
        Ok(())
    }

    /// SYNC_SENT with every retry used and its wait over: FAILED.
    fn fail_migration_if_exhausted(&mut self, now: Instant) -> Result<(), Error> {
        let exhausted = matches!(
            self.migration(),
            Migration::SyncSent { retries } if retries >= SYNC_RETRIES
        ) && self.sync_deadline().is_some_and(|t| now >= t);
        if exhausted {
            self.extras().migration = Migration::Failed;
            return Err(Error::MigrationFailed);
        }
        Ok(())
    }

    /// Opens one unit from the wire at time `now` and applies what it
    /// carries: a plaintext ErrorFrame (told from a record by its magic,
    /// §3.3.13) or a record. Any reply the protocol requires (a
    /// KeyUpdateAck, a SyncAck, WindowUpdates at half a window) is appended
    /// to `out`.
    pub fn receive<'a>(
        &mut self,
        record: &'a mut [u8],
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Result<Event<'a>, Error> {
        if record.get(..4) == Some(&ErrorFrame::MAGIC.to_le_bytes()[..]) {
            return Ok(Event::PeerError(ErrorFrame::parse(record)?.code));
        }
        let plaintext: &'a [u8] = self.session.open(record, now)?;
        let event = self.apply(plaintext, now, out)?;
        // Clocks start on accepted input only: a refused record changes
        // nothing beyond the record layer.
        self.note_time(now);
        Ok(event)
    }

    /// Applies one authentic record's frame.
    fn apply<'a>(
        &mut self,
        plaintext: &'a [u8],
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Result<Event<'a>, Error> {
        let frame = parse_frame(plaintext)?;
        if !self.control_open && !matches!(frame, Frame::Data(_)) {
            // §3.4: the server's first control frame from the client is
            // the connection-level WindowUpdate that opens stream 0; the
            // client takes none before it opened the stream.
            let opens = self.session.role() == Role::Server
                && matches!(
                    frame,
                    Frame::WindowUpdate(WindowUpdate { stream_id: 0, .. })
                );
            if !opens {
                return Err(Error::ControlStreamClosed);
            }
            self.control_open = true;
        }
        match frame {
            Frame::Data(d) if self.transport == Transport::Unordered => {
                self.on_unordered_data(d, now, out)
            }
            Frame::Data(d) => self.on_data(d, out),
            Frame::KeyUpdate(u) => {
                let ack = self.session.on_key_update(&u)?;
                self.seal_frame(&Frame::KeyUpdateAck(ack), out)?;
                Ok(Event::KeyUpdated {
                    epoch: ack.acked_epoch,
                })
            }
            Frame::KeyUpdateAck(a) => {
                self.session.on_key_update_ack(&a)?;
                if self
                    .key_update
                    .is_some_and(|k| k.frame.key_epoch == a.acked_epoch)
                {
                    self.key_update = None;
                }
                Ok(Event::KeyUpdateAcknowledged {
                    epoch: a.acked_epoch,
                })
            }
            Frame::WindowUpdate(w) => {
                // Saturating, and never past 2^32 - 1 of window (§3.3.9),
                // whatever increment the peer sent.
                if w.stream_id == 0 {
                    self.conn_send_limit = (self.conn_send_limit.saturating_add(w.increment))
                        .min(self.conn_sent.saturating_add(stream::MAX_WINDOW));
                } else if self.was_released(w.stream_id) {
                    return Ok(Event::Ignored {
                        stream_id: w.stream_id,
                    });
                } else {
                    let idx = self
                        .index(w.stream_id)
                        .ok_or(Error::UnknownStream(w.stream_id))?;
                    self.streams[idx].grant_send(w.increment);
                }
                self.blocked = false;
                self.blocked_since = None;
                Ok(Event::WindowUpdated {
                    stream_id: w.stream_id,
                })
            }
            // §3.3.10: reliable transports neither send nor process them.
            Frame::Ack(_) if self.transport != Transport::Unordered => Err(Error::UnexpectedFrame),
            Frame::Ack(a) if self.was_released(a.stream_id) => Ok(Event::Ignored {
                stream_id: a.stream_id,
            }),
            Frame::Ack(a) => {
                let idx = self
                    .index(a.stream_id)
                    .ok_or(Error::UnknownStream(a.stream_id))?;
                self.streams[idx].acknowledge_ranges(&a.ranges);
                if let Some(e) = self.extras.as_deref_mut() {
                    e.sent.acknowledge(a.stream_id, &a.ranges, now);
                    // The path keeps the measured round trip (a token saves it).
                    if let Some(srtt) = e.sent.srtt() {
                        self.path.rtt_estimate =
                            u32::try_from(srtt.as_micros()).unwrap_or(u32::MAX).max(1);
                    }
                }
                Ok(Event::Acked {
                    stream_id: a.stream_id,
                })
            }
            // §3.3.12, §3.3.13: an ErrorFrame travels in plaintext only.
            Frame::Error(_) => Err(Error::UnexpectedFrame),
            Frame::Sync(_) if !self.take_sync(now) => Ok(Event::SyncRateLimited),
            Frame::Sync(sync) => self.on_sync(&sync, out),
            Frame::SyncAck(ack) => self.on_sync_ack(ack),
            // Handshake frames never travel inside records.
            _ => Err(Error::UnexpectedFrame),
        }
    }

    /// Whether a Sync arriving at `now` is within §8.1's rate (and if so,
    /// counts it): at most [`SYNCS_PER_MINUTE`] in any 60 seconds.
    fn take_sync(&mut self, now: Instant) -> bool {
        let taken = &mut self.extras().syncs_taken;
        let oldest = taken
            .iter_mut()
            .min_by_key(|t| t.map(|t| (1, t)).unwrap_or((0, now)))
            .expect("SYNCS_PER_MINUTE > 0");
        if oldest.is_some_and(|t| now < t + Duration::from_secs(60)) {
            return false;
        }
        *oldest = Some(now);
        true
    }

    /// Answers a Sync (§3.3.5, §3.3.6): REJECT for another session (and
    /// [`Error::SyncRejected`]); else per stream OK, UNKNOWN (no such
    /// stream) or MISMATCH (a bad integrity value, or offsets this side
    /// knows cannot be true), resetting every MISMATCH stream to zero.
    fn on_sync(&mut self, sync: &Sync, out: &mut Vec<u8>) -> Result<Event<'static>, Error> {
        if sync.session_id != *self.session.session_id() {
            self.seal_frame(&Frame::SyncAck(SyncAck::reject()), out)?;
            return Err(Error::SyncRejected);
        }
        // On an ordered transport the old path lost this side's data in
        // flight too, and the peer's Sync says only what the peer sent:
        // this side syncs back (its own Sync, *before* the SyncAck, so
        // that it reaches the peer while the peer still waits, and is not
        // answered with a third Sync), and resumes from what the peer's
        // SyncAck says it received. Found by the network fuzzer: bytes the
        // answering side sent were lost and the stream went on past the gap.
        if self.transport != Transport::Unordered
            && self.migration() == Migration::Active
            && self.sent_since_sync
        {
            self.migrate(sync.flags, out)?;
        }
        let mut answers = Vec::with_capacity(sync.streams.len());
        let mut mismatched = Vec::new();
        for entry in &sync.streams {
            let (status, last_acked, seq) = match self.index(entry.stream_id) {
                None => (StreamSyncStatus::Unknown, 0, 0),
                Some(idx) => {
                    let s = &self.streams[idx];
                    // The peer cannot have sent less than this side
                    // received, nor had more acknowledged than it sent or
                    // than this side received.
                    // On an unordered transport the Sync is a snapshot
                    // that data sent after it may overtake: less sent than
                    // received is then stale, not inconsistent (the
                    // network fuzzer found a stream reset to zero for it).
                    let overtaken = self.transport == Transport::Unordered;
                    let consistent = entry.integrity_ok()
                        && entry.last_acked <= entry.global_seq
                        && (entry.global_seq >= s.recv_offset || overtaken)
                        && entry.last_acked <= s.recv_offset;
                    if consistent {
                        (StreamSyncStatus::Ok, s.recv_offset, s.recv_offset)
                    } else {
                        mismatched.push(idx);
                        (StreamSyncStatus::Mismatch, 0, 0)
                    }
                }
            };
            answers.push(SyncAckStream {
                stream_id: entry.stream_id,
                status,
                receiver_last_acked: last_acked,
                receiver_seq: seq,
            });
        }
        let ack = SyncAck::answer(answers);
        let status = ack.status;
        self.seal_frame(&Frame::SyncAck(ack), out)?;
        for idx in mismatched {
            self.reset_to_zero(idx);
        }
        Ok(Event::Synced { status })
    }

    fn on_sync_ack<'a>(&mut self, ack: SyncAck) -> Result<Event<'a>, Error> {
        if !matches!(self.migration(), Migration::SyncSent { .. }) {
            // An answer to a Sync already answered (a retransmission's):
            // its offsets are stale, and acting on them would resend or
            // reset what has moved on since (the network fuzzer found it).
            // A REJECT with no Sync awaiting an answer aborts nothing
            // either (found in review).
            return Ok(Event::SyncAcked(ack));
        }
        if ack.status == SyncStatus::Reject {
            return Err(Error::SyncRejected);
        }
        for s in &ack.streams {
            let Some(idx) = self.index(s.stream_id) else {
                continue;
            };
            match s.status {
                StreamSyncStatus::Mismatch => self.reset_to_zero(idx),
                StreamSyncStatus::Ok => self.resume_from(idx, s.receiver_seq, false),
                // New to the peer: everything it carried was lost with the
                // old path (the network fuzzer found it), so it goes again
                // from zero.
                StreamSyncStatus::Unknown
                    if stream::initiator_of(s.stream_id) == self.session.role() =>
                {
                    self.resume_from(idx, 0, true)
                }
                _ => {}
            }
        }
        if let Some(e) = self.extras.as_deref_mut()
            && matches!(e.migration, Migration::SyncSent { .. })
        {
            // SYNC_ACKED, then ACTIVE: the new path starts its
            // retransmission back-off afresh.
            e.migration = Migration::Active;
            e.sync_sent_at = None;
            e.sent.timeouts = 0;
        }
        Ok(Event::SyncAcked(ack))
    }

    /// §3.3.6: "the sender resumes transmission from" the receiver's
    /// offset. On an ordered transport zp keeps no copy of what it sent,
    /// so bytes lost with the old path are handed back: the stream's send
    /// offset (and the connection's credit used) go back to `receiver_seq`,
    /// a FIN not received is taken back, and the caller sends from there
    /// again ([`Event::SyncAcked`] names the offset). On an unordered
    /// transport the retransmit buffer still holds them: nothing to do.
    /// An offset outside what was sent and not acknowledged changes nothing.
    /// A FIN sent at the peer's offset is taken back only when the peer
    /// never saw the stream (`unknown`): a SyncAck says nothing of FINs,
    /// so a lone FIN lost on an ordered transport stays lost (the "not
    /// yet" row of docs/src/zp/coverage.md).
    fn resume_from(&mut self, idx: usize, receiver_seq: u64, unknown: bool) {
        let id = self.streams[idx].id;
        let reset = self.was_reset(id);
        let s = &mut self.streams[idx];
        if self.transport == Transport::Unordered
            || receiver_seq > s.send_offset
            || (receiver_seq == s.send_offset && !unknown)
            || receiver_seq < s.last_acked
            || reset
        {
            return;
        }
        let lost = s.send_offset - receiver_seq;
        s.send_offset = receiver_seq;
        // A stream finished both ways whose tail (and FIN) the old path
        // lost opens again on this side's half: it lingered, and would
        // never have sent them again (found in review).
        s.state_flags = (s.state_flags | stream::flags::OPEN) & !stream::flags::HALF_CLOSED_LOCAL;
        self.conn_sent = self.conn_sent.saturating_sub(lost);
        if let Some(e) = self.extras.as_deref_mut() {
            e.lingering.retain(|l| l.stream_id != id);
        }
    }

    /// MISMATCH (§3.3.6): discard what is buffered, reset, start from zero.
    fn reset_to_zero(&mut self, idx: usize) {
        let s = &mut self.streams[idx];
        let id = s.id;
        let mut fresh = Stream::new(id);
        fresh.priority = s.priority;
        fresh.last_used = s.last_used;
        *s = fresh;
        self.forget_unordered(id);
        if let Some(e) = self.extras.as_deref_mut() {
            e.received.retain(|r| r.stream_id != id);
        }
    }

    fn on_data<'a>(&mut self, d: DataFrame<'a>, out: &mut Vec<u8>) -> Result<Event<'a>, Error> {
        if d.is_multiplexed() {
            return self.on_chunks(d, out);
        }
        let id = d.stream_id;
        if self.ignores(id) {
            // In flight when the reset crossed it: ignored, but the bytes
            // still count against (and are granted back to) the
            // connection's window, which the sender charged them to.
            if self.conn_received + d.payload.len() as u64 > self.conn_recv_limit {
                return Err(Error::FlowControl);
            }
            self.conn_received += d.payload.len() as u64;
            self.window_updates(&[], out)?;
            return Ok(Event::Ignored { stream_id: id });
        }
        let rst = d.flags & FLAG_RST != 0;
        // An RST past a gap while migrating is taken all the same: the
        // stream ends there whatever was lost, and the peer, having closed
        // it, would never send it again (found in review).
        if !rst && self.past_a_gap_while_migrating(id, d.seq) {
            return Ok(Event::Ignored { stream_id: id });
        }
        // The RST's offset is the stream's final size: bytes below it that
        // never arrived (lost, and no longer sent again) were charged to
        // the connection's window by the sender, so they count as received
        // here too, or each reset would keep that much credit from the
        // peer for ever (found in review).
        let unreceived = match (rst, self.transport) {
            (false, _) => 0,
            (true, Transport::Unordered) => self.unreceived_below(id, d.seq),
            (true, _) => d
                .seq
                .saturating_sub(self.index(id).map_or(0, |i| self.streams[i].recv_offset)),
        };
        if self.conn_received + unreceived > self.conn_recv_limit {
            return Err(Error::FlowControl);
        }
        let idx = self.accept(id, d.seq, d.payload.len(), d.flags)?;
        if rst {
            self.close(idx, true);
            self.forget_unordered(id);
            if unreceived > 0 {
                self.conn_received += unreceived;
                // Late copies of those bytes are now counted already.
                if let Some(r) = self
                    .extras()
                    .received
                    .iter_mut()
                    .find(|r| r.stream_id == id)
                {
                    r.ranges = add_range(&r.ranges, 0, d.seq).0;
                }
                self.window_updates(&[], out)?;
            }
            return Ok(Event::Reset {
                stream_id: id,
                seq: d.seq,
            });
        }
        self.close_if_finished(idx);
        self.window_updates(&[id], out)?;
        Ok(Event::Data {
            stream_id: id,
            seq: d.seq,
            fin: d.flags & FLAG_FIN != 0,
            payload: d.payload,
        })
    }

    /// Bytes of stream `id` below offset `end` that never arrived
    /// (unordered transports; its received ranges are inclusive).
    fn unreceived_below(&self, id: u32, end: u64) -> u64 {
        let ranges = self
            .received()
            .iter()
            .find(|r| r.stream_id == id)
            .map_or(&[][..], |r| &r.ranges[..]);
        add_range(ranges, 0, end).1
    }

    /// On an ordered transport, data past a gap while this side's
    /// migration awaits its SyncAck: the peer sent it after the old path
    /// lost what came before, and not knowing it yet. It is ignored (not
    /// counted, not delivered): the Sync exchange has the peer resume from
    /// what arrived (§3.3.6). Found by the network fuzzer: the gap was
    /// accepted and the bytes before it never came.
    fn past_a_gap_while_migrating(&self, id: u32, seq: u64) -> bool {
        self.awaiting_sync_ack() && seq > self.index(id).map_or(0, |i| self.streams[i].recv_offset)
    }

    /// A multiplexed DataFrame (§3.3.7): each chunk continues its stream
    /// where it stands. All chunks are accepted or none is.
    fn on_chunks<'a>(&mut self, d: DataFrame<'a>, out: &mut Vec<u8>) -> Result<Event<'a>, Error> {
        if d.flags != 0 {
            return Err(Error::InvalidValue("FIN or RST on a multiplexed DataFrame"));
        }
        // Sent after the old path lost connection bytes before it (its
        // `seq` is the sender's connection offset): ignored, as a plain
        // DataFrame past a gap is (found in review).
        if self.awaiting_sync_ack() && d.seq > self.conn_received {
            return Ok(Event::Ignored {
                stream_id: MULTIPLEXED,
            });
        }
        let saved = (self.streams.clone(), self.conn_received, self.tick);
        let mut ids = Vec::new();
        for chunk in d.chunks() {
            let result = chunk.and_then(|c| {
                if self.ignores(c.stream_id) {
                    // A chunk for a stream reset here (or released) that
                    // crossed the RST: ignored like a plain DataFrame,
                    // still charged to the connection's window, and the
                    // other streams' chunks are taken (the whole record
                    // was refused, and their bytes lost, found in review).
                    let len = c.payload.len() as u64;
                    if self.conn_received + len > self.conn_recv_limit {
                        return Err(Error::FlowControl);
                    }
                    self.conn_received += len;
                    return Ok(None);
                }
                let seq = self
                    .index(c.stream_id)
                    .map_or(0, |i| self.streams[i].recv_offset);
                self.accept(c.stream_id, seq, c.payload.len(), 0)?;
                Ok(Some(c.stream_id))
            });
            match result {
                Ok(id) => ids.extend(id),
                Err(e) => {
                    (self.streams, self.conn_received, self.tick) = saved;
                    return Err(e);
                }
            }
        }
        self.window_updates(&ids, out)?;
        Ok(Event::Multiplexed { chunks: d.chunks() })
    }

    /// Checks and applies `len` bytes at `seq` on stream `id`, opening it
    /// if the peer may; nothing changes unless everything is accepted.
    fn accept(&mut self, id: u32, seq: u64, len: usize, flags: u8) -> Result<usize, Error> {
        let existing = self.admit(id)?;
        if self.conn_received + len as u64 > self.conn_recv_limit {
            return Err(Error::FlowControl);
        }
        // `accept_data` checks everything before it changes anything, so a
        // new stream is added only once its first frame is accepted.
        let idx = match existing {
            Some(idx) => {
                self.streams[idx].accept_data(seq, len, flags)?;
                idx
            }
            None => {
                let mut s = Stream::new(id);
                s.accept_data(seq, len, flags)?;
                self.streams.push(s);
                self.streams.len() - 1
            }
        };
        self.conn_received += len as u64;
        self.touch(idx);
        Ok(idx)
    }

    /// The index of stream `id` for data from the peer, or `None` if the
    /// peer may open it now; refused if the ID is not a data stream on this
    /// transport (on QUIC this includes control stream 0, §3.4), is this
    /// side's and unknown, or would exceed [`Limits::max_streams`]. The
    /// peer opens streams of its own parity by sending on them, within the
    /// limit; it never pushes this side's streams out.
    fn admit(&self, id: u32) -> Result<Option<usize>, Error> {
        if !self.transport.is_data_stream(id) {
            return Err(Error::InvalidStreamId(id));
        }
        let existing = self.index(id);
        if existing.is_none() {
            if self.was_released(id) {
                return Err(Error::StreamClosed(id));
            }
            if stream::initiator_of(id) == self.session.role() {
                return Err(Error::UnknownStream(id));
            }
            if self.opened_by(stream::initiator_of(id)) >= self.limits.max_streams {
                return Err(Error::StreamLimit(self.limits.max_streams));
            }
        }
        Ok(existing)
    }

    /// Streams held that `role` opened.
    fn opened_by(&self, role: Role) -> usize {
        self.streams
            .iter()
            .filter(|s| stream::initiator_of(s.id) == role)
            .count()
    }

    /// A DataFrame on an unordered transport (§6.4.3–4): any range within
    /// the window, in any order; a repeat is [`Event::Ignored`] (and
    /// acknowledged again, since the sender repeats what it saw no ACK
    /// for). Every second DataFrame of a stream, or [`ACK_DELAY`] after
    /// the first, an AckFrame of every range the stream received (ACKs
    /// are cumulative) is sent. Data is handed over in order: a payload
    /// that continues the stream is [`Event::Data`], borrowed from the
    /// record; one ahead of a gap is copied into the stream's reorder
    /// buffer ([`Event::Buffered`]) until the gap fills
    /// ([`Event::Readable`], then [`Connection::read`]).
    fn on_unordered_data<'a>(
        &mut self,
        d: DataFrame<'a>,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Result<Event<'a>, Error> {
        let id = d.stream_id;
        if d.is_multiplexed() {
            return Err(Error::InvalidValue(
                "a multiplexed DataFrame on an unordered transport",
            ));
        }
        if d.flags & FLAG_RST != 0 {
            // §3.3.11 step 4: the RST is acknowledged, with a range naming
            // its offset, and again for every copy (the Ack may be lost).
            let event = if self.ignores(id) {
                Event::Ignored { stream_id: id }
            } else {
                self.on_data(d, out)?
            };
            let ack = AckFrame {
                stream_id: id,
                ranges: vec![(d.seq, d.seq)],
            };
            self.seal_frame(&Frame::Ack(ack), out)?;
            return Ok(event);
        }
        if self.ignores(id) {
            return self.ignore_unordered(id, d.seq, d.payload.len(), out);
        }
        let existing = self.admit(id)?;
        let fin = d.flags & FLAG_FIN != 0;
        let end = d
            .seq
            .checked_add(d.payload.len() as u64)
            .ok_or(Error::FlowControl)?;
        let recv_limit = existing.map_or(DEFAULT_STREAM_WINDOW, |i| self.streams[i].recv_limit);
        if end > recv_limit {
            return Err(Error::FlowControl);
        }
        let slot = self.received().iter().position(|r| r.stream_id == id);
        let (ranges, fin_at) = slot.map_or((&[][..], None), |i| {
            (&self.received()[i].ranges[..], self.received()[i].fin_at)
        });
        if fin_at.is_some_and(|f| end > f || (fin && end != f)) {
            return Err(Error::StreamClosed(id));
        }
        if fin && ranges.last().is_some_and(|&(_, last)| last >= end) {
            return Err(Error::InvalidValue("a FIN before data already received"));
        }
        let (merged, new) = self.add_received(ranges, d.seq, end)?;
        let parts = uncovered(ranges, d.seq, end);
        // Everything is checked: apply.
        let repeat = new == 0 && !(fin && fin_at.is_none());
        let idx = existing.unwrap_or_else(|| {
            self.streams.push(Stream::new(id));
            self.streams.len() - 1
        });
        let extras = self.extras();
        let slot = slot.unwrap_or_else(|| {
            extras.received.push(Received {
                stream_id: id,
                ranges: Vec::new(),
                fin_at: None,
                unacked: 0,
                ack_at: None,
                delivered: 0,
                buffer: ReorderBuffer::default(),
                fin_read: false,
            });
            extras.received.len() - 1
        });
        let r = &mut extras.received[slot];
        r.ranges = merged;
        if fin {
            r.fin_at = Some(end);
        }
        // In order, and all of it new: handed over from the record.
        let continues = !repeat
            && d.seq == r.delivered
            && parts.iter().map(|(a, b)| b - a).sum::<u64>() == d.payload.len() as u64
            && !r.buffer.starts_at(end);
        let event = if repeat {
            Event::Ignored { stream_id: id }
        } else if continues {
            r.delivered = end;
            // An empty FIN that arrived ahead of this data ends the stream
            // here (the network fuzzer found it never handed over).
            let fin = fin || r.fin_at == Some(end);
            r.fin_read |= fin;
            Event::Data {
                stream_id: id,
                seq: d.seq,
                fin,
                payload: d.payload,
            }
        } else {
            for &(a, b) in &parts {
                let at = (a - d.seq) as usize;
                r.buffer.insert(a, &d.payload[at..at + (b - a) as usize]);
            }
            extras.buffered += new;
            let readable =
                r.buffer.starts_at(r.delivered) || (r.fin_at == Some(r.delivered) && !r.fin_read);
            if readable {
                Event::Readable { stream_id: id }
            } else {
                Event::Buffered { stream_id: id }
            }
        };
        let fin_read = r.fin_read;
        r.unacked = r.unacked.saturating_add(1);
        if r.ranges.is_empty() && r.fin_at.is_none() {
            // Only empty frames arrived, none a FIN: an AckFrame names at
            // least one range, so there is nothing to acknowledge yet.
        } else if r.unacked >= 2 {
            let ack = AckFrame {
                stream_id: id,
                ranges: r.ack_ranges(),
            };
            r.unacked = 0;
            r.ack_at = None;
            self.seal_frame(&Frame::Ack(ack), out)?;
        } else {
            r.ack_at.get_or_insert(now + ACK_DELAY);
        }
        let s = &mut self.streams[idx];
        s.recv_offset = s.recv_offset.max(end);
        if fin_read {
            s.state_flags |= stream::flags::HALF_CLOSED_REMOTE;
        }
        self.conn_received += new;
        self.touch(idx);
        self.close_if_finished(idx);
        self.window_updates(&[id], out)?;
        Ok(event)
    }

    /// Data for a reset or released stream on an unordered transport,
    /// acknowledged at once (so the peer stops sending it again): it
    /// may be a copy of data already counted, so only bytes new to the
    /// stream's ranges (kept while it lingers) count against the
    /// connection's window. A released stream's ranges are gone: its late
    /// data is not counted (a repeat counted twice would shrink the window
    /// the receiver believes is left below the sender's, and refuse data
    /// the sender may send).
    fn ignore_unordered(
        &mut self,
        id: u32,
        seq: u64,
        len: usize,
        out: &mut Vec<u8>,
    ) -> Result<Event<'static>, Error> {
        let end = seq.checked_add(len as u64).ok_or(Error::FlowControl)?;
        // Acknowledged all the same, or the peer (whose RST has not
        // reached it yet) would send it again for ever.
        let ranges = match self.received().iter().position(|r| r.stream_id == id) {
            Some(slot) => {
                let (merged, new) = self.add_received(&self.received()[slot].ranges, seq, end)?;
                self.extras().received[slot].ranges = merged.clone();
                self.conn_received += new;
                self.window_updates(&[], out)?;
                merged
            }
            None if len > 0 => vec![(seq, end - 1)],
            None => Vec::new(),
        };
        if !ranges.is_empty() {
            let ack = AckFrame {
                stream_id: id,
                ranges,
            };
            self.seal_frame(&Frame::Ack(ack), out)?;
        }
        Ok(Event::Ignored { stream_id: id })
    }

    /// A stream's received `ranges` with `[start, end)` added and how many
    /// bytes were new, refused when the ranges would not fit an AckFrame or
    /// the new bytes the connection's window.
    fn add_received(
        &self,
        ranges: &[(u64, u64)],
        start: u64,
        end: u64,
    ) -> Result<(Vec<(u64, u64)>, u64), Error> {
        let (merged, new) = add_range(ranges, start, end);
        if merged.len() > MAX_ACK_RANGES {
            return Err(Error::TooMany {
                what: "received ranges",
                max: MAX_ACK_RANGES,
            });
        }
        if self.conn_received + new > self.conn_recv_limit {
            return Err(Error::FlowControl);
        }
        Ok((merged, new))
    }

    /// Hands over what a stream's reorder buffer holds in order from its
    /// delivery point (unordered transports, after [`Event::Readable`]):
    /// `None` when nothing is in order yet. Flow-control credit follows
    /// what was handed over, so a WindowUpdate may be appended to `out`.
    pub fn read(&mut self, stream_id: u32, out: &mut Vec<u8>) -> Result<Option<Delivery>, Error> {
        let idx = self
            .index(stream_id)
            .ok_or(Error::UnknownStream(stream_id))?;
        let Some(e) = self.extras.as_deref_mut() else {
            return Ok(None);
        };
        let Some(r) = e.received.iter_mut().find(|r| r.stream_id == stream_id) else {
            return Ok(None);
        };
        let seq = r.delivered;
        let data = r.buffer.take_at(seq).unwrap_or_default();
        r.delivered += data.len() as u64;
        e.buffered -= data.len() as u64;
        let fin = r.fin_at == Some(r.delivered) && !r.fin_read;
        if data.is_empty() && !fin {
            return Ok(None);
        }
        if fin {
            r.fin_read = true;
            self.streams[idx].state_flags |= stream::flags::HALF_CLOSED_REMOTE;
            self.close_if_finished(idx);
        }
        self.window_updates(&[stream_id], out)?;
        Ok(Some(Delivery { seq, fin, data }))
    }

    /// Sends again, at `now`, what its timer says is due: this side's
    /// KeyUpdate with no Ack after 2 × RTT (§4.6.4; after
    /// [`KEY_UPDATE_RETRIES`] retries the key update fails with
    /// [`Error::RekeyFailed`]), a Sync that got
    /// no SyncAck in time (§3.3.3; after [`SYNC_RETRIES`] retries the
    /// migration fails with [`Error::MigrationFailed`]), and every record
    /// on an unordered transport whose retransmission timeout expired with
    /// no AckFrame covering it (§6.4.4); returns how many data records.
    /// Each expiration without an acknowledgement doubles the timeout
    /// (RFC 6298 §5.5) and counts towards
    /// [`Connection::consecutive_timeouts`].
    pub fn poll_retransmit(&mut self, now: Instant, out: &mut Vec<u8>) -> Result<usize, Error> {
        self.note_time(now);
        self.fail_migration_if_exhausted(now)?;
        self.fail_rekey_if_exhausted(now)?;
        if self.key_update_deadline().is_some_and(|t| now >= t)
            && let Some(k) = self.key_update
        {
            // The same epoch and direction again (§4.6.4 "Retry
            // Idempotency"); the peer acknowledges a repeat again.
            self.seal_frame(&Frame::KeyUpdate(k.frame), out)?;
            self.key_update = Some(KeyUpdateInFlight {
                sent_at: Some(now),
                retries: k.retries + 1,
                ..k
            });
        }
        let sync_due = self.sync_deadline().is_some_and(|t| now >= t);
        if sync_due
            && let Some(e) = self.extras.as_deref()
            && let Migration::SyncSent { retries } = e.migration
        {
            let flags = e.sync_flags;
            self.sync(flags, out)?;
            let e = self.extras();
            e.migration = Migration::SyncSent {
                retries: retries + 1,
            };
            e.sync_sent_at = Some(now);
        }
        let path_rtt = self.path_rtt();
        let Some(e) = self.extras.as_deref_mut() else {
            return Ok(0);
        };
        let rto = e.sent.rto(path_rtt);
        let (mut count, mut bytes) = (0, 0);
        for p in &mut e.sent.pending {
            if p.sent_at.is_some_and(|t| now >= t + rto) {
                let frame = DataFrame {
                    stream_id: p.stream_id,
                    seq: p.seq,
                    flags: p.flags,
                    payload: &p.data,
                };
                self.session
                    .sealer()
                    .seal_append(out, |b| frame.encode(b))?;
                p.sent_at = Some(now);
                p.retransmitted = true;
                count += 1;
                bytes += p.data.len();
            }
        }
        if count > 0 {
            e.sent.timeouts = e.sent.timeouts.saturating_add(1);
            self.count_sent(bytes, out)?;
        }
        Ok(count)
    }

    /// The current retransmission timeout on an unordered transport
    /// (§3.3.2: smoothed RTT + 4 × RTT variance, at least 200 ms, doubled
    /// per expiration since the last acknowledgement).
    pub fn rto(&self) -> Duration {
        self.retransmits().rto(self.path_rtt())
    }

    /// The path's RTT estimate (a resumed connection's), if it has one.
    fn path_rtt(&self) -> Option<Duration> {
        (self.path.rtt_estimate > 0).then(|| Duration::from_micros(self.path.rtt_estimate.into()))
    }

    /// Retransmission timeouts expired in a row with no acknowledgement;
    /// at [`crate::reliability::DEGRADED_AFTER`] (3) the path counts as
    /// degraded (§3.3.2), which is when migration starts.
    pub fn consecutive_timeouts(&self) -> u32 {
        self.retransmits().timeouts
    }

    /// Bytes sent on an unordered transport and not yet acknowledged (at
    /// most [`crate::reliability::RETRANSMIT_BUFFER_MAX`]).
    pub fn unacknowledged_bytes(&self) -> usize {
        self.retransmits().bytes()
    }

    /// Appends the AckFrames whose [`ACK_DELAY`] is over at `now`
    /// (unordered transports); returns how many.
    pub fn poll_acks(&mut self, now: Instant, out: &mut Vec<u8>) -> Result<usize, Error> {
        let mut sent = 0;
        for i in 0..self.received().len() {
            let r = &self.received()[i];
            if r.ack_at.is_none_or(|t| now < t) {
                continue;
            }
            let ranges = r.ack_ranges();
            if !ranges.is_empty() {
                let ack = AckFrame {
                    stream_id: r.stream_id,
                    ranges,
                };
                self.seal_frame(&Frame::Ack(ack), out)?;
                let r = &mut self.extras().received[i];
                r.unacked = 0;
                r.ack_at = None;
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Automatic WindowUpdates (§3.3.9): once the data delivered since the
    /// last one reaches half the initial window, on a stream or the
    /// connection, grant exactly that much again. On an unordered
    /// transport only what was handed over in order counts, so a reorder
    /// buffer never holds more than a window.
    fn window_updates(&mut self, ids: &[u32], out: &mut Vec<u8>) -> Result<(), Error> {
        let unordered = self.transport == Transport::Unordered;
        for &id in ids {
            let Some(idx) = self.index(id) else { continue };
            let s = &self.streams[idx];
            let delivered = if unordered {
                self.received()
                    .iter()
                    .find(|r| r.stream_id == id)
                    .map_or(0, |r| r.delivered)
            } else {
                s.recv_offset
            };
            let consumed =
                delivered.saturating_sub(s.recv_limit.saturating_sub(DEFAULT_STREAM_WINDOW));
            if consumed >= DEFAULT_STREAM_WINDOW / 2 {
                self.grant(id, consumed, out)?;
            }
        }
        let buffered = self.extras.as_ref().map_or(0, |e| e.buffered);
        let consumed = (self.conn_received - buffered).saturating_sub(
            self.conn_recv_limit
                .saturating_sub(DEFAULT_CONNECTION_WINDOW),
        );
        if consumed >= DEFAULT_CONNECTION_WINDOW / 2 {
            self.grant(0, consumed, out)?;
        }
        Ok(())
    }
}

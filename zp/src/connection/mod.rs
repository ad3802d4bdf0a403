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
//!
//! Here: the connection's state, receiving (one record in, its frame
//! applied) and time. Each concern in its own file:
//! - `streams`: opening, sending, resets, flow control, ordered data;
//! - `control`: control frames, QUIC's control stream, key updates;
//! - `migration`: Sync, SyncAck, where streams resume;
//! - `linger`: closed streams and released IDs;
//! - `unordered`: the reliability layer's connection side (its buffers
//!   are in [`crate::reliability`], receiver's and sender's);
//! - `memory`: the footprint and its bound; `event`: what a record meant.

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

mod control;
mod event;
mod linger;
mod memory;
mod migration;
mod streams;
mod unordered;

use crate::reliability::Received;
pub use event::{Event, Opened};
use linger::{Linger, RELEASED_ABOVE_MAX, Released, released_slot};

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

    fn extras(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Box::default)
    }

    fn touch(&mut self, idx: usize) {
        self.tick += 1;
        self.streams[idx].last_used = self.tick;
    }

    fn index(&self, id: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.id == id)
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
}

//! An established connection: the session's records, up to 12 streams,
//! connection-level flow control, and the path facts a state token saves.
//! Sans-IO: records in, records out, and time as an input (`now` on
//! receive, [`Connection::poll_timeout`] and
//! [`Connection::handle_timeout`]); nothing here reads a clock.
//!
//! A frame that is refused changes nothing: every check runs before any
//! state moves. Streams the peer opens count against the limit and are
//! refused beyond it ([`Error::StreamLimit`]); they never evict this
//! side's streams.

use crate::error::Error;
use crate::frame::{
    DataFrame, ErrorCode, FLAG_FIN, Frame, KeyDirection, MAX_STREAMS, WindowUpdate, parse_frame,
};
use crate::handshake::{Role, SessionKeys};
use crate::session::Session;
use crate::stream::{self, Stream};
use std::time::Instant;

/// Default connection-level flow-control window (1 MiB).
pub const DEFAULT_CONNECTION_WINDOW: u64 = 1024 * 1024;

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
    /// Hash of the local address the connection is bound to.
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
    /// A frame this core accepts but leaves to the application (Sync, SyncAck).
    Other,
}

/// Result of opening a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// The new stream's ID.
    pub stream_id: u32,
    /// The stream evicted to make room (least recently used), if any.
    pub evicted: Option<u32>,
}

/// An established zp connection.
#[derive(Debug)]
pub struct Connection {
    session: Session,
    streams: Vec<Stream>,
    next_stream_id: u32,
    tick: u64,
    conn_sent: u64,
    conn_send_limit: u64,
    conn_received: u64,
    conn_recv_limit: u64,
    path: PathInfo,
}

impl Connection {
    /// The connection a handshake established.
    pub fn new(keys: SessionKeys, path: PathInfo) -> Self {
        Self::from_parts(Session::new(keys), Vec::new(), path)
    }

    pub(crate) fn from_parts(session: Session, streams: Vec<Stream>, path: PathInfo) -> Self {
        let role = session.role();
        let mine = |id: u32| stream::initiator_of(id) == role;
        let highest_mine = streams.iter().map(Stream::id).filter(|&id| mine(id)).max();
        let next_stream_id = match (highest_mine, role) {
            (Some(id), _) => id.saturating_add(2),
            (None, Role::Client) => 2,
            (None, Role::Server) => 1,
        };
        let tick = streams.iter().map(|s| s.last_used).max().unwrap_or(0);
        let mut streams = streams;
        streams.reserve_exact(1);
        Connection {
            session,
            streams,
            next_stream_id,
            tick,
            conn_sent: 0,
            conn_send_limit: DEFAULT_CONNECTION_WINDOW,
            conn_received: 0,
            conn_recv_limit: DEFAULT_CONNECTION_WINDOW,
            path,
        }
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
            + self.session.heap_bytes()
    }

    fn touch(&mut self, idx: usize) {
        self.tick += 1;
        self.streams[idx].last_used = self.tick;
    }

    fn index(&self, id: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.id == id)
    }

    /// Makes room for one more stream, evicting the least recently used.
    fn insert(&mut self, stream: Stream) -> Option<u32> {
        let evicted = if self.streams.len() >= MAX_STREAMS {
            let lru = (0..self.streams.len())
                .min_by_key(|&i| self.streams[i].last_used)
                .expect("streams is full, so not empty");
            Some(self.streams.swap_remove(lru).id)
        } else {
            None
        };
        self.streams.push(stream);
        let idx = self.streams.len() - 1;
        self.touch(idx);
        evicted
    }

    /// Opens a stream of this side's parity.
    pub fn open_stream(&mut self) -> Result<Opened, Error> {
        let id = self.next_stream_id;
        if !stream::is_valid_stream_id(id) || id > u32::MAX - 2 {
            return Err(Error::TooMany {
                what: "stream IDs",
                max: (u32::MAX / 2) as usize,
            });
        }
        self.next_stream_id = id + 2;
        let evicted = self.insert(Stream::new(id));
        Ok(Opened {
            stream_id: id,
            evicted,
        })
    }

    /// Appends one record carrying `payload` on `stream_id` to `out`.
    /// With enough capacity in `out`, nothing is allocated.
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
        if self.conn_sent + payload.len() as u64 > self.conn_send_limit {
            return Err(Error::FlowControl);
        }
        let snapshot = self.streams[idx].clone();
        let seq = self.streams[idx].reserve_send(payload.len(), fin)?;
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
        self.streams[idx].global_seq = self.conn_sent;
        self.touch(idx);
        Ok(())
    }

    /// Appends a record carrying any control frame to `out`.
    pub fn send_control(&mut self, frame: &Frame<'_>, out: &mut Vec<u8>) -> Result<(), Error> {
        self.session.sealer().seal_append(out, |b| frame.encode(b))
    }

    /// Grants the peer `increment` more bytes on a stream (or the
    /// connection, with 0) and appends the WindowUpdate record to `out`.
    pub fn grant(
        &mut self,
        stream_id: u32,
        increment: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
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
        self.send_control(
            &Frame::WindowUpdate(WindowUpdate {
                stream_id,
                increment: granted,
            }),
            out,
        )
    }

    /// Starts a key update; appends the KeyUpdate record to `out`.
    pub fn update_keys(&mut self, direction: KeyDirection, out: &mut Vec<u8>) -> Result<(), Error> {
        let update = self.session.initiate_key_update(direction)?;
        self.send_control(&Frame::KeyUpdate(update), out)
    }

    /// When [`Connection::handle_timeout`] next has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.session.poll_timeout()
    }

    /// Does what is due at `now` (erases keys whose grace period is over).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.session.handle_timeout(now);
    }

    /// Opens one record in place at time `now` and applies the frame it
    /// carries. Any reply the protocol requires (a KeyUpdateAck) is
    /// appended to `out`.
    pub fn receive<'a>(
        &mut self,
        record: &'a mut [u8],
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Result<Event<'a>, Error> {
        let plaintext: &'a [u8] = self.session.open(record, now)?;
        match parse_frame(plaintext)? {
            Frame::Data(d) => self.on_data(d),
            Frame::KeyUpdate(u) => {
                let ack = self.session.on_key_update(&u)?;
                self.send_control(&Frame::KeyUpdateAck(ack), out)?;
                Ok(Event::KeyUpdated {
                    epoch: ack.acked_epoch,
                })
            }
            Frame::KeyUpdateAck(a) => {
                self.session.on_key_update_ack(&a)?;
                Ok(Event::KeyUpdateAcknowledged {
                    epoch: a.acked_epoch,
                })
            }
            Frame::WindowUpdate(w) => {
                if w.stream_id == 0 {
                    self.conn_send_limit = (self.conn_send_limit.saturating_add(w.increment))
                        .min(self.conn_sent.saturating_add(stream::MAX_WINDOW));
                } else {
                    let idx = self
                        .index(w.stream_id)
                        .ok_or(Error::UnknownStream(w.stream_id))?;
                    self.streams[idx].grant_send(w.increment);
                }
                Ok(Event::WindowUpdated {
                    stream_id: w.stream_id,
                })
            }
            Frame::Ack(a) => {
                let idx = self
                    .index(a.stream_id)
                    .ok_or(Error::UnknownStream(a.stream_id))?;
                if let Some(end) = a.ranges.iter().map(|r| r.1).max() {
                    self.streams[idx].acknowledge(end.saturating_add(1));
                }
                Ok(Event::Acked {
                    stream_id: a.stream_id,
                })
            }
            Frame::Error(e) => Ok(Event::PeerError(e.code)),
            Frame::Sync(_) | Frame::SyncAck(_) => Ok(Event::Other),
            // Handshake frames never travel inside records.
            _ => Err(Error::UnexpectedFrame),
        }
    }

    fn on_data<'a>(&mut self, d: DataFrame<'a>) -> Result<Event<'a>, Error> {
        let id = d.stream_id;
        if !stream::is_valid_stream_id(id) {
            return Err(Error::InvalidStreamId(id));
        }
        let existing = self.index(id);
        if existing.is_none() {
            // The peer opens streams of its own parity by sending on them,
            // within the limit; it never pushes this side's streams out.
            if stream::initiator_of(id) == self.session.role() {
                return Err(Error::UnknownStream(id));
            }
            if self.streams.len() >= MAX_STREAMS {
                return Err(Error::StreamLimit(MAX_STREAMS));
            }
        }
        let len = d.payload.len() as u64;
        if self.conn_received + len > self.conn_recv_limit {
            return Err(Error::FlowControl);
        }
        // `accept_data` checks everything before it changes anything, so a
        // new stream is added only once its first frame is accepted.
        let idx = match existing {
            Some(idx) => {
                self.streams[idx].accept_data(d.seq, d.payload.len(), d.flags)?;
                idx
            }
            None => {
                let mut s = Stream::new(id);
                s.accept_data(d.seq, d.payload.len(), d.flags)?;
                self.streams.push(s);
                self.streams.len() - 1
            }
        };
        self.conn_received += len;
        self.touch(idx);
        Ok(Event::Data {
            stream_id: id,
            seq: d.seq,
            fin: d.flags & FLAG_FIN != 0,
            payload: d.payload,
        })
    }
}

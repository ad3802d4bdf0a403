//! Streams and flow control: opening, sending (one stream, or several in a
//! multiplexed DataFrame), resets and closes, WindowUpdates, and what an
//! ordered transport's DataFrames do to a stream (§3.3.7, §3.3.9–§3.3.11).

use super::*;

impl Connection {
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

    /// Counts stream bytes sent under the current key; past
    /// [`Limits::rekey_bytes`] the rotation starts at once, its KeyUpdate
    /// appended after the record that crossed the line.
    pub(super) fn count_sent(&mut self, bytes: usize, out: &mut Vec<u8>) -> Result<(), Error> {
        self.sent_under_key = self.sent_under_key.saturating_add(bytes as u64);
        if self.limits.rekey_enabled && self.sent_under_key >= self.limits.rekey_bytes {
            self.rekey_due = true;
        }
        self.rekey_if_due(out)
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
    pub(super) fn forget_unordered(&mut self, stream_id: u32) {
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
    pub(super) fn close(&mut self, idx: usize, reset: bool) {
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
    pub(super) fn close_if_finished(&mut self, idx: usize) {
        use stream::flags::{HALF_CLOSED_LOCAL, HALF_CLOSED_REMOTE, OPEN};
        let f = self.streams[idx].state_flags;
        if f & OPEN != 0 && f & HALF_CLOSED_LOCAL != 0 && f & HALF_CLOSED_REMOTE != 0 {
            self.close(idx, false);
        }
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

    pub(super) fn on_data<'a>(
        &mut self,
        d: DataFrame<'a>,
        out: &mut Vec<u8>,
    ) -> Result<Event<'a>, Error> {
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
    pub(super) fn unreceived_below(&self, id: u32, end: u64) -> u64 {
        let ranges = self
            .received()
            .iter()
            .find(|r| r.stream_id == id)
            .map_or(&[][..], |r| &r.ranges[..]);
        add_range(ranges, 0, end).1
    }

    /// A multiplexed DataFrame (§3.3.7): each chunk continues its stream
    /// where it stands. All chunks are accepted or none is.
    pub(super) fn on_chunks<'a>(
        &mut self,
        d: DataFrame<'a>,
        out: &mut Vec<u8>,
    ) -> Result<Event<'a>, Error> {
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
    pub(super) fn accept(
        &mut self,
        id: u32,
        seq: u64,
        len: usize,
        flags: u8,
    ) -> Result<usize, Error> {
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
    pub(super) fn admit(&self, id: u32) -> Result<Option<usize>, Error> {
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
    pub(super) fn opened_by(&self, role: Role) -> usize {
        self.streams
            .iter()
            .filter(|s| stream::initiator_of(s.id) == role)
            .count()
    }

    /// Automatic WindowUpdates (§3.3.9): once the data delivered since the
    /// last one reaches half the initial window, on a stream or the
    /// connection, grant exactly that much again. On an unordered
    /// transport only what was handed over in order counts, so a reorder
    /// buffer never holds more than a window.
    pub(super) fn window_updates(&mut self, ids: &[u32], out: &mut Vec<u8>) -> Result<(), Error> {
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

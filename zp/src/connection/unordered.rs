//! The connection's side of the reliability layer on unordered transports
//! (§6.4.4): data taken in any order and handed over in order, AckFrames,
//! retransmission. The buffers themselves (the receiver's ranges and
//! reorder buffer, the sender's retransmit queue) are in
//! [`crate::reliability`].

use super::*;

impl Connection {
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
    pub(super) fn on_unordered_data<'a>(
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
    pub(super) fn ignore_unordered(
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
            // An empty FIN is acknowledged by a range naming its offset,
            // or its sender would keep sending it (found in review).
            None => vec![(seq, end.max(seq + 1) - 1)],
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
    pub(super) fn add_received(
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
    pub(super) fn path_rtt(&self) -> Option<Duration> {
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

    /// The retransmit buffer (empty but for unordered transports).
    pub(super) fn retransmits(&self) -> &Retransmits {
        static EMPTY: Retransmits = Retransmits::EMPTY;
        self.extras.as_ref().map_or(&EMPTY, |e| &e.sent)
    }

    pub(super) fn received(&self) -> &[Received] {
        self.extras.as_ref().map_or(&[], |e| &e.received)
    }
}

//! Transport migration (§3.3.3–§3.3.6): the Sync this side sends and
//! retries, the Sync it answers, and the SyncAck that says where each
//! stream resumes.

use super::*;

impl Connection {
    /// On an ordered transport, stream data waits while a migration is
    /// under way ([`Error::MigrationPending`]): the SyncAck says where each
    /// stream resumes (§3.3.6), and data sent before it could land past a
    /// gap or be sent twice (the network fuzzer found both).
    pub(super) fn check_not_migrating(&self) -> Result<(), Error> {
        if self.awaiting_sync_ack() {
            return Err(Error::MigrationPending);
        }
        Ok(())
    }

    /// On an ordered transport, a migration of this side's is under way:
    /// until its SyncAck, where each stream stands is not known.
    pub(super) fn awaiting_sync_ack(&self) -> bool {
        self.transport != Transport::Unordered
            && matches!(
                self.migration(),
                Migration::Migrating | Migration::SyncSent { .. }
            )
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
    pub(super) fn sync_deadline(&self) -> Option<Instant> {
        let e = self.extras.as_deref()?;
        let Migration::SyncSent { retries } = e.migration else {
            return None;
        };
        let wait = (SYNC_TIMEOUT * (1 << retries.min(8))).min(SYNC_TIMEOUT_MAX);
        e.sync_sent_at.map(|t| t + wait)
    }

    /// SYNC_SENT with every retry used and its wait over: FAILED.
    pub(super) fn fail_migration_if_exhausted(&mut self, now: Instant) -> Result<(), Error> {
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

    /// Whether a Sync arriving at `now` is within §8.1's rate (and if so,
    /// counts it): at most [`SYNCS_PER_MINUTE`] in any 60 seconds.
    pub(super) fn take_sync(&mut self, now: Instant) -> bool {
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
    pub(super) fn on_sync(
        &mut self,
        sync: &Sync,
        out: &mut Vec<u8>,
    ) -> Result<Event<'static>, Error> {
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

    pub(super) fn on_sync_ack<'a>(&mut self, ack: SyncAck) -> Result<Event<'a>, Error> {
        if !matches!(self.migration(), Migration::SyncSent { .. }) {
            // An answer to a Sync already answered (a retransmission's):
            // its offsets are stale, and acting on them would resend or
            // reset what has moved on since (the network fuzzer found it).
            // A REJECT with no Sync awaiting an answer aborts nothing
            // either (found in review).
            return Ok(Event::SyncAcked(ack));
        }
        if ack.status == SyncStatus::Reject {
            // §3.3.6: abort the migration (no Sync is sent again).
            self.extras().migration = Migration::Failed;
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
    pub(super) fn resume_from(&mut self, idx: usize, receiver_seq: u64, unknown: bool) {
        let id = self.streams[idx].id;
        let reset = self.was_reset(id);
        let s = &mut self.streams[idx];
        if self.transport == Transport::Unordered
            || receiver_seq > s.send_offset
            || (receiver_seq == s.send_offset && !unknown)
            || receiver_seq < s.last_acked
            || reset
            // A closed stream of this side's that the peer calls UNKNOWN
            // was released there after both FINs: nothing was lost, and
            // going back would hand out credit the peer has counted
            // (found in review).
            || (unknown && s.state_flags & stream::flags::OPEN == 0)
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
    pub(super) fn reset_to_zero(&mut self, idx: usize) {
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

    /// On an ordered transport, data past a gap while this side's
    /// migration awaits its SyncAck: the peer sent it after the old path
    /// lost what came before, and not knowing it yet. It is ignored (not
    /// counted, not delivered): the Sync exchange has the peer resume from
    /// what arrived (§3.3.6). Found by the network fuzzer: the gap was
    /// accepted and the bytes before it never came.
    pub(super) fn past_a_gap_while_migrating(&self, id: u32, seq: u64) -> bool {
        self.awaiting_sync_ack() && seq > self.index(id).map_or(0, |i| self.streams[i].recv_offset)
    }
}

//! Control frames and the key schedule's side of a connection: what
//! `send_control` may seal, QUIC's control stream (§3.4), key updates and
//! their retransmission (§4.6).

use super::*;

impl Connection {
    /// Starts the due rotation of this side's sending key (§4.6.1), unless
    /// a key update is already under way (then it waits for that one).
    pub(super) fn rekey_if_due(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
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

    /// Appends a record carrying a control frame to `out`: a WindowUpdate,
    /// an AckFrame, a Sync or SyncAck. A KeyUpdate or KeyUpdate-Ack would
    /// move the peer's keys without this side's (they go through
    /// [`Connection::update_keys`] and [`Connection::receive`]), a
    /// DataFrame past this side's stream state, and an ErrorFrame goes in
    /// plaintext ([`Connection::error_frame`]): these are refused with
    /// [`Error::InvalidValue`]. A WindowUpdate sent here grants what this
    /// side's own windows do not count ([`Connection::grant`] does both). On QUIC, no control frame goes out
    /// before the client opened stream 0
    /// ([`Connection::open_control_stream`]; [`Error::ControlStreamClosed`]).
    pub fn send_control(&mut self, frame: &Frame<'_>, out: &mut Vec<u8>) -> Result<(), Error> {
        match frame {
            Frame::KeyUpdate(_) | Frame::KeyUpdateAck(_) => Err(Error::InvalidValue(
                "key updates are sent by update_keys and receive",
            )),
            Frame::Data(_) => Err(Error::InvalidValue("stream data is sent by send")),
            // §3.3.13: an ErrorFrame travels in plaintext only.
            Frame::Error(_) => Err(Error::InvalidValue(
                "an ErrorFrame is sent in plaintext by error_frame",
            )),
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

    pub(super) fn seal_frame(&mut self, frame: &Frame<'_>, out: &mut Vec<u8>) -> Result<(), Error> {
        if !matches!(frame, Frame::Data(_)) {
            self.check_control_open()?;
        }
        self.session.sealer().seal_append(out, |b| frame.encode(b))
    }

    /// §3.4: on QUIC, no control frame before the client opened stream 0.
    pub(super) fn check_control_open(&self) -> Result<(), Error> {
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
    pub(super) fn check_control_sendable(&mut self) -> Result<(), Error> {
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

    /// When this side's KeyUpdate is due to be sent again, or after the
    /// last retry, when the key update fails: 2 × RTT after it was sent
    /// (§4.6.4; the smoothed RTT, else the path's estimate, else
    /// [`crate::reliability::INITIAL_RTO`]), at least
    /// [`crate::reliability::MIN_RTO`].
    pub(super) fn key_update_deadline(&self) -> Option<Instant> {
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
    pub(super) fn fail_rekey_if_exhausted(&mut self, now: Instant) -> Result<(), Error> {
        let exhausted = self
            .key_update
            .is_some_and(|k| k.retries >= KEY_UPDATE_RETRIES)
            && self.key_update_deadline().is_some_and(|t| now >= t);
        if exhausted {
            return Err(Error::RekeyFailed);
        }
        Ok(())
    }
}

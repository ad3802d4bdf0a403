//! §4.2's handshake timing: "If no ServerHello received within
//! `ZP_HANDSHAKE_TIMEOUT` (default: 5000ms), retransmit ClientHello. After
//! `ZP_HANDSHAKE_RETRIES` (default: 3) failures, abort with
//! `ERR_HANDSHAKE_TIMEOUT`." The state machines in this module's siblings
//! take frames, not clocks; the client keeps its hello's bytes here and asks
//! when to send them again. A KnownHello is retransmitted the same way.

use crate::error::Error;
use std::time::{Duration, Instant};

/// `ZP_HANDSHAKE_TIMEOUT`: how long a hello waits for its reply.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(5000);
/// `ZP_HANDSHAKE_RETRIES`: retransmissions before the handshake is abandoned
/// (Appendix C: "Max handshake retransmissions").
pub const HANDSHAKE_RETRIES: u32 = 3;

/// A client's sent hello, waiting for its reply. The same bytes go out again
/// (same random, same key share), so a server that did answer and whose
/// reply was lost sees a duplicate, not a second client.
#[derive(Debug, Clone)]
pub struct HelloRetransmit {
    hello: Vec<u8>,
    deadline: Instant,
    timeout: Duration,
    retries: u32,
    max_retries: u32,
}

impl HelloRetransmit {
    /// The hello's bytes, sent at `sent_at`, with the spec's defaults.
    pub fn new(hello: Vec<u8>, sent_at: Instant) -> Self {
        HelloRetransmit {
            hello,
            deadline: sent_at + HANDSHAKE_TIMEOUT,
            timeout: HANDSHAKE_TIMEOUT,
            retries: 0,
            max_retries: HANDSHAKE_RETRIES,
        }
    }

    /// Other values of `ZP_HANDSHAKE_TIMEOUT` and `ZP_HANDSHAKE_RETRIES`
    /// (the racing phase may want to give up sooner, Appendix C).
    pub fn with_timing(mut self, timeout: Duration, retries: u32) -> Self {
        // Longer than a day is no handshake timeout; the clamp keeps the
        // deadlines representable.
        let timeout = timeout.min(Duration::from_secs(24 * 60 * 60));
        // Before any retransmission the deadline is the send time plus the
        // timeout: move it by the difference, never below the send time.
        self.deadline = match timeout.checked_sub(self.timeout) {
            Some(longer) => self.deadline + longer,
            None => self.deadline - (self.timeout - timeout),
        };
        self.timeout = timeout;
        self.max_retries = retries;
        self
    }

    /// When [`HelloRetransmit::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Instant {
        self.deadline
    }

    /// Retransmissions so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// At `now`: nothing to do before the deadline; past it, the hello to
    /// send again, or [`Error::HandshakeTimeout`] once every retransmission
    /// went unanswered (send `ErrorFrame` `ERR_HANDSHAKE_TIMEOUT`, 0x01, and
    /// give up). Stop calling it once the reply arrives.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<Option<&[u8]>, Error> {
        if now < self.deadline {
            return Ok(None);
        }
        if self.retries >= self.max_retries {
            return Err(Error::HandshakeTimeout);
        }
        self.retries += 1;
        self.deadline = now + self.timeout;
        Ok(Some(&self.hello))
    }
}

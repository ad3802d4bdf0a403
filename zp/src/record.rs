//! The EncryptedRecord layer (zp-protocol.md, "EncryptedRecord"):
//! `length u32 | epoch u8 | counter u64 | ciphertext | tag [16]`.
//!
//! AAD is the 13-byte header as on the wire; the nonce is four zero bytes
//! then the counter (u64 LE). Records are sealed and opened in place inside a
//! buffer the caller owns, so the hot path allocates nothing. Each direction
//! has its own counter, which refuses to wrap: at 2^64 - 1 the key must be
//! rotated first.
//!
//! Opening authenticates before it looks at the counter: the header is
//! unauthenticated until the tag checks, so refusing a replayed or
//! exhausted counter first would let the time to refuse reveal the
//! receiver's next counter, and would answer a forged header with a
//! specific error. Every record that does not authenticate (a wrong tag, an
//! epoch this side holds no key for) gets the one opaque
//! [`Error::Authentication`]; only an authentic record can be a replay.

use crate::crypto::{AeadAlgorithm, AeadKey, Key32, NONCE_LEN, TAG_LEN};
use crate::error::Error;
use std::time::{Duration, Instant};

/// How long the receive key of the epoch before the current one stays
/// usable after the switch, for records still in flight under it
/// (`ZP_REKEY_GRACE`, spec §4.6.4 step 8).
pub const REKEY_GRACE: Duration = Duration::from_secs(5);

/// `length | epoch | counter`.
pub const RECORD_HEADER_LEN: usize = 13;
/// A record with an empty plaintext.
pub const MIN_RECORD_LEN: usize = RECORD_HEADER_LEN + TAG_LEN;
/// Longest record accepted (16 MiB). The ErrorFrame magic read as a length
/// is larger, so a plaintext ErrorFrame is never mistaken for a record.
pub const MAX_RECORD_LEN: usize = 16 * 1024 * 1024;
/// Bytes a record adds around its plaintext.
pub const RECORD_OVERHEAD: usize = RECORD_HEADER_LEN + TAG_LEN;

/// A record's AEAD nonce (§6.5.1): four zero bytes, then the counter as
/// a little-endian u64.
pub fn nonce(counter: u64) -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    n
}

/// The length of the record at the start of `prefix`, once its first four
/// bytes have arrived (`Ok(None)` before that). For stream transports.
pub fn record_len(prefix: &[u8]) -> Result<Option<usize>, Error> {
    let Some(len) = prefix.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_le_bytes(len.try_into().expect("4 bytes"));
    check_len(len).map(Some)
}

/// The length of the next unit on a stream transport (§3.3.13 "Frame
/// Disambiguation"): a plaintext ErrorFrame when the first four bytes are
/// its magic (9 bytes; the magic read as a length, 1 515 210 066, is far
/// past [`MAX_RECORD_LEN`], so no record starts that way), else a record.
/// `Ok(None)` until four bytes have arrived.
pub fn unit_len(prefix: &[u8]) -> Result<Option<usize>, Error> {
    use crate::frame::ErrorFrame;
    match prefix.get(..4) {
        None => Ok(None),
        Some(m) if m == ErrorFrame::MAGIC.to_le_bytes() => Ok(Some(ErrorFrame::LEN)),
        Some(_) => record_len(prefix),
    }
}

fn check_len(len: u32) -> Result<usize, Error> {
    let l = len as usize;
    if (MIN_RECORD_LEN..=MAX_RECORD_LEN).contains(&l) {
        Ok(l)
    } else {
        Err(Error::RecordLength(len))
    }
}

/// Seals records for one direction under one key epoch.
#[derive(Debug)]
pub struct RecordSealer {
    key: AeadKey,
    epoch: u32,
    next_counter: u64,
}

impl RecordSealer {
    /// A sealer starting at counter 0.
    pub fn new(aead: AeadAlgorithm, key: &Key32, epoch: u32) -> Self {
        Self::with_counter(aead, key, epoch, 0)
    }

    /// A sealer whose next record uses `counter` (used when resuming).
    pub fn with_counter(aead: AeadAlgorithm, key: &Key32, epoch: u32, counter: u64) -> Self {
        Self::from_key(AeadKey::new(aead, key), epoch, counter)
    }

    /// A sealer on an expanded key (and so on its provider, which later
    /// epochs' keys come from too).
    pub fn from_key(key: AeadKey, epoch: u32, counter: u64) -> Self {
        RecordSealer {
            key,
            epoch,
            next_counter: counter,
        }
    }

    /// The provider its keys come from.
    pub fn provider(&self) -> crate::crypto::Provider {
        self.key.provider()
    }

    /// The key epoch this sealer writes.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The counter the next record will carry.
    pub fn next_counter(&self) -> u64 {
        self.next_counter
    }

    /// Moves to `epoch`: with a new key (counter restarts at 0), or with the
    /// same key relabelled (counter continues, so no nonce repeats).
    pub fn rekey(&mut self, aead: AeadAlgorithm, key: Option<&Key32>, epoch: u32) {
        if let Some(key) = key {
            self.key = AeadKey::with_provider(self.key.provider(), aead, key);
            self.next_counter = 0;
        }
        self.epoch = epoch;
    }

    /// Heap bytes owned (the expanded key).
    pub fn heap_bytes(&self) -> usize {
        self.key.heap_bytes()
    }

    /// Whether the counter is used up: nothing more can be sealed under
    /// this key ([`Error::CounterExhausted`]).
    pub fn exhausted(&self) -> bool {
        self.next_counter == u64::MAX
    }

    /// Seals one record in place. `record` is the whole record: 13 bytes of
    /// header space, the plaintext, and 16 bytes of tag space. The header
    /// and tag are written here.
    pub fn seal_in_place(&mut self, record: &mut [u8]) -> Result<(), Error> {
        let len = record.len();
        if !(MIN_RECORD_LEN..=MAX_RECORD_LEN).contains(&len) {
            return Err(Error::RecordLength(len.min(u32::MAX as usize) as u32));
        }
        let counter = self.next_counter;
        if counter == u64::MAX {
            return Err(Error::CounterExhausted);
        }
        let (header, rest) = record.split_at_mut(RECORD_HEADER_LEN);
        header[..4].copy_from_slice(&(len as u32).to_le_bytes());
        header[4] = self.epoch as u8;
        header[5..].copy_from_slice(&counter.to_le_bytes());
        let (body, tag) = rest.split_at_mut(len - RECORD_OVERHEAD);
        let t = self.key.seal_in_place(&nonce(counter), header, body)?;
        tag.copy_from_slice(&t);
        // Advance only after success (a failed seal must not burn a nonce).
        self.next_counter = counter + 1;
        Ok(())
    }

    /// Appends one record to `out`: header space, whatever `write` appends
    /// as plaintext, then the tag. With enough capacity in `out` this
    /// allocates nothing and copies nothing beyond what `write` writes.
    pub fn seal_append(
        &mut self,
        out: &mut Vec<u8>,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> Result<(), Error> {
        let start = out.len();
        out.extend_from_slice(&[0; RECORD_HEADER_LEN]);
        write(out);
        out.extend_from_slice(&[0; TAG_LEN]);
        let result = self.seal_in_place(&mut out[start..]);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }
}

#[derive(Debug)]
struct OpenKey {
    key: AeadKey,
    epoch: u32,
    next_counter: u64,
    /// Bit `i` set: counter `next_counter - 1 - i` was opened (the replay
    /// window of an unordered transport).
    seen: u64,
}

/// How far below the highest counter opened a record may still arrive on
/// an unordered transport (§6.4.3): the replay window, as DTLS keeps one.
pub const REPLAY_WINDOW: u64 = 64;

impl OpenKey {
    /// Accepts `counter` once: above every counter opened so far, or, when
    /// `reorder`, a counter within [`REPLAY_WINDOW`] below the highest that
    /// was not opened yet.
    fn accept(&mut self, counter: u64, reorder: bool) -> Result<(), Error> {
        if counter >= self.next_counter {
            let shift = counter - self.next_counter + 1;
            self.seen = if shift >= REPLAY_WINDOW {
                0
            } else {
                self.seen << shift
            } | 1;
            self.next_counter = counter + 1;
            return Ok(());
        }
        let back = self.next_counter - 1 - counter;
        if !reorder || back >= REPLAY_WINDOW || self.seen & (1 << back) != 0 {
            return Err(Error::Replay);
        }
        self.seen |= 1 << back;
        Ok(())
    }
}

/// Opens records for one direction. Besides the current key it may hold
/// the next epoch's key during a key update (chosen by the record's epoch
/// byte), and the previous epoch's for [`REKEY_GRACE`] after the first
/// record of the new epoch opened.
#[derive(Debug)]
pub struct RecordOpener {
    current: OpenKey,
    next: Option<Next>,
    previous: Option<Previous>,
    /// Records may arrive out of order (an unordered transport).
    reorder: bool,
}

/// The epoch a key update announced, before its first record arrives; or
/// the epoch before the current one, during the grace period.
#[derive(Debug)]
enum Next {
    /// A rotated direction: its own key and counters.
    Key(OpenKey),
    /// A direction the update did not rotate: the current key and counter
    /// under another label.
    SameKey { epoch: u32 },
}

impl Next {
    fn epoch(&self) -> u32 {
        match self {
            Next::Key(k) => k.epoch,
            Next::SameKey { epoch } => *epoch,
        }
    }
}

#[derive(Debug)]
struct Previous {
    epoch: Next,
    retire_at: Instant,
}

/// Which key a record's epoch byte selects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Current,
    Next,
    Previous,
}

impl RecordOpener {
    /// An opener expecting counter 0 first.
    pub fn new(aead: AeadAlgorithm, key: &Key32, epoch: u32) -> Self {
        Self::with_counter(aead, key, epoch, 0)
    }

    /// An opener accepting counters from `counter` on (used when resuming).
    pub fn with_counter(aead: AeadAlgorithm, key: &Key32, epoch: u32, counter: u64) -> Self {
        Self::from_key(AeadKey::new(aead, key), epoch, counter)
    }

    /// An opener on an expanded key (and so on its provider, which later
    /// epochs' keys come from too).
    pub fn from_key(key: AeadKey, epoch: u32, counter: u64) -> Self {
        RecordOpener {
            current: OpenKey {
                key,
                epoch,
                next_counter: counter,
                seen: 0,
            },
            next: None,
            previous: None,
            reorder: false,
        }
    }

    /// Accepts records out of order within [`REPLAY_WINDOW`] (an unordered
    /// transport, §6.4.3), each counter still once; off by default, when a
    /// counter must exceed every one before it.
    pub fn set_reordering(&mut self, on: bool) {
        self.reorder = on;
    }

    /// The epoch of the key records currently open under.
    pub fn epoch(&self) -> u32 {
        self.current.epoch
    }

    /// The lowest counter the next record may carry.
    pub fn next_counter(&self) -> u64 {
        self.current.next_counter
    }

    /// Accepts records under `epoch` too: with a new key (counters from 0)
    /// or, for a direction the update did not rotate, the current key.
    pub fn install_next(&mut self, aead: AeadAlgorithm, key: Option<&Key32>, epoch: u32) {
        let provider = self.current.key.provider();
        self.next = Some(match key {
            Some(key) => Next::Key(OpenKey {
                key: AeadKey::with_provider(provider, aead, key),
                epoch,
                next_counter: 0,
                seen: 0,
            }),
            None => Next::SameKey { epoch },
        });
    }

    /// Whether an announced epoch waits for its first record.
    pub fn awaits_next(&self) -> bool {
        self.next.is_some()
    }

    /// When the previous epoch's key retires, if one is kept.
    pub fn retire_at(&self) -> Option<Instant> {
        self.previous.as_ref().map(|p| p.retire_at)
    }

    /// Erases the previous epoch's key once its grace period is over.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.previous.as_ref().is_some_and(|p| now >= p.retire_at) {
            self.previous = None;
        }
    }

    /// Heap bytes owned (the expanded keys).
    pub fn heap_bytes(&self) -> usize {
        let extra = |n: &Next| match n {
            Next::Key(k) => k.key.heap_bytes(),
            Next::SameKey { .. } => 0,
        };
        self.current.key.heap_bytes()
            + self.next.as_ref().map_or(0, extra)
            + self.previous.as_ref().map_or(0, |p| extra(&p.epoch))
    }

    fn slot(&self, epoch_byte: u8, now: Instant) -> Option<Slot> {
        if self
            .next
            .as_ref()
            .is_some_and(|n| n.epoch() as u8 == epoch_byte)
        {
            Some(Slot::Next)
        } else if self.current.epoch as u8 == epoch_byte {
            Some(Slot::Current)
        } else if self
            .previous
            .as_ref()
            .is_some_and(|p| p.epoch.epoch() as u8 == epoch_byte && now < p.retire_at)
        {
            Some(Slot::Previous)
        } else {
            None
        }
    }

    fn key_mut(&mut self, slot: Slot) -> &mut OpenKey {
        match slot {
            Slot::Next => match &mut self.next {
                Some(Next::Key(k)) => k,
                _ => &mut self.current,
            },
            Slot::Previous => match &mut self.previous {
                Some(Previous {
                    epoch: Next::Key(k),
                    ..
                }) => k,
                _ => &mut self.current,
            },
            Slot::Current => &mut self.current,
        }
    }

    /// Authenticates and decrypts one whole record in place at time `now`,
    /// returning the plaintext inside `record`. A record that does not
    /// authenticate (altered, or under an epoch with no key here) is
    /// [`Error::Authentication`]; an authentic record whose counter was
    /// already seen (or, in order, not above every one seen; out of order,
    /// below the window) is [`Error::Replay`]. A refused record changes
    /// nothing.
    pub fn open_in_place<'a>(
        &mut self,
        record: &'a mut [u8],
        now: Instant,
    ) -> Result<&'a mut [u8], Error> {
        if record.len() < MIN_RECORD_LEN {
            return Err(Error::Truncated);
        }
        let declared = u32::from_le_bytes(record[..4].try_into().expect("4 bytes"));
        let len = check_len(declared)?;
        if len != record.len() {
            return Err(Error::InvalidLength {
                what: "record",
                got: record.len(),
            });
        }
        let slot = self.slot(record[4], now).ok_or(Error::Authentication)?;
        let counter = u64::from_le_bytes(record[5..13].try_into().expect("8 bytes"));
        let (header, rest) = record.split_at_mut(RECORD_HEADER_LEN);
        let (body, tag) = rest.split_at_mut(len - RECORD_OVERHEAD);
        let tag: &[u8; TAG_LEN] = (&*tag).try_into().expect("16 bytes");
        let reorder = self.reorder;
        let key = self.key_mut(slot);
        key.key.open_in_place(&nonce(counter), header, body, tag)?;
        // Authentic from here on. A sealer never uses 2^64 - 1, so a peer
        // that does is broken, not replaying.
        if counter == u64::MAX {
            return Err(Error::InvalidValue("record counter"));
        }
        key.accept(counter, reorder)?;
        if slot == Slot::Next {
            let next = self.next.take().expect("selected above");
            let old = match next {
                Next::Key(k) => Next::Key(std::mem::replace(&mut self.current, k)),
                Next::SameKey { epoch } => Next::SameKey {
                    epoch: std::mem::replace(&mut self.current.epoch, epoch),
                },
            };
            // The peer's records under the old epoch may still be in flight.
            self.previous = Some(Previous {
                epoch: old,
                retire_at: now + REKEY_GRACE,
            });
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Instant {
        Instant::now()
    }

    fn pair(aead: AeadAlgorithm) -> (RecordSealer, RecordOpener) {
        let key = Key32::new([9; 32]);
        (
            RecordSealer::new(aead, &key, 0),
            RecordOpener::new(aead, &key, 0),
        )
    }

    #[test]
    fn seal_then_open_round_trips_for_both_aeads() {
        for aead in [AeadAlgorithm::ChaCha20Poly1305, AeadAlgorithm::Aes256Gcm] {
            let (mut s, mut o) = pair(aead);
            let mut rec = Vec::new();
            s.seal_append(&mut rec, |b| b.extend_from_slice(b"hello"))
                .unwrap();
            assert_eq!(rec.len(), 5 + RECORD_OVERHEAD);
            assert_eq!(&rec[..4], &(rec.len() as u32).to_le_bytes());
            assert_eq!(record_len(&rec).unwrap(), Some(rec.len()));
            assert_eq!(o.open_in_place(&mut rec, now()).unwrap(), b"hello");
        }
    }

    #[test]
    fn every_tampered_byte_fails_authentication_or_framing() {
        let (mut s, _) = pair(AeadAlgorithm::ChaCha20Poly1305);
        let mut rec = Vec::new();
        s.seal_append(&mut rec, |b| b.extend_from_slice(&[0x55; 40]))
            .unwrap();
        for i in 0..rec.len() {
            let (_, mut o) = pair(AeadAlgorithm::ChaCha20Poly1305);
            let mut bad = rec.clone();
            bad[i] ^= 0x01;
            assert!(
                o.open_in_place(&mut bad, now()).is_err(),
                "byte {i} tampered"
            );
        }
    }

    #[test]
    fn replayed_counters_are_refused() {
        let (mut s, mut o) = pair(AeadAlgorithm::ChaCha20Poly1305);
        let mut rec = Vec::new();
        s.seal_append(&mut rec, |b| b.push(1)).unwrap();
        let copy = rec.clone();
        o.open_in_place(&mut rec, now()).unwrap();
        assert_eq!(
            o.open_in_place(&mut copy.clone(), now()),
            Err(Error::Replay)
        );
    }

    #[test]
    fn counter_refuses_to_wrap() {
        let key = Key32::new([1; 32]);
        let mut s =
            RecordSealer::with_counter(AeadAlgorithm::ChaCha20Poly1305, &key, 0, u64::MAX - 1);
        let mut out = Vec::new();
        s.seal_append(&mut out, |_| {}).unwrap();
        let before = out.len();
        assert_eq!(
            s.seal_append(&mut out, |_| {}),
            Err(Error::CounterExhausted)
        );
        assert_eq!(out.len(), before, "a refused record leaves nothing behind");
    }

    #[test]
    fn lengths_outside_the_limits_are_refused() {
        assert_eq!(record_len(&[1, 2]), Ok(None));
        assert_eq!(
            record_len(&28u32.to_le_bytes()),
            Err(Error::RecordLength(28))
        );
        let too_big = (MAX_RECORD_LEN as u32 + 1).to_le_bytes();
        assert!(record_len(&too_big).is_err());
        // An ErrorFrame's magic read as a length is never a valid record.
        assert!(record_len(&crate::frame::magic::ERROR.to_le_bytes()).is_err());
    }

    #[test]
    fn unknown_epoch_is_refused_and_next_epoch_promotes() {
        let k0 = Key32::new([1; 32]);
        let k1 = Key32::new([2; 32]);
        let aead = AeadAlgorithm::ChaCha20Poly1305;
        let mut s1 = RecordSealer::new(aead, &k1, 1);
        let mut o = RecordOpener::new(aead, &k0, 0);
        let mut rec = Vec::new();
        s1.seal_append(&mut rec, |b| b.push(7)).unwrap();
        assert_eq!(
            o.open_in_place(&mut rec.clone(), now()),
            Err(Error::Authentication),
            "no key for the epoch: as opaque as a forgery"
        );
        o.install_next(aead, Some(&k1), 1);
        assert_eq!(o.open_in_place(&mut rec, now()).unwrap(), &[7]);
        assert_eq!(o.epoch(), 1);
    }

    /// Forged headers, whatever counter they carry, cost a tag check and
    /// get one opaque error; the opener's state does not move.
    #[test]
    fn forgeries_are_authenticated_first_and_change_nothing() {
        let (mut s, mut o) = pair(AeadAlgorithm::ChaCha20Poly1305);
        for _ in 0..3 {
            let mut rec = Vec::new();
            s.seal_append(&mut rec, |b| b.push(1)).unwrap();
            o.open_in_place(&mut rec, now()).unwrap();
        }
        let before = format!("{o:?}");
        for counter in [0u64, 1, 2, 3, 1_000_000, u64::MAX] {
            let mut forged = vec![0u8; MIN_RECORD_LEN + 4];
            let len = forged.len() as u32;
            forged[..4].copy_from_slice(&len.to_le_bytes());
            forged[5..13].copy_from_slice(&counter.to_le_bytes());
            assert_eq!(
                o.open_in_place(&mut forged, now()),
                Err(Error::Authentication),
                "counter {counter}"
            );
        }
        assert_eq!(format!("{o:?}"), before);
        // The next genuine record still opens.
        let mut rec = Vec::new();
        s.seal_append(&mut rec, |b| b.push(2)).unwrap();
        assert_eq!(o.open_in_place(&mut rec, now()).unwrap(), &[2]);
    }

    /// Spec §4.6.4: both sides keep the old key for the grace period, so a
    /// record sealed under it before the switch still opens afterwards,
    /// until the grace period ends.
    #[test]
    fn the_old_epoch_opens_for_the_grace_period_only() {
        let aead = AeadAlgorithm::ChaCha20Poly1305;
        let (k0, k1) = (Key32::new([1; 32]), Key32::new([2; 32]));
        let (mut s0, mut s1) = (
            RecordSealer::new(aead, &k0, 0),
            RecordSealer::new(aead, &k1, 1),
        );
        let mut o = RecordOpener::new(aead, &k0, 0);
        let seal = |s: &mut RecordSealer, b: u8| {
            let mut r = Vec::new();
            s.seal_append(&mut r, |p| p.push(b)).unwrap();
            r
        };
        let (late_a, late_b) = (seal(&mut s0, 1), seal(&mut s0, 2));
        o.install_next(aead, Some(&k1), 1);
        let t0 = now();
        assert_eq!(o.open_in_place(&mut seal(&mut s1, 3), t0).unwrap(), &[3]);
        assert_eq!(o.epoch(), 1);
        assert_eq!(o.retire_at(), Some(t0 + REKEY_GRACE));
        let mut a = late_a;
        assert_eq!(
            o.open_in_place(&mut a, t0 + Duration::from_secs(4))
                .unwrap(),
            &[1]
        );
        let mut b = late_b.clone();
        assert_eq!(
            o.open_in_place(&mut b, t0 + REKEY_GRACE),
            Err(Error::Authentication),
            "after the grace period the old key is gone"
        );
        o.handle_timeout(t0 + REKEY_GRACE);
        assert_eq!(o.retire_at(), None);
    }
}

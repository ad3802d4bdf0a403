//! A session's traffic keys and their rotation (zp-protocol.md, "Key
//! rotation").
//!
//! For epoch `e`, with `salt = session_id || e (u32 LE)`:
//! a rotated direction's key is `HKDF(current_secret, salt,
//! "zp-traffic-key-c2s" | "zp-traffic-key-s2c", 32)` and afterwards
//! `current_secret = HKDF(current_secret, salt, "zp-secret-update", 32)`.
//! The rotated direction's counter restarts at 0; a direction the update
//! does not rotate keeps its key and counter and only takes the new epoch
//! label. The initiator sends under the new key only once the KeyUpdateAck
//! for that epoch arrives; records carry their epoch byte, so the receiver
//! holds both keys for the switch, and the old one for the grace period
//! after it (`record::REKEY_GRACE`).
//!
//! Both peers may start the same epoch at once: each derived its keys from
//! the same secret and epoch, so they agree, and each treats the other's
//! KeyUpdate as a receiver would (switching what it rotates) while still
//! waiting for the Ack of its own. A KeyUpdate that repeats the last one
//! (a retransmission, spec §4.6.4 "Retry Idempotency") is acknowledged
//! again and changes nothing, and so is a repeated Ack.

use crate::crypto::{AeadKey, Key32, Provider};
use crate::error::Error;
use crate::frame::{CipherSuite, KeyDirection, KeyUpdate, KeyUpdateAck, Version};
use crate::handshake::{Role, SessionKeys};
use crate::record::{RecordOpener, RecordSealer};
use std::time::Instant;

/// Every key an epoch can derive: both directions and the next secret
/// (spec §4.6.3; each direction's key is the same whichever update asks
/// for it).
struct Rotation {
    c2s: Key32,
    s2c: Key32,
    next_secret: Key32,
}

fn rotate(provider: Provider, current: &Key32, session_id: &[u8; 16], epoch: u32) -> Rotation {
    let mut salt = [0u8; 20];
    salt[..16].copy_from_slice(session_id);
    salt[16..].copy_from_slice(&epoch.to_le_bytes());
    let derive = |info: &[u8]| {
        let mut k = zeroize::Zeroizing::new([0u8; 32]);
        provider.hkdf_sha256(current.expose(), &salt, info, &mut k[..]);
        Key32::new(*k)
    };
    Rotation {
        c2s: derive(b"zp-traffic-key-c2s"),
        s2c: derive(b"zp-traffic-key-s2c"),
        next_secret: derive(b"zp-secret-update"),
    }
}

/// The keys of rotation epoch `epoch` (§4.6.3), on `provider`: the
/// client-to-server and server-to-client traffic keys and the next
/// `current_secret`. Public for test vectors and for checking another
/// implementation's derivation.
pub fn rotation_keys(
    provider: Provider,
    current_secret: &Key32,
    session_id: &[u8; 16],
    epoch: u32,
) -> (Key32, Key32, Key32) {
    let r = rotate(provider, current_secret, session_id, epoch);
    (r.c2s, r.s2c, r.next_secret)
}

/// This side's own key update, until its Ack arrives.
#[derive(Debug)]
struct PendingUpdate {
    epoch: u32,
    direction: KeyDirection,
    /// The epoch's sending key for this side, whether or not this update
    /// rotates it (a simultaneous update by the peer may).
    send: Key32,
    /// The epoch's receiving key for this side.
    recv: Key32,
    /// Whether this side's sending direction is rotated by this update.
    rotates_send: bool,
    /// Whether this side already sends under the epoch (the peer's
    /// simultaneous update rotated it).
    sending: bool,
    /// Whether the opener was given the epoch's rotated receiving key
    /// (at the start when this update rotates it, or when the peer's
    /// simultaneous one does). Once given, never again: the key may
    /// already be current, its replay window in use, and a second copy
    /// would open every record under it a second time.
    recv_installed: bool,
}

/// Sealing and opening state of an established session, with key rotation.
#[derive(Debug)]
pub struct Session {
    role: Role,
    version: Version,
    cipher: CipherSuite,
    session_id: [u8; 16],
    current_secret: Key32,
    epoch: u32,
    send_key: Key32,
    recv_key: Key32,
    /// The receive key of an announced epoch, until its first record opens.
    recv_next: Option<(u32, Key32)>,
    sealer: RecordSealer,
    opener: RecordOpener,
    pending: Option<PendingUpdate>,
    /// The peer's last KeyUpdate, to acknowledge a retransmission again.
    last_peer_update: Option<KeyUpdate>,
    /// This side's last completed update.
    last_own_update: Option<KeyUpdate>,
}

/// The parts of a session that a state token saves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSnapshot {
    /// This side's role.
    pub role: Role,
    /// The suite.
    pub cipher: CipherSuite,
    /// The session ID.
    pub session_id: [u8; 16],
    /// The current session secret.
    pub session_secret: Key32,
    /// This side's sending key.
    pub send_key: Key32,
    /// This side's receiving key.
    pub recv_key: Key32,
    /// The next sending counter.
    pub send_nonce: u64,
    /// The lowest receiving counter accepted next.
    pub recv_nonce: u64,
    /// The key epoch.
    pub key_epoch: u32,
}

impl Session {
    /// The session a handshake established.
    pub fn new(keys: SessionKeys) -> Self {
        let (send, recv) = match keys.role {
            Role::Client => (keys.client_to_server.clone(), keys.server_to_client.clone()),
            Role::Server => (keys.server_to_client.clone(), keys.client_to_server.clone()),
        };
        Self::from_snapshot(
            keys.provider,
            SessionSnapshot {
                role: keys.role,
                cipher: keys.cipher,
                session_id: keys.session_id,
                session_secret: keys.session_secret.clone(),
                send_key: send,
                recv_key: recv,
                send_nonce: 0,
                recv_nonce: 0,
                key_epoch: 0,
            },
            keys.version,
        )
    }

    /// A session restored from a snapshot, on `provider`.
    pub fn from_snapshot(provider: Provider, s: SessionSnapshot, version: Version) -> Self {
        let aead = s.cipher.aead();
        let key = |k| AeadKey::with_provider(provider, aead, k);
        Session {
            sealer: RecordSealer::from_key(key(&s.send_key), s.key_epoch, s.send_nonce),
            opener: RecordOpener::from_key(key(&s.recv_key), s.key_epoch, s.recv_nonce),
            role: s.role,
            version,
            cipher: s.cipher,
            session_id: s.session_id,
            current_secret: s.session_secret.clone(),
            epoch: s.key_epoch,
            send_key: s.send_key.clone(),
            recv_key: s.recv_key.clone(),
            recv_next: None,
            pending: None,
            last_peer_update: None,
            last_own_update: None,
        }
    }

    /// What a state token saves. Refused while a key update is under way.
    pub fn snapshot(&self) -> Result<SessionSnapshot, Error> {
        if self.update_pending() {
            return Err(Error::KeyUpdatePending);
        }
        Ok(SessionSnapshot {
            role: self.role,
            cipher: self.cipher,
            session_id: self.session_id,
            session_secret: self.current_secret.clone(),
            send_key: self.send_key.clone(),
            recv_key: self.recv_key.clone(),
            send_nonce: self.sealer.next_counter(),
            recv_nonce: self.opener.next_counter(),
            key_epoch: self.epoch,
        })
    }

    /// Opens records out of order within the replay window (an unordered
    /// transport).
    pub fn set_reordering(&mut self, on: bool) {
        self.opener.set_reordering(on);
    }

    /// The provider the session's records and rotations run on.
    pub fn provider(&self) -> Provider {
        self.sealer.provider()
    }

    /// This side's role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// The negotiated version.
    pub fn version(&self) -> Version {
        self.version
    }
    /// The suite.
    pub fn cipher(&self) -> CipherSuite {
        self.cipher
    }
    /// The session ID.
    pub fn session_id(&self) -> &[u8; 16] {
        &self.session_id
    }
    /// The latest key epoch (announced or acknowledged).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }
    /// The epoch records are being sent under.
    pub fn send_epoch(&self) -> u32 {
        self.sealer.epoch()
    }
    /// This side's current sending key.
    pub fn send_key(&self) -> &Key32 {
        &self.send_key
    }

    pub(crate) fn sealer(&mut self) -> &mut RecordSealer {
        &mut self.sealer
    }

    /// Heap bytes of one expanded key (the sending one).
    pub fn key_heap_bytes(&self) -> usize {
        self.sealer.heap_bytes()
    }

    /// Heap bytes owned (expanded AEAD keys).
    pub fn heap_bytes(&self) -> usize {
        self.sealer.heap_bytes() + self.opener.heap_bytes()
    }

    /// Opens one record in place at time `now` and returns its plaintext.
    pub fn open<'a>(&mut self, record: &'a mut [u8], now: Instant) -> Result<&'a mut [u8], Error> {
        let before = self.opener.epoch();
        let plaintext = self.opener.open_in_place(record, now)?;
        if self.opener.epoch() != before
            && let Some((_, key)) = self.recv_next.take()
        {
            // The peer's first record of the new epoch: its key is current.
            self.recv_key = key;
        }
        Ok(plaintext)
    }

    /// When the previous epoch's receive key retires, if one is kept.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.opener.retire_at()
    }

    /// Erases keys whose grace period is over.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.opener.handle_timeout(now);
    }

    /// This side's (sending, receiving) key of a rotation.
    fn mine(&self, r: &Rotation) -> (Key32, Key32) {
        match self.role {
            Role::Client => (r.c2s.clone(), r.s2c.clone()),
            Role::Server => (r.s2c.clone(), r.c2s.clone()),
        }
    }

    /// Whether `direction` rotates this side's (sending, receiving) key.
    fn rotates(&self, direction: KeyDirection) -> (bool, bool) {
        match self.role {
            Role::Client => (direction.includes_c2s(), direction.includes_s2c()),
            Role::Server => (direction.includes_s2c(), direction.includes_c2s()),
        }
    }

    fn accept_recv(&mut self, key: Option<Key32>, epoch: u32) {
        self.opener
            .install_next(self.cipher.aead(), key.as_ref(), epoch);
        self.recv_next = key.map(|k| (epoch, k));
    }

    /// Sends under `epoch` from now on: with `key` (counters from 0), or
    /// the current key relabelled.
    fn switch_send(&mut self, key: Option<Key32>, epoch: u32) {
        self.sealer.rekey(self.cipher.aead(), key.as_ref(), epoch);
        if let Some(k) = key {
            self.send_key = k;
        }
    }

    /// Whether a key update is under way (this side's awaits its Ack, or
    /// the peer's announced epoch has not been used yet).
    pub fn update_pending(&self) -> bool {
        // The opener may await the peer's first record under an announced
        // epoch whose receiving key did not rotate (no `recv_next`): a new
        // update now would replace that epoch, and the peer's records under
        // it would no longer open (the network fuzzer found one lost).
        self.pending.is_some() || self.recv_next.is_some() || self.opener.awaits_next()
    }

    /// Starts a key update: derives the next epoch's keys, accepts the
    /// peer's records under them at once, and keeps sending under the old
    /// key until [`Session::on_key_update_ack`].
    pub fn initiate_key_update(&mut self, direction: KeyDirection) -> Result<KeyUpdate, Error> {
        if self.update_pending() {
            return Err(Error::KeyUpdatePending);
        }
        let epoch = self.epoch.checked_add(1).ok_or(Error::EpochMismatch)?;
        let rotation = rotate(
            self.provider(),
            &self.current_secret,
            &self.session_id,
            epoch,
        );
        let (send, recv) = self.mine(&rotation);
        let (rotates_send, rotates_recv) = self.rotates(direction);
        self.accept_recv(rotates_recv.then(|| recv.clone()), epoch);
        self.current_secret = rotation.next_secret;
        self.epoch = epoch;
        self.pending = Some(PendingUpdate {
            epoch,
            direction,
            send,
            recv,
            rotates_send,
            sending: false,
            recv_installed: rotates_recv,
        });
        Ok(KeyUpdate {
            key_epoch: epoch,
            direction,
        })
    }

    /// Answers the peer's KeyUpdate: sends under the new epoch at once and
    /// accepts the peer's records under it. A retransmission of the last
    /// one is acknowledged again; one for the epoch this side is updating
    /// to as well (both started it) is merged with this side's own.
    pub fn on_key_update(&mut self, update: &KeyUpdate) -> Result<KeyUpdateAck, Error> {
        let ack = KeyUpdateAck {
            acked_epoch: update.key_epoch,
        };
        if self.last_peer_update == Some(*update) {
            return Ok(ack);
        }
        // Both sides started this epoch and this side's update completed
        // before the peer's KeyUpdate arrived (it was lost and sent again,
        // or overtaken): the peer merged this side's update, and if its own
        // rotated nothing more, both already agree. It was refused, and the
        // peer's retries ended in ERR_REKEY_FAILED (found in review).
        if self.pending.is_none()
            && let Some(own) = self.last_own_update
            && own.key_epoch == update.key_epoch
            && update.key_epoch == self.epoch
            && (own.direction == KeyDirection::Both || own.direction == update.direction)
        {
            self.last_peer_update = Some(*update);
            return Ok(ack);
        }
        let (rotates_send, rotates_recv) = self.rotates(update.direction);
        match &self.pending {
            Some(p) if p.epoch == update.key_epoch => {
                let (send, recv, sending) = (p.send.clone(), p.recv.clone(), p.sending);
                let installed = p.recv_installed;
                if rotates_send && !sending {
                    // The peer accepts this side's new key already.
                    self.switch_send(Some(send), update.key_epoch);
                    self.pending.as_mut().expect("matched above").sending = true;
                }
                // `recv_next` is empty both before the key is installed
                // and after its first record promoted it: only the flag
                // tells them apart (issue 21, finding 3).
                if rotates_recv && !installed {
                    self.accept_recv(Some(recv), update.key_epoch);
                    self.pending.as_mut().expect("matched above").recv_installed = true;
                }
            }
            Some(_) => return Err(Error::EpochMismatch),
            None => {
                if Some(update.key_epoch) != self.epoch.checked_add(1) {
                    return Err(Error::EpochMismatch);
                }
                let epoch = update.key_epoch;
                let rotation = rotate(
                    self.provider(),
                    &self.current_secret,
                    &self.session_id,
                    epoch,
                );
                let (send, recv) = self.mine(&rotation);
                self.switch_send(rotates_send.then_some(send), epoch);
                self.accept_recv(rotates_recv.then_some(recv), epoch);
                self.current_secret = rotation.next_secret;
                self.epoch = epoch;
            }
        }
        self.last_peer_update = Some(*update);
        Ok(ack)
    }

    /// Completes this side's key update: sends under the new epoch from now
    /// on. An Ack repeated for an epoch already completed changes nothing.
    pub fn on_key_update_ack(&mut self, ack: &KeyUpdateAck) -> Result<(), Error> {
        match &self.pending {
            Some(p) if p.epoch == ack.acked_epoch => {}
            // An epoch this side already sends under: a repeat.
            _ if ack.acked_epoch <= self.sealer.epoch() => return Ok(()),
            _ => return Err(Error::EpochMismatch),
        }
        let p = self.pending.take().expect("matched above");
        if !p.sending {
            self.switch_send(p.rotates_send.then_some(p.send), p.epoch);
        }
        self.last_own_update = Some(KeyUpdate {
            key_epoch: p.epoch,
            direction: p.direction,
        });
        Ok(())
    }
}

//! zp under attack: each finding of the security review, reproduced
//! against the public API, in both roles and both directions where the
//! finding has them. A ledger of every (key, counter) a side seals backs
//! the nonce-reuse tests.

mod common;
use common::{Pair, try_deliver};

use std::collections::HashSet;
use std::time::{Duration, Instant};
use zp::crypto::{Key32, SystemRng, system_rng};
use zp::frame::*;
use zp::handshake::*;
use zp::pinning::CapabilityStore;
use zp::record::REKEY_GRACE;
use zp::token::{TokenKey, TokenOpener, seal_token};
use zp::{Connection, Error};

const NOW: u64 = 1_780_000_000;

/// Client and server, each with one stream the other knows.
fn pair(rng: &mut SystemRng) -> Pair {
    let mut p = Pair::new(rng);
    let c = p.client.open_stream().unwrap().stream_id;
    let s = p.server.open_stream().unwrap().stream_id;
    let mut wire = Vec::new();
    p.client.send(c, b"hi", false, &mut wire).unwrap();
    deliver(&mut p.server, &mut wire, &mut Vec::new()).unwrap();
    p.server.send(s, b"hi", false, &mut wire).unwrap();
    deliver(&mut p.client, &mut wire, &mut Vec::new()).unwrap();
    p
}

fn deliver(
    to: &mut Connection,
    wire: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<Vec<String>, Error> {
    try_deliver(to, wire, out, Instant::now())
}

/// Every (sending key, counter) a set of connections sealed.
#[derive(Default)]
struct Ledger(HashSet<([u8; 32], u64)>);

impl Ledger {
    /// Sends `payload` on the connection's first stream of its own and
    /// records the nonce; panics if it was used before.
    fn send(&mut self, conn: &mut Connection, payload: &[u8], wire: &mut Vec<u8>) {
        let id = own_stream(conn);
        let start = wire.len();
        conn.send(id, payload, false, wire).unwrap();
        let counter = u64::from_le_bytes(wire[start + 5..start + 13].try_into().unwrap());
        let key = *conn.session().send_key().expose();
        assert!(
            self.0.insert((key, counter)),
            "key and counter {counter} sealed twice"
        );
    }
}

fn own_stream(conn: &Connection) -> u32 {
    let role = conn.session().role();
    conn.streams()
        .iter()
        .map(|s| s.id())
        .find(|id| zp::stream::initiator_of(*id) == role)
        .expect("a stream of this side")
}

fn token_key() -> TokenKey {
    TokenKey::new(&Key32::new([7; 32]))
}

/// Finding 1 (critical): two tokens of one connection resumed on one
/// opener reused a nonce. Sealing now consumes the connection, and an
/// opener resumes a session only forward, so however the tokens are
/// resumed no (key, counter) repeats. Both roles hibernate.
#[test]
fn tokens_of_one_session_never_reuse_a_key_and_counter() {
    let mut rng = system_rng();
    for hibernating in [Role::Client, Role::Server] {
        let (mut a, mut peer) = pair(&mut rng).first(hibernating);
        let mut ledger = Ledger::default();
        let mut wire = Vec::new();
        for _ in 0..3 {
            ledger.send(&mut a, b"before", &mut wire);
        }
        deliver(&mut peer, &mut wire, &mut Vec::new()).unwrap();
        let t1 = seal_token(&token_key(), a, NOW, &mut rng).unwrap();
        let mut opener = TokenOpener::new(token_key());
        let mut resumed = opener.resume(&t1, NOW + 10).unwrap();
        ledger.send(&mut resumed, b"after", &mut wire);
        deliver(&mut peer, &mut wire, &mut Vec::new()).unwrap();
        // The same token again: refused, on this opener.
        assert_eq!(
            opener.resume(&t1, NOW + 20).unwrap_err(),
            Error::TokenReplayed
        );
        // The resumed connection rotates its keys (counters restart at 0)
        // and is saved again: the newer token resumes, the older does not.
        let mut to_peer = Vec::new();
        resumed
            .update_keys(KeyDirection::Both, &mut to_peer)
            .unwrap();
        let mut back = Vec::new();
        deliver(&mut peer, &mut to_peer, &mut back).unwrap();
        deliver(&mut resumed, &mut back, &mut Vec::new()).unwrap();
        ledger.send(&mut resumed, b"rotated", &mut wire);
        deliver(&mut peer, &mut wire, &mut Vec::new()).unwrap();
        let t2 = seal_token(&token_key(), resumed, NOW + 30, &mut rng).unwrap();
        assert_eq!(
            opener.resume(&t1, NOW + 40).unwrap_err(),
            Error::TokenReplayed
        );
        let mut again = opener.resume(&t2, NOW + 40).unwrap();
        ledger.send(&mut again, b"again", &mut wire);
        assert!(matches!(
            deliver(&mut peer, &mut wire, &mut Vec::new()).unwrap()[0].as_str(),
            s if s.starts_with("Data")
        ));
        assert_eq!(
            opener.resume(&t2, NOW + 50).unwrap_err(),
            Error::TokenReplayed
        );
    }
}

/// A token saved while a key update waits for its Ack is refused, and the
/// connection comes back unchanged to finish it.
#[test]
fn a_connection_that_cannot_be_saved_comes_back() {
    let mut rng = system_rng();
    let (mut client, _) = pair(&mut rng).parts();
    client
        .update_keys(KeyDirection::Both, &mut Vec::new())
        .unwrap();
    let debug = format!("{client:?}");
    let refused = seal_token(&token_key(), client, NOW, &mut rng).unwrap_err();
    assert_eq!(refused.error, Error::KeyUpdatePending);
    assert_eq!(format!("{:?}", refused.connection), debug);
}

/// Finding 2 (high): a resumed side refused its peer's records as replays,
/// because resuming skipped the receiving counter too. Only the sending
/// counter skips now; both sides of both roles keep talking after a resume.
#[test]
fn a_resumed_side_accepts_its_peer_in_both_directions() {
    let mut rng = system_rng();
    for hibernating in [Role::Client, Role::Server] {
        let (client, server) = pair(&mut rng).parts();
        let (a, mut peer) = match hibernating {
            Role::Client => (client, server),
            Role::Server => (server, client),
        };
        let token = seal_token(&token_key(), a, NOW, &mut rng).unwrap();
        let mut a = TokenOpener::new(token_key())
            .resume(&token, NOW + 1)
            .unwrap();
        for round in 0..3 {
            let mut wire = Vec::new();
            peer.send(own_stream(&peer), b"from the peer", false, &mut wire)
                .unwrap();
            let got = deliver(&mut a, &mut wire, &mut Vec::new());
            assert!(got.is_ok(), "{hibernating:?} round {round}: {got:?}");
            a.send(own_stream(&a), b"from the resumed side", false, &mut wire)
                .unwrap();
            deliver(&mut peer, &mut wire, &mut Vec::new()).unwrap();
        }
    }
}

/// Once the replay memory is full, unexpired entries are not evicted: the
/// opener refuses to resume instead, and an evicted token never resumes
/// twice. Expired entries make room.
#[test]
fn a_full_replay_memory_refuses_rather_than_forgets() {
    let mut rng = system_rng();
    let mut opener = TokenOpener::new(token_key()).with_capacity(2);
    let tokens: Vec<Vec<u8>> = (0..3)
        .map(|i| {
            let (client, _) = pair(&mut rng).parts();
            seal_token(&token_key(), client, NOW + i, &mut rng).unwrap()
        })
        .collect();
    opener.resume(&tokens[0], NOW + 10).unwrap();
    opener.resume(&tokens[1], NOW + 10).unwrap();
    assert_eq!(
        opener.resume(&tokens[2], NOW + 10).unwrap_err(),
        Error::TokenMemoryFull
    );
    assert_eq!(Error::TokenMemoryFull.code(), ErrorCode::TOKEN_EXPIRED);
    assert_eq!(
        opener.resume(&tokens[0], NOW + 10).unwrap_err(),
        Error::TokenReplayed
    );
    // A day later the first two are expired and forgotten, and so is any
    // token old enough to have been among them.
    let (client, _) = pair(&mut rng).parts();
    let fresh = seal_token(&token_key(), client, NOW + 86_401, &mut rng).unwrap();
    opener.resume(&fresh, NOW + 86_402).unwrap();
}

/// Both peers call `update_keys` at once, for every combination of
/// directions: each merges the other's update with its own, both complete,
/// the keys agree and records flow both ways under them.
#[test]
fn simultaneous_key_updates_complete_for_every_combination_of_directions() {
    let mut rng = system_rng();
    let dirs = [
        KeyDirection::ClientToServer,
        KeyDirection::ServerToClient,
        KeyDirection::Both,
    ];
    for c_dir in dirs {
        for s_dir in dirs {
            let (mut client, mut server) = pair(&mut rng).parts();
            let (c0, s0) = (
                client.session().send_key().clone(),
                server.session().send_key().clone(),
            );
            let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
            client.update_keys(c_dir, &mut c2s).unwrap();
            server.update_keys(s_dir, &mut s2c).unwrap();
            // Each receives the other's KeyUpdate, then the other's Ack.
            let (mut c_out, mut s_out) = (Vec::new(), Vec::new());
            deliver(&mut server, &mut c2s, &mut s_out).unwrap();
            deliver(&mut client, &mut s2c, &mut c_out).unwrap();
            deliver(&mut server, &mut c_out, &mut Vec::new()).unwrap();
            deliver(&mut client, &mut s_out, &mut Vec::new()).unwrap();
            let what = format!("client {c_dir:?}, server {s_dir:?}");
            assert_eq!(client.session().send_epoch(), 1, "{what}");
            assert_eq!(server.session().send_epoch(), 1, "{what}");
            let c2s_rotated = c_dir.includes_c2s() || s_dir.includes_c2s();
            let s2c_rotated = c_dir.includes_s2c() || s_dir.includes_s2c();
            assert_eq!(client.session().send_key() != &c0, c2s_rotated, "{what}");
            assert_eq!(server.session().send_key() != &s0, s2c_rotated, "{what}");
            for _ in 0..2 {
                let mut wire = Vec::new();
                client
                    .send(own_stream(&client), b"c", false, &mut wire)
                    .unwrap();
                deliver(&mut server, &mut wire, &mut Vec::new()).unwrap();
                server
                    .send(own_stream(&server), b"s", false, &mut wire)
                    .unwrap();
                deliver(&mut client, &mut wire, &mut Vec::new()).unwrap();
            }
            // And the next rotation works as usual.
            let mut wire = Vec::new();
            client.update_keys(KeyDirection::Both, &mut wire).unwrap();
            let mut back = Vec::new();
            deliver(&mut server, &mut wire, &mut back).unwrap();
            deliver(&mut client, &mut back, &mut Vec::new()).unwrap();
            assert_eq!(client.session().send_epoch(), 2, "{what}");
        }
    }
}

/// A retransmitted KeyUpdate (spec §4.6.4 "Retry Idempotency") is
/// acknowledged again and changes nothing, whichever side initiated.
#[test]
fn a_retransmitted_key_update_is_acknowledged_again() {
    let mut rng = system_rng();
    for initiator in [Role::Client, Role::Server] {
        let (mut a, mut b) = pair(&mut rng).first(initiator);
        let mut wire = Vec::new();
        a.update_keys(KeyDirection::Both, &mut wire).unwrap();
        let update = KeyUpdate {
            key_epoch: 1,
            direction: KeyDirection::Both,
        };
        let mut acks = Vec::new();
        deliver(&mut b, &mut wire, &mut acks).unwrap();
        let after_first = format!("{:?}", b.session());
        // The Ack is lost; the initiator sends the same KeyUpdate again.
        acks.clear();
        a.send_frame_unchecked(&Frame::KeyUpdate(update), &mut wire)
            .unwrap();
        let events = deliver(&mut b, &mut wire, &mut acks).unwrap();
        assert_eq!(events, ["KeyUpdated { epoch: 1 }"], "{initiator:?}");
        assert!(!acks.is_empty(), "acknowledged again");
        // Only the receive counter moved.
        assert_eq!(b.session().epoch(), 1);
        assert_eq!(
            after_first.replace(char::is_numeric, ""),
            format!("{:?}", b.session()).replace(char::is_numeric, "")
        );
        deliver(&mut a, &mut acks, &mut Vec::new()).unwrap();
        assert_eq!(a.session().send_epoch(), 1);
        let mut wire = Vec::new();
        a.send(own_stream(&a), b"new key", false, &mut wire)
            .unwrap();
        deliver(&mut b, &mut wire, &mut Vec::new()).unwrap();
    }
}

/// Spec §4.6.4: the old key is kept for the grace period, so a record the
/// peer sealed under it before switching still opens after the switch
/// (reordered on the way: on an ordered transport it arrives first
/// anyway), in both directions, and not once the grace period is over.
/// The late records carry control frames: stream data out of order is the
/// stream layer's to refuse.
#[test]
fn records_in_flight_under_the_old_key_open_during_the_grace_period() {
    let mut rng = system_rng();
    for initiator in [Role::Client, Role::Server] {
        let (mut a, mut b) = pair(&mut rng).first(initiator);
        let t0 = Instant::now();
        let mut update = Vec::new();
        a.update_keys(KeyDirection::Both, &mut update).unwrap();
        // b switches at once; what it sealed before is still in flight.
        let mut late_from_b = Vec::new();
        b.grant(0, 1, &mut late_from_b).unwrap();
        let mut late_from_b_2 = Vec::new();
        b.grant(0, 1, &mut late_from_b_2).unwrap();
        let mut ack = Vec::new();
        try_deliver(&mut b, &mut update, &mut ack, t0).unwrap();
        let mut fresh_from_b = Vec::new();
        b.send(own_stream(&b), b"new", false, &mut fresh_from_b)
            .unwrap();
        try_deliver(&mut a, &mut ack, &mut Vec::new(), t0).unwrap();
        // a sees b's first new-epoch record, then the two old ones.
        try_deliver(&mut a, &mut fresh_from_b, &mut Vec::new(), t0).unwrap();
        assert_eq!(a.poll_timeout(), Some(t0 + REKEY_GRACE));
        try_deliver(
            &mut a,
            &mut late_from_b,
            &mut Vec::new(),
            t0 + Duration::from_secs(4),
        )
        .unwrap();
        assert_eq!(
            try_deliver(
                &mut a,
                &mut late_from_b_2,
                &mut Vec::new(),
                t0 + REKEY_GRACE
            ),
            Err(Error::Authentication),
            "{initiator:?}: after the grace period"
        );
        a.handle_timeout(t0 + REKEY_GRACE).unwrap();
        // No timer for the old key is left; only the next rotation's (§4.6.1).
        assert!(
            a.poll_timeout()
                .is_none_or(|t| t >= t0 + zp::connection::DEFAULT_REKEY_INTERVAL)
        );
    }
}

/// The downgrade attack: an attacker strips ZP_PQC_1 from a ClientHello
/// that offers [ZP_PQC_1, ZP_CLASSICAL_1]. zp v1.0's key schedule binds no
/// offer list, so without pinning both ends complete a classical session;
/// a client that pinned the peer's suite on first contact (spec §4.5)
/// refuses, whether the server selects the stripped list's classical suite
/// or the attacker answers for it.
#[test]
fn stripping_the_post_quantum_suite_is_refused_by_a_pinned_client() {
    let mut rng = system_rng();
    let both = ClientConfig {
        ciphers: vec![CipherSuite::ZP_PQC_1, CipherSuite::ZP_CLASSICAL_1],
        ..ClientConfig::default()
    };
    let strip = |hello: &mut ClientHello| hello.ciphers.retain(|c| *c != CipherSuite::ZP_PQC_1);
    let server = ServerConfig::default();

    // Unpinned: the attack works (this is what docs/src/zp/security.md warns of).
    let (c, mut hello) = StrangerClient::start(&both, &mut rng).unwrap();
    strip(&mut hello);
    let (_, reply) = StrangerServer::accept(&server, &hello, &mut rng).unwrap();
    assert_eq!(reply.cipher, CipherSuite::ZP_CLASSICAL_1);
    assert!(c.receive(&reply, &mut rng).is_ok());

    // First contact, unattacked: the store pins ZP_PQC_1 for this peer.
    let peer = [0x42; 32];
    let mut pins = CapabilityStore::new();
    let config = pins.config_for(&peer, &both).unwrap();
    let (c, hello) = StrangerClient::start(&config, &mut rng).unwrap();
    let (_, reply) = StrangerServer::accept(&server, &hello, &mut rng).unwrap();
    let (keys, _) = c.receive(&reply, &mut rng).unwrap();
    pins.record(peer, keys.cipher(), NOW);
    assert!(pins.get(&peer).unwrap().pqc_supported);

    // Returning: the pinned client no longer offers the classical suite,
    // and refuses it if the server (or an attacker) selects it anyway.
    let config = pins.config_for(&peer, &both).unwrap();
    assert_eq!(config.ciphers, [CipherSuite::ZP_PQC_1]);
    let (c, hello) = StrangerClient::start(&config, &mut rng).unwrap();
    let mut forged = hello.clone();
    forged.ciphers = vec![CipherSuite::ZP_CLASSICAL_1];
    let (_, reply) = StrangerServer::accept(&server, &forged, &mut rng).unwrap();
    assert_eq!(
        c.receive(&reply, &mut rng).unwrap_err(),
        Error::CipherDowngrade
    );
    assert_eq!(Error::CipherDowngrade.code(), ErrorCode::CIPHER_DOWNGRADE);
    // A pin is raised by a stronger suite, never lowered.
    pins.record(peer, CipherSuite::ZP_CLASSICAL_1, NOW + 1);
    assert_eq!(
        pins.get(&peer).unwrap().min_cipher_suite,
        CipherSuite::ZP_PQC_1
    );
    let only_classical = ClientConfig::with_cipher(CipherSuite::ZP_CLASSICAL_1);
    assert_eq!(
        pins.config_for(&peer, &only_classical).unwrap_err(),
        Error::CipherDowngrade
    );
}

/// Forged records are authenticated before anything else: whatever their
/// counter (below, at or above the next one, or 2^64 - 1), they get one
/// opaque error and change nothing, in both directions.
#[test]
fn forged_records_get_one_opaque_error_and_change_nothing() {
    let mut rng = system_rng();
    let (mut client, mut server) = pair(&mut rng).parts();
    for to in [&mut client, &mut server] {
        let before = format!("{to:?}");
        for counter in [0u64, 1, 2, 1 << 40, u64::MAX - 1, u64::MAX] {
            for epoch in [0u8, 1, 255] {
                let mut forged = vec![0x5a; 64];
                forged[..4].copy_from_slice(&64u32.to_le_bytes());
                forged[4] = epoch;
                forged[5..13].copy_from_slice(&counter.to_le_bytes());
                let err = to
                    .receive(&mut forged, Instant::now(), &mut Vec::new())
                    .unwrap_err();
                assert_eq!(
                    err,
                    Error::Authentication,
                    "counter {counter}, epoch {epoch}"
                );
                assert_eq!(err.code(), ErrorCode::PROTOCOL_VIOLATION);
            }
        }
        assert_eq!(format!("{to:?}"), before);
    }
    // A genuine record replayed is a replay, and also changes nothing.
    let mut wire = Vec::new();
    client
        .send(own_stream(&client), b"once", false, &mut wire)
        .unwrap();
    let copy = wire.clone();
    deliver(&mut server, &mut wire, &mut Vec::new()).unwrap();
    let before = format!("{server:?}");
    assert_eq!(
        server.receive(&mut copy.clone(), Instant::now(), &mut Vec::new()),
        Err(Error::Replay)
    );
    assert_eq!(format!("{server:?}"), before);
}

/// A peer that opens streams cannot push this side's out: beyond the limit
/// its new streams are refused with STREAM_LIMIT, and a frame refused for
/// flow control opens no stream. Both roles receive.
#[test]
fn a_peer_cannot_evict_streams_and_a_refused_frame_changes_nothing() {
    let mut rng = system_rng();
    for receiver in [Role::Client, Role::Server] {
        let (mut me, mut peer) = pair(&mut rng).first(receiver);
        // This side's limit, lowered from the default to keep the test short.
        me.set_limits(zp::connection::Limits {
            max_streams: 12,
            ..Default::default()
        });
        let mine: Vec<u32> = me.streams().iter().map(|s| s.id()).collect();
        // The peer opens streams until this side holds 12.
        let mut refused = None;
        for _ in 0..20 {
            let id = peer.open_stream().unwrap().stream_id;
            let mut wire = Vec::new();
            peer.send(id, b"x", false, &mut wire).unwrap();
            let before = common::beyond_the_record_layer(&me);
            match deliver(&mut me, &mut wire, &mut Vec::new()) {
                Ok(_) => {}
                Err(e) => {
                    assert_eq!(
                        common::beyond_the_record_layer(&me),
                        before,
                        "a refused frame changed state"
                    );
                    refused = Some(e);
                    break;
                }
            }
        }
        assert_eq!(refused, Some(Error::StreamLimit(12)), "{receiver:?}");
        assert_eq!(Error::StreamLimit(12).code(), ErrorCode::STREAM_LIMIT);
        // The limit is per initiator: 12 of the peer's beside this side's own.
        let peers = me
            .streams()
            .iter()
            .filter(|s| zp::stream::initiator_of(s.id()) != receiver)
            .count();
        assert_eq!(peers, 12, "{receiver:?}");
        for id in &mine {
            assert!(
                me.stream(*id).is_some(),
                "{receiver:?}: stream {id} was evicted"
            );
        }
    }
    // A new stream whose first frame exceeds the window is not opened.
    let (mut client, mut server) = pair(&mut rng).parts();
    let id = server.open_stream().unwrap().stream_id;
    let big = vec![0u8; 300 * 1024];
    let frame = DataFrame {
        stream_id: id,
        seq: 0,
        flags: 0,
        payload: &big,
    };
    let mut wire = Vec::new();
    server
        .send_frame_unchecked(&Frame::Data(frame), &mut wire)
        .unwrap();
    let before = common::beyond_the_record_layer(&client);
    assert_eq!(
        deliver(&mut client, &mut wire, &mut Vec::new()).unwrap_err(),
        Error::FlowControl
    );
    assert_eq!(common::beyond_the_record_layer(&client), before);
    assert!(client.stream(id).is_none());
}

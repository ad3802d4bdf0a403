//! Both handshakes driven step by step through serialized bytes only, as two
//! peers would see them; negotiation, downgrade and password failures; key
//! rotation; records and the state token over an established pair.

use std::time::{Duration, Instant};
use zp::crypto::{Key32, PasswordSecret, SystemRng, system_rng};
use zp::frame::*;
use zp::handshake::*;
use zp::token::{TokenKey, TokenOpener, seal_token, stored_len};
use zp::{Connection, Error, Event, PathInfo};

mod common;
use common::{Pair, handshake, try_deliver};

fn secret(password: &[u8]) -> PasswordSecret {
    PasswordSecret::derive(password, b"alice@example", b"zp.example", 1000)
}

#[test]
fn stranger_handshakes_agree_for_every_suite() {
    let mut rng = system_rng();
    for cipher in [
        CipherSuite::ZP_PQC_1,
        CipherSuite::ZP_PQC_2,
        CipherSuite::ZP_CLASSICAL_1,
    ] {
        let (ck, sk) = handshake(cipher, &mut rng);
        assert!(ck.matches_peer(&sk), "{cipher:?}");
        assert_eq!(ck.cipher(), cipher);
        assert_eq!(ck.role(), Role::Client);
        assert_ne!(ck.client_to_server(), ck.server_to_client());
        // Two runs never share keys.
        let (ck2, _) = handshake(cipher, &mut rng);
        assert_ne!(ck.session_id(), ck2.session_id());
    }
}

#[test]
fn session_keys_never_print_secrets() {
    let (ck, _) = handshake(CipherSuite::ZP_CLASSICAL_1, &mut system_rng());
    let shown = format!("{ck:?}");
    let key_hex: String = ck
        .client_to_server()
        .expose()
        .iter()
        .map(|b| format!("{b}"))
        .collect();
    assert!(!shown.contains(&key_hex));
    assert!(shown.contains("SessionKeys"));
}

/// Issue 21: §4.2's handshake timeout. A lost ServerHello: the client sends
/// the same hello again after 5 s, the server answers it and the handshake
/// completes; with every reply lost, the fourth timeout (after three
/// retransmissions) is `ERR_HANDSHAKE_TIMEOUT`.
#[test]
fn a_lost_hello_reply_is_retransmitted_then_times_out() {
    let mut rng = system_rng();
    let t0 = Instant::now();
    let (client, hello) = StrangerClient::start(&ClientConfig::default(), &mut rng).unwrap();
    let mut timer = HelloRetransmit::new(hello.to_bytes(), t0);
    assert_eq!(timer.poll_timeout(), t0 + HANDSHAKE_TIMEOUT);
    // The first ServerHello is lost on the way back.
    let _lost = StrangerServer::accept(&ServerConfig::default(), &hello, &mut rng).unwrap();
    assert_eq!(
        timer.handle_timeout(t0 + Duration::from_millis(4999)),
        Ok(None)
    );
    let again = timer
        .handle_timeout(t0 + HANDSHAKE_TIMEOUT)
        .unwrap()
        .unwrap();
    assert_eq!(again, &hello.to_bytes()[..]);
    let again = ClientHello::parse(again).unwrap();
    let (server, reply) =
        StrangerServer::accept(&ServerConfig::default(), &again, &mut rng).unwrap();
    let (ck, finish) = client.receive(&reply, &mut rng).unwrap();
    assert!(ck.matches_peer(&server.receive(&finish).unwrap()));

    // Nothing ever comes back.
    let mut timer = HelloRetransmit::new(hello.to_bytes(), t0);
    let mut now = t0;
    for retry in 1..=HANDSHAKE_RETRIES {
        now += HANDSHAKE_TIMEOUT;
        assert!(timer.handle_timeout(now).unwrap().is_some());
        assert_eq!(timer.retries(), retry);
    }
    now += HANDSHAKE_TIMEOUT;
    assert_eq!(timer.handle_timeout(now), Err(Error::HandshakeTimeout));
    assert_eq!(Error::HandshakeTimeout.code(), ErrorCode::HANDSHAKE_TIMEOUT);
    // A shorter timing for the racing phase.
    let mut quick = HelloRetransmit::new(vec![1], t0).with_timing(Duration::from_millis(200), 0);
    assert_eq!(quick.poll_timeout(), t0 + Duration::from_millis(200));
    assert_eq!(
        quick.handle_timeout(t0 + Duration::from_millis(200)),
        Err(Error::HandshakeTimeout)
    );
}

#[test]
fn known_handshake_agrees_through_bytes() {
    let mut rng = system_rng();
    let client_secret = secret(b"correct horse battery staple");
    let record = client_secret.verifier_record();
    for cipher in [CipherSuite::ZP_PQC_1, CipherSuite::ZP_PQC_2] {
        let cfg = ClientConfig::with_cipher(cipher);
        let (client, hello) = KnownClient::start(&cfg, &client_secret, &mut rng).unwrap();
        let hello_bytes = hello.to_bytes();
        assert_eq!(hello_bytes.len(), 76);
        let hello = KnownHello::parse(&hello_bytes).unwrap();
        let (server, resp) =
            KnownServer::accept(&ServerConfig::default(), &record, &hello, &mut rng).unwrap();
        let resp_bytes = resp.to_bytes();
        if cipher == CipherSuite::ZP_PQC_1 {
            assert_eq!(resp_bytes.len(), 1274);
        }
        let resp = KnownResponse::parse(&resp_bytes).unwrap();
        let (ck, finish) = client.receive(&resp, &mut rng).unwrap();
        let finish_bytes = finish.to_bytes();
        if cipher == CipherSuite::ZP_PQC_1 {
            assert_eq!(finish_bytes.len(), 1111);
        }
        let sk = server
            .receive(&KnownFinish::parse(&finish_bytes).unwrap())
            .unwrap();
        assert!(ck.matches_peer(&sk));
    }
}

#[test]
fn wrong_password_fails_on_both_sides() {
    let mut rng = system_rng();
    let record = secret(b"right").verifier_record();
    let wrong = secret(b"wrong");
    let cfg = ClientConfig::default();
    let (client, hello) = KnownClient::start(&cfg, &wrong, &mut rng).unwrap();
    let (server, resp) =
        KnownServer::accept(&ServerConfig::default(), &record, &hello, &mut rng).unwrap();
    assert_eq!(
        client.receive(&resp, &mut rng).unwrap_err(),
        Error::WrongPassword
    );
    // The server never gets a KnownFinish it can open: one sealed under any
    // other SPAKE2+ key (here, an honest run's) is refused the same way.
    let right = secret(b"right");
    let (c2, h2) = KnownClient::start(&cfg, &right, &mut rng).unwrap();
    let (_, r2) = KnownServer::accept(&ServerConfig::default(), &record, &h2, &mut rng).unwrap();
    let (_, other_finish) = c2.receive(&r2, &mut rng).unwrap();
    assert_eq!(
        server.receive(&other_finish).unwrap_err(),
        Error::WrongPassword
    );
}

/// Issue 21, finding 10: the client's offer is bound into SPAKE2+'s
/// context. Stripping ZP_PQC_2 from the KnownHello on path makes the server
/// pick ZP_PQC_1, a suite the client offered; without the binding both sides
/// would agree on the weaker suite. With it, the keys differ and both refuse.
#[test]
fn a_known_offer_altered_on_path_fails_on_both_sides() {
    let mut rng = system_rng();
    let client_secret = secret(b"correct horse battery staple");
    let record = client_secret.verifier_record();
    let cfg = ClientConfig {
        ciphers: vec![CipherSuite::ZP_PQC_2, CipherSuite::ZP_PQC_1],
        ..ClientConfig::default()
    };
    let server_cfg = ServerConfig {
        ciphers: vec![CipherSuite::ZP_PQC_2, CipherSuite::ZP_PQC_1],
        ..ServerConfig::default()
    };

    // Untouched, the pair agrees on ZP_PQC_2.
    let (client, hello) = KnownClient::start(&cfg, &client_secret, &mut rng).unwrap();
    let (server, resp) = KnownServer::accept(&server_cfg, &record, &hello, &mut rng).unwrap();
    assert_eq!(resp.cipher, CipherSuite::ZP_PQC_2);
    let (ck, honest_finish) = client.receive(&resp, &mut rng).unwrap();
    assert!(ck.matches_peer(&server.receive(&honest_finish).unwrap()));

    // On path, ZP_PQC_2 is stripped from the offer.
    let (client, hello) = KnownClient::start(&cfg, &client_secret, &mut rng).unwrap();
    let mut stripped = KnownHello::parse(&hello.to_bytes()).unwrap();
    stripped.ciphers.retain(|&c| c != CipherSuite::ZP_PQC_2);
    let stripped = KnownHello::parse(&stripped.to_bytes()).unwrap();
    let (server, resp) = KnownServer::accept(&server_cfg, &record, &stripped, &mut rng).unwrap();
    assert_eq!(resp.cipher, CipherSuite::ZP_PQC_1);
    assert_eq!(
        client.receive(&resp, &mut rng).unwrap_err(),
        Error::WrongPassword
    );
    // The server, for its part, opens no KnownFinish sealed under another
    // run's key (the client above sent none; here, the honest run's).
    assert_eq!(
        server.receive(&honest_finish).unwrap_err(),
        Error::WrongPassword
    );
}

#[test]
fn known_mode_refuses_classical_only_offers() {
    let mut rng = system_rng();
    let cfg = ClientConfig::with_cipher(CipherSuite::ZP_CLASSICAL_1);
    assert_eq!(
        KnownClient::start(&cfg, &secret(b"pw"), &mut rng).unwrap_err(),
        Error::NoCommonCipher
    );
}

#[test]
fn negotiation_picks_highest_common_version_and_refuses_downgrades() {
    let mut rng = system_rng();
    let v = |major, minor| Version { major, minor };
    let client = ClientConfig {
        versions: vec![v(1, 0), v(1, 1), v(2, 0)],
        min_version: v(1, 0),
        ciphers: vec![CipherSuite::ZP_PQC_1],
        min_cipher: None,
        provider: zp::crypto::default_provider(),
    };
    let server = ServerConfig {
        versions: vec![v(1, 0), v(1, 1)],
        ..ServerConfig::default()
    };
    let (c, hello) = StrangerClient::start(&client, &mut rng).unwrap();
    let (_, reply) = StrangerServer::accept(&server, &hello, &mut rng).unwrap();
    assert_eq!(reply.version, v(1, 1));

    // A version below the client's minimum.
    let strict = ClientConfig {
        min_version: v(2, 0),
        ..client.clone()
    };
    let (_, hello) = StrangerClient::start(&strict, &mut rng).unwrap();
    assert_eq!(
        StrangerServer::accept(&server, &hello, &mut rng).unwrap_err(),
        Error::VersionMismatch
    );
    let mut forged = reply.clone();
    forged.version = v(0, 9);
    assert_eq!(
        c.receive(&forged, &mut rng).unwrap_err(),
        Error::VersionMismatch
    );

    // A suite the client did not offer (an attacker's downgrade to classical).
    let (c, hello) = StrangerClient::start(&client, &mut rng).unwrap();
    let (_, mut reply) = StrangerServer::accept(&server, &hello, &mut rng).unwrap();
    reply.cipher = CipherSuite::ZP_CLASSICAL_1;
    reply.mlkem_pub.clear();
    let reply = ServerHello::parse(&reply.to_bytes()).unwrap();
    assert_eq!(
        c.receive(&reply, &mut rng).unwrap_err(),
        Error::CipherDowngrade
    );

    // No common suite; an unsupported suite in a config.
    let only_pqc2 = ServerConfig {
        ciphers: vec![CipherSuite::ZP_PQC_2],
        ..ServerConfig::default()
    };
    let (_, hello) = StrangerClient::start(&client, &mut rng).unwrap();
    assert_eq!(
        StrangerServer::accept(&only_pqc2, &hello, &mut rng).unwrap_err(),
        Error::NoCommonCipher
    );
    let bad = ClientConfig::with_cipher(CipherSuite(0x12));
    assert_eq!(
        StrangerClient::start(&bad, &mut rng).unwrap_err(),
        Error::UnsupportedCipher(0x12)
    );
}

/// Appendix A's ZP_CLASSICAL_2: ECDH on P-256 and AES-256-GCM, on every
/// provider in both roles; the hello's one 32-byte share is a P-256 x
/// coordinate exactly when the client offers nothing else.
#[test]
fn classical_2_negotiates_p256_and_never_mixes_key_shares() {
    let mut rng = system_rng();
    for p in zp::crypto::all_providers() {
        let client = ClientConfig::with_cipher(CipherSuite::ZP_CLASSICAL_2).with_provider(*p);
        let server = ServerConfig::default().with_provider(*p);
        let (c, hello) = StrangerClient::start(&client, &mut rng).unwrap();
        let hello = ClientHello::parse(&hello.to_bytes()).unwrap();
        let (s, reply) = StrangerServer::accept(&server, &hello, &mut rng).unwrap();
        let reply_bytes = reply.to_bytes();
        assert_eq!(reply_bytes.len(), 74, "no ML-KEM key, as ZP_CLASSICAL_1");
        let reply = ServerHello::parse(&reply_bytes).unwrap();
        assert_eq!(reply.cipher, CipherSuite::ZP_CLASSICAL_2);
        let (ck, finish) = c.receive(&reply, &mut rng).unwrap();
        assert_eq!(finish.to_bytes().len(), 7);
        let sk = s
            .receive(&ClientFinish::parse(&finish.to_bytes()).unwrap())
            .unwrap();
        assert!(ck.matches_peer(&sk), "{}", p.name());
        assert_eq!(ck.cipher(), CipherSuite::ZP_CLASSICAL_2);
        // Its records are AES-256-GCM.
        assert_eq!(ck.cipher().aead(), zp::crypto::AeadAlgorithm::Aes256Gcm);

        // A client cannot offer it with an X25519 suite: one share field.
        let mixed = ClientConfig {
            ciphers: vec![CipherSuite::ZP_CLASSICAL_2, CipherSuite::ZP_PQC_1],
            ..ClientConfig::default()
        };
        assert!(matches!(
            StrangerClient::start(&mixed, &mut rng),
            Err(Error::InvalidValue(_))
        ));
        // A server given such an offer (another implementation's) reads an
        // X25519 share and never selects ZP_CLASSICAL_2, even if preferred.
        let (_, mut x25519_hello) =
            StrangerClient::start(&ClientConfig::default(), &mut rng).unwrap();
        x25519_hello.ciphers = vec![CipherSuite::ZP_CLASSICAL_2, CipherSuite::ZP_PQC_1];
        let prefers_p256 = ServerConfig {
            ciphers: vec![CipherSuite::ZP_CLASSICAL_2, CipherSuite::ZP_PQC_1],
            ..server.clone()
        };
        let (_, reply) = StrangerServer::accept(&prefers_p256, &x25519_hello, &mut rng).unwrap();
        assert_eq!(reply.cipher, CipherSuite::ZP_PQC_1);
        // A P-256-only offer to a server without the suite finds nothing.
        let no_p256 = ServerConfig {
            ciphers: vec![CipherSuite::ZP_PQC_1, CipherSuite::ZP_CLASSICAL_1],
            ..server.clone()
        };
        assert_eq!(
            StrangerServer::accept(&no_p256, &hello, &mut rng).unwrap_err(),
            Error::NoCommonCipher
        );
        // A ServerHello that selects ZP_CLASSICAL_2 for an X25519 share
        // (an attacker's rewrite) is refused before any key agreement.
        let (c, x_hello) = StrangerClient::start(
            &ClientConfig {
                ciphers: vec![CipherSuite::ZP_CLASSICAL_1],
                ..ClientConfig::default()
            },
            &mut rng,
        )
        .unwrap();
        let (_, mut reply) = StrangerServer::accept(&server, &x_hello, &mut rng).unwrap();
        reply.cipher = CipherSuite::ZP_CLASSICAL_2;
        assert_eq!(
            c.receive(&reply, &mut rng).unwrap_err(),
            Error::CipherDowngrade
        );
    }
}

#[test]
fn wrong_length_ml_kem_material_is_refused() {
    let mut rng = system_rng();
    let (c, hello) = StrangerClient::start(&ClientConfig::default(), &mut rng).unwrap();
    let (s, mut reply) =
        StrangerServer::accept(&ServerConfig::default(), &hello, &mut rng).unwrap();
    reply.mlkem_pub.truncate(1000);
    assert!(matches!(
        c.receive(&reply, &mut rng),
        Err(Error::InvalidLength { .. })
    ));
    let bad_finish = ClientFinish {
        mlkem_ct: vec![0; 1568],
    };
    assert!(matches!(
        s.receive(&bad_finish),
        Err(Error::InvalidLength { .. })
    ));
}

/// Every record of `wire` delivered to `to` now, each accepted.
fn deliver(to: &mut Connection, wire: &mut Vec<u8>, out: &mut Vec<u8>) -> Vec<String> {
    try_deliver(to, wire, out, Instant::now()).unwrap()
}

#[test]
fn records_flow_both_ways_and_keys_rotate() {
    let mut rng = system_rng();
    let (mut client, mut server) = Pair::new(&mut rng).parts();
    let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
    let id = client.open_stream().unwrap().stream_id;
    assert_eq!(id % 2, 0);
    client.send(id, b"hello", false, &mut c2s).unwrap();
    let events = deliver(&mut server, &mut c2s, &mut s2c);
    assert!(events[0].contains("Data") && events[0].contains("[104, 101, 108, 108, 111]"));

    let key0 = client.session().send_key().clone();
    client.update_keys(KeyDirection::Both, &mut c2s).unwrap();
    // The initiator keeps the old key until the ack.
    client.send(id, b"still old", false, &mut c2s).unwrap();
    assert_eq!(client.session().send_epoch(), 0);
    let events = deliver(&mut server, &mut c2s, &mut s2c);
    assert_eq!(events[0], "KeyUpdated { epoch: 1 }");
    assert_eq!(server.session().send_epoch(), 1);
    let events = deliver(&mut client, &mut s2c, &mut c2s);
    assert_eq!(events[0], "KeyUpdateAcknowledged { epoch: 1 }");
    assert_eq!(client.session().send_epoch(), 1);
    let key1 = client.session().send_key().clone();
    assert_ne!(key0, key1);
    client.send(id, b"new", false, &mut c2s).unwrap();
    assert_eq!(c2s[4], 1, "epoch byte");
    assert_eq!(
        u64::from_le_bytes(c2s[5..13].try_into().unwrap()),
        0,
        "counter restarts"
    );
    deliver(&mut server, &mut c2s, &mut s2c);

    // A second rotation gives yet another key; a stale epoch is refused.
    client
        .update_keys(KeyDirection::ClientToServer, &mut c2s)
        .unwrap();
    assert_eq!(
        client
            .update_keys(KeyDirection::Both, &mut Vec::new())
            .unwrap_err(),
        Error::KeyUpdatePending
    );
    deliver(&mut server, &mut c2s, &mut s2c);
    deliver(&mut client, &mut s2c, &mut c2s);
    let key2 = client.session().send_key().clone();
    assert!(key2 != key1 && key2 != key0);
    // A repeated Ack of an epoch already in use changes nothing; an Ack of
    // an epoch never requested is refused.
    for (acked_epoch, refused) in [(1, false), (2, false), (7, true)] {
        let mut rec = Vec::new();
        server
            .send_frame_unchecked(&Frame::KeyUpdateAck(KeyUpdateAck { acked_epoch }), &mut rec)
            .unwrap();
        let got = client.receive(&mut rec, Instant::now(), &mut Vec::new());
        assert_eq!(got.is_err(), refused, "{acked_epoch}: {got:?}");
        if refused {
            assert_eq!(got.unwrap_err(), Error::EpochMismatch);
        }
        assert_eq!(client.session().send_key(), &key2);
    }
}

#[test]
fn tampered_and_replayed_records_are_refused() {
    let mut rng = system_rng();
    let (mut client, mut server) = Pair::new(&mut rng).parts();
    let id = client.open_stream().unwrap().stream_id;
    let mut rec = Vec::new();
    client.send(id, b"payload", true, &mut rec).unwrap();
    for i in 0..rec.len() {
        let mut bad = rec.clone();
        bad[i] ^= 0x80;
        assert!(
            server
                .receive(&mut bad, Instant::now(), &mut Vec::new())
                .is_err(),
            "byte {i}"
        );
    }
    let copy = rec.clone();
    assert!(matches!(
        server
            .receive(&mut rec, Instant::now(), &mut Vec::new())
            .unwrap(),
        Event::Data { fin: true, .. }
    ));
    assert_eq!(
        server
            .receive(&mut copy.clone(), Instant::now(), &mut Vec::new())
            .unwrap_err(),
        Error::Replay
    );
}

#[test]
fn memory_of_an_idle_connection_and_a_stream_stay_in_budget() {
    let mut rng = system_rng();
    let (mut client, _) = Pair::new(&mut rng).parts();
    client.open_stream().unwrap();
    let conn = client.memory_footprint();
    let stream = size_of::<zp::stream::Stream>();
    println!("connection with one stream: {conn} B, stream: {stream} B");
    assert!(conn < 4096, "{conn}");
    assert!(stream < 500, "{stream}");
}

fn token_setup(
    streams: usize,
    rng: &mut SystemRng,
) -> (Connection, Connection, TokenKey, TokenKey) {
    let (mut client, server) = Pair::new(rng).parts();
    for _ in 0..streams {
        client.open_stream().unwrap();
    }
    let k = Key32::new([7; 32]);
    (client, server, TokenKey::new(&k), TokenKey::new(&k))
}

const NOW: u64 = 1_780_000_000;

#[test]
fn state_token_sizes_and_resume() {
    let mut rng = system_rng();
    for (n, size) in [(1, 309), (12, 1002)] {
        let (mut client, mut server, k1, k2) = token_setup(n, &mut rng);
        let id = client.streams()[0].id();
        let mut wire = Vec::new();
        client.send(id, b"before", false, &mut wire).unwrap();
        server
            .receive(&mut wire, Instant::now(), &mut Vec::new())
            .unwrap();
        let session_id = *client.session().session_id();
        let token = seal_token(&k1, client, NOW, &mut rng).unwrap();
        assert_eq!(token.len(), size);
        assert_eq!(stored_len(n), size);
        let mut opener = TokenOpener::new(k2);
        let mut resumed = opener.resume(&token, NOW + 3600).unwrap();
        assert_eq!(resumed.streams().len(), n);
        assert_eq!(resumed.session().session_id(), &session_id);
        // The resumed client's counter skipped 1000 ahead; the server accepts it.
        let mut wire = Vec::new();
        resumed.send(id, b"after", false, &mut wire).unwrap();
        assert_eq!(u64::from_le_bytes(wire[5..13].try_into().unwrap()), 1001);
        assert!(matches!(
            server
                .receive(&mut wire, Instant::now(), &mut Vec::new())
                .unwrap(),
            Event::Data { seq: 6, .. }
        ));
        // Each token resumes once.
        assert_eq!(
            opener.resume(&token, NOW + 3600).unwrap_err(),
            Error::TokenReplayed
        );
    }
}

/// Issue 21: §3.3.1's `global_seq` is a stream's own byte counter (the
/// `seq` of its next DataFrame, §3.3.10). The token held the connection's
/// total instead; opened here with the token key, as the spec lays it out.
#[test]
fn a_token_carries_each_streams_own_global_seq() {
    let mut rng = system_rng();
    let (mut client, _server, k1, _) = token_setup(2, &mut rng);
    let (a, b) = (client.streams()[0].id(), client.streams()[1].id());
    let mut wire = Vec::new();
    client.send(a, &[1; 100], false, &mut wire).unwrap();
    client.send(b, &[2; 7], false, &mut wire).unwrap();
    let token = seal_token(&k1, client, NOW, &mut rng).unwrap();

    let (_, plain) = common::open_token(&token, &Key32::new([7; 32]));
    let entries = &plain[16 + 136 + 50..];
    let mut seen = Vec::new();
    for entry in entries.chunks(63) {
        let id = u32::from_le_bytes(entry[..4].try_into().unwrap());
        let global_seq = u64::from_le_bytes(entry[4..12].try_into().unwrap());
        let send_offset = u64::from_le_bytes(entry[20..28].try_into().unwrap());
        seen.push((id, global_seq, send_offset));
    }
    seen.sort();
    let mut want = vec![(a, 100, 100), (b, 7, 7)];
    want.sort();
    assert_eq!(seen, want);
}

/// Issue 21: §6.5's `ZP_TOKEN_BIND_IP`. `bind_ip_hash` was stored and never
/// compared; an opener that binds now refuses a token from another address
/// (and, refusing, records nothing), in both roles.
#[test]
fn a_token_bound_to_an_address_resumes_only_from_it() {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use zp::token::ip_hash;
    let mut rng = system_rng();
    let home = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
    let away = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    assert_eq!(
        ip_hash(home),
        ip_hash(IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped()))
    );
    assert_ne!(ip_hash(home), ip_hash(away));
    let (ck, sk) = handshake(CipherSuite::ZP_PQC_1, &mut rng);
    let path = PathInfo {
        bind_ip_hash: ip_hash(home),
        ..PathInfo::default()
    };
    for keys in [ck, sk] {
        let mut conn = Connection::new(keys, path);
        conn.open_stream().unwrap();
        let k = Key32::new([9; 32]);
        let token = seal_token(&TokenKey::new(&k), conn, NOW, &mut rng).unwrap();
        let mut elsewhere = TokenOpener::new(TokenKey::new(&k)).bind_ip(away);
        for _ in 0..2 {
            assert_eq!(
                elsewhere.resume(&token, NOW + 60).unwrap_err(),
                Error::TokenIpMismatch
            );
        }
        assert_eq!(Error::TokenIpMismatch.code(), ErrorCode::TOKEN_IP_MISMATCH);
        let mut at_home = TokenOpener::new(TokenKey::new(&k)).bind_ip(home);
        assert!(at_home.resume(&token, NOW + 60).is_ok());
        // Unbound (the default), the address is not compared.
        let mut unbound = TokenOpener::new(TokenKey::new(&k));
        assert!(unbound.resume(&token, NOW + 60).is_ok());
    }
}

#[test]
fn bad_tokens_are_refused() {
    let mut rng = system_rng();
    let (client, _, k1, k2) = token_setup(1, &mut rng);
    let token = seal_token(&k1, client, NOW, &mut rng).unwrap();
    let mut opener = TokenOpener::new(k2);
    assert_eq!(
        opener.resume(&token, NOW + 24 * 3600 + 1).unwrap_err(),
        Error::TokenExpired
    );
    assert_eq!(
        opener.resume(&token, NOW - 3600).unwrap_err(),
        Error::TokenExpired
    );
    for i in 0..token.len() {
        let mut bad = token.clone();
        bad[i] ^= 0x01;
        assert!(opener.resume(&bad, NOW).is_err(), "byte {i}");
    }
    for cut in 0..token.len() {
        assert!(opener.resume(&token[..cut], NOW).is_err());
    }
    let other = TokenKey::new(&Key32::new([8; 32]));
    assert_eq!(
        TokenOpener::new(other).resume(&token, NOW).unwrap_err(),
        Error::Authentication
    );
    // A connection without streams has nothing to save.
    let (empty, _) = Pair::new(&mut rng).parts();
    let refused = seal_token(&k1, empty, NOW, &mut rng).unwrap_err();
    assert_eq!(refused.error, Error::Empty("streams"));
    assert!(
        refused.connection.streams().is_empty(),
        "given back as it was"
    );
    // The untampered token still opens after all of that.
    assert!(opener.resume(&token, NOW).is_ok());
}

/// A client on one provider and a server on the other agree, in both
/// directions, for every suite: the providers are interchangeable on the
/// wire. Each side's provider is chosen in its configuration.
#[cfg(feature = "aws-lc")]
#[test]
fn handshakes_interoperate_across_providers() {
    use zp::crypto::{aws_lc, rustcrypto};
    let mut rng = system_rng();
    for (client_p, server_p) in [(rustcrypto(), aws_lc()), (aws_lc(), rustcrypto())] {
        let server_cfg = ServerConfig::default().with_provider(server_p);
        for cipher in [
            CipherSuite::ZP_PQC_1,
            CipherSuite::ZP_PQC_2,
            CipherSuite::ZP_CLASSICAL_1,
            CipherSuite::ZP_CLASSICAL_2,
        ] {
            let client_cfg = ClientConfig::with_cipher(cipher).with_provider(client_p);
            let (client, hello) = StrangerClient::start(&client_cfg, &mut rng).unwrap();
            let hello = ClientHello::parse(&hello.to_bytes()).unwrap();
            let (server, reply) = StrangerServer::accept(&server_cfg, &hello, &mut rng).unwrap();
            let reply = ServerHello::parse(&reply.to_bytes()).unwrap();
            assert_eq!(reply.cipher, cipher);
            let (ck, finish) = client.receive(&reply, &mut rng).unwrap();
            let finish = ClientFinish::parse(&finish.to_bytes()).unwrap();
            let sk = server.receive(&finish).unwrap();
            assert!(
                ck.matches_peer(&sk),
                "{} client, {} server, {cipher:?}",
                client_p.name(),
                server_p.name()
            );
            assert_eq!((ck.provider(), sk.provider()), (client_p, server_p));
        }
        // The Known handshake: SPAKE2+ then ML-KEM sealed with AES-GCM.
        let client_secret = secret(b"correct horse battery staple");
        let record = client_secret.verifier_record();
        let cfg = ClientConfig::with_cipher(CipherSuite::ZP_PQC_1).with_provider(client_p);
        let (client, hello) = KnownClient::start(&cfg, &client_secret, &mut rng).unwrap();
        let hello = KnownHello::parse(&hello.to_bytes()).unwrap();
        let (server, resp) = KnownServer::accept(&server_cfg, &record, &hello, &mut rng).unwrap();
        let resp = KnownResponse::parse(&resp.to_bytes()).unwrap();
        let (ck, finish) = client.receive(&resp, &mut rng).unwrap();
        let finish_bytes = finish.to_bytes();
        let sk = server
            .receive(&KnownFinish::parse(&finish_bytes).unwrap())
            .unwrap();
        assert!(
            ck.matches_peer(&sk),
            "known handshake, {} client, {} server",
            client_p.name(),
            server_p.name()
        );
    }
}

/// §3.3.12: a refused handshake is answered with a plaintext ErrorFrame,
/// and the side waiting for the next handshake message tells it from that
/// message by its magic, in both roles.
#[test]
fn a_refused_handshake_is_answered_with_a_plaintext_error_frame() {
    let mut rng = system_rng();
    // The server refuses a ClientHello (no common version).
    let client = ClientConfig {
        versions: vec![Version { major: 2, minor: 0 }],
        min_version: Version { major: 2, minor: 0 },
        ..ClientConfig::default()
    };
    let (c, hello) = StrangerClient::start(&client, &mut rng).unwrap();
    let refused = StrangerServer::accept(&ServerConfig::default(), &hello, &mut rng).unwrap_err();
    assert_eq!(refused, Error::VersionMismatch);
    let wire = ErrorFrame::refusing(&refused).to_bytes();
    assert_eq!(wire.len(), ErrorFrame::LEN);
    assert_eq!(
        parse_frame(&wire).unwrap(),
        Frame::Error(ErrorFrame {
            code: ErrorCode::VERSION_MISMATCH
        }),
        "the client expecting a ServerHello reads an ErrorFrame"
    );
    assert!(ServerHello::parse(&wire).is_err());
    drop(c);

    // The client refuses a downgraded ServerHello; the server, expecting a
    // ClientFinish, reads the ErrorFrame.
    let (c, hello) = StrangerClient::start(&ClientConfig::default(), &mut rng).unwrap();
    let (_server, mut reply) =
        StrangerServer::accept(&ServerConfig::default(), &hello, &mut rng).unwrap();
    reply.cipher = CipherSuite::ZP_CLASSICAL_1;
    reply.mlkem_pub.clear();
    let refused = c.receive(&reply, &mut rng).unwrap_err();
    let wire = ErrorFrame::refusing(&refused).to_bytes();
    assert_eq!(
        parse_frame(&wire).unwrap(),
        Frame::Error(ErrorFrame {
            code: ErrorCode::CIPHER_DOWNGRADE
        })
    );
    assert!(ClientFinish::parse(&wire).is_err());
    // On a stream transport the receiver frames it as a unit of 9 bytes.
    assert_eq!(zp::record::unit_len(&wire).unwrap(), Some(ErrorFrame::LEN));
}

//! Test support shared by zp's integration tests and the fuzzing harness:
//! a [`Pair`] of connections joined by a real handshake (in the style of
//! quinn-proto's test `Pair`), the role loop every both-roles test runs,
//! delivery of a wire's records, and the state a refused frame must leave
//! untouched. Each test binary uses some of it.

#![allow(dead_code)]

use std::time::Instant;
use zp::connection::Connection;
use zp::crypto::CryptoRng;
use zp::frame::{CipherSuite, ClientFinish, ClientHello, ServerHello};
use zp::handshake::{
    ClientConfig, Role, ServerConfig, SessionKeys, StrangerClient, StrangerServer,
};
use zp::stream::Transport;
use zp::{Error, PathInfo};

/// Session keys of a Stranger handshake on `cipher`, client's then
/// server's, every message passed as the bytes a peer would see.
pub fn handshake(cipher: CipherSuite, rng: &mut impl CryptoRng) -> (SessionKeys, SessionKeys) {
    let (c, hello) = StrangerClient::start(&ClientConfig::with_cipher(cipher), rng).unwrap();
    let hello = ClientHello::parse(&hello.to_bytes()).unwrap();
    let (s, reply) = StrangerServer::accept(&ServerConfig::default(), &hello, rng).unwrap();
    let reply = ServerHello::parse(&reply.to_bytes()).unwrap();
    let (ck, finish) = c.receive(&reply, rng).unwrap();
    let finish = ClientFinish::parse(&finish.to_bytes()).unwrap();
    (ck, s.receive(&finish).unwrap())
}

/// A client and a server whose handshake completed.
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
}

impl Pair {
    /// ZP_PQC_1 on the default (ordered records) transport.
    pub fn new(rng: &mut impl CryptoRng) -> Pair {
        let (ck, sk) = handshake(CipherSuite::ZP_PQC_1, rng);
        Pair {
            client: Connection::new(ck, PathInfo::default()),
            server: Connection::new(sk, PathInfo::default()),
        }
    }

    /// On `transport`; on QUIC the client has opened the control stream
    /// (§3.4) and the server taken it.
    pub fn on(transport: Transport, rng: &mut impl CryptoRng) -> Pair {
        let mut p = Pair::new(rng);
        p.client.set_transport(transport).unwrap();
        p.server.set_transport(transport).unwrap();
        if transport == Transport::Quic {
            let mut wire = Vec::new();
            p.client.open_control_stream(&mut wire).unwrap();
            let (events, _) = deliver(&mut p.server, &mut wire, Instant::now());
            assert_eq!(events, ["WindowUpdated { stream_id: 0 }"]);
        }
        p
    }

    /// (client, server).
    pub fn parts(self) -> (Connection, Connection) {
        (self.client, self.server)
    }

    /// The side playing `role` first, its peer second.
    pub fn first(self, role: Role) -> (Connection, Connection) {
        match role {
            Role::Client => (self.client, self.server),
            Role::Server => (self.server, self.client),
        }
    }
}

/// A stored token opened with its key as the spec lays it out (nonce 12,
/// header 16 as the AAD, ciphertext, tag 16): the header and the plain body.
pub fn open_token(token: &[u8], key: &zp::crypto::Key32) -> (Vec<u8>, Vec<u8>) {
    use zp::crypto::{AeadAlgorithm, AeadKey};
    let (nonce, rest) = token.split_at(12);
    let (header, sealed) = rest.split_at(16);
    let (ct, tag) = sealed.split_at(sealed.len() - 16);
    let mut plain = ct.to_vec();
    AeadKey::new(AeadAlgorithm::Aes256Gcm, key)
        .open_in_place(
            nonce.try_into().unwrap(),
            header,
            &mut plain,
            tag.try_into().unwrap(),
        )
        .unwrap();
    (header.to_vec(), plain)
}

/// Both roles, as tests name them.
pub const ROLES: [(Role, &str); 2] = [
    (Role::Client, "client→server"),
    (Role::Server, "server→client"),
];

/// Runs `test(a, b, role)` on a fresh pair on `transport` with the client
/// as `a`, then on another with the server as `a`.
pub fn both_roles_on(
    transport: Transport,
    mut test: impl FnMut(&mut Connection, &mut Connection, &str),
) {
    let mut rng = zp::crypto::system_rng();
    for (role, name) in ROLES {
        let (mut a, mut b) = Pair::on(transport, &mut rng).first(role);
        test(&mut a, &mut b, name);
    }
}

/// [`both_roles_on`] the default transport.
pub fn both_roles(test: impl FnMut(&mut Connection, &mut Connection, &str)) {
    both_roles_on(Transport::Records, test)
}

/// Delivers every unit of `wire` (records and plaintext ErrorFrames) to
/// `to` at `now`, each accepted; returns the events (Debug) and what `to`
/// wrote back.
pub fn deliver(to: &mut Connection, wire: &mut Vec<u8>, now: Instant) -> (Vec<String>, Vec<u8>) {
    let mut out = Vec::new();
    let events = try_deliver(to, wire, &mut out, now).unwrap();
    (events, out)
}

/// Delivers every unit of `wire` to `to` at `now`, replies appended to
/// `out`; the first refusal ends it.
pub fn try_deliver(
    to: &mut Connection,
    wire: &mut Vec<u8>,
    out: &mut Vec<u8>,
    now: Instant,
) -> Result<Vec<String>, Error> {
    let mut events = Vec::new();
    let mut rest = &mut wire[..];
    while !rest.is_empty() {
        let len = zp::record::unit_len(rest).unwrap().unwrap();
        let (unit, tail) = rest.split_at_mut(len);
        events.push(format!("{:?}", to.receive(unit, now, out)?));
        rest = tail;
    }
    wire.clear();
    Ok(events)
}

/// The connection's state with its record layer's receive side masked (the
/// opener's counters and keys, and the next epoch's receive key): an
/// authentic record is consumed by the record layer whatever it carries
/// (its counter advances, so it cannot be replayed, and a record of the
/// peer's next epoch switches the receive key, since the peer demonstrably
/// switched), but when its frame is refused nothing else may move: not the
/// streams, the flow-control windows, the sending side or a pending key
/// update.
pub fn beyond_the_record_layer(c: &Connection) -> String {
    let s = format!("{c:?}");
    let masked = mask_between(&s, "recv_next:", "sealer:");
    mask_between(&masked, "opener:", "pending:")
}

fn mask_between(s: &str, from: &str, to: &str) -> String {
    let (head, rest) = s
        .split_once(from)
        .unwrap_or_else(|| panic!("a connection's state has `{from}`"));
    let (_, tail) = rest
        .split_once(to)
        .unwrap_or_else(|| panic!("and then `{to}`"));
    format!("{head}{from} … {to}{tail}")
}

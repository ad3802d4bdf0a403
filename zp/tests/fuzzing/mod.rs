//! The bodies of zp's fuzz targets, shared by the libFuzzer targets in
//! `zp/fuzz/` (nightly, `scripts/fuzz.sh`) and by `tests/fuzz_corpus.rs`,
//! which runs every committed corpus file through them on the stable
//! toolchain, so CI replays the corpus without nightly.
//!
//! Each target asserts what must hold for *any* input, besides not
//! panicking:
//! - `frame`: a frame that parses re-encodes to exactly its input (the
//!   parser accepts one encoding per frame);
//! - `record`: opening never panics, and a record that opens was sealed by
//!   the key (a plaintext sealed from the input opens to it);
//! - `token`: opening never panics, and a token never resumes twice;
//! - `handshake`: every handshake message, parsed and fed to the state that
//!   expects it, is refused or completes, never panics;
//! - `connection`: a client and a server driven by arbitrary interleavings
//!   of sends, deliveries, drops, duplicates, reorders, corrupted bytes,
//!   key updates, resets, time, retransmissions, migrations, token
//!   seal/resume and a switch to the unordered transport never seal two
//!   records under the same key and counter, a refused record changes
//!   nothing beyond the record layer's receive side (nothing at all when
//!   it does not authenticate; see `common::beyond_the_record_layer`), and
//!   on an unordered transport every stream's data is handed over in order;
//! - `network`: two connections over a simulated network (loss,
//!   duplication, reordering, delay, migration; both transports) deliver
//!   exactly the bytes sent, in order, accept no record twice, stay within
//!   `Connection::memory_bound`, and once the network heals every stream
//!   completes or fails with a defined error (see `network.rs`).

#![allow(dead_code)]

#[path = "../common/mod.rs"]
mod common;

use arbitrary::{Arbitrary, Unstructured};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use zp::crypto::{Key32, PasswordSecret, VerifierRecord};
use zp::frame::*;
use zp::handshake::*;
use zp::record::{RECORD_OVERHEAD, RecordOpener, RecordSealer};
use zp::token::{TokenKey, TokenOpener, seal_token};
use zp::{Connection, Error, Event, PathInfo};

/// The targets, by name (the folders of `zp/fuzz/corpus/`).
pub const TARGETS: [&str; 6] = [
    "frame",
    "record",
    "token",
    "handshake",
    "connection",
    "network",
];

mod network;
pub use network::network;

/// Runs `data` through the target `name`.
pub fn run(name: &str, data: &[u8]) {
    match name {
        "frame" => frame(data),
        "record" => record(data),
        "token" => token(data),
        "handshake" => handshake(data),
        "connection" => connection(data),
        "network" => network(data),
        other => panic!("no fuzz target {other}"),
    }
}

const NOW: u64 = 1_780_000_000;

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub fn frame(data: &[u8]) {
    if let Ok(f) = parse_frame(data) {
        assert_eq!(
            f.to_bytes(),
            data,
            "a frame parsed from other bytes than it encodes to"
        );
    }
}

fn record_key() -> Key32 {
    Key32::new([0x42; 32])
}

pub fn record(data: &[u8]) {
    for aead in [
        zp::crypto::AeadAlgorithm::ChaCha20Poly1305,
        zp::crypto::AeadAlgorithm::Aes256Gcm,
    ] {
        let mut opener = RecordOpener::new(aead, &record_key(), 0);
        let mut buf = data.to_vec();
        let _ = opener.open_in_place(&mut buf, Instant::now());
        // The input as a plaintext: sealed, it opens to itself, and any
        // single flipped byte is refused.
        let mut sealer = RecordSealer::new(aead, &record_key(), 0);
        let mut rec = Vec::with_capacity(data.len() + RECORD_OVERHEAD);
        sealer
            .seal_append(&mut rec, |b| b.extend_from_slice(data))
            .unwrap();
        let mut opener = RecordOpener::new(aead, &record_key(), 0);
        if let Some(&first) = data.first() {
            let mut bad = rec.clone();
            let i = usize::from(first) % bad.len();
            bad[i] ^= 0x01;
            assert!(opener.open_in_place(&mut bad, Instant::now()).is_err());
        }
        assert_eq!(
            opener.open_in_place(&mut rec, Instant::now()).unwrap(),
            data
        );
    }
}

fn token_key() -> TokenKey {
    TokenKey::new(&Key32::new([7; 32]))
}

pub fn token(data: &[u8]) {
    let mut opener = TokenOpener::new(token_key());
    if opener.resume(data, NOW).is_ok() {
        assert_eq!(opener.resume(data, NOW).unwrap_err(), Error::TokenReplayed);
    }
}

/// States expecting each handshake message, made once from fixed seeds.
struct Handshakes {
    password: PasswordSecret,
    record: VerifierRecord,
}

fn handshakes() -> &'static Handshakes {
    static H: OnceLock<Handshakes> = OnceLock::new();
    H.get_or_init(|| {
        let password = PasswordSecret::derive(b"fuzz", b"client", b"server", 1);
        let record = password.verifier_record();
        Handshakes { password, record }
    })
}

pub fn handshake(data: &[u8]) {
    let Some((&which, msg)) = data.split_first() else {
        return;
    };
    let mut r = rng(u64::from(which));
    let h = handshakes();
    let server = ServerConfig::default();
    match which % 6 {
        0 => {
            if let Ok(hello) = ClientHello::parse(msg) {
                let _ = StrangerServer::accept(&server, &hello, &mut r);
            }
        }
        1 => {
            if let Ok(reply) = ServerHello::parse(msg) {
                let cfg = ClientConfig {
                    ciphers: vec![
                        CipherSuite::ZP_PQC_1,
                        CipherSuite::ZP_PQC_2,
                        CipherSuite::ZP_CLASSICAL_1,
                    ],
                    ..ClientConfig::default()
                };
                let (client, _) = StrangerClient::start(&cfg, &mut r).unwrap();
                let _ = client.receive(&reply, &mut r);
            }
        }
        2 => {
            if let Ok(finish) = ClientFinish::parse(msg) {
                let (_, hello) = StrangerClient::start(&ClientConfig::default(), &mut r).unwrap();
                let (state, _) = StrangerServer::accept(&server, &hello, &mut r).unwrap();
                let _ = state.receive(&finish);
            }
        }
        3 => {
            if let Ok(hello) = KnownHello::parse(msg) {
                let _ = KnownServer::accept(&server, &h.record, &hello, &mut r);
            }
        }
        4 => {
            if let Ok(response) = KnownResponse::parse(msg) {
                let (client, _) =
                    KnownClient::start(&ClientConfig::default(), &h.password, &mut r).unwrap();
                let _ = client.receive(&response, &mut r);
            }
        }
        _ => {
            if let Ok(finish) = KnownFinish::parse(msg) {
                let (_, hello) =
                    KnownClient::start(&ClientConfig::default(), &h.password, &mut r).unwrap();
                let (state, _) = KnownServer::accept(&server, &h.record, &hello, &mut r).unwrap();
                let _ = state.receive(&finish);
            }
        }
    }
}

/// One step of the connection target.
#[derive(Arbitrary, Debug)]
pub enum Op {
    /// Data on one of the sender's streams (opening one if it has none).
    Send {
        client: bool,
        stream: u8,
        len: u16,
        fin: bool,
    },
    OpenStream {
        client: bool,
    },
    /// Hands the next `count` records in flight to their receiver.
    Deliver {
        to_client: bool,
        count: u8,
    },
    Drop {
        to_client: bool,
    },
    Duplicate {
        to_client: bool,
    },
    /// Swaps the next two records in flight.
    Reorder {
        to_client: bool,
    },
    /// Flips bits of one byte of the next record in flight.
    Corrupt {
        to_client: bool,
        at: u16,
        xor: u8,
    },
    UpdateKeys {
        client: bool,
        direction: u8,
    },
    Grant {
        client: bool,
        stream: u8,
        increment: u32,
    },
    /// Saves the side in a token and resumes it from there.
    SealAndResume {
        client: bool,
    },
    /// Tries an older token of the side again: must be refused.
    ResumeOld {
        client: bool,
    },
    Advance {
        millis: u16,
    },
    /// Resets one of the side's streams.
    Reset {
        client: bool,
        stream: u8,
    },
    /// The side sends what its timers say is due: AckFrames and
    /// retransmissions (unordered transports).
    PollTransmit {
        client: bool,
    },
    /// Both sides switch to the unordered transport (refused once streams
    /// exist).
    Unordered,
    /// The side detects degradation and sends a Sync on the "new path"
    /// (§3.3.3); its retries go out with `PollTransmit`.
    Migrate {
        client: bool,
        flags: u8,
    },
}

struct Side {
    conn: Option<Connection>,
    opener: TokenOpener,
    tokens: Vec<Vec<u8>>,
    /// Records in flight *to* this side.
    inbox: VecDeque<Vec<u8>>,
    /// Per stream, the offset handed over so far on an unordered transport.
    delivered: HashMap<u32, u64>,
}

impl Side {
    /// Checks that data handed over on an unordered transport continues
    /// its stream.
    fn handed_over(&mut self, stream_id: u32, seq: u64, len: usize) {
        let unordered = self
            .conn
            .as_ref()
            .is_some_and(|c| c.transport() == zp::stream::Transport::Unordered);
        if !unordered {
            return;
        }
        let at = self.delivered.entry(stream_id).or_insert(0);
        assert_eq!(seq, *at, "stream {stream_id} handed over out of order");
        *at += len as u64;
    }
}

/// The session keys of one handshake, made once (a handshake per input
/// would cost more than everything else the target does).
fn session() -> &'static (SessionKeys, SessionKeys) {
    static KEYS: OnceLock<(SessionKeys, SessionKeys)> = OnceLock::new();
    KEYS.get_or_init(|| {
        // On RustCrypto in every build, so that seeded randomness decides
        // the keys (aws-lc's ML-KEM draws from its own DRBG).
        let mut r = rng(1);
        let client = ClientConfig::default().with_provider(zp::crypto::rustcrypto());
        let server = ServerConfig::default().with_provider(zp::crypto::rustcrypto());
        let (c, hello) = StrangerClient::start(&client, &mut r).unwrap();
        let (s, reply) = StrangerServer::accept(&server, &hello, &mut r).unwrap();
        let (ck, finish) = c.receive(&reply, &mut r).unwrap();
        (ck, s.receive(&finish).unwrap())
    })
}

/// Splits whole records off `wire`.
fn records(wire: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = wire;
    while let Ok(Some(len)) = zp::record::record_len(rest) {
        if len > rest.len() {
            break;
        }
        out.push(rest[..len].to_vec());
        rest = &rest[len..];
    }
    assert!(
        rest.is_empty(),
        "a side wrote something that is not whole records"
    );
    out
}

/// The key update direction an input byte names.
fn key_direction(byte: u8) -> KeyDirection {
    [
        KeyDirection::ClientToServer,
        KeyDirection::ServerToClient,
        KeyDirection::Both,
    ][usize::from(byte % 3)]
}

/// Every (key, counter) each side sealed.
#[derive(Default)]
struct Ledger(HashSet<([u8; 32], u64)>);

impl Ledger {
    fn sealed(&mut self, key: &Key32, wire: &[u8]) {
        for rec in records(wire) {
            let counter = u64::from_le_bytes(rec[5..13].try_into().unwrap());
            assert!(
                self.0.insert((*key.expose(), counter)),
                "the same key and counter {counter} sealed twice"
            );
        }
    }
}

pub fn connection(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let (ck, sk) = session().clone();
    let mut sides = [ck, sk].map(|k| Side {
        conn: Some(Connection::new(k, PathInfo::default())),
        opener: TokenOpener::new(token_key()),
        tokens: Vec::new(),
        inbox: VecDeque::new(),
        delivered: HashMap::new(),
    });
    let mut ledgers = [Ledger::default(), Ledger::default()];
    let mut now = Instant::now();
    let mut unix = NOW;
    let mut seed = 0u64;
    let idx = |client: bool| usize::from(!client);
    for _ in 0..64 {
        let Ok(op) = Op::arbitrary(&mut u) else {
            break;
        };
        match op {
            Op::Send {
                client,
                stream,
                len,
                fin,
            } => {
                let i = idx(client);
                let conn = sides[i].conn.as_mut().unwrap();
                let role = conn.session().role();
                let mine: Vec<u32> = conn
                    .streams()
                    .iter()
                    .map(|s| s.id())
                    .filter(|id| zp::stream::initiator_of(*id) == role)
                    .collect();
                let id = match mine.get(usize::from(stream) % mine.len().max(1)) {
                    Some(id) => *id,
                    None => match conn.open_stream() {
                        Ok(o) => o.stream_id,
                        Err(_) => continue,
                    },
                };
                let payload = vec![stream; usize::from(len % 2048)];
                let key = conn.session().send_key().clone();
                let mut wire = Vec::new();
                if conn.send(id, &payload, fin, &mut wire).is_ok() {
                    ledgers[i].sealed(&key, &wire);
                    sides[1 - i].inbox.extend(records(&wire));
                } else {
                    assert!(wire.is_empty(), "a refused send wrote a record");
                }
            }
            Op::OpenStream { client } => {
                let _ = sides[idx(client)].conn.as_mut().unwrap().open_stream();
            }
            Op::Deliver { to_client, count } => {
                let i = idx(to_client);
                for _ in 0..count % 8 {
                    let Some(mut rec) = sides[i].inbox.pop_front() else {
                        break;
                    };
                    let conn = sides[i].conn.as_mut().unwrap();
                    let (before, full) =
                        (common::beyond_the_record_layer(conn), format!("{conn:?}"));
                    let mut out = Vec::new();
                    // (stream, seq, length) of every hand-over.
                    let mut handed = Vec::new();
                    let result = conn
                        .receive(&mut rec, now, &mut out)
                        .map(|event| match event {
                            Event::Data {
                                stream_id,
                                seq,
                                payload,
                                ..
                            } => {
                                handed.push((stream_id, seq, payload.len()));
                                None
                            }
                            Event::Readable { stream_id } => Some(stream_id),
                            _ => None,
                        });
                    match result {
                        Ok(readable) => {
                            if let Some(id) = readable {
                                while let Some(d) = conn.read(id, &mut out).unwrap() {
                                    handed.push((id, d.seq, d.data.len()));
                                }
                            }
                        }
                        Err(Error::Authentication) => {
                            assert_eq!(format!("{conn:?}"), full, "a forgery changed state");
                        }
                        Err(e) => {
                            assert_eq!(
                                common::beyond_the_record_layer(conn),
                                before,
                                "{e:?} changed state"
                            );
                        }
                    }
                    // A reply (a KeyUpdateAck) is sealed under the key in
                    // force after the record, which may have switched.
                    if !out.is_empty() {
                        let after = conn.session().send_key().clone();
                        ledgers[i].sealed(&after, &out);
                        sides[1 - i].inbox.extend(records(&out));
                    }
                    for (id, seq, len) in handed {
                        sides[i].handed_over(id, seq, len);
                    }
                }
            }
            Op::Drop { to_client } => {
                sides[idx(to_client)].inbox.pop_front();
            }
            Op::Duplicate { to_client } => {
                let inbox = &mut sides[idx(to_client)].inbox;
                if let Some(r) = inbox.front().cloned() {
                    inbox.push_front(r);
                }
            }
            Op::Reorder { to_client } => {
                let inbox = &mut sides[idx(to_client)].inbox;
                if inbox.len() >= 2 {
                    inbox.swap(0, 1);
                }
            }
            Op::Corrupt { to_client, at, xor } => {
                if let Some(r) = sides[idx(to_client)].inbox.front_mut() {
                    let i = usize::from(at) % r.len();
                    r[i] ^= xor.max(1);
                }
            }
            Op::UpdateKeys { client, direction } => {
                let i = idx(client);
                let dir = key_direction(direction);
                let conn = sides[i].conn.as_mut().unwrap();
                let key = conn.session().send_key().clone();
                let mut wire = Vec::new();
                if conn.update_keys(dir, &mut wire).is_ok() {
                    ledgers[i].sealed(&key, &wire);
                    sides[1 - i].inbox.extend(records(&wire));
                }
            }
            Op::Grant {
                client,
                stream,
                increment,
            } => {
                let i = idx(client);
                let conn = sides[i].conn.as_mut().unwrap();
                let id = conn
                    .streams()
                    .get(usize::from(stream) % conn.streams().len().max(1))
                    .map_or(0, |s| s.id());
                let key = conn.session().send_key().clone();
                let mut wire = Vec::new();
                if conn.grant(id, u64::from(increment), &mut wire).is_ok() {
                    ledgers[i].sealed(&key, &wire);
                    sides[1 - i].inbox.extend(records(&wire));
                }
            }
            Op::SealAndResume { client } => {
                let i = idx(client);
                let conn = sides[i].conn.take().unwrap();
                seed += 1;
                match seal_token(&token_key(), conn, unix, &mut rng(seed)) {
                    Ok(t) => {
                        let resumed = sides[i].opener.resume(&t, unix).unwrap();
                        sides[i].tokens.push(t);
                        sides[i].conn = Some(resumed);
                        sides[i].delivered.clear();
                    }
                    Err(refused) => sides[i].conn = Some(refused.connection),
                }
            }
            Op::ResumeOld { client } => {
                let side = &mut sides[idx(client)];
                if let Some(t) = side.tokens.first() {
                    assert!(
                        side.opener.resume(t, unix).is_err(),
                        "a token resumed twice"
                    );
                }
            }
            Op::Advance { millis } => {
                now += Duration::from_millis(u64::from(millis) * 4);
                unix += u64::from(millis) / 256;
                for s in &mut sides {
                    let _ = s.conn.as_mut().unwrap().handle_timeout(now);
                }
            }
            Op::Reset { client, stream } => {
                let i = idx(client);
                let conn = sides[i].conn.as_mut().unwrap();
                let Some(id) = conn
                    .streams()
                    .get(usize::from(stream) % conn.streams().len().max(1))
                    .map(|s| s.id())
                else {
                    continue;
                };
                let key = conn.session().send_key().clone();
                let mut wire = Vec::new();
                if conn.reset(id, &mut wire).is_ok() {
                    ledgers[i].sealed(&key, &wire);
                    sides[1 - i].inbox.extend(records(&wire));
                } else {
                    assert!(wire.is_empty(), "a refused reset wrote a record");
                }
            }
            Op::PollTransmit { client } => {
                let i = idx(client);
                let conn = sides[i].conn.as_mut().unwrap();
                let key = conn.session().send_key().clone();
                let mut wire = Vec::new();
                let _ = conn.poll_acks(now, &mut wire);
                // A retransmission past the byte limit may rotate the key
                // after its record: check each part under its own key.
                let acks = wire.len();
                ledgers[i].sealed(&key, &wire);
                if conn.poll_retransmit(now, &mut wire).is_ok() {
                    let tail = wire.split_off(acks);
                    ledgers[i].sealed(&key, &tail);
                    wire.extend(tail);
                }
                sides[1 - i].inbox.extend(records(&wire));
            }
            Op::Migrate { client, flags } => {
                let i = idx(client);
                let conn = sides[i].conn.as_mut().unwrap();
                let key = conn.session().send_key().clone();
                let mut wire = Vec::new();
                let started = conn
                    .begin_migration()
                    .and_then(|()| conn.migrate(flags, &mut wire));
                if started.is_ok() {
                    ledgers[i].sealed(&key, &wire);
                    sides[1 - i].inbox.extend(records(&wire));
                } else {
                    assert!(wire.is_empty(), "a refused migration wrote a record");
                }
            }
            Op::Unordered => {
                for s in &mut sides {
                    let _ = s
                        .conn
                        .as_mut()
                        .unwrap()
                        .set_transport(zp::stream::Transport::Unordered);
                }
            }
        }
    }
}

/// The seed corpus, from the test vectors of `shared/spec/TEST_VECTORS.md`
/// (section 8's frames) and from zp's own sealing with fixed keys: (target,
/// file name, bytes).
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let hex = |s: &str| -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    let mut out = Vec::new();
    // §8.3 DataFrame "Hello" on stream 4, §8.4 WindowUpdate of 1 MiB, §8.5
    // ErrorFrame, §8.6 KeyUpdate, §8.7 AckFrame with two ranges. The
    // vectors print magics big-endian; zp follows the spec text (§3.3,
    // little-endian), so the magic bytes are reversed here.
    let vectors = [
        (
            "data",
            "4644505a 40 04000000 0000000000000000 00 05000000 48656c6c6f",
        ),
        ("window-update", "5557505a 30 00000000 0000100000000000"),
        ("error", "5245505a 60 01 000000"),
        ("key-update", "554b505a 10 01000000 03 000000000000"),
        (
            "ack",
            "4b41505a 20 04000000 02 0000000000000000 6300000000000000 c800000000000000 2b01000000000000",
        ),
        ("key-update-ack", "554b505a 11 01000000"),
    ];
    for (name, v) in vectors {
        out.push(("frame", format!("seed-{name}"), hex(v)));
    }
    // Seeded randomness reaches ML-KEM only on the RustCrypto provider
    // (aws-lc draws from its own DRBG), so the seeds are made there in every
    // build.
    let client = ClientConfig::default().with_provider(zp::crypto::rustcrypto());
    let server = ServerConfig::default().with_provider(zp::crypto::rustcrypto());
    let mut r = rng(7);
    let (c, hello) = StrangerClient::start(&client, &mut r).unwrap();
    let (s, reply) = StrangerServer::accept(&server, &hello, &mut r).unwrap();
    let (_, finish) = c.receive(&reply, &mut r).unwrap();
    s.receive(&finish).unwrap();
    let h = handshakes();
    let (kc, khello) = KnownClient::start(&client, &h.password, &mut r).unwrap();
    let (ks, kresponse) = KnownServer::accept(&server, &h.record, &khello, &mut r).unwrap();
    let (_, kfinish) = kc.receive(&kresponse, &mut r).unwrap();
    ks.receive(&kfinish).unwrap();
    let messages: [(&str, Vec<u8>); 6] = [
        ("client-hello", hello.to_bytes()),
        ("server-hello", reply.to_bytes()),
        ("client-finish", finish.to_bytes()),
        ("known-hello", khello.to_bytes()),
        ("known-response", kresponse.to_bytes()),
        ("known-finish", kfinish.to_bytes()),
    ];
    for (i, (name, bytes)) in messages.iter().enumerate() {
        out.push(("frame", format!("seed-{name}"), bytes.clone()));
        let mut tagged = vec![i as u8];
        tagged.extend_from_slice(bytes);
        out.push(("handshake", format!("seed-{name}"), tagged));
    }
    // A record of each AEAD over the DataFrame vector.
    for (name, aead) in [
        ("chacha", zp::crypto::AeadAlgorithm::ChaCha20Poly1305),
        ("aes", zp::crypto::AeadAlgorithm::Aes256Gcm),
    ] {
        let mut rec = Vec::new();
        RecordSealer::new(aead, &record_key(), 0)
            .seal_append(&mut rec, |b| b.extend_from_slice(&out[0].2))
            .unwrap();
        out.push(("record", format!("seed-{name}"), rec));
    }
    // A token of a connection with one stream.
    let (ck, _) = session().clone();
    let mut conn = Connection::new(ck, PathInfo::default());
    conn.open_stream().unwrap();
    let token = seal_token(&token_key(), conn, NOW - 60, &mut rng(3)).unwrap();
    out.push(("token", "seed-one-stream".into(), token));
    // Operation sequences: talk, rotate, hibernate, corrupt.
    out.push((
        "connection",
        "seed-talk".into(),
        vec![0, 1, 0, 16, 0, 0, 2, 0, 4, 0, 0, 1, 0, 2, 1, 4],
    ));
    out.push((
        "connection",
        "seed-rotate-and-resume".into(),
        vec![
            0, 1, 0, 8, 0, 7, 1, 2, 2, 0, 4, 2, 1, 4, 10, 1, 2, 0, 4, 11, 1,
        ],
    ));
    out
}

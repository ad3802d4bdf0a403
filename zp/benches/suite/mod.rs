//! The one registry of zp's 21 benchmarks. Each is defined once here, with
//! its name, category, an unmeasured setup and the measured routine; the
//! criterion targets and the probe only iterate over this table.
//!
//! Routines draw randomness from a seeded RNG, so a routine executes the
//! same instructions on every run and callgrind's counts repeat exactly.

#![allow(dead_code)]

use rand::SeedableRng;
use rand::rngs::StdRng;
use std::hint::black_box;
use zp::connection::{Connection, PathInfo};
use zp::crypto::{
    AeadAlgorithm, AeadKey, EcdhSecret, Group, KemAlgorithm, KemSecret, Key32, PasswordSecret,
    Provider,
};
use zp::frame::{
    ClientFinish, ClientHello, DataFrame, Frame, KnownFinish, KnownHello, KnownResponse,
    ServerHello,
};
use zp::handshake::{
    ClientConfig, KnownClient, KnownServer, ServerConfig, SessionKeys, StrangerClient,
    StrangerServer,
};
use zp::record::{RECORD_OVERHEAD, RecordSealer};
use zp::token::{TokenKey, TokenOpener, seal_token};
use zp::{CipherSuite, parse_frame};

/// The four categories of the requirements, defined once in `probe-protocol`.
pub use probe_protocol::Category;

/// One measured iteration; the closure owns whatever its setup built.
pub type Routine = Box<dyn FnMut()>;

/// What every setup takes: the crypto provider its routine runs on. (The
/// probe is shared with the workbench's miniature zp, whose registry
/// takes `()`; the probe only calls `setup(suite::probe_env())`.)
pub type Env = Provider;

/// The environment the probe measures in: the build's default provider.
pub fn probe_env() -> Env {
    zp::crypto::default_provider()
}

/// What a benchmark measures.
pub enum Kind {
    /// Time per call of the routine that `setup` returns, on a provider.
    Time(fn(Env) -> Routine),
    /// A size in bytes, measured once, on a provider.
    Bytes(fn(Env) -> u64),
}

pub struct Bench {
    pub name: &'static str,
    pub category: Category,
    pub kind: Kind,
}

pub fn all() -> &'static [Bench] {
    BENCHES
}

pub fn find(name: &str) -> Option<&'static Bench> {
    BENCHES.iter().find(|b| b.name == name)
}

/// The seed every routine's RNG starts from.
pub fn rng() -> StdRng {
    StdRng::seed_from_u64(0x5a50_5a50)
}

const NOW: u64 = 1_780_000_000;

static BENCHES: &[Bench] = &[
    Bench {
        name: "x25519_keygen",
        category: Category::Crypto,
        kind: Kind::Time(x25519_keygen),
    },
    Bench {
        name: "x25519_dh",
        category: Category::Crypto,
        kind: Kind::Time(x25519_dh),
    },
    Bench {
        name: "mlkem768_keygen",
        category: Category::Crypto,
        kind: Kind::Time(mlkem768_keygen),
    },
    Bench {
        name: "mlkem768_encap",
        category: Category::Crypto,
        kind: Kind::Time(mlkem768_encap),
    },
    Bench {
        name: "mlkem768_decap",
        category: Category::Crypto,
        kind: Kind::Time(mlkem768_decap),
    },
    Bench {
        name: "chacha20poly1305_encrypt_1k",
        category: Category::Crypto,
        kind: Kind::Time(chacha_1k),
    },
    Bench {
        name: "chacha20poly1305_encrypt_64k",
        category: Category::Crypto,
        kind: Kind::Time(chacha_64k),
    },
    Bench {
        name: "aes256gcm_encrypt_1k",
        category: Category::Crypto,
        kind: Kind::Time(aes_1k),
    },
    Bench {
        name: "aes256gcm_encrypt_64k",
        category: Category::Crypto,
        kind: Kind::Time(aes_64k),
    },
    Bench {
        name: "hkdf_derive",
        category: Category::Crypto,
        kind: Kind::Time(hkdf_derive),
    },
    Bench {
        name: "stranger_handshake_pqc1",
        category: Category::Handshake,
        kind: Kind::Time(stranger_pqc1),
    },
    Bench {
        name: "stranger_handshake_classical",
        category: Category::Handshake,
        kind: Kind::Time(stranger_classical),
    },
    Bench {
        name: "known_handshake_pqc1",
        category: Category::Handshake,
        kind: Kind::Time(known_pqc1),
    },
    Bench {
        name: "session_resume",
        category: Category::Handshake,
        kind: Kind::Time(session_resume),
    },
    Bench {
        name: "encrypt_record_1k",
        category: Category::Datapath,
        kind: Kind::Time(record_1k),
    },
    Bench {
        name: "encrypt_record_64k",
        category: Category::Datapath,
        kind: Kind::Time(record_64k),
    },
    Bench {
        name: "parse_frame",
        category: Category::Datapath,
        kind: Kind::Time(parse_data_frame),
    },
    Bench {
        name: "serialize_frame",
        category: Category::Datapath,
        kind: Kind::Time(serialize_data_frame),
    },
    Bench {
        name: "connection_state_size",
        category: Category::Memory,
        kind: Kind::Bytes(connection_state_size),
    },
    Bench {
        name: "stream_state_size",
        category: Category::Memory,
        kind: Kind::Bytes(stream_state_size),
    },
    Bench {
        name: "state_token_size",
        category: Category::Memory,
        kind: Kind::Bytes(state_token_size),
    },
];

/// Registers every time benchmark of `category` with criterion, as group
/// `category` (so `cargo bench --bench handshake stranger_handshake` filters
/// as the requirements show).
pub fn criterion_benches(c: &mut criterion::Criterion, category: Category) {
    let mut group = c.benchmark_group(category.as_str());
    for bench in all().iter().filter(|b| b.category == category) {
        if let Kind::Time(setup) = bench.kind {
            let mut routine = setup(probe_env());
            group.bench_function(bench.name, |b| b.iter(&mut routine));
        }
    }
    group.finish();
    // Built with aws-lc (the default provider then), the same routines
    // also run on RustCrypto in the same process, as `<category>_rustcrypto`,
    // so one run compares the providers.
    #[cfg(feature = "aws-lc")]
    {
        let mut group = c.benchmark_group(format!("{}_rustcrypto", category.as_str()));
        for bench in all().iter().filter(|b| b.category == category) {
            if let Kind::Time(setup) = bench.kind {
                let mut routine = setup(zp::crypto::rustcrypto());
                group.bench_function(bench.name, |b| b.iter(&mut routine));
            }
        }
        group.finish();
    }
}

// --- crypto ---------------------------------------------------------------

fn x25519_keygen(p: Provider) -> Routine {
    let mut rng = rng();
    Box::new(move || {
        let secret = EcdhSecret::generate(p, Group::X25519, &mut rng);
        black_box(secret.public_key());
    })
}

fn x25519_dh(p: Provider) -> Routine {
    let mut rng = rng();
    let secret = EcdhSecret::generate(p, Group::X25519, &mut rng);
    let peer = EcdhSecret::generate(p, Group::X25519, &mut rng).public_key();
    Box::new(move || {
        black_box(secret.diffie_hellman(black_box(&peer)).unwrap());
    })
}

fn mlkem768_keygen(p: Provider) -> Routine {
    let mut rng = rng();
    let mut public = Vec::with_capacity(KemAlgorithm::MlKem768.public_key_len());
    Box::new(move || {
        public.clear();
        black_box(KemSecret::generate(
            p,
            KemAlgorithm::MlKem768,
            &mut rng,
            &mut public,
        ));
    })
}

fn mlkem768_encap(p: Provider) -> Routine {
    let mut rng = rng();
    let mut public = Vec::new();
    let _secret = KemSecret::generate(p, KemAlgorithm::MlKem768, &mut rng, &mut public);
    let mut ct = Vec::with_capacity(KemAlgorithm::MlKem768.ciphertext_len());
    Box::new(move || {
        ct.clear();
        black_box(
            p.kem_encapsulate(KemAlgorithm::MlKem768, &public, &mut rng, &mut ct)
                .unwrap(),
        );
    })
}

fn mlkem768_decap(p: Provider) -> Routine {
    let mut rng = rng();
    let mut public = Vec::new();
    let secret = KemSecret::generate(p, KemAlgorithm::MlKem768, &mut rng, &mut public);
    let mut ct = Vec::new();
    p.kem_encapsulate(KemAlgorithm::MlKem768, &public, &mut rng, &mut ct)
        .unwrap();
    Box::new(move || {
        black_box(secret.decapsulate(black_box(&ct)).unwrap());
    })
}

fn aead(p: Provider, alg: AeadAlgorithm, len: usize) -> Routine {
    let key = AeadKey::with_provider(p, alg, &Key32::new([0x42; 32]));
    let mut buf = vec![0x5a; len];
    let nonce = [0u8; 12];
    Box::new(move || {
        black_box(key.seal_in_place(&nonce, &[], black_box(&mut buf)).unwrap());
    })
}

fn chacha_1k(p: Provider) -> Routine {
    aead(p, AeadAlgorithm::ChaCha20Poly1305, 1024)
}
fn chacha_64k(p: Provider) -> Routine {
    aead(p, AeadAlgorithm::ChaCha20Poly1305, 64 * 1024)
}
fn aes_1k(p: Provider) -> Routine {
    aead(p, AeadAlgorithm::Aes256Gcm, 1024)
}
fn aes_64k(p: Provider) -> Routine {
    aead(p, AeadAlgorithm::Aes256Gcm, 64 * 1024)
}

/// The handshake's key derivation: 64 bytes of session keys from a hybrid
/// shared secret and both randoms.
fn hkdf_derive(p: Provider) -> Routine {
    let ikm = [0x11u8; 64];
    let salt = [0x22u8; 64];
    Box::new(move || {
        let mut okm = [0u8; 64];
        p.hkdf_sha256(black_box(&ikm), &salt, b"zp-session-keys", &mut okm);
        black_box(okm);
    })
}

// --- handshake ------------------------------------------------------------

/// Both sides of a Stranger handshake, exchanging serialized bytes only.
pub fn stranger_handshake(
    p: Provider,
    cipher: CipherSuite,
    rng: &mut StdRng,
) -> (SessionKeys, SessionKeys) {
    let client_cfg = ClientConfig::with_cipher(cipher).with_provider(p);
    let server_cfg = ServerConfig::default().with_provider(p);
    let (client, hello) = StrangerClient::start(&client_cfg, rng).unwrap();
    let hello = ClientHello::parse(&hello.to_bytes()).unwrap();
    let (server, reply) = StrangerServer::accept(&server_cfg, &hello, rng).unwrap();
    let reply = ServerHello::parse(&reply.to_bytes()).unwrap();
    let (client_keys, finish) = client.receive(&reply, rng).unwrap();
    let finish = ClientFinish::parse(&finish.to_bytes()).unwrap();
    let server_keys = server.receive(&finish).unwrap();
    (client_keys, server_keys)
}

fn stranger_pqc1(p: Provider) -> Routine {
    let mut rng = rng();
    Box::new(move || {
        black_box(stranger_handshake(p, CipherSuite::ZP_PQC_1, &mut rng));
    })
}

fn stranger_classical(p: Provider) -> Routine {
    let mut rng = rng();
    Box::new(move || {
        black_box(stranger_handshake(p, CipherSuite::ZP_CLASSICAL_1, &mut rng));
    })
}

fn known_pqc1(p: Provider) -> Routine {
    let mut rng = rng();
    // Registration (the password hash) happens once, not per handshake.
    let secret = PasswordSecret::derive(
        b"correct horse battery staple",
        b"client",
        b"server",
        10_000,
    );
    let record = secret.verifier_record();
    let client_cfg = ClientConfig::default().with_provider(p);
    let server_cfg = ServerConfig::default().with_provider(p);
    Box::new(move || {
        let (client, hello) = KnownClient::start(&client_cfg, &secret, &mut rng).unwrap();
        let hello = KnownHello::parse(&hello.to_bytes()).unwrap();
        let (server, resp) = KnownServer::accept(&server_cfg, &record, &hello, &mut rng).unwrap();
        let resp = KnownResponse::parse(&resp.to_bytes()).unwrap();
        let (ck, finish) = client.receive(&resp, &mut rng).unwrap();
        let finish = KnownFinish::parse(&finish.to_bytes()).unwrap();
        black_box((ck, server.receive(&finish).unwrap()));
    })
}

/// A client connection with `streams` open streams and a little traffic.
pub fn client_connection(p: Provider, streams: usize, rng: &mut StdRng) -> Connection {
    let (client_keys, _) = stranger_handshake(p, CipherSuite::ZP_PQC_1, rng);
    let mut conn = Connection::new(client_keys, PathInfo::default());
    let mut sink = Vec::new();
    for _ in 0..streams {
        let id = conn.open_stream().unwrap().stream_id;
        conn.send(id, b"warm-up", false, &mut sink).unwrap();
    }
    conn
}

fn session_resume(p: Provider) -> Routine {
    let mut rng = rng();
    let conn = client_connection(p, 1, &mut rng);
    let key = Key32::new([0x77; 32]);
    let token = seal_token(&TokenKey::with_provider(p, &key), conn, NOW, &mut rng).unwrap();
    Box::new(move || {
        // A fresh opener each time: a token resumes only once per opener.
        let mut opener = TokenOpener::new(TokenKey::with_provider(p, &key));
        black_box(opener.resume(black_box(&token), NOW + 60).unwrap());
    })
}

// --- datapath -------------------------------------------------------------

fn record(p: Provider, len: usize) -> Routine {
    let key = Key32::new([0x42; 32]);
    let aead = CipherSuite::ZP_PQC_1.aead();
    let mut sealer = RecordSealer::from_key(AeadKey::with_provider(p, aead, &key), 0, 0);
    let mut buf = vec![0x5a; len + RECORD_OVERHEAD];
    Box::new(move || {
        sealer.seal_in_place(black_box(&mut buf)).unwrap();
    })
}

fn record_1k(p: Provider) -> Routine {
    record(p, 1024)
}
fn record_64k(p: Provider) -> Routine {
    record(p, 64 * 1024)
}

const FRAME_PAYLOAD: [u8; 1024] = [0x33; 1024];

fn data_frame() -> DataFrame<'static> {
    DataFrame {
        stream_id: 4,
        seq: 1 << 20,
        flags: 0,
        payload: &FRAME_PAYLOAD,
    }
}

fn parse_data_frame(_: Provider) -> Routine {
    let bytes = Frame::Data(data_frame()).to_bytes();
    Box::new(move || {
        black_box(parse_frame(black_box(&bytes)).unwrap());
    })
}

fn serialize_data_frame(_: Provider) -> Routine {
    let frame = Frame::Data(data_frame());
    let mut out = Vec::with_capacity(2048);
    Box::new(move || {
        out.clear();
        black_box(&frame).encode(&mut out);
        black_box(&out);
    })
}

// --- memory ---------------------------------------------------------------

fn connection_state_size(p: Provider) -> u64 {
    let conn = client_connection(p, 1, &mut rng());
    conn.memory_footprint() as u64
}

fn stream_state_size(_: Provider) -> u64 {
    // Streams own no heap.
    size_of::<zp::stream::Stream>() as u64
}

fn state_token_size(p: Provider) -> u64 {
    let mut rng = rng();
    let conn = client_connection(p, 1, &mut rng);
    let key = TokenKey::with_provider(p, &Key32::new([0x77; 32]));
    seal_token(&key, conn, NOW, &mut rng).unwrap().len() as u64
}

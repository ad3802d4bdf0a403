//! What zp's users would pick instead, set up to be measured beside zp:
//! rustls (TLS 1.3 with the X25519MLKEM768 hybrid group and an ECDSA P-256
//! certificate, on aws-lc-rs), a Noise handshake (snow,
//! `Noise_XX_25519_ChaChaPoly_BLAKE2s`), and aws-lc's raw AEAD loops.
//!
//! Every setup checks that it got what its name says (the negotiated group
//! and suite, a resumed handshake, the record count), because a peer that
//! quietly fell back to X25519 or a full handshake would make its ratio to
//! zp meaningless. The measured routines are in `benches/peers.rs`; the
//! tests below run each once.

#![forbid(unsafe_code)]

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey};
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::crypto::aws_lc_rs as provider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, Connection, HandshakeKind, NamedGroup, RootCertStore,
    ServerConfig, ServerConnection,
};
use std::io::Write;
use std::sync::Arc;

/// The server name in the certificate and the client's `ServerName`.
const HOST: &str = "zp.example";

/// The TLS 1.3 suite with zp's default AEAD (ZP_PQC_1 seals records with
/// ChaCha20-Poly1305), so handshakes and bulk encryption compare like with
/// like.
fn tls_provider() -> Arc<CryptoProvider> {
    let mut p = provider::default_provider();
    p.kx_groups = vec![provider::kx_group::X25519MLKEM768];
    p.cipher_suites = vec![provider::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256];
    Arc::new(p)
}

/// A client and a server configuration that trust each other: a CA
/// (ECDSA P-256) the client trusts, and a server certificate for `HOST`
/// (ECDSA P-256) it signed. `resumption` turns on stateless tickets.
pub struct Tls {
    pub client: Arc<ClientConfig>,
    pub server: Arc<ServerConfig>,
}

impl Tls {
    pub fn new(resumption: bool) -> Tls {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair,
            PKCS_ECDSA_P256_SHA256,
        };
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("CA key");
        let ca = CertifiedIssuer::self_signed(ca, ca_key).expect("CA certificate");
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("server key");
        let cert = CertificateParams::new(vec![HOST.to_string()])
            .expect("server parameters")
            .signed_by(&key, &ca)
            .expect("server certificate");
        let mut roots = RootCertStore::empty();
        roots.add(ca.der().clone()).expect("a valid CA certificate");

        let tls13 = &[&rustls::version::TLS13];
        let mut client = ClientConfig::builder_with_provider(tls_provider())
            .with_protocol_versions(tls13)
            .expect("TLS 1.3 with this provider")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut server = ServerConfig::builder_with_provider(tls_provider())
            .with_protocol_versions(tls13)
            .expect("TLS 1.3 with this provider")
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .expect("the server's certificate and key");
        if resumption {
            // Stateless tickets (zp's resumption token is stateless too);
            // one per handshake, since a TLS 1.3 client uses each once.
            server.ticketer = provider::Ticketer::new().expect("a ticketer");
            server.send_tls13_tickets = 1;
        } else {
            client.resumption = Resumption::disabled();
            server.send_tls13_tickets = 0;
        }
        Tls {
            client: Arc::new(client),
            server: Arc::new(server),
        }
    }

    /// One whole handshake in memory, both sides, until neither has
    /// anything left to send (a resuming server's ticket included).
    pub fn handshake(&self) -> (ClientConnection, ServerConnection) {
        let name = ServerName::try_from(HOST).expect("a DNS name");
        let client = ClientConnection::new(self.client.clone(), name).expect("a client");
        let server = ServerConnection::new(self.server.clone()).expect("a server");
        let mut client = Connection::Client(client);
        let mut server = Connection::Server(server);
        while client.is_handshaking()
            || server.is_handshaking()
            || client.wants_write()
            || server.wants_write()
        {
            transfer(&mut client, &mut server);
            transfer(&mut server, &mut client);
        }
        match (client, server) {
            (Connection::Client(c), Connection::Server(s)) => (c, s),
            _ => unreachable!("the roles do not change"),
        }
    }
}

/// Everything `from` has to send, read and processed by `to`.
fn transfer(from: &mut Connection, to: &mut Connection) {
    let mut wire = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut wire).expect("writing to a Vec");
    }
    let mut rest = &wire[..];
    while !rest.is_empty() {
        to.read_tls(&mut rest).expect("reading from a slice");
        to.process_new_packets().expect("a valid TLS peer");
    }
}

/// Checks a finished handshake: the hybrid group, the ChaCha20 suite, and
/// a full or resumed handshake as asked. Panics otherwise.
pub fn check(client: &ClientConnection, kind: HandshakeKind) {
    let group = client.negotiated_key_exchange_group().map(|g| g.name());
    assert_eq!(
        group,
        Some(NamedGroup::X25519MLKEM768),
        "key exchange group"
    );
    let suite = client.negotiated_cipher_suite().map(|s| s.suite());
    assert_eq!(
        suite,
        Some(rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256),
        "cipher suite"
    );
    assert_eq!(client.handshake_kind(), Some(kind), "handshake kind");
}

/// Application data through rustls's usual (buffered) API: `len` bytes
/// written, encrypted into records of at most 16 KiB each, and drained
/// into `wire`, whose capacity is reused.
pub struct Bulk {
    client: ClientConnection,
    // Kept alive with the client, as a real server would be.
    _server: ServerConnection,
    data: Vec<u8>,
    wire: Vec<u8>,
}

impl Bulk {
    pub fn new(len: usize) -> Bulk {
        let tls = Tls::new(false);
        let (client, server) = tls.handshake();
        check(&client, HandshakeKind::Full);
        Bulk {
            client,
            _server: server,
            data: vec![0x5a; len],
            wire: Vec::with_capacity(len + 1024),
        }
    }

    /// Encrypts the data once; returns the bytes put on the wire.
    pub fn encrypt(&mut self) -> usize {
        self.wire.clear();
        self.client
            .writer()
            .write_all(&self.data)
            .expect("an established connection takes data");
        while self.client.wants_write() {
            self.client
                .write_tls(&mut self.wire)
                .expect("writing to a Vec");
        }
        self.wire.len()
    }
}

/// TLS 1.3's record overhead with ChaCha20-Poly1305: a 5-byte header, the
/// content type byte and the 16-byte tag.
pub const TLS_RECORD_OVERHEAD: usize = 5 + 1 + 16;

/// The Noise pattern measured.
pub const NOISE: &str = "Noise_XX_25519_ChaChaPoly_BLAKE2s";

/// Both static key pairs of a Noise XX handshake (long-term keys, made once).
pub struct Noise {
    params: snow::params::NoiseParams,
    initiator: snow::Keypair,
    responder: snow::Keypair,
}

impl Noise {
    pub fn new() -> Noise {
        let params: snow::params::NoiseParams = NOISE.parse().expect("a valid pattern");
        let builder = snow::Builder::new(params.clone());
        Noise {
            initiator: builder.generate_keypair().expect("a key pair"),
            responder: builder.generate_keypair().expect("a key pair"),
            params,
        }
    }

    /// Both sides of one handshake (three messages, fresh ephemeral keys),
    /// into transport mode.
    pub fn handshake(&self) -> (snow::TransportState, snow::TransportState) {
        fn side<'a>(
            params: &snow::params::NoiseParams,
            key: &'a snow::Keypair,
        ) -> snow::Builder<'a> {
            snow::Builder::new(params.clone())
                .local_private_key(&key.private)
                .expect("a 32-byte key")
        }
        let mut i = side(&self.params, &self.initiator)
            .build_initiator()
            .expect("an initiator");
        let mut r = side(&self.params, &self.responder)
            .build_responder()
            .expect("a responder");
        let mut msg = [0u8; 256];
        let mut payload = [0u8; 256];
        let n = i.write_message(&[], &mut msg).expect("-> e");
        r.read_message(&msg[..n], &mut payload).expect("-> e");
        let n = r.write_message(&[], &mut msg).expect("<- e, ee, s, es");
        i.read_message(&msg[..n], &mut payload)
            .expect("<- e, ee, s, es");
        let n = i.write_message(&[], &mut msg).expect("-> s, se");
        r.read_message(&msg[..n], &mut payload).expect("-> s, se");
        (
            i.into_transport_mode().expect("handshake finished"),
            r.into_transport_mode().expect("handshake finished"),
        )
    }
}

impl Default for Noise {
    fn default() -> Self {
        Noise::new()
    }
}

/// aws-lc's AEAD in a tight loop: the best this CPU does for a primitive,
/// with nothing of a protocol around it (no AAD, a fixed nonce).
pub struct RawAead {
    key: LessSafeKey,
    buf: Vec<u8>,
}

impl RawAead {
    pub fn new(alg: &'static aws_lc_rs::aead::Algorithm, len: usize) -> RawAead {
        RawAead {
            key: LessSafeKey::new(UnboundKey::new(alg, &[0x42; 32]).expect("a 32-byte key")),
            buf: vec![0x5a; len],
        }
    }

    pub fn seal(&mut self) -> aws_lc_rs::aead::Tag {
        self.key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key([0; 12]),
                Aad::empty(),
                std::hint::black_box(&mut self.buf),
            )
            .expect("64 KiB is within the AEAD's limit")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_full_tls_handshake_is_hybrid_with_chacha20_and_carries_data() {
        let tls = Tls::new(false);
        let (mut client, server) = tls.handshake();
        check(&client, HandshakeKind::Full);
        assert_eq!(server.handshake_kind(), Some(HandshakeKind::Full));
        // The certificate the client verified is the one ECDSA P-256 leaf.
        let certs = client.peer_certificates().expect("the server's chain");
        assert_eq!(certs.len(), 1);
        // And the keys agree: data written by one side is read by the other.
        client.writer().write_all(b"hello zp").unwrap();
        let mut c = Connection::Client(client);
        let mut s = Connection::Server(server);
        transfer(&mut c, &mut s);
        let Connection::Server(server) = &mut s else {
            unreachable!()
        };
        let mut got = Vec::new();
        let _ = server.reader().read_to_end(&mut got);
        assert_eq!(got, b"hello zp");
    }

    #[test]
    fn resumed_tls_handshakes_resume_every_time() {
        let tls = Tls::new(true);
        let (client, _) = tls.handshake();
        check(&client, HandshakeKind::Full);
        for _ in 0..3 {
            let (client, server) = tls.handshake();
            check(&client, HandshakeKind::Resumed);
            assert_eq!(server.handshake_kind(), Some(HandshakeKind::Resumed));
        }
    }

    #[test]
    fn tls_bulk_encryption_of_64k_makes_four_full_records() {
        let mut bulk = Bulk::new(64 * 1024);
        for _ in 0..2 {
            assert_eq!(bulk.encrypt(), 64 * 1024 + 4 * TLS_RECORD_OVERHEAD);
        }
    }

    #[test]
    fn a_noise_xx_handshake_gives_both_sides_one_channel() {
        let noise = Noise::new();
        let (mut i, mut r) = noise.handshake();
        let mut msg = [0u8; 64];
        let mut out = [0u8; 64];
        let n = i.write_message(b"hello zp", &mut msg).unwrap();
        let m = r.read_message(&msg[..n], &mut out).unwrap();
        assert_eq!(&out[..m], b"hello zp");
    }

    #[test]
    fn the_raw_aead_loop_seals_the_whole_buffer() {
        for alg in [
            &aws_lc_rs::aead::AES_256_GCM,
            &aws_lc_rs::aead::CHACHA20_POLY1305,
        ] {
            let mut raw = RawAead::new(alg, 1024);
            let before = raw.buf.clone();
            let tag = raw.seal();
            assert_ne!(raw.buf, before, "encrypted in place");
            assert_eq!(tag.as_ref().len(), 16);
        }
    }
}

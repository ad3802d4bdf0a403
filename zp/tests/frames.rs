//! Byte-exact frame encodings, the sizes zp-protocol.md lists, round trips
//! by property test, and refusal of every kind of malformed frame.

use proptest::prelude::*;
use zp::frame::*;
use zp::{Error, parse_frame};

fn hello() -> ClientHello {
    ClientHello {
        versions: vec![Version::V1_0],
        min_version: Version::V1_0,
        ciphers: vec![CipherSuite::ZP_PQC_1],
        x25519_pub: [0x11; 32],
        random: [0x22; 32],
    }
}

fn server_hello(cipher: CipherSuite) -> ServerHello {
    ServerHello {
        version: Version::V1_0,
        cipher,
        x25519_pub: [3; 32],
        mlkem_pub: vec![4; cipher.kem().map_or(0, |k| k.public_key_len())],
        random: [5; 32],
    }
}

fn roundtrip(frame: Frame<'_>) -> Vec<u8> {
    let bytes = frame.to_bytes();
    assert_eq!(parse_frame(&bytes).unwrap(), frame);
    bytes
}

#[test]
fn data_frame_hello_vector_is_27_bytes_and_borrows() {
    let bytes = roundtrip(Frame::Data(DataFrame {
        stream_id: 4,
        seq: 0,
        flags: 0,
        payload: b"Hello",
    }));
    assert_eq!(
        hex::encode(&bytes),
        concat!(
            "4644505a",
            "40",
            "04000000",
            "0000000000000000",
            "00",
            "05000000",
            "48656c6c6f"
        )
    );
    let Frame::Data(d) = parse_frame(&bytes).unwrap() else {
        panic!()
    };
    // The payload is a view into the input, not a copy.
    assert_eq!(d.payload.as_ptr(), bytes[22..].as_ptr());
}

#[test]
fn control_frame_vectors() {
    let wu = roundtrip(Frame::WindowUpdate(WindowUpdate {
        stream_id: 0,
        increment: 1 << 20,
    }));
    assert_eq!(hex::encode(&wu), "5557505a30000000000000100000000000");
    let err = roundtrip(Frame::Error(ErrorFrame {
        code: ErrorCode::HANDSHAKE_TIMEOUT,
    }));
    assert_eq!(hex::encode(&err), "524550 5a6001000000".replace(' ', ""));
    let ku = roundtrip(Frame::KeyUpdate(KeyUpdate {
        key_epoch: 1,
        direction: KeyDirection::Both,
    }));
    assert_eq!(hex::encode(&ku), "554b505a100100000003000000000000");
    let ack = roundtrip(Frame::KeyUpdateAck(KeyUpdateAck { acked_epoch: 1 }));
    assert_eq!(ack.len(), 9);
    let ak = roundtrip(Frame::Ack(AckFrame {
        stream_id: 4,
        ranges: vec![(0, 99), (200, 299)],
    }));
    assert_eq!(ak.len(), 42);
    assert_eq!(&ak[..10], &[0x4b, 0x41, 0x50, 0x5a, 0x20, 4, 0, 0, 0, 2]);
}

#[test]
fn sync_frames_and_integrity() {
    let s = SyncStream::new(4, 1000, 900);
    let bytes = roundtrip(Frame::Sync(Sync {
        session_id: [9; 16],
        flags: 0,
        streams: vec![s],
    }));
    assert_eq!(bytes.len(), 52);
    let mut input = Vec::new();
    input.extend_from_slice(&4u32.to_le_bytes());
    input.extend_from_slice(&1000u64.to_le_bytes());
    input.extend_from_slice(&900u64.to_le_bytes());
    assert_eq!(&bytes[44..52], &zp::crypto::xxh64(&input, 0).to_le_bytes());
    // §3.3.5: a bad integrity value does not refuse the frame; it is
    // carried, and marks that stream MISMATCH in the answer.
    let mut bad = bytes.clone();
    bad[51] ^= 1;
    let Ok(Frame::Sync(parsed)) = parse_frame(&bad) else {
        panic!("a Sync with a bad integrity value still parses")
    };
    assert!(!parsed.streams[0].integrity_ok());
    assert!(s.integrity_ok());
    // Reserved flag bits 2-7 must be zero; URGENT and FINAL are defined.
    let mut flagged = bytes.clone();
    flagged[23] = SYNC_URGENT | SYNC_FINAL;
    assert!(parse_frame(&flagged).is_ok());
    for bit in 2..8 {
        flagged[23] = 1 << bit;
        assert_eq!(
            parse_frame(&flagged),
            Err(Error::ReservedNonZero),
            "bit {bit}"
        );
    }

    let a = SyncAckStream {
        stream_id: 4,
        status: StreamSyncStatus::Ok,
        receiver_last_acked: 1,
        receiver_seq: 2,
    };
    let bytes = roundtrip(Frame::SyncAck(SyncAck {
        status: SyncStatus::Ok,
        streams: vec![a, a],
    }));
    assert_eq!(bytes.len(), 8 + 2 * 21);
    // §3.3.6 invariant: status OK with a stream not OK is refused, and
    // `SyncAck::answer` never builds one.
    let unknown = SyncAckStream {
        status: StreamSyncStatus::Unknown,
        ..a
    };
    let broken = SyncAck {
        status: SyncStatus::Ok,
        streams: vec![a, unknown],
    };
    assert_eq!(
        parse_frame(&broken.to_bytes()),
        Err(Error::InvalidValue("sync status OK with a stream not OK"))
    );
    assert_eq!(
        SyncAck::answer(vec![a, unknown]).status,
        SyncStatus::Partial
    );
    assert_eq!(SyncAck::answer(vec![a, a]).status, SyncStatus::Ok);
    // Status bytes past REJECT and stream statuses past MISMATCH.
    let mut b = bytes.clone();
    b[7] = 3;
    assert_eq!(parse_frame(&b), Err(Error::InvalidValue("sync status")));
    let mut b = bytes.clone();
    b[12] = 3;
    assert_eq!(
        parse_frame(&b),
        Err(Error::InvalidValue("stream sync status"))
    );
    let reject = roundtrip(Frame::SyncAck(SyncAck::reject()));
    assert_eq!(reject, [0x49, 0x4d, 0x50, 0x5a, 0x02, 0, 0, 2]);
}

#[test]
fn handshake_frame_sizes() {
    assert_eq!(roundtrip(Frame::ClientHello(hello())).len(), 76);
    assert_eq!(
        roundtrip(Frame::ServerHello(server_hello(CipherSuite::ZP_PQC_1))).len(),
        1258
    );
    assert_eq!(
        roundtrip(Frame::ServerHello(server_hello(CipherSuite::ZP_PQC_2))).len(),
        1642
    );
    assert_eq!(
        roundtrip(Frame::ServerHello(server_hello(
            CipherSuite::ZP_CLASSICAL_1
        )))
        .len(),
        74
    );
    for (len, size) in [(1088, 1095), (1568, 1575), (0, 7)] {
        let f = Frame::ClientFinish(ClientFinish {
            mlkem_ct: vec![1; len],
        });
        assert_eq!(roundtrip(f).len(), size);
    }
    let kh = KnownHello {
        versions: vec![Version::V1_0],
        min_version: Version::V1_0,
        ciphers: vec![CipherSuite::ZP_PQC_1],
        spake2_share_a: [1; 32],
        random: [2; 32],
    };
    assert_eq!(roundtrip(Frame::KnownHello(kh)).len(), 76);
    let kr = KnownResponse {
        version: Version::V1_0,
        cipher: CipherSuite::ZP_PQC_1,
        spake2_share_b: [1; 32],
        random: [2; 32],
        sealed_mlkem_pub: vec![3; 1184 + 16],
    };
    assert_eq!(roundtrip(Frame::KnownResponse(kr)).len(), 1274);
    let kf = KnownFinish {
        sealed_mlkem_ct: vec![3; 1088 + 16],
    };
    assert_eq!(roundtrip(Frame::KnownFinish(kf)).len(), 1111);
}

#[test]
fn every_truncation_of_every_frame_is_refused() {
    let frames = [
        Frame::ClientHello(hello()).to_bytes(),
        Frame::ServerHello(server_hello(CipherSuite::ZP_PQC_1)).to_bytes(),
        Frame::Data(DataFrame {
            stream_id: 4,
            seq: 0,
            flags: 1,
            payload: b"Hello",
        })
        .to_bytes(),
        Frame::Ack(AckFrame {
            stream_id: 4,
            ranges: vec![(0, 1)],
        })
        .to_bytes(),
        Frame::Sync(Sync {
            session_id: [0; 16],
            flags: 0,
            streams: vec![SyncStream::new(2, 0, 0)],
        })
        .to_bytes(),
    ];
    for bytes in &frames {
        for cut in 0..bytes.len() {
            assert_eq!(
                parse_frame(&bytes[..cut]),
                Err(Error::Truncated),
                "cut at {cut}"
            );
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(parse_frame(&long), Err(Error::TrailingBytes));
    }
}

/// A one-byte DataFrame on stream 4, for corrupting.
fn data_x() -> Vec<u8> {
    Frame::Data(DataFrame {
        stream_id: 4,
        seq: 0,
        flags: 0,
        payload: b"x",
    })
    .to_bytes()
}

#[test]
fn malformed_frames_get_typed_errors() {
    // Unknown magic and unknown type.
    assert_eq!(
        parse_frame(&[0, 0, 0, 0, 0x40]),
        Err(Error::UnknownMagic(0))
    );
    let mut data = data_x();
    data[4] = 0x41;
    assert!(matches!(
        parse_frame(&data),
        Err(Error::UnknownFrameType {
            frame_type: 0x41,
            ..
        })
    ));
    // Reserved bits in DataFrame flags, reserved bytes in KeyUpdate and ErrorFrame.
    let mut data = data_x();
    data[17] = 0x04;
    assert_eq!(parse_frame(&data), Err(Error::ReservedNonZero));
    let mut ku = Frame::KeyUpdate(KeyUpdate {
        key_epoch: 1,
        direction: KeyDirection::Both,
    })
    .to_bytes();
    ku[15] = 1;
    assert_eq!(parse_frame(&ku), Err(Error::ReservedNonZero));
    ku[15] = 0;
    ku[9] = 4;
    assert_eq!(
        parse_frame(&ku),
        Err(Error::InvalidValue("key update direction"))
    );
    let mut ef = Frame::Error(ErrorFrame {
        code: ErrorCode::RATE_LIMITED,
    })
    .to_bytes();
    ef[8] = 1;
    assert_eq!(parse_frame(&ef), Err(Error::ReservedNonZero));
    // The sentinel stream ID (§3.3.7) makes the payload StreamChunks: raw
    // bytes that are not chunks are refused; a length that runs past the
    // buffer.
    let mut data = data_x();
    data[5..9].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(parse_frame(&data), Err(Error::Truncated));
    let mut data = data_x();
    data[18..22].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(parse_frame(&data), Err(Error::Truncated));
    // Window increments above 2^32 - 1 parse: the sender saturates them
    // (§3.3.9), see `tests/connection.rs`.
    let mut wu = Frame::WindowUpdate(WindowUpdate {
        stream_id: 0,
        increment: 1,
    })
    .to_bytes();
    wu[13] = 1;
    assert_eq!(
        WindowUpdate::parse(&wu).map(|w| w.increment),
        Ok((1 << 32) + 1)
    );
}

#[test]
fn multiplexed_data_frames_carry_stream_chunks() {
    // §3.3.7: stream ID 0xFFFFFFFF, payload = StreamChunks, each
    // stream_id (u32 LE), length (u32 LE, payload only), payload.
    let mut payload = Vec::new();
    StreamChunk {
        stream_id: 2,
        payload: b"abc",
    }
    .encode(&mut payload);
    StreamChunk {
        stream_id: 5,
        payload: b"",
    }
    .encode(&mut payload);
    assert_eq!(
        payload,
        [
            2, 0, 0, 0, 3, 0, 0, 0, b'a', b'b', b'c', 5, 0, 0, 0, 0, 0, 0, 0
        ]
    );
    let frame = Frame::Data(DataFrame {
        stream_id: MULTIPLEXED,
        seq: 0,
        flags: 0,
        payload: &payload,
    });
    let bytes = roundtrip(frame);
    let Ok(Frame::Data(d)) = parse_frame(&bytes) else {
        panic!()
    };
    assert!(d.is_multiplexed());
    let chunks: Vec<_> = d.chunks().map(Result::unwrap).collect();
    assert_eq!(chunks.len(), 2);
    assert_eq!((chunks[0].stream_id, chunks[0].payload), (2, &b"abc"[..]));
    assert_eq!((chunks[1].stream_id, chunks[1].payload), (5, &b""[..]));
    // A chunk that runs past the payload, an empty multiplexed payload, a
    // chunk naming the sentinel itself.
    for bad in [
        &payload[..payload.len() - 1],
        &[][..],
        &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0][..],
    ] {
        let frame = DataFrame {
            stream_id: MULTIPLEXED,
            seq: 0,
            flags: 0,
            payload: bad,
        };
        assert!(parse_frame(&frame.to_bytes()).is_err(), "{bad:?}");
    }
    // A raw payload on a real stream is not chunks.
    let raw = DataFrame {
        stream_id: 2,
        seq: 0,
        flags: 0,
        payload: &payload,
    };
    let bytes = raw.to_bytes();
    let Ok(Frame::Data(d)) = parse_frame(&bytes) else {
        panic!()
    };
    assert_eq!(d.chunks().count(), 0);
}

#[test]
fn zero_or_too_many_entries_are_refused() {
    let mut ch = Frame::ClientHello(hello()).to_bytes();
    // Zero versions.
    let mut zero = ch.clone();
    zero[5] = 0;
    assert_eq!(parse_frame(&zero), Err(Error::Empty("versions")));
    // Zero ciphers, too many ciphers, cipher 0x00.
    ch[10] = 0;
    assert_eq!(parse_frame(&ch), Err(Error::Empty("cipher suites")));
    ch[10] = 200;
    assert!(matches!(
        parse_frame(&ch),
        Err(Error::TooMany {
            what: "cipher suites",
            ..
        })
    ));
    let mut h0 = hello();
    h0.ciphers = vec![CipherSuite(0)];
    assert_eq!(
        parse_frame(&h0.to_bytes()),
        Err(Error::InvalidValue("cipher suite 0x00"))
    );
    // Ack ranges: zero and too many; a range that ends before it starts.
    let ack = Frame::Ack(AckFrame {
        stream_id: 4,
        ranges: vec![(0, 1)],
    })
    .to_bytes();
    let mut a = ack.clone();
    a[9] = 0;
    assert_eq!(parse_frame(&a), Err(Error::Empty("ack ranges")));
    // §6.4.4: the count is a u8, so 255 ranges are allowed; here they are
    // missing.
    a[9] = 255;
    assert_eq!(parse_frame(&a), Err(Error::Truncated));
    let most = Frame::Ack(AckFrame {
        stream_id: 4,
        ranges: (0..255u64).map(|i| (i * 10, i * 10 + 5)).collect(),
    });
    assert_eq!(roundtrip(most).len(), 10 + 16 * 255);
    let rev = Frame::Ack(AckFrame {
        stream_id: 4,
        ranges: vec![(5, 1)],
    })
    .to_bytes();
    assert_eq!(parse_frame(&rev), Err(Error::InvalidValue("ack range")));
    // Sync: the stream count is a u16 (the 12 limit is the token's, not
    // Sync's); a count the frame does not hold is refused before
    // anything is allocated.
    let sync = Frame::Sync(Sync {
        session_id: [0; 16],
        flags: 0,
        streams: vec![SyncStream::new(2, 0, 0)],
    })
    .to_bytes();
    let mut s = sync.clone();
    s[21..23].copy_from_slice(&0u16.to_le_bytes());
    assert_eq!(parse_frame(&s), Err(Error::TrailingBytes));
    s[21..23].copy_from_slice(&13u16.to_le_bytes());
    assert_eq!(parse_frame(&s), Err(Error::Truncated));
    s[21..23].copy_from_slice(&u16::MAX.to_le_bytes());
    assert_eq!(parse_frame(&s), Err(Error::Truncated));
    let many = Frame::Sync(Sync {
        session_id: [1; 16],
        flags: SYNC_FINAL,
        streams: (0..300).map(|i| SyncStream::new(i * 2, 7, 3)).collect(),
    });
    assert_eq!(roundtrip(many).len(), 24 + 28 * 300);
}

#[test]
fn ml_kem_keys_of_the_wrong_length_and_unknown_suites_are_refused() {
    let mut sh = server_hello(CipherSuite::ZP_PQC_1);
    sh.mlkem_pub.pop();
    assert!(matches!(
        parse_frame(&sh.to_bytes()),
        Err(Error::InvalidLength {
            what: "ML-KEM public key",
            got: 1183
        })
    ));
    let mut sh = server_hello(CipherSuite::ZP_CLASSICAL_1);
    sh.cipher = CipherSuite(0x42);
    assert_eq!(
        parse_frame(&sh.to_bytes()),
        Err(Error::UnsupportedCipher(0x42))
    );
    let cf = ClientFinish {
        mlkem_ct: vec![0; 1000],
    };
    assert!(matches!(
        parse_frame(&cf.to_bytes()),
        Err(Error::InvalidLength { .. })
    ));
    // A typed parse of the wrong frame.
    assert_eq!(
        ServerHello::parse(&hello().to_bytes()),
        Err(Error::UnexpectedFrame)
    );
}

fn bytes(len: impl Into<proptest::sample::SizeRange>) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), len)
}

fn version() -> impl Strategy<Value = Version> {
    any::<(u8, u8)>().prop_map(|(major, minor)| Version { major, minor })
}

fn versions() -> impl Strategy<Value = Vec<Version>> {
    proptest::collection::vec(version(), 1..=MAX_VERSIONS)
}

fn suites() -> impl Strategy<Value = Vec<CipherSuite>> {
    proptest::collection::vec((1u8..=255).prop_map(CipherSuite), 1..=MAX_CIPHERS)
}

/// A suite this implementation supports, and one with an ML-KEM.
fn supported() -> impl Strategy<Value = CipherSuite> {
    prop_oneof![
        Just(CipherSuite::ZP_PQC_1),
        Just(CipherSuite::ZP_PQC_2),
        Just(CipherSuite::ZP_CLASSICAL_1)
    ]
}

fn post_quantum() -> impl Strategy<Value = CipherSuite> {
    prop_oneof![Just(CipherSuite::ZP_PQC_1), Just(CipherSuite::ZP_PQC_2)]
}

fn kem_len(c: CipherSuite, ct: bool) -> usize {
    c.kem().map_or(0, |k| {
        if ct {
            k.ciphertext_len()
        } else {
            k.public_key_len()
        }
    })
}

/// Every one of zp's 14 frame types, with every field arbitrary within
/// what the encoding allows.
fn arb_frame() -> impl Strategy<Value = Frame<'static>> {
    let payload = bytes(0..64).prop_map(|v| &*Box::leak(v.into_boxed_slice()));
    let handshake = prop_oneof![
        (
            versions(),
            version(),
            suites(),
            any::<[u8; 32]>(),
            any::<[u8; 32]>()
        )
            .prop_map(|(versions, min_version, ciphers, x25519_pub, random)| {
                Frame::ClientHello(ClientHello {
                    versions,
                    min_version,
                    ciphers,
                    x25519_pub,
                    random,
                })
            }),
        (
            version(),
            supported(),
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
            any::<u64>()
        )
            .prop_map(|(version, cipher, x25519_pub, random, fill)| {
                Frame::ServerHello(ServerHello {
                    version,
                    cipher,
                    x25519_pub,
                    mlkem_pub: vec![fill as u8; kem_len(cipher, false)],
                    random,
                })
            }),
        (supported(), any::<u8>()).prop_map(|(c, fill)| Frame::ClientFinish(ClientFinish {
            mlkem_ct: vec![fill; kem_len(c, true)],
        })),
        (
            versions(),
            version(),
            suites(),
            any::<[u8; 32]>(),
            any::<[u8; 32]>()
        )
            .prop_map(|(versions, min_version, ciphers, spake2_share_a, random)| {
                Frame::KnownHello(KnownHello {
                    versions,
                    min_version,
                    ciphers,
                    spake2_share_a,
                    random,
                })
            }),
        (
            version(),
            post_quantum(),
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
            any::<u8>()
        )
            .prop_map(|(version, cipher, spake2_share_b, random, fill)| {
                Frame::KnownResponse(KnownResponse {
                    version,
                    cipher,
                    spake2_share_b,
                    random,
                    sealed_mlkem_pub: vec![fill; kem_len(cipher, false) + 16],
                })
            }),
        (post_quantum(), any::<u8>()).prop_map(|(c, fill)| Frame::KnownFinish(KnownFinish {
            sealed_mlkem_ct: vec![fill; kem_len(c, true) + 16],
        })),
    ];
    let control = prop_oneof![
        (any::<u32>(), 1u8..=3).prop_map(|(e, d)| Frame::KeyUpdate(KeyUpdate {
            key_epoch: e,
            direction: [
                KeyDirection::ClientToServer,
                KeyDirection::ServerToClient,
                KeyDirection::Both
            ][d as usize - 1],
        })),
        any::<u32>().prop_map(|e| Frame::KeyUpdateAck(KeyUpdateAck { acked_epoch: e })),
        (
            any::<u32>(),
            proptest::collection::vec(any::<(u64, u64)>(), 1..=MAX_ACK_RANGES)
        )
            .prop_map(|(stream_id, r)| Frame::Ack(AckFrame {
                stream_id,
                ranges: r.into_iter().map(|(a, b)| (a.min(b), a.max(b))).collect(),
            })),
        (any::<u32>(), any::<u64>()).prop_map(|(stream_id, increment)| {
            Frame::WindowUpdate(WindowUpdate {
                stream_id,
                increment,
            })
        }),
        (1u8..=0x0E).prop_map(|c| Frame::Error(ErrorFrame { code: ErrorCode(c) })),
    ];
    let data = (
        any::<u32>().prop_filter("reserved", |i| *i != u32::MAX),
        any::<u64>(),
        0u8..4,
        payload,
    )
        .prop_filter("seq overflow", |(_, seq, _, p)| {
            seq.checked_add(p.len() as u64).is_some()
        })
        .prop_map(|(stream_id, seq, flags, payload)| {
            Frame::Data(DataFrame {
                stream_id,
                seq,
                flags,
                payload,
            })
        });
    let sync = prop_oneof![
        (
            any::<[u8; 16]>(),
            0u8..4,
            proptest::collection::vec(any::<(u32, u64, u64, u64)>(), 0..=40)
        )
            .prop_map(|(session_id, flags, s)| Frame::Sync(Sync {
                session_id,
                flags,
                // Any integrity value, right or wrong, survives the trip.
                streams: s
                    .into_iter()
                    .map(
                        |(stream_id, global_seq, last_acked, integrity)| SyncStream {
                            stream_id,
                            global_seq,
                            last_acked,
                            integrity,
                        }
                    )
                    .collect(),
            })),
        proptest::collection::vec(any::<(u32, u8, u64, u64)>(), 0..=40).prop_map(|s| {
            Frame::SyncAck(SyncAck::answer(
                s.into_iter()
                    .map(
                        |(stream_id, status, receiver_last_acked, receiver_seq)| SyncAckStream {
                            stream_id,
                            status: [
                                StreamSyncStatus::Ok,
                                StreamSyncStatus::Unknown,
                                StreamSyncStatus::Mismatch,
                            ][usize::from(status % 3)],
                            receiver_last_acked,
                            receiver_seq,
                        },
                    )
                    .collect(),
            ))
        }),
    ];
    prop_oneof![handshake, control, data, sync]
}

/// What a mutation does to an encoded frame: flip bits of several bytes,
/// cut it short, add bytes, or overwrite a 1-, 2- or 4-byte field (counts
/// and lengths) with an arbitrary value, at an arbitrary place.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Append(Vec<u8>),
    Set8(usize, u8),
    Set16(usize, u16),
    Set32(usize, u32),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 1u8..).prop_map(|(i, x)| Mutation::Flip(i, x)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => bytes(1..8).prop_map(Mutation::Append),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Mutation::Set8(i, v)),
        2 => (any::<usize>(), any::<u16>()).prop_map(|(i, v)| Mutation::Set16(i, v)),
        2 => (any::<usize>(), any::<u32>()).prop_map(|(i, v)| Mutation::Set32(i, v)),
    ]
}

fn mutate(mut b: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if b.is_empty() {
            break;
        }
        let at = |i: usize, width: usize, len: usize| (i % len).min(len.saturating_sub(width));
        match m {
            Mutation::Flip(i, x) => {
                let n = b.len();
                b[i % n] ^= x;
            }
            Mutation::Truncate(i) => b.truncate(i % b.len()),
            Mutation::Append(extra) => b.extend_from_slice(extra),
            Mutation::Set8(i, v) => {
                let n = b.len();
                b[i % n] = *v;
            }
            Mutation::Set16(i, v) if b.len() >= 2 => {
                let p = at(*i, 2, b.len());
                b[p..p + 2].copy_from_slice(&v.to_le_bytes());
            }
            Mutation::Set32(i, v) if b.len() >= 4 => {
                let p = at(*i, 4, b.len());
                b[p..p + 4].copy_from_slice(&v.to_le_bytes());
            }
            _ => {}
        }
    }
    b
}

/// Every frame's magic and type byte, for inputs that get past the first
/// five bytes.
const HEADS: [(u32, u8); 14] = [
    (magic::CLIENT_HELLO, 0x50),
    (magic::SERVER_HELLO, 0x51),
    (magic::CLIENT_FINISH, 0x52),
    (magic::KNOWN_HELLO, 0x53),
    (magic::KNOWN_RESPONSE, 0x54),
    (magic::KNOWN_FINISH, 0x55),
    (magic::KEY_UPDATE, 0x10),
    (magic::KEY_UPDATE, 0x11),
    (magic::ACK, 0x20),
    (magic::WINDOW_UPDATE, 0x30),
    (magic::DATA, 0x40),
    (magic::ERROR, 0x60),
    (magic::SYNC, 0x01),
    (magic::SYNC, 0x02),
];

fn kind(f: &Frame<'_>) -> usize {
    match f {
        Frame::ClientHello(_) => 0,
        Frame::ServerHello(_) => 1,
        Frame::ClientFinish(_) => 2,
        Frame::KnownHello(_) => 3,
        Frame::KnownResponse(_) => 4,
        Frame::KnownFinish(_) => 5,
        Frame::KeyUpdate(_) => 6,
        Frame::KeyUpdateAck(_) => 7,
        Frame::Ack(_) => 8,
        Frame::WindowUpdate(_) => 9,
        Frame::Data(_) => 10,
        Frame::Error(_) => 11,
        Frame::Sync(_) => 12,
        Frame::SyncAck(_) => 13,
    }
}

#[test]
fn the_generator_covers_all_14_frame_types() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = arb_frame();
    let mut seen = [false; 14];
    for _ in 0..2000 {
        let f = strategy.new_tree(&mut runner).unwrap().current();
        seen[kind(&f)] = true;
        assert_eq!(
            &f.to_bytes()[..5],
            &{
                let (m, t) = HEADS[kind(&f)];
                let mut h = m.to_le_bytes().to_vec();
                h.push(t);
                h
            }[..]
        );
    }
    assert!(seen.iter().all(|s| *s), "{seen:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn parse_of_serialize_is_identity(frame in arb_frame()) {
        let bytes = frame.to_bytes();
        prop_assert_eq!(parse_frame(&bytes).unwrap(), frame);
    }

    /// A mutated frame is refused or parses to a frame that encodes back to
    /// exactly the mutated bytes (one encoding per frame); never a panic.
    #[test]
    fn mutated_frames_are_refused_or_parse_exactly(
        frame in arb_frame(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let bytes = mutate(frame.to_bytes(), &mutations);
        if let Ok(f) = parse_frame(&bytes) {
            prop_assert_eq!(f.to_bytes(), bytes);
        }
    }

    /// Arbitrary bodies behind every valid magic and type byte.
    #[test]
    fn arbitrary_bodies_behind_every_header_never_panic(
        head in 0usize..14,
        body in bytes(0..2048),
    ) {
        let (m, t) = HEADS[head];
        let mut b = m.to_le_bytes().to_vec();
        b.push(t);
        b.extend_from_slice(&body);
        if let Ok(f) = parse_frame(&b) {
            prop_assert_eq!(f.to_bytes(), b);
        }
    }
}

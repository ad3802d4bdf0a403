//! The state token: a connection saved so that a hibernating client can
//! resume without a new handshake (zp-protocol.md, "State token").
//!
//! Plain token = header (16) || crypto context (136) || connection context
//! (50) || 63 bytes per stream (1 to 12). Stored = token_nonce (12, fresh per
//! save) || header (16, the AAD) || AES-256-GCM of the whole plain token ||
//! tag (16): 309 bytes with one stream, 1002 with twelve.
//!
//! zp v1.0 gives the token no field for the cipher suite, the role, the
//! transport or where stream IDs stand; this implementation keeps them in
//! reserved bytes, so a token of v1.0's layout (zeros there) still opens:
//! - the crypto context's four reserved bytes: the suite byte (zero reads
//!   as ZP_PQC_1), the role (0 client, 1 server), the transport (0 records,
//!   1 unordered, 2 QUIC), then zero;
//! - the first stream's 21 reserved bytes: the next stream ID this side
//!   opens (u32 LE) and the highest ID the peer opened (u32 LE), then
//!   zeros. A token keeps at most 12 streams; without these the resumed
//!   side would hand out again an ID the token dropped, which the peer
//!   still knows (§3.3.1: IDs are never reused within a session).
//!
//! **Nonce safety.** A token holds the traffic keys and counters, so two
//! connections running from the same saved state would seal different
//! records under the same key and counter. Three rules keep that from
//! happening wherever one opener's memory reaches:
//! - sealing consumes the connection ([`seal_token`] takes it by value), so
//!   the connection that was saved cannot send again, and cannot be saved
//!   twice;
//! - resuming skips the *sending* counter ahead by [`RESUME_NONCE_SKIP`]
//!   (spec §6.5 "Nonce Safety": records sent after the last save may have
//!   used the counters between). The receiving counter is not skipped: the
//!   peer, which never hibernated, goes on from where it was;
//! - an opener resumes each session forward only: it remembers, per
//!   session, the (epoch, sending counter) each resumption started from,
//!   and refuses a token saved before that point (the same token again, or
//!   an older one of the same session). It refuses to resume rather than
//!   forget an unexpired entry when its memory is full.
//!
//! What no single opener can stop: the same token resumed on two hosts that
//! do not share this memory (or on one host that lost it). zp v1.0's
//! resumption carries no fresh randomness from either peer (the token holds
//! the keys; Sync carries none), so both copies would derive the same keys
//! and counters. docs/src/zp/security.md says what to do.

use crate::codec::{Put, Reader};
use crate::connection::{Connection, Continuity, PathInfo};
use crate::crypto::{AeadAlgorithm, AeadKey, CryptoRng, Key32, NONCE_LEN, TAG_LEN, random_array};
use crate::error::Error;
use crate::frame::{CipherSuite, MAX_STREAMS, Version};
use crate::handshake::Role;
use crate::session::{Session, SessionSnapshot};
use crate::stream::{self, DEFAULT_STREAM_WINDOW, Stream, Transport};
use std::collections::HashMap;
use std::net::IpAddr;
use zeroize::Zeroizing;

/// "ZPST".
pub const TOKEN_MAGIC: u32 = 0x5A50_5354;
/// The token format this implementation writes.
pub const TOKEN_VERSION: u8 = 1;
/// Header length.
pub const HEADER_LEN: usize = 16;
/// Crypto context length.
pub const CRYPTO_LEN: usize = 136;
/// Connection context length.
pub const CONNECTION_LEN: usize = 50;
/// Length per stream.
pub const STREAM_LEN: usize = 63;
/// A token is valid for 24 hours after it was saved.
pub const LIFETIME_SECS: u64 = 24 * 60 * 60;
/// Clock skew tolerated for a token dated in the future.
pub const MAX_CLOCK_SKEW_SECS: u64 = 60;
/// On resume the *sending* counter skips this far ahead, so that records
/// sent after the last save can never have their nonces reused. The spec
/// says both counters skip; the receiving one does not here, because the
/// peer never hibernated and goes on from where it was: skipping it would
/// refuse the peer's next records as replays (see the module doc).
pub const RESUME_NONCE_SKIP: u64 = 1000;
/// Most sessions an opener remembers resumptions of.
pub const MAX_REMEMBERED: usize = 1 << 16;

/// The `bind_ip_hash` of an address (§6.5, `ZP_TOKEN_BIND_IP`): the low 32
/// bits of XXH64 (seed 0) of the address as 16 bytes of IPv6, an IPv4
/// address mapped (`::ffff:a.b.c.d`), so that one host hashes the same
/// either way. The spec gives the field, not the hash; the token is
/// encrypted, so the hash only has to tell addresses apart, not hide them.
/// Set it in [`PathInfo::bind_ip_hash`] before sealing.
pub fn ip_hash(ip: IpAddr) -> u32 {
    let v6 = match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    crate::crypto::xxh64(&v6.octets(), 0) as u32
}

/// Stored length of a token with `streams` streams.
pub const fn stored_len(streams: usize) -> usize {
    NONCE_LEN + HEADER_LEN + plain_len(streams) + TAG_LEN
}

const fn plain_len(streams: usize) -> usize {
    HEADER_LEN + CRYPTO_LEN + CONNECTION_LEN + STREAM_LEN * streams
}

/// The key that seals and opens state tokens (AES-256-GCM).
#[derive(Debug)]
pub struct TokenKey(AeadKey);

impl TokenKey {
    /// A token key from 32 secret bytes, on the build's default provider.
    pub fn new(key: &Key32) -> Self {
        Self::with_provider(crate::crypto::default_provider(), key)
    }

    /// A token key from 32 secret bytes on `provider`; sessions a token
    /// opener resumes with it run on that provider too.
    pub fn with_provider(provider: crate::crypto::Provider, key: &Key32) -> Self {
        TokenKey(AeadKey::with_provider(
            provider,
            AeadAlgorithm::Aes256Gcm,
            key,
        ))
    }
}

fn write_header(out: &mut Vec<u8>, streams: usize, created_at: u64) {
    out.put_u32(TOKEN_MAGIC);
    out.put_u8(TOKEN_VERSION);
    out.put_u8(0);
    out.put_u8(streams as u8);
    out.put_u8(0);
    out.put_u64(created_at);
}

/// A connection that could not be saved, returned unchanged with why.
#[derive(Debug)]
pub struct NotSealed {
    /// Why.
    pub error: Error,
    /// The connection, as it was.
    pub connection: Connection,
}

/// What sealing does with a connection of more than [`MAX_STREAMS`]
/// streams (`ZP_TOKEN_OVERFLOW`, §6.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenOverflow {
    /// Refuse to save ([`Error::TooManyStreams`]).
    Reject,
    /// Keep the most recently used streams (the default).
    #[default]
    Lru,
    /// Keep the highest-priority streams (most recently used among equals).
    Priority,
}

/// Saves `conn` as a stored token, dated `now_unix` (seconds), with the
/// default overflow policy (LRU). The connection is consumed: once saved
/// it must not send again (only a connection resumed from the token may),
/// so it cannot be saved twice. When it cannot be saved (no stream, a key
/// update under way), it comes back unchanged in the error.
pub fn seal_token(
    key: &TokenKey,
    conn: Connection,
    now_unix: u64,
    rng: &mut impl CryptoRng,
) -> Result<Vec<u8>, Box<NotSealed>> {
    seal_token_with(key, conn, now_unix, TokenOverflow::default(), rng)
}

/// [`seal_token`] with an explicit overflow policy. Streams left out by
/// LRU or PRIORITY are not in the token: a resumed connection does not
/// know them.
pub fn seal_token_with(
    key: &TokenKey,
    conn: Connection,
    now_unix: u64,
    overflow: TokenOverflow,
    rng: &mut impl CryptoRng,
) -> Result<Vec<u8>, Box<NotSealed>> {
    match seal(key, &conn, now_unix, overflow, rng) {
        Ok(token) => Ok(token),
        Err(error) => Err(Box::new(NotSealed {
            error,
            connection: conn,
        })),
    }
}

/// The streams a token keeps, in the connection's order.
fn kept(streams: &[Stream], overflow: TokenOverflow) -> Result<Vec<&Stream>, Error> {
    let mut all: Vec<&Stream> = streams.iter().collect();
    if all.len() > MAX_STREAMS {
        match overflow {
            TokenOverflow::Reject => return Err(Error::TooManyStreams { max: MAX_STREAMS }),
            TokenOverflow::Lru => all.sort_by_key(|s| std::cmp::Reverse(s.last_used)),
            TokenOverflow::Priority => {
                all.sort_by_key(|s| std::cmp::Reverse((s.priority, s.last_used)))
            }
        }
        all.truncate(MAX_STREAMS);
        all.sort_by_key(|s| streams.iter().position(|o| o.id == s.id));
    }
    Ok(all)
}

fn seal(
    key: &TokenKey,
    conn: &Connection,
    now_unix: u64,
    overflow: TokenOverflow,
    rng: &mut impl CryptoRng,
) -> Result<Vec<u8>, Error> {
    if conn.streams().is_empty() {
        return Err(Error::Empty("streams"));
    }
    let streams = kept(conn.streams(), overflow)?;
    let s = conn.session().snapshot()?;
    let nonce: [u8; NONCE_LEN] = random_array(rng);

    let mut out = Vec::with_capacity(stored_len(streams.len()));
    out.put(&nonce);
    write_header(&mut out, streams.len(), now_unix);
    let plain_start = out.len();
    write_header(&mut out, streams.len(), now_unix);
    out.put(&s.session_id);
    out.put(s.session_secret.expose());
    out.put(s.send_key.expose());
    out.put(s.recv_key.expose());
    out.put_u64(s.send_nonce);
    out.put_u64(s.recv_nonce);
    out.put_u32(s.key_epoch);
    let continuity = conn.continuity();
    out.put(&[
        s.cipher.0,
        (s.role == Role::Server) as u8,
        transport_byte(continuity.transport),
        0,
    ]);
    let p = conn.path();
    out.put(&p.connection_id);
    out.put(&p.peer_address);
    out.put_u32(p.rtt_estimate);
    out.put_u32(p.congestion_window);
    out.put_u32(p.bind_ip_hash);
    for (i, st) in streams.iter().enumerate() {
        out.put_u32(st.id);
        // global_seq (§3.3.1) is the stream's own byte counter: its send
        // offset, which follows.
        out.put_u64(st.send_offset);
        out.put_u64(st.last_acked);
        out.put_u64(st.send_offset);
        out.put_u64(st.recv_offset);
        out.put_u32(st.send_window().min(stream::MAX_WINDOW) as u32);
        out.put_u8(st.state_flags);
        out.put_u8(st.priority);
        if i == 0 {
            out.put_u32(continuity.next_stream_id);
            out.put_u32(continuity.highest_peer_stream);
            out.put(&[0; 13]);
        } else {
            out.put(&[0; 21]);
        }
    }
    let (head, plain) = out.split_at_mut(plain_start);
    let tag = key.0.seal_in_place(&nonce, &head[NONCE_LEN..], plain)?;
    out.put(&tag);
    debug_assert_eq!(out.len(), stored_len(streams.len()));
    Ok(out)
}

/// Opens stored tokens, refusing expired and replayed ones.
#[derive(Debug)]
pub struct TokenOpener {
    key: TokenKey,
    /// Per session: where its latest resumption started (epoch, sending
    /// counter after the skip), and when that token was saved.
    resumed: HashMap<[u8; 16], Resumed>,
    capacity: usize,
    nonce_skip: u64,
    /// `ZP_TOKEN_BIND_IP`: the hash of the address resuming, when bound.
    bound_ip: Option<u32>,
}

#[derive(Debug, Clone, Copy)]
struct Resumed {
    from: (u32, u64),
    created_at: u64,
}

struct Header {
    streams: usize,
    created_at: u64,
}

fn read_header(r: &mut Reader<'_>) -> Result<Header, Error> {
    let magic = r.u32()?;
    if magic != TOKEN_MAGIC {
        return Err(Error::UnknownMagic(magic));
    }
    if r.u8()? != TOKEN_VERSION {
        return Err(Error::InvalidValue("token version"));
    }
    // Flags: none defined. §6.5: "Receivers SHOULD ignore unknown flag
    // bits for forward compatibility" (the header is authenticated).
    r.u8()?;
    let streams = usize::from(r.u8()?);
    if streams == 0 {
        return Err(Error::Empty("streams"));
    }
    if streams > MAX_STREAMS {
        return Err(Error::TooManyStreams { max: MAX_STREAMS });
    }
    r.reserved(1)?;
    Ok(Header {
        streams,
        created_at: r.u64()?,
    })
}

impl TokenOpener {
    /// An opener with an empty replay memory of [`MAX_REMEMBERED`] sessions
    /// and the default skip of [`RESUME_NONCE_SKIP`].
    pub fn new(key: TokenKey) -> Self {
        TokenOpener {
            key,
            resumed: HashMap::new(),
            capacity: MAX_REMEMBERED,
            nonce_skip: RESUME_NONCE_SKIP,
            bound_ip: None,
        }
    }

    /// `ZP_TOKEN_BIND_IP=true` (§6.5; off by default, as in Appendix C):
    /// resume only tokens whose `bind_ip_hash` is [`ip_hash`]`(current)`,
    /// the address this side resumes from; any other is
    /// [`Error::TokenIpMismatch`] (`ERR_TOKEN_IP_MISMATCH`). A token sealed
    /// without a hash (zero) resumes nowhere while binding is on.
    pub fn bind_ip(mut self, current: IpAddr) -> Self {
        self.bound_ip = Some(ip_hash(current));
        self
    }

    /// Remembers at most `sessions` resumptions (unexpired ones are never
    /// forgotten: a full memory refuses to resume).
    pub fn with_capacity(mut self, sessions: usize) -> Self {
        self.capacity = sessions.max(1);
        self
    }

    /// Skips the sending counter by `skip` on resume (`ZP_NONCE_SKIP`; the
    /// spec asks for more than 1000 above 1 Gbit/s: peak packet rate times
    /// the longest time between saves).
    pub fn with_nonce_skip(mut self, skip: u64) -> Self {
        self.nonce_skip = skip.max(1);
        self
    }

    /// Opens a stored token at time `now_unix` and resumes its connection,
    /// its sending counter skipped ahead. A session resumes only forward:
    /// a token saved before the point its last resumption started from (the
    /// same token again, or an older one) is [`Error::TokenReplayed`]. A
    /// refused token changes nothing.
    pub fn resume(&mut self, stored: &[u8], now_unix: u64) -> Result<Connection, Error> {
        let mut r = Reader::new(stored);
        let nonce: [u8; NONCE_LEN] = r.array()?;
        let aad = r.take(HEADER_LEN)?;
        let header = read_header(&mut Reader::new(aad))?;
        if stored.len() != stored_len(header.streams) {
            return Err(if stored.len() < stored_len(header.streams) {
                Error::Truncated
            } else {
                Error::TrailingBytes
            });
        }
        if header.created_at > now_unix.saturating_add(MAX_CLOCK_SKEW_SECS)
            || now_unix.saturating_sub(header.created_at) > LIFETIME_SECS
        {
            return Err(Error::TokenExpired);
        }
        let body = r.take(plain_len(header.streams))?;
        let tag: [u8; TAG_LEN] = r.array()?;
        r.finish()?;
        let mut plain = Zeroizing::new(body.to_vec());
        self.key.0.open_in_place(&nonce, aad, &mut plain, &tag)?;
        if &plain[..HEADER_LEN] != aad {
            return Err(Error::Authentication);
        }
        let (snapshot, streams, path, continuity) =
            parse_plain(&plain[HEADER_LEN..], header.streams)?;
        if self.bound_ip.is_some_and(|h| h != path.bind_ip_hash) {
            return Err(Error::TokenIpMismatch);
        }
        let saved_at = (snapshot.key_epoch, snapshot.send_nonce);
        if let Some(prev) = self.resumed.get(&snapshot.session_id)
            && saved_at < prev.from
        {
            return Err(Error::TokenReplayed);
        }
        let send_nonce = snapshot
            .send_nonce
            .checked_add(self.nonce_skip)
            .ok_or(Error::CounterExhausted)?;
        // Expired entries are refused anyway: forget them before counting.
        self.resumed
            .retain(|_, r| now_unix.saturating_sub(r.created_at) <= LIFETIME_SECS);
        if !self.resumed.contains_key(&snapshot.session_id) && self.resumed.len() >= self.capacity {
            return Err(Error::TokenMemoryFull);
        }
        self.resumed.insert(
            snapshot.session_id,
            Resumed {
                from: (snapshot.key_epoch, send_nonce),
                created_at: header.created_at,
            },
        );
        let snapshot = SessionSnapshot {
            send_nonce,
            ..snapshot
        };
        Ok(Connection::from_parts(
            Session::from_snapshot(self.key.0.provider(), snapshot, Version::V1_0),
            streams,
            path,
            continuity,
        ))
    }
}

fn transport_byte(t: Transport) -> u8 {
    match t {
        Transport::Records => 0,
        Transport::Unordered => 1,
        Transport::Quic => 2,
    }
}

fn key32(r: &mut Reader<'_>) -> Result<Key32, Error> {
    Ok(Key32::new(r.array()?))
}

/// The saved session (counters as saved), its streams, path and where
/// stream IDs stand.
fn parse_plain(
    plain: &[u8],
    stream_count: usize,
) -> Result<(SessionSnapshot, Vec<Stream>, PathInfo, Continuity), Error> {
    let mut r = Reader::new(plain);
    let session_id = r.array()?;
    let session_secret = key32(&mut r)?;
    let send_key = key32(&mut r)?;
    let recv_key = key32(&mut r)?;
    let send_nonce = r.u64()?;
    let recv_nonce = r.u64()?;
    let key_epoch = r.u32()?;
    let [suite, role, transport, r1] = r.array()?;
    if r1 != 0 {
        return Err(Error::ReservedNonZero);
    }
    let transport = match transport {
        0 => Transport::Records,
        1 => Transport::Unordered,
        2 => Transport::Quic,
        _ => return Err(Error::InvalidValue("token transport")),
    };
    let mut continuity = Continuity {
        transport,
        ..Continuity::default()
    };
    let cipher = match suite {
        0 => CipherSuite::ZP_PQC_1,
        c if CipherSuite(c).is_supported() => CipherSuite(c),
        c => return Err(Error::UnsupportedCipher(c)),
    };
    let role = match role {
        0 => Role::Client,
        1 => Role::Server,
        _ => return Err(Error::InvalidValue("token role")),
    };
    let snapshot = SessionSnapshot {
        role,
        cipher,
        session_id,
        session_secret,
        send_key,
        recv_key,
        send_nonce,
        recv_nonce,
        key_epoch,
    };
    let path = PathInfo {
        connection_id: r.array()?,
        peer_address: r.array()?,
        rtt_estimate: r.u32()?,
        congestion_window: r.u32()?,
        bind_ip_hash: r.u32()?,
    };
    let mut streams = Vec::with_capacity(stream_count + 1);
    for i in 0..stream_count {
        let id = r.u32()?;
        if !stream::is_valid_stream_id(id) || streams.iter().any(|s: &Stream| s.id == id) {
            return Err(Error::InvalidStreamId(id));
        }
        let mut s = Stream::new(id);
        // global_seq, the same counter as send_offset (§3.3.1): tokens
        // sealed before it was written so held the connection's total, so
        // it is read past, not checked.
        r.u64()?;
        s.last_acked = r.u64()?;
        s.send_offset = r.u64()?;
        s.recv_offset = r.u64()?;
        s.send_limit = s.send_offset.saturating_add(u64::from(r.u32()?));
        s.recv_limit = s.recv_offset.saturating_add(DEFAULT_STREAM_WINDOW);
        s.state_flags = r.u8()?;
        if s.state_flags & !stream::flags::ALL != 0 {
            return Err(Error::ReservedNonZero);
        }
        s.priority = stream::clamp_priority(r.u8()?);
        if i == 0 {
            continuity.next_stream_id = r.u32()?;
            continuity.highest_peer_stream = r.u32()?;
            r.reserved(13)?;
        } else {
            r.reserved(21)?;
        }
        s.last_used = i as u64;
        streams.push(s);
    }
    r.finish()?;
    let own = |id: u32| id != 0 && stream::initiator_of(id) == role;
    if (continuity.next_stream_id != 0 && !own(continuity.next_stream_id))
        || (continuity.highest_peer_stream != 0 && own(continuity.highest_peer_stream))
    {
        return Err(Error::InvalidValue("token stream IDs"));
    }
    Ok((snapshot, streams, path, continuity))
}

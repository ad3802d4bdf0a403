//! `zp`: the sans-IO core of the zp v1.0 post-quantum transport protocol.
//!
//! Bytes in, bytes out: frames ([`frame`]), the encrypted record layer
//! ([`record`]), the Stranger and Known handshakes ([`handshake`]), key
//! rotation ([`session`]), streams and connections ([`stream`],
//! [`connection`]) and the state token that resumes a hibernated session
//! ([`token`]), with the caller's helpers for stream scheduling
//! ([`schedule`]) and per-address rate limits ([`ratelimit`]). Every primitive comes from a maintained crate behind one
//! provider boundary ([`crypto`]).
//!
//! ```
//! use zp::frame::{ClientFinish, ClientHello, ServerHello};
//! use zp::handshake::{ClientConfig, ServerConfig, StrangerClient, StrangerServer};
//!
//! let mut rng = zp::crypto::system_rng();
//! let (client, hello) = StrangerClient::start(&ClientConfig::default(), &mut rng)?;
//! let hello = ClientHello::parse(&hello.to_bytes())?;
//! let (server, reply) = StrangerServer::accept(&ServerConfig::default(), &hello, &mut rng)?;
//! let reply = ServerHello::parse(&reply.to_bytes())?;
//! let (client_keys, finish) = client.receive(&reply, &mut rng)?;
//! let server_keys = server.receive(&ClientFinish::parse(&finish.to_bytes())?)?;
//! assert!(client_keys.matches_peer(&server_keys));
//! # Ok::<(), zp::Error>(())
//! ```

pub(crate) mod codec;
pub mod connection;
pub mod crypto;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod pinning;
pub mod ratelimit;
pub mod record;
pub mod reliability;
pub mod schedule;
pub mod session;
pub mod stream;
pub mod token;

pub use connection::{Connection, Event, PathInfo};
pub use error::Error;
pub use frame::{CipherSuite, Frame, Version, parse_frame};
pub use handshake::{ClientConfig, Role, ServerConfig, SessionKeys};

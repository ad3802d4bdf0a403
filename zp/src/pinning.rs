//! Cipher pinning (spec §4.5): a client remembers the suite each peer has
//! used and refuses a later handshake that downgrades from it.
//!
//! zp v1.0's key schedule binds the randoms and the shared secret, not the
//! lists the peers offered (spec §4.2.4), so an active attacker who strips
//! the post-quantum suites from a ClientHello gets a classical session that
//! both ends complete. Pinning is the spec's defence: on first contact the
//! client stores the suite (trust on first use); afterwards it offers only
//! suites at least as strong and refuses a server that selects a weaker one
//! ([`Error::CipherDowngrade`], `ERR_CIPHER_DOWNGRADE`). The first contact
//! itself is protected only by offering post-quantum suites alone.

use crate::error::Error;
use crate::frame::CipherSuite;
use crate::handshake::ClientConfig;
use std::collections::HashMap;

/// What a client remembers of a peer (spec §4.5.1's `CapabilityEntry`,
/// without the browser-only signature; the store's persistence and its
/// protection are the platform's, §4.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapabilityEntry {
    /// The peer has completed a post-quantum handshake.
    pub pqc_supported: bool,
    /// The weakest suite accepted from the peer from now on.
    pub min_cipher_suite: CipherSuite,
    /// When the peer was first seen (Unix seconds).
    pub first_seen: u64,
    /// When the peer was last seen (Unix seconds).
    pub last_seen: u64,
}

/// Pinned capabilities, by peer ID (32 bytes the application chooses: a
/// hash of the peer's name or address, for instance).
#[derive(Debug, Clone, Default)]
pub struct CapabilityStore {
    entries: HashMap<[u8; 32], CapabilityEntry>,
}

impl CapabilityStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// What is pinned for `peer`.
    pub fn get(&self, peer: &[u8; 32]) -> Option<&CapabilityEntry> {
        self.entries.get(peer)
    }

    /// The configuration for a handshake with `peer`: `base`, and for a
    /// returning peer only the offered suites at least as strong as the pin,
    /// with the pin as the minimum the server may select. Nothing left to
    /// offer is a downgrade.
    pub fn config_for(&self, peer: &[u8; 32], base: &ClientConfig) -> Result<ClientConfig, Error> {
        let Some(entry) = self.entries.get(peer) else {
            return Ok(base.clone());
        };
        let floor = entry.min_cipher_suite.strength();
        let ciphers: Vec<CipherSuite> = base
            .ciphers
            .iter()
            .copied()
            .filter(|c| c.strength() >= floor)
            .collect();
        if ciphers.is_empty() {
            return Err(Error::CipherDowngrade);
        }
        Ok(ClientConfig {
            ciphers,
            min_cipher: Some(match base.min_cipher {
                Some(m) if m.strength() > floor => m,
                _ => entry.min_cipher_suite,
            }),
            ..base.clone()
        })
    }

    /// Records a completed handshake with `peer` under `cipher` at
    /// `now_unix`: the first one stores the suite, a stronger one raises
    /// the pin, none lowers it.
    pub fn record(&mut self, peer: [u8; 32], cipher: CipherSuite, now_unix: u64) {
        let e = self.entries.entry(peer).or_insert(CapabilityEntry {
            pqc_supported: false,
            min_cipher_suite: cipher,
            first_seen: now_unix,
            last_seen: now_unix,
        });
        e.pqc_supported |= cipher.kem().is_some();
        if cipher.strength() > e.min_cipher_suite.strength() {
            e.min_cipher_suite = cipher;
        }
        e.last_seen = e.last_seen.max(now_unix);
    }
}

//! §8.1's per-address rate limits, for the caller that accepts handshakes
//! and resumptions: "Handshakes per IPv4: 10/min, per address; per IPv6:
//! 10/min, per /64 prefix; token resumptions per IP: 20/min". zp takes no
//! sockets, so it cannot see addresses: the caller asks a [`RateLimiter`]
//! with the peer's address before it runs `StrangerServer::accept`,
//! `KnownServer::accept` or `TokenOpener::resume`, and answers a refusal
//! with an ErrorFrame `ERR_RATE_LIMITED` ([`Error::RateLimited`]'s code).
//!
//! Sync-Frames per connection (5/min) are counted by the connection itself
//! ([`crate::connection::SYNCS_PER_MINUTE`]). "Signaling per user" belongs
//! to the signaling service, which is not part of this crate.
//!
//! Each key keeps the times of its last `per_minute` attempts: a sliding
//! 60-second window, exact. Memory is bounded by `capacity` keys (default
//! [`DEFAULT_CAPACITY`]); when full, keys idle for a minute are dropped, and
//! if none is, the one idle longest is forgotten (a flood of distinct
//! addresses can make the limiter forget one, never refuse a new one).

use crate::error::Error;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// §8.1: handshakes per IPv4 address, and per IPv6 /64, each minute.
pub const HANDSHAKES_PER_MINUTE: u32 = 10;
/// §8.1: token resumptions per IP each minute.
pub const RESUMPTIONS_PER_MINUTE: u32 = 20;
/// §8.1's IPv6 note: limit by /64 prefix by default.
pub const DEFAULT_IPV6_PREFIX: u8 = 64;
/// Addresses a limiter remembers at once.
pub const DEFAULT_CAPACITY: usize = 1 << 16;

const WINDOW: Duration = Duration::from_secs(60);

/// Counts attempts per address (an IPv6 address by its prefix).
#[derive(Debug, Clone)]
pub struct RateLimiter {
    per_minute: u32,
    ipv6_prefix: u8,
    capacity: usize,
    /// Per key, the times of its latest attempts, oldest first.
    seen: HashMap<[u8; 16], Vec<Instant>>,
}

impl RateLimiter {
    /// At most `per_minute` attempts per key in any 60 seconds.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute: per_minute.max(1),
            ipv6_prefix: DEFAULT_IPV6_PREFIX,
            capacity: DEFAULT_CAPACITY,
            seen: HashMap::new(),
        }
    }

    /// §8.1's handshake limit: 10 a minute per IPv4 address or IPv6 /64.
    pub fn handshakes() -> Self {
        RateLimiter::new(HANDSHAKES_PER_MINUTE)
    }

    /// §8.1's resumption limit: 20 a minute per address (IPv6 by /64, as
    /// the spec's IPv6 note advises).
    pub fn resumptions() -> Self {
        RateLimiter::new(RESUMPTIONS_PER_MINUTE)
    }

    /// Limits IPv6 by a prefix of `bits` (the spec allows finer than /64,
    /// e.g. /112); at most 128.
    pub fn with_ipv6_prefix(mut self, bits: u8) -> Self {
        self.ipv6_prefix = bits.min(128);
        self
    }

    /// Remembers at most `keys` addresses (at least one).
    pub fn with_capacity(mut self, keys: usize) -> Self {
        self.capacity = keys.max(1);
        self
    }

    /// Addresses remembered now.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether no address is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn key(&self, ip: IpAddr) -> [u8; 16] {
        // A dual-stack listener reports IPv4 peers as `::ffff:a.b.c.d`:
        // those are IPv4 addresses, not one /64 (found in review).
        match ip.to_canonical() {
            // IPv4 keys are the mapped form; no IPv6 prefix can collide
            // with it unless it is that mapped address.
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => {
                let bits = u128::from_be_bytes(v6.octets());
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.ipv6_prefix))
                    .unwrap_or(0);
                (bits & mask).to_be_bytes()
            }
        }
    }

    /// An attempt from `ip` at `now`: counted and allowed, or
    /// [`Error::RateLimited`] (not counted) when the key already made
    /// `per_minute` attempts in the last 60 seconds.
    pub fn check(&mut self, ip: IpAddr, now: Instant) -> Result<(), Error> {
        let key = self.key(ip);
        if !self.seen.contains_key(&key) && self.seen.len() >= self.capacity {
            self.make_room(now);
        }
        let times = self.seen.entry(key).or_default();
        times.retain(|&t| now < t + WINDOW);
        if times.len() >= self.per_minute as usize {
            return Err(Error::RateLimited);
        }
        times.push(now);
        Ok(())
    }

    fn make_room(&mut self, now: Instant) {
        self.seen
            .retain(|_, times| times.last().is_some_and(|&t| now < t + WINDOW));
        if self.seen.len() >= self.capacity {
            let idle = self
                .seen
                .iter()
                .min_by_key(|(_, times)| times.last().copied())
                .map(|(k, _)| *k);
            if let Some(k) = idle {
                self.seen.remove(&k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn ten_handshakes_a_minute_per_ipv4_address() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::handshakes();
        let a = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
        let b = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2));
        for i in 0..10 {
            limiter.check(a, t0 + Duration::from_secs(i)).unwrap();
        }
        assert_eq!(
            limiter.check(a, t0 + Duration::from_secs(30)),
            Err(Error::RateLimited)
        );
        assert_eq!(
            Error::RateLimited.code(),
            crate::error::ErrorCode::RATE_LIMITED
        );
        // Another address is not affected.
        limiter.check(b, t0 + Duration::from_secs(30)).unwrap();
        // The window slides: the first attempt is a minute old at 60 s.
        limiter.check(a, t0 + Duration::from_secs(60)).unwrap();
        assert_eq!(
            limiter.check(a, t0 + Duration::from_secs(60)),
            Err(Error::RateLimited)
        );
    }

    #[test]
    fn ipv6_is_limited_per_64_prefix_unless_asked_finer() {
        let t0 = Instant::now();
        let host = |h: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, h));
        let mut per_64 = RateLimiter::handshakes();
        for h in 0..10 {
            per_64.check(host(h), t0).unwrap();
        }
        // A new host in the same /64 is the same key.
        assert_eq!(per_64.check(host(99), t0), Err(Error::RateLimited));
        let other_64 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1));
        per_64.check(other_64, t0).unwrap();

        // IPv4 peers seen through a dual-stack socket are their own keys.
        let mapped = |n: u8| IpAddr::V6(Ipv4Addr::new(198, 51, 100, n).to_ipv6_mapped());
        let mut dual = RateLimiter::handshakes();
        for _ in 0..10 {
            dual.check(mapped(1), t0).unwrap();
        }
        dual.check(mapped(2), t0).unwrap();
        assert_eq!(
            dual.check(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)), t0),
            Err(Error::RateLimited)
        );

        let mut per_host = RateLimiter::handshakes().with_ipv6_prefix(128);
        for h in 0..20 {
            per_host.check(host(h), t0).unwrap();
        }
    }

    #[test]
    fn resumptions_allow_twenty_a_minute() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::resumptions();
        let a = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
        for _ in 0..20 {
            limiter.check(a, t0).unwrap();
        }
        assert_eq!(limiter.check(a, t0), Err(Error::RateLimited));
    }

    #[test]
    fn memory_stays_within_capacity_and_forgets_the_idlest() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::handshakes().with_capacity(3);
        let ip = |n: u8| IpAddr::V4(Ipv4Addr::new(10, 0, 0, n));
        for n in 0..50 {
            limiter
                .check(ip(n), t0 + Duration::from_millis(u64::from(n)))
                .unwrap();
            assert!(limiter.len() <= 3);
        }
        // The idlest were forgotten, the latest kept.
        for _ in 0..9 {
            limiter.check(ip(49), t0 + Duration::from_secs(1)).unwrap();
        }
        assert_eq!(
            limiter.check(ip(49), t0 + Duration::from_secs(1)),
            Err(Error::RateLimited)
        );
    }
}

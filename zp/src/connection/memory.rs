//! What a connection holds ([`Connection::memory_footprint`]) and the most
//! a peer or the network can make it hold ([`Connection::memory_bound`]).

use super::*;

impl Connection {
    /// `size_of::<Connection>()` plus every heap byte it owns.
    pub fn memory_footprint(&self) -> usize {
        size_of::<Self>()
            + self.streams.capacity() * size_of::<Stream>()
            + self.extras.as_ref().map_or(0, |e| {
                size_of::<Extras>()
                    + e.lingering.capacity() * size_of::<Linger>()
                    + e.received.capacity() * size_of::<Received>()
                    + e.received
                        .iter()
                        .map(|r| r.ranges.capacity() * 16 + r.buffer.heap_bytes())
                        .sum::<usize>()
                    + e.sent.heap_bytes()
                    + e.released
                        .iter()
                        .map(|r| r.above.capacity() * size_of::<u32>())
                        .sum::<usize>()
            })
            + self.session.heap_bytes()
    }

    /// The most [`Connection::memory_footprint`] can be, whatever the peer
    /// or the network does, given the limits and the connection-level
    /// credit this side has granted and not yet seen used (`W`, the
    /// reorder buffers' most; 1 MiB unless the caller grants more):
    ///
    /// `size_of::<Connection>() + E + 2·S·P + 2·W + R + K`, where
    /// - `S` = 2 × [`Limits::max_streams`] (each initiator's pool; closed
    ///   streams count until released), or the streams held if more;
    /// - `P` = a stream's state, its linger entry and its receive state,
    ///   with room for [`MAX_ACK_RANGES`]` + 1` received ranges and as
    ///   many reorder chunk headers (chunks merge as they touch, so
    ///   there are never more than ranges); the factor 2 is vectors'
    ///   room to grow;
    /// - `2·W`: the reorder buffers' bytes, with their room to grow;
    /// - `R` = [`crate::reliability::RETRANSMIT_BUFFER_MAX`] plus a few
    ///   queue entries (the cap counts each record's entry);
    /// - `K` = four expanded keys (sending; receiving current, next and
    ///   previous), `E` the out-of-line state's own size, and the
    ///   released stream IDs kept (at most `RELEASED_ABOVE_MAX` per
    ///   initiator, with room to grow).
    ///
    /// A test and the `network` fuzz target check it after every step.
    pub fn memory_bound(&self) -> usize {
        use crate::reliability::{RETRANSMIT_BUFFER_MAX, RETRANSMIT_ENTRY_COST};
        let streams = (2 * self.limits.max_streams).max(self.streams.len());
        let per_stream = size_of::<Stream>()
            + size_of::<Linger>()
            + size_of::<Received>()
            + (MAX_ACK_RANGES + 1) * (16 + ReorderBuffer::CHUNK_HEADER);
        let consumed = self.conn_received - self.extras.as_ref().map_or(0, |e| e.buffered);
        let window =
            usize::try_from(self.conn_recv_limit.saturating_sub(consumed)).unwrap_or(usize::MAX);
        size_of::<Self>()
            + size_of::<Extras>()
            + 2 * streams * per_stream
            + window.saturating_mul(2)
            + RETRANSMIT_BUFFER_MAX
            + 8 * RETRANSMIT_ENTRY_COST
            + 4 * self.session.key_heap_bytes()
            + 2 * 2 * (RELEASED_ABOVE_MAX + 1) * size_of::<u32>()
    }
}

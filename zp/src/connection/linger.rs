//! Closed streams (§3.3.11): the linger before their state is released,
//! and the released IDs kept so that a late frame never opens one again
//! (§3.3.1: IDs are never reused).

use super::*;

/// The stream IDs of one initiator that were released: every ID up to
/// `floor`, and those in `above`. Released in order, IDs move into the
/// floor and `above` stays short; it holds at most [`RELEASED_ABOVE_MAX`]
/// IDs, past which the floor rises to the lowest of them (an ID below it
/// that never arrived is then taken as released too). A high-water mark
/// alone took an ID whose every frame was lost so far for a released one,
/// and its data was ignored for good (found by the network fuzzer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Released {
    pub(super) floor: u32,
    pub(super) above: Vec<u32>,
}

/// The index of `initiator`'s IDs in [`Extras::released`] (client, server).
pub(super) fn released_slot(initiator: Role) -> usize {
    match initiator {
        Role::Client => 0,
        Role::Server => 1,
    }
}

/// Most released stream IDs kept above the floor, per initiator.
pub(super) const RELEASED_ABOVE_MAX: usize = 1024;

impl Released {
    pub(super) fn contains(&self, id: u32) -> bool {
        id <= self.floor || self.above.binary_search(&id).is_ok()
    }

    pub(super) fn highest(&self) -> u32 {
        self.above.last().copied().unwrap_or(0).max(self.floor)
    }

    /// Releases `id`; `next(floor)` is the ID after `floor` (the first one
    /// for a floor of 0).
    pub(super) fn release(&mut self, id: u32, next: impl Fn(u32) -> u32) {
        if self.contains(id) {
            return;
        }
        let at = self.above.partition_point(|&x| x < id);
        self.above.insert(at, id);
        while self.above.first() == Some(&next(self.floor)) {
            self.floor = self.above.remove(0);
        }
        if self.above.len() > RELEASED_ABOVE_MAX {
            self.floor = self.above.remove(0);
        }
    }
}

/// A closed stream's linger (§3.3.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Linger {
    pub(super) stream_id: u32,
    pub(super) since: Option<Instant>,
    pub(super) reset: bool,
}

impl Connection {
    /// Releases streams whose linger is over at `now`.
    pub(super) fn release_lingering(&mut self, now: Instant) {
        let Some(extras) = self.extras.as_deref_mut() else {
            return;
        };
        let Extras {
            lingering,
            received,
            buffered,
            sent,
            released,
            ..
        } = extras;
        let streams = &mut self.streams;
        let transport = self.transport;
        lingering.retain(|l| match l.since {
            // On an unordered transport a stream stays until what it sent
            // is acknowledged: its tail (and FIN, or RST) may still be
            // lost after the linger, and releasing it would stop sending
            // them again (found in review).
            Some(t) if now >= t + STREAM_LINGER && !sent.holds(l.stream_id) => {
                streams.retain(|s| s.id != l.stream_id);
                received.retain(|r| {
                    let keep = r.stream_id != l.stream_id;
                    if !keep {
                        *buffered -= r.buffered_bytes();
                    }
                    keep
                });
                sent.forget_stream(l.stream_id);
                let role = stream::initiator_of(l.stream_id);
                released[released_slot(role)].release(l.stream_id, |floor| {
                    if floor == 0 {
                        transport.first_stream_id(role)
                    } else {
                        // At the top of the ID space nothing follows
                        // (found in review: an overflow a peer could reach).
                        floor.saturating_add(transport.stream_id_step())
                    }
                });
                false
            }
            _ => true,
        });
    }

    /// Whether `id` was reset and still lingers.
    pub(super) fn was_reset(&self, id: u32) -> bool {
        self.lingering()
            .iter()
            .any(|l| l.stream_id == id && l.reset)
    }

    /// Whether `id` names a stream that was released after its linger.
    pub(super) fn was_released(&self, id: u32) -> bool {
        self.extras.as_ref().is_some_and(|e| {
            e.released[released_slot(stream::initiator_of(id))].contains(id)
                && self.index(id).is_none()
        })
    }

    /// Frames for a stream that was reset (and lingers) or released are
    /// ignored: they were in flight when it closed.
    pub(super) fn ignores(&self, id: u32) -> bool {
        self.was_reset(id) || self.was_released(id)
    }

    pub(super) fn lingering(&self) -> &[Linger] {
        self.extras.as_ref().map_or(&[], |e| &e.lingering)
    }
}

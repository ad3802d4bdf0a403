//! Helpers shared by the security tests and the fuzzing harness.

use zp::connection::Connection;

/// The connection's state with its record layer's receive side masked (the
/// opener's counters and keys, and the next epoch's receive key): an
/// authentic record is consumed by the record layer whatever it carries
/// (its counter advances, so it cannot be replayed, and a record of the
/// peer's next epoch switches the receive key, since the peer demonstrably
/// switched), but when its frame is refused nothing else may move: not the
/// streams, the flow-control windows, the sending side or a pending key
/// update.
pub fn beyond_the_record_layer(c: &Connection) -> String {
    let s = format!("{c:?}");
    let masked = mask_between(&s, "recv_next:", "sealer:");
    mask_between(&masked, "opener:", "pending:")
}

fn mask_between(s: &str, from: &str, to: &str) -> String {
    let (head, rest) = s
        .split_once(from)
        .unwrap_or_else(|| panic!("a connection's state has `{from}`"));
    let (_, tail) = rest
        .split_once(to)
        .unwrap_or_else(|| panic!("and then `{to}`"));
    format!("{head}{from} … {to}{tail}")
}

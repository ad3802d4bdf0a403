//! `cargo xtask`: the zp performance workbench. Everything is in the
//! library (`lib.rs`), so the integration tests can use its fixtures.

fn main() -> std::process::ExitCode {
    xtask::main()
}

//! The zp performance workbench (`cargo xtask …`). Subcommands land with their issues.

fn main() {
    eprintln!("xtask: no subcommands yet");
    std::process::exit(2);
}

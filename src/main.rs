//! The `pushcheck` binary: parse, run, exit. Everything else lives in the library.
//!
//! stdout and stderr are passed unlocked: goose and pushcheck's progress line write from other
//! threads while a run goes on, and a lock held here for the whole process would block them.

fn main() {
    let code = pushcheck::cli::run_with(
        std::env::args_os(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
        pushcheck::cli::Console::detect(),
    );
    std::process::exit(code.code());
}

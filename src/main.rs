//! The `pushcheck` binary: parse, run, exit. Everything else lives in the library.

fn main() {
    let code = pushcheck::cli::run_with(
        std::env::args_os(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
        pushcheck::cli::Console::detect(),
    );
    std::process::exit(code.code());
}

//! The `pushcheck` binary: parse, run, exit. Everything else lives in the library.

fn main() {
    let code = pushcheck::cli::run(
        std::env::args_os(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    std::process::exit(code.code());
}

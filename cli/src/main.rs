//! `sessiondb`: the command-line tool (reserved; commands land with the CLI issue).

fn main() {
    eprintln!("sessiondb {}: no commands yet", env!("CARGO_PKG_VERSION"));
    std::process::exit(2);
}

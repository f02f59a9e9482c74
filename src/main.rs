//! The `scxml` binary: see [`scxml_runtime::cli`].

fn main() -> std::process::ExitCode {
    scxml_runtime::cli::main()
}

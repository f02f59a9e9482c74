//! The `scxml` binary: see [`scxml_runtime::cli`].

/// mimalloc rather than the system allocator: boa frees a shard's garbage in bursts of
/// millions of small objects at each collection, which glibc's malloc consolidates slowly
/// (the callback flows run about 20 % faster).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    scxml_runtime::cli::main()
}

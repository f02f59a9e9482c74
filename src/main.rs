//! The `scxml` binary: see [`scxml_runtime::cli`].

/// mimalloc rather than the system allocator: the server makes and frees many small objects
/// on several threads (JavaScript contexts, JSON values, records), and glibc's malloc spent
/// about a fifth of the callback benchmark's CPU growing, consolidating and trimming heaps.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    scxml_runtime::cli::main()
}

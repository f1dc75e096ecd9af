//! Allocator tuning for a long-lived process that reads large documents now and then.

/// Returns freed heap memory to the OS after a large document was read and linted: the
/// message, its copies and the parse trees are gone, but glibc keeps the pages otherwise.
pub(crate) fn release_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Two malloc arenas instead of one per thread: the blocking pool's threads would each keep
/// their own arena of freed pages after a dataset pass on a large file.
pub(crate) fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt sets an allocator tunable; called before any thread is started.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

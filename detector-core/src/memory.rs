//! A process setting for programs that run the detector: keep freed memory in the heap.
//!
//! Every forward pass allocates its activations afresh and frees them at once (the largest, a
//! batch of 8 letterboxed frames, is 16 MB). glibc gives large freed blocks back to the kernel
//! (`munmap`, or trimming the top of the heap), so the next pass takes page faults to get the
//! same memory back, zeroed. At batch 8 that was 0.3-0.4 s of system time in 30 batches on one
//! thread, ~6% of the wall time (`benches/README.md`). Raising glibc's mmap and trim thresholds
//! keeps the blocks in the heap: the process holds its peak working set instead of returning
//! it between passes.

/// Tells glibc's allocator to keep freed blocks of up to 512 MiB in the heap and not to trim it
/// below 1 GiB of free space. Call once, early, in a program (not a library) that runs the
/// detector; a no-op on other C libraries. Returns whether both settings were taken.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::ffi::c_int;
        // glibc's `mallopt` parameters (malloc.h), stable ABI.
        const M_TRIM_THRESHOLD: c_int = -1;
        const M_MMAP_THRESHOLD: c_int = -3;
        unsafe extern "C" {
            fn mallopt(param: c_int, value: c_int) -> c_int;
        }
        // SAFETY: `mallopt` only changes allocator parameters; it is safe to call at any time.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 512 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

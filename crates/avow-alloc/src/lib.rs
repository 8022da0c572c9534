//! The allocator avow's binaries run on.
//!
//! Synthesis, and far more the style search and adaptation, allocate and
//! free activation buffers of tens of megabytes per layer, gigabytes per
//! training step. Two defaults make the kernel zero fresh memory for almost
//! every one of them: mimalloc hands freed pages back to the OS after a second
//! (so the next step faults them in again), and it asks for transparent
//! huge pages, whose faults zero 2 MiB at a time and may compact memory
//! synchronously. Measured with `avow-clone`'s `search_step` example on 2
//! cores, side by side: a style-search step took 19.7–19.9 s with
//! mimalloc's defaults and 12.3–13.2 s after [`tune`], and a whole
//! `avow voice clone` went from 340 s to 244 s (BENCHMARKS.md, Cloning).
//! Plain synthesis runs at the same speed either way.
//!
//! Binaries declare `#[global_allocator] static ALLOC: avow_alloc::Allocator
//! = avow_alloc::Allocator;` and call [`tune`] first thing in `main`.
//! The cost: memory a process has freed stays mapped until it exits, so its
//! resident size stays at its peak.

#![deny(missing_docs)]

/// The global allocator to declare in every avow binary.
pub use mimalloc::MiMalloc as Allocator;

/// Index of `mi_option_purge_delay` in the bundled mimalloc's `mi_option_t`
/// (v3 `mimalloc.h`; the binding crate has no constant for it). A test
/// checks it against the option's documented default.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed memory for reuse and turns off transparent huge pages for
/// this process. Call before the first model is loaded; later calls are
/// harmless.
pub fn tune() {
    // SAFETY: mimalloc documents options as settable at any time; -1 means
    // "never purge".
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    // Checked by the kernel at every fault, so it also covers regions
    // mimalloc mapped (and advised as huge) before `main`. Failure (an old
    // kernel) only leaves the default in place.
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// mimalloc's purge delay in milliseconds (−1: never purge).
pub fn purge_delay_ms() -> i64 {
    // SAFETY: reading an option has no preconditions.
    i64::from(unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) })
}

/// Whether transparent huge pages are off for this process (always `false`
/// off Linux).
pub fn huge_pages_disabled() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_GET_THP_DISABLE takes plain integers and returns the flag.
        unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1 }
    }
    #[cfg(not(target_os = "linux"))]
    false
}

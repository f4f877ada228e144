//! Allocator settings for programs that use salient with mimalloc as their global allocator
//! (the `salient` binary and the benchmarks do).

/// mimalloc's `purge_delay` option (its index in the `mi_option_t` of mimalloc 2 and 3) and its
/// defaults there (10 ms in mimalloc 2, 1 s in mimalloc 3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const MI_DEFAULT_PURGE_DELAYS: [std::ffi::c_long; 2] = [10, 1000];

/// Keep freed memory mapped instead of returning it to the OS after a delay: the autoencoder
/// frees and reallocates tensors of tens of MB every step, and the kernel zeroing the pages
/// faulted back in took about 15% of a training step (perf). Left alone when the user set
/// `MIMALLOC_PURGE_DELAY`, or when the option holds neither default (a mimalloc version that
/// numbers its options differently). Has no effect on programs whose global allocator is not
/// mimalloc.
pub fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: reading and setting a mimalloc option; no allocation depends on it being stable.
    unsafe {
        if MI_DEFAULT_PURGE_DELAYS.contains(&libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY)) {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        }
    }
}

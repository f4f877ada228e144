//! Allocator settings for programs that use salient with mimalloc as their global allocator
//! (the `salient` binary and the benchmarks do).

/// mimalloc's `purge_delay` option (its index in mimalloc 2's `mi_option_t`) and default.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const MI_DEFAULT_PURGE_DELAY: std::ffi::c_long = 10;

/// Keep freed memory mapped instead of returning it to the OS after 10 ms: the autoencoder frees
/// and reallocates tensors of tens of MB every step, and the kernel zeroing the pages faulted
/// back in took about 15% of a training step (perf). Left alone when the user set
/// `MIMALLOC_PURGE_DELAY`, or when the option does not hold mimalloc 2's default (another
/// mimalloc version numbers its options differently). Has no effect on programs whose global
/// allocator is not mimalloc.
pub fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: reading and setting a mimalloc option; no allocation depends on it being stable.
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == MI_DEFAULT_PURGE_DELAY {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        }
    }
}

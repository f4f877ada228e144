//! Host buffers that the hand-written passes reuse from batch to batch, one free list per thread
//! and float type.
//!
//! A training batch needs about twenty buffers of up to a few hundred kB per layer. Fresh from
//! the allocator they cost a zeroing `memset` each and, after the allocator returned the memory
//! to the OS, a page fault per page: together a fifth of an LSTM training step (perf). A [`Buf`]
//! goes back to its thread's free list when dropped, and the next pass takes it from there.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};

/// The most buffers a thread keeps for later passes; more are freed.
const KEPT: usize = 64;

/// A float type with a free list of buffers per thread.
pub(crate) trait Pooled: Copy + Default + 'static {
    /// Run `f` on this thread's free list of `Self` buffers (`None` while the thread exits).
    fn with_free_list<R>(f: impl FnOnce(&mut Vec<Vec<Self>>) -> R) -> Option<R>;
}

thread_local! {
    static FREE_F32: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
    static FREE_F64: RefCell<Vec<Vec<f64>>> = const { RefCell::new(Vec::new()) };
}

impl Pooled for f32 {
    fn with_free_list<R>(f: impl FnOnce(&mut Vec<Vec<f32>>) -> R) -> Option<R> {
        FREE_F32.try_with(|list| f(&mut list.borrow_mut())).ok()
    }
}

impl Pooled for f64 {
    fn with_free_list<R>(f: impl FnOnce(&mut Vec<Vec<f64>>) -> R) -> Option<R> {
        FREE_F64.try_with(|list| f(&mut list.borrow_mut())).ok()
    }
}

/// A buffer of `len` values, from the thread's free list when one there is large enough.
pub(crate) struct Buf<T: Pooled>(Vec<T>);

impl<T: Pooled> Buf<T> {
    /// `len` zeros.
    pub(crate) fn zeroed(len: usize) -> Self {
        let mut v = Self::take(len);
        v.clear();
        v.resize(len, T::default());
        Buf(v)
    }

    /// `len` values left from earlier use, for a caller that writes every one before reading it.
    pub(crate) fn for_overwrite(len: usize) -> Self {
        let mut v = Self::take(len);
        // Truncates, or fills only the values the buffer never held.
        v.resize(len, T::default());
        Buf(v)
    }

    /// The smallest free buffer that holds `len` values, or a new one.
    fn take(len: usize) -> Vec<T> {
        T::with_free_list(|list| {
            let best = list
                .iter()
                .enumerate()
                .filter(|(_, v)| v.capacity() >= len)
                .min_by_key(|(_, v)| v.capacity())
                .map(|(k, _)| k);
            best.map(|k| list.swap_remove(k))
        })
        .flatten()
        .unwrap_or_else(|| Vec::with_capacity(len))
    }
}

impl<T: Pooled> Default for Buf<T> {
    fn default() -> Self {
        Buf(Vec::new())
    }
}

impl<T: Pooled> Drop for Buf<T> {
    fn drop(&mut self) {
        let v = std::mem::take(&mut self.0);
        if v.capacity() == 0 {
            return;
        }
        // On a thread that is exiting, the buffer is freed.
        T::with_free_list(|list| {
            if list.len() < KEPT {
                list.push(v);
            } else if let Some(smallest) = list.iter_mut().min_by_key(|b| b.capacity()) {
                if smallest.capacity() < v.capacity() {
                    *smallest = v;
                }
            }
        });
    }
}

impl<T: Pooled> Deref for Buf<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: Pooled> DerefMut for Buf<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_buffer_is_reused_and_zeroed_when_asked() {
        let mut a = Buf::<f64>::zeroed(1000);
        a.iter_mut().for_each(|v| *v = 7.0);
        let ptr = a.as_ptr();
        drop(a);
        let b = Buf::<f64>::zeroed(900);
        assert_eq!(b.as_ptr(), ptr, "the freed buffer is taken again");
        assert_eq!(b.len(), 900);
        assert!(b.iter().all(|&v| v == 0.0));
        drop(b);
        let c = Buf::<f64>::for_overwrite(1000);
        assert_eq!((c.as_ptr(), c.len()), (ptr, 1000));
        let d = Buf::<f64>::zeroed(2);
        assert_ne!(d.as_ptr(), ptr, "a buffer in use is not handed out twice");
        assert_eq!(&d[..], [0.0, 0.0]);
    }
}

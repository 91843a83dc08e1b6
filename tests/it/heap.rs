//! Live heap bytes of this test process, for the soak's memory samples:
//! resident memory alone cannot tell a leak (live bytes growing) from the
//! allocator keeping freed pages (live bytes flat while RSS rises).
//!
//! The system allocator, wrapped to count what is allocated and not yet
//! freed. This and `release_free_pages` are the only `unsafe` in the
//! workspace's tests: `GlobalAlloc` is an unsafe trait, and each method
//! only forwards to `System` under the same contract the caller upheld;
//! `malloc_trim` is a foreign function.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

static LIVE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Bytes this thread allocated less the bytes it freed (whoever had
    /// allocated them). Const-initialized, with no destructor: the
    /// allocator may use it at any point of a thread's life.
    static THREAD_NET: Cell<isize> = const { Cell::new(0) };
}

/// Bytes allocated and not yet freed, over the whole process.
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Runs `f` and returns what it left allocated: the bytes it allocated and
/// kept, less the bytes it freed. Exact for a structure `f` updates, as
/// long as `f` neither frees what something else still counts nor keeps
/// what something else allocated (run it on borrowed input, without
/// awaiting: the count is this thread's).
pub fn held_by<T>(f: impl FnOnce() -> T) -> (T, isize) {
    let before = THREAD_NET.with(Cell::get);
    let value = f();
    (value, THREAD_NET.with(Cell::get) - before)
}

/// Hands the pages the allocator holds free back to the system, so that
/// resident memory shows what the program holds (glibc keeps freed memory
/// in each thread's arena for reuse and returns it only when asked or at
/// the top of a heap). Elsewhere a no-op.
pub fn release_free_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            /// glibc's `malloc_trim(3)`: returns free memory of every arena
            /// to the system; 0 keeps no padding.
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: `malloc_trim` takes no pointers and may be called at any
        // time from any thread; glibc locks each arena while trimming it.
        unsafe {
            malloc_trim(0);
        }
    }
}

fn count(bytes: isize) {
    // `try_with`: never fails for a const, destructor-less thread local,
    // and an allocator must not panic.
    let _ = THREAD_NET.try_with(|net| net.set(net.get() + bytes));
}

struct Counting;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

// SAFETY: every method forwards to `System` with the arguments it was
// given, so `System`'s guarantees are the caller's; the counter only
// observes sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged (see above).
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
            count(layout.size().cast_signed());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged (see above).
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
            count(layout.size().cast_signed());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        count(-layout.size().cast_signed());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged (see above).
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            count(new_size.cast_signed() - layout.size().cast_signed());
        }
        new
    }
}

#[test]
fn what_a_closure_keeps_is_counted_and_what_it_frees_is_taken_off() {
    let outside = vec![0u8; 300];
    let (kept, held) = held_by(|| {
        let scratch = vec![0u8; 5_000];
        drop(scratch);
        drop(outside);
        vec![0u8; 1_000]
    });
    assert_eq!(held, 1_000 - 300);
    assert_eq!(kept.len(), 1_000);
}

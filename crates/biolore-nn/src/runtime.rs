//! How inference uses the cores: data-parallel workers, each running single-threaded kernels.
//!
//! On a small CPU, splitting every matrix product across threads costs more in synchronisation
//! than it gains for short biomedical texts. [`init`] instead runs one batch per worker thread
//! and makes candle's and the BLAS's kernels single-threaded. Programs call it once at start-up,
//! before any other thread exists (the `biolore` binary does); without it, the encoder runs one
//! batch at a time and lets candle parallelise inside each operation.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

static WORKERS: AtomicUsize = AtomicUsize::new(0);

/// The number of cores available to this process.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs inference on `threads` worker threads (default: all cores). Call once, at start-up.
///
/// Sets `CANDLE_NUM_THREADS=1` and `RAYON_NUM_THREADS=1` for candle's kernels, after building
/// the global rayon pool (used for tokenization) with `threads` threads.
pub fn init(threads: Option<usize>) {
    let n = threads.unwrap_or_else(available_cores).max(1);
    // Fails only when the pool already exists (a second call in one process): harmless.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
    init_workers(n);
}

/// Makes kernels single-threaded for `n` data-parallel workers without building any thread pool
/// (for hosts such as the Python package, which keep their own pool per process). Call before
/// other threads read the environment.
pub fn init_workers(n: usize) {
    // Called before other threads exist, as documented; candle reads these when sizing its pools.
    std::env::set_var("CANDLE_NUM_THREADS", "1");
    std::env::set_var("RAYON_NUM_THREADS", "1");
    WORKERS.store(n.max(1), Ordering::SeqCst);
}

/// Worker threads for inference: the number given to [`init`], or 1 when it was not called.
pub fn workers() -> usize {
    WORKERS.load(Ordering::SeqCst).max(1)
}

/// Threads each kernel (candle op, BLAS call) may use.
pub fn kernel_threads() -> usize {
    if WORKERS.load(Ordering::SeqCst) > 0 {
        1
    } else {
        candle_core::utils::get_num_threads()
    }
}

thread_local! {
    /// Parts the kernels running on this thread may split their work into (1: do not split).
    static KERNEL_SPLIT: Cell<usize> = const { Cell::new(1) };
}

/// Runs `f` with the kernels it calls on this thread allowed to split each product into
/// `parts` tasks on the current rayon pool.
///
/// For work that cannot keep every worker busy with a batch of its own (one short text on a
/// two-core server): the idle workers then take a share of each matrix product.
pub fn with_kernel_split<R>(parts: usize, f: impl FnOnce() -> R) -> R {
    let previous = KERNEL_SPLIT.with(|s| s.replace(parts.max(1)));
    // Restores the setting even when `f` unwinds.
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            KERNEL_SPLIT.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(previous);
    f()
}

/// Parts the current thread's kernels may split a product into (see [`with_kernel_split`]).
pub fn kernel_split() -> usize {
    KERNEL_SPLIT.with(Cell::get)
}

/// How many parts to split each kernel into when `batches` model batches share the workers:
/// the workers left idle (at least 1, i.e. no split, when every worker has a batch).
pub fn split_for(batches: usize) -> usize {
    let workers = workers();
    if batches == 0 || batches >= workers {
        1
    } else {
        workers / batches
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn split_is_scoped_to_the_closure() {
        assert_eq!(super::kernel_split(), 1);
        let inside = super::with_kernel_split(3, super::kernel_split);
        assert_eq!(inside, 3);
        assert_eq!(super::kernel_split(), 1);
        let nested = super::with_kernel_split(2, || {
            super::with_kernel_split(4, super::kernel_split) + super::kernel_split()
        });
        assert_eq!(nested, 6);
    }
}

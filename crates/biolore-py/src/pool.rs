//! A thread pool per process: built on first use, and built again in a forked child (whose copy
//! of the parent's pool has no threads), sized by the caller or by the cores the process may use.

use std::sync::{Arc, Mutex};

use pyo3::PyResult;
use rayon::ThreadPool;

use crate::errors::BioloreError;

/// A lazily built, fork-aware rayon pool.
#[derive(Debug)]
pub struct ProcessPool {
    threads: usize,
    inner: Mutex<Option<(u32, Arc<ThreadPool>)>>,
}

impl ProcessPool {
    /// A pool of `threads` threads (default: the cores this process may use), not yet built.
    pub fn new(threads: Option<usize>) -> PyResult<Self> {
        if threads == Some(0) {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "threads must be at least 1",
            ));
        }
        Ok(Self {
            threads: threads.unwrap_or_else(biolore_nn::runtime::available_cores),
            inner: Mutex::new(None),
        })
    }

    /// Threads the pool runs.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// This process's pool, built now if this process has none yet.
    pub fn get(&self) -> PyResult<Arc<ThreadPool>> {
        let pid = std::process::id();
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((owner, pool)) = guard.as_ref() {
            if *owner == pid {
                return Ok(pool.clone());
            }
        }
        if let Some((_, stale)) = guard.take() {
            // The parent's pool: its threads do not exist in this process; never join them.
            std::mem::forget(stale);
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.threads)
            .thread_name(|i| format!("biolore-{i}"))
            .build()
            .map_err(|e| BioloreError::new_err(format!("cannot start worker threads: {e}")))?;
        let pool = Arc::new(pool);
        *guard = Some((pid, pool.clone()));
        Ok(pool)
    }
}

//! Helpers shared by the kernel tests that need the runtime-loaded BLAS.

use biolore_nn::kernels::gemm;
use candle_core::Tensor;

/// Loads OpenBLAS from `models/.lib` (where `scripts/setup.sh` puts it); under CI, or when the
/// file is there, a failure to load it fails the test. Returns whether a BLAS is loaded.
pub fn blas_loaded() -> bool {
    let lib = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/.lib");
    gemm::add_search_dir(&lib);
    let loaded = gemm::available();
    if std::env::var("CI").as_deref() == Ok("true") || lib.join("libscipy_openblas.so").is_file() {
        assert!(loaded, "OpenBLAS from scripts/setup.sh did not load");
    }
    loaded
}

/// The largest absolute difference between two tensors of the same shape.
pub fn largest_difference(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// A pool of two threads, for checking that splitting a kernel's work among workers leaves its
/// result alone.
pub fn two_thread_pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
}

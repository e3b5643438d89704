//! The inference GEMM split across a pool's threads (a batch of one on an idle server) gives
//! the products of the whole call.

use biolore_nn::kernels::gemm;
use biolore_nn::runtime::with_kernel_split;
use candle_core::{Device, Tensor};

mod common;
use common::{blas_loaded, largest_difference as diff, two_thread_pool};

#[test]
fn split_products_equal_whole_ones() {
    if !blas_loaded() {
        eprintln!("no BLAS library (run scripts/setup.sh): nothing to split");
        return;
    }
    let pool = two_thread_pool();
    // Shapes of a short mention in mpnet (projections and feed-forward), and one too small to split.
    for (m, n, k) in [
        (10, 768, 768),
        (10, 3072, 768),
        (7, 768, 3072),
        (3, 200, 64),
    ] {
        let x = Tensor::randn(0f32, 1.0, (m, k), &Device::Cpu).unwrap();
        let w = Tensor::randn(0f32, 0.05, (n, k), &Device::Cpu).unwrap();
        let b = Tensor::randn(0f32, 1.0, n, &Device::Cpu).unwrap();
        let whole = gemm::linear(&x, &w, Some(&b)).unwrap().unwrap();
        let split = pool
            .install(|| with_kernel_split(2, || gemm::linear(&x, &w, Some(&b))))
            .unwrap()
            .unwrap();
        let reference = x
            .matmul(&w.t().unwrap())
            .unwrap()
            .broadcast_add(&b)
            .unwrap();
        assert!(diff(&whole, &split) < 1e-4, "{m}x{n}x{k}: split differs");
        assert!(
            diff(&whole, &reference) < 1e-3,
            "{m}x{n}x{k}: BLAS differs from candle"
        );
    }
}

//! CPU kernels behind the blocks: the BLAS-backed GEMM and the vectorised GELU.

pub mod gelu;
pub mod gemm;

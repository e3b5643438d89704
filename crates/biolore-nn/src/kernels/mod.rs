//! CPU kernels behind the blocks: the BLAS-backed GEMM, the int8 GEMM and the vectorised GELU.

pub mod gelu;
pub mod gemm;
pub mod int8_gemm;

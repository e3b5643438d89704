//! CPU kernels behind the blocks: the BLAS-backed GEMM, the packed-weight float GEMM, the int8 GEMM, the vectorised GELU, and
//! the fused layer norm and softmax whose backward passes training uses.

pub mod attention;
pub mod gelu;
pub mod gemm;
pub mod int8_gemm;
pub mod layer_norm;
pub mod packed_gemm;
pub mod simd;
pub mod softmax;

use candle_core::{CpuStorage, Layout};

/// The contiguous f32 data a CPU custom op receives, or an error naming the op.
pub(crate) fn f32_data<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    op: &str,
) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{op} needs f32 tensors")
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{op} needs contiguous tensors")
    };
    Ok(&data[start..end])
}

/// The contiguous f32 data behind a tensor's storage guard, or `None` when it is not a
/// contiguous f32 CPU tensor (the caller then takes candle's path).
pub(crate) fn storage_f32<'a>(
    storage: &'a candle_core::Storage,
    layout: &Layout,
) -> Option<&'a [f32]> {
    let candle_core::Storage::Cpu(CpuStorage::F32(data)) = storage else {
        return None;
    };
    let (start, end) = layout.contiguous_offsets()?;
    data.get(start..end)
}

/// Whether a fused CPU op can take `t`: an f32 tensor on the CPU.
pub(crate) fn cpu_f32(t: &candle_core::Tensor) -> bool {
    matches!(t.device(), candle_core::Device::Cpu) && t.dtype() == candle_core::DType::F32
}

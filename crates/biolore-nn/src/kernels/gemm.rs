//! The inference GEMM: an optimised BLAS `sgemm` loaded at run time, or candle's own kernel.
//!
//! candle's CPU matrix product reaches roughly half of what OpenBLAS does on this kind of
//! shape, and the dense layers are nearly all of an encoder's arithmetic. biolore therefore
//! looks for an OpenBLAS shared library when the first dense layer runs, and uses its
//! `cblas_sgemm` for inference (training keeps candle's differentiable path). Nothing is
//! linked at build time: without a library, or with `BIOLORE_BLAS=off`, candle is used.
//!
//! Search order: the file named by `BIOLORE_BLAS`; `libscipy_openblas.so` in each folder given
//! to [`add_search_dir`] before the first product (the encoder library adds `.lib/` under the
//! models directory, where `scripts/setup.sh` puts the `scipy-openblas32` wheel's library);
//! the system's `libopenblas.so.0`. The kernels themselves know nothing of where models live.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use candle_core::{CpuStorage, Device, Storage, Tensor};

const ROW_MAJOR: i32 = 101;
const NO_TRANS: i32 = 111;
const TRANS: i32 = 112;

type SgemmFn = unsafe extern "C" fn(
    order: i32,
    trans_a: i32,
    trans_b: i32,
    m: i32,
    n: i32,
    k: i32,
    alpha: f32,
    a: *const f32,
    lda: i32,
    b: *const f32,
    ldb: i32,
    beta: f32,
    c: *mut f32,
    ldc: i32,
);
type SetThreadsFn = unsafe extern "C" fn(n: i32);

/// A BLAS library loaded at run time.
struct Blas {
    sgemm: SgemmFn,
    name: String,
    // Keeps the library mapped for as long as the function pointers are used.
    _lib: libloading::Library,
}

static BLAS: OnceLock<Option<Blas>> = OnceLock::new();

/// Folders to look in for `libscipy_openblas.so`, in order.
static SEARCH_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Adds a folder to look in for `libscipy_openblas.so` (effective before the first product).
pub fn add_search_dir(dir: &Path) {
    if let Ok(mut dirs) = SEARCH_DIRS.lock() {
        if !dirs.iter().any(|d| d == dir) {
            dirs.push(dir.to_path_buf());
        }
    }
}

/// Library files to try, in order.
fn candidates() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("BIOLORE_BLAS") {
        let s = p.to_string_lossy().to_ascii_lowercase();
        if s == "off" || s == "none" || s == "candle" || s.is_empty() {
            return Vec::new();
        }
        return vec![PathBuf::from(p)];
    }
    let mut paths: Vec<PathBuf> = SEARCH_DIRS
        .lock()
        .map(|dirs| {
            dirs.iter()
                .map(|d| d.join("libscipy_openblas.so"))
                .collect()
        })
        .unwrap_or_default();
    paths.push(PathBuf::from("libopenblas.so.0"));
    paths.push(PathBuf::from("libopenblas.so"));
    paths
}

fn load() -> Option<Blas> {
    for path in candidates() {
        if path.components().count() > 1 && !path.is_file() {
            continue;
        }
        // SAFETY: loading a shared library runs its initialisers; the candidates are BLAS
        // libraries chosen by the user or the setup script, whose initialisers are benign.
        let lib = match unsafe { libloading::Library::new(&path) } {
            Ok(lib) => lib,
            Err(e) => {
                tracing::debug!("BLAS {}: {e}", path.display());
                continue;
            }
        };
        for (sgemm_name, threads_name) in [
            ("scipy_cblas_sgemm", "scipy_openblas_set_num_threads"),
            ("cblas_sgemm", "openblas_set_num_threads"),
        ] {
            // SAFETY: the symbol is the standard CBLAS sgemm, whose C signature SgemmFn spells out.
            let sgemm = unsafe { lib.get::<SgemmFn>(sgemm_name.as_bytes()) }.map(|s| *s);
            let Ok(sgemm) = sgemm else { continue };
            // SAFETY: openblas_set_num_threads(int) as declared by OpenBLAS.
            if let Ok(set) = unsafe { lib.get::<SetThreadsFn>(threads_name.as_bytes()) } {
                let n = crate::runtime::kernel_threads().max(1) as i32;
                // SAFETY: plain call into the library with a positive thread count.
                unsafe { set(n) };
            }
            let name = format!("openblas ({})", path.display());
            tracing::info!("inference GEMM: {name}");
            return Some(Blas {
                sgemm,
                name,
                _lib: lib,
            });
        }
    }
    tracing::info!("inference GEMM: candle (no BLAS library found)");
    None
}

fn blas() -> Option<&'static Blas> {
    BLAS.get_or_init(load).as_ref()
}

/// Whether a BLAS library is loaded (else candle's GEMM is used).
pub fn available() -> bool {
    blas().is_some()
}

/// Name of the GEMM used for inference.
pub fn backend_name() -> &'static str {
    match blas() {
        Some(b) => b.name.as_str(),
        None => "candle",
    }
}

/// Multiply-adds below which a product is not worth splitting across threads.
const MIN_SPLIT_WORK: usize = 1 << 20;
/// Columns of the output each split part covers at least (and a multiple of).
const SPLIT_COLUMNS: usize = 64;

/// A pointer into an output buffer that parallel parts write disjoint pieces of (columns of a
/// split product, heads of the attention).
#[derive(Clone, Copy)]
pub(crate) struct OutPtr(pub(crate) *mut f32);
// SAFETY: each part writes only its own piece of the buffer (see `sgemm_nt` and
// `attention::attend`), and the buffer outlives the parts.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The pointer `offset` floats further (a method, so closures capture the whole `OutPtr`).
    ///
    /// # Safety
    /// `offset` must stay inside the buffer.
    pub(crate) unsafe fn at(self, offset: usize) -> *mut f32 {
        self.0.add(offset)
    }
}

/// An element-wise function run on finished pieces of a product's output (an activation), by
/// the thread that computed them, while they are still in cache.
pub type Epilogue<'a> = &'a (dyn Fn(&mut [f32]) + Sync);

/// `C = A Bᵀ + beta·C` for row-major `a` `[m, k]`, `b` `[n, k]` and `out` `[m, n]`, then
/// `epilogue` over every output value.
///
/// The caller has checked that the sizes match and fit in `i32`. When the calling thread may
/// split its kernels ([`crate::runtime::kernel_split`]) and the product is large enough, the
/// output's columns are split into that many parts computed on the current rayon pool.
fn sgemm_nt(
    blas: &Blas,
    a: &[f32],
    b: &[f32],
    (m, n, k): (usize, usize, usize),
    beta: f32,
    out: &mut [f32],
    epilogue: Option<Epilogue<'_>>,
) {
    debug_assert!(a.len() == m * k && b.len() == n * k && out.len() == m * n);
    let parts = crate::runtime::kernel_split().min(n / SPLIT_COLUMNS).max(1);
    let c = OutPtr(out.as_mut_ptr());
    if parts == 1 || m * n * k < MIN_SPLIT_WORK {
        // SAFETY: A [m,k], B [n,k] and C [m,n] have exactly those sizes (checked by the
        // callers) and `out` is exclusively borrowed.
        unsafe { sgemm_nt_raw(blas, a, b.as_ptr(), (m, n, k), beta, c.0, n) };
        if let Some(f) = epilogue {
            f(out);
        }
        return;
    }
    let width = n.div_ceil(parts).div_ceil(SPLIT_COLUMNS) * SPLIT_COLUMNS;
    use rayon::prelude::*;
    (0..n.div_ceil(width)).into_par_iter().for_each(|part| {
        let first = part * width;
        let cols = width.min(n - first);
        // SAFETY: rows `first..first + cols` of B lie inside `b`; the part writes columns
        // `first..first + cols` of every row of C (stride n), which no other part touches,
        // and `out` outlives the parallel loop.
        unsafe {
            sgemm_nt_raw(
                blas,
                a,
                b.as_ptr().add(first * k),
                (m, cols, k),
                beta,
                c.at(first),
                n,
            )
        };
        if let Some(f) = epilogue {
            for r in 0..m {
                // SAFETY: columns `first..first + cols` of row `r` lie inside `out` and belong
                // to this part alone (as above).
                f(unsafe { std::slice::from_raw_parts_mut(c.at(r * n + first), cols) });
            }
        }
    });
}

/// `C = A Bᵀ + beta·C` on raw pointers: `b` holds `n` rows of `k`, `c` has row stride `ldc`.
///
/// # Safety
/// `b` must point to `n·k` readable floats and `c` to an `m × n` block of row stride `ldc`
/// that nothing else reads or writes during the call.
unsafe fn sgemm_nt_raw(
    blas: &Blas,
    a: &[f32],
    b: *const f32,
    (m, n, k): (usize, usize, usize),
    beta: f32,
    c: *mut f32,
    ldc: usize,
) {
    (blas.sgemm)(
        ROW_MAJOR,
        NO_TRANS,
        TRANS,
        m as i32,
        n as i32,
        k as i32,
        1.0,
        a.as_ptr(),
        k as i32,
        b,
        k as i32,
        beta,
        c,
        ldc as i32,
    );
}

/// `C = alpha · A · op(B)` through the BLAS on row-major blocks inside wider rows (`op`
/// transposes when `trans_b`), for kernels that address one attention head's columns. Does
/// nothing when no BLAS is loaded (callers check [`available`] first).
///
/// # Safety
/// `a` must point to `m` rows of `k` readable floats with row stride `lda`; `b` to `n` rows of
/// `k` (`trans_b`) or `k` rows of `n` with row stride `ldb`; `c` to `m` rows of `n` writable
/// floats with row stride `ldc` that nothing else reads or writes during the call. Every size
/// and stride must fit in `i32`.
pub(crate) unsafe fn sgemm_strided(
    trans_b: bool,
    (m, n, k): (usize, usize, usize),
    alpha: f32,
    (a, lda): (*const f32, usize),
    (b, ldb): (*const f32, usize),
    (c, ldc): (*mut f32, usize),
) {
    let Some(blas) = blas() else { return };
    (blas.sgemm)(
        ROW_MAJOR,
        NO_TRANS,
        if trans_b { TRANS } else { NO_TRANS },
        m as i32,
        n as i32,
        k as i32,
        alpha,
        a,
        lda as i32,
        b,
        ldb as i32,
        0.0,
        c,
        ldc as i32,
    );
}

/// `C = A Bᵀ` into `out` for row-major `a` `[m, k]` and `b` `[n, k]` through the BLAS.
///
/// Returns false (and leaves `out` alone) when no BLAS is loaded or the sizes don't match.
pub fn sgemm_nt_into(a: &[f32], b: &[f32], m: usize, n: usize, k: usize, out: &mut [f32]) -> bool {
    let Some(blas) = blas() else { return false };
    if a.len() != m * k || b.len() != n * k || out.len() != m * n || m == 0 || n == 0 || k == 0 {
        return false;
    }
    if i32::try_from(m.max(n).max(k)).is_err() {
        return false;
    }
    sgemm_nt(blas, a, b, (m, n, k), 0.0, out, None);
    true
}

/// `x Wᵀ + b` for a contiguous f32 CPU `x` `[m, k]` and `W` `[n, k]` through the BLAS.
///
/// Returns `None` (the caller uses candle) when no BLAS is loaded or the tensors don't qualify.
pub fn linear(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
) -> candle_core::Result<Option<Tensor>> {
    linear_then(x, weight, bias, None)
}

/// [`linear`], then `epilogue` over the output (an activation fused into the product).
pub fn linear_then(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    epilogue: Option<Epilogue<'_>>,
) -> candle_core::Result<Option<Tensor>> {
    if !matches!(x.device(), Device::Cpu) {
        return Ok(None);
    }
    let Some(blas) = blas() else { return Ok(None) };
    let (m, k) = x.dims2()?;
    let (n, k2) = weight.dims2()?;
    if k != k2 || m == 0 || i32::try_from(m.max(n).max(k)).is_err() {
        return Ok(None);
    }
    let x = x.contiguous()?;
    let mut out = match bias {
        Some(b) => {
            let b = b.to_vec1::<f32>()?;
            if b.len() != n {
                return Ok(None);
            }
            let mut out = Vec::with_capacity(m * n);
            for _ in 0..m {
                out.extend_from_slice(&b);
            }
            out
        }
        None => vec![0f32; m * n],
    };
    {
        let (xs, xl) = x.storage_and_layout();
        let (ws, wl) = weight.storage_and_layout();
        let (Storage::Cpu(CpuStorage::F32(xd)), Storage::Cpu(CpuStorage::F32(wd))) = (&*xs, &*ws)
        else {
            return Ok(None);
        };
        let (Some((xo, xe)), Some((wo, we))) = (xl.contiguous_offsets(), wl.contiguous_offsets())
        else {
            return Ok(None);
        };
        let (xd, wd) = (&xd[xo..xe], &wd[wo..we]);
        if xd.len() != m * k || wd.len() != n * k {
            return Ok(None);
        }
        let beta = if bias.is_some() { 1.0 } else { 0.0 };
        sgemm_nt(blas, xd, wd, (m, n, k), beta, &mut out, epilogue);
    }
    Tensor::from_vec(std::mem::take(&mut out), (m, n), x.device()).map(Some)
}

/// `C = op(A) op(B)` (row-major, `op` transposes when asked) into a new `[m, n]` buffer.
fn sgemm_general(
    blas: &Blas,
    (trans_a, trans_b): (bool, bool),
    (m, n, k): (usize, usize, usize),
    a: &[f32],
    b: &[f32],
) -> Vec<f32> {
    let mut out = vec![0f32; m * n];
    let lda = if trans_a { m } else { k };
    let ldb = if trans_b { k } else { n };
    unsafe {
        (blas.sgemm)(
            ROW_MAJOR,
            if trans_a { TRANS } else { NO_TRANS },
            if trans_b { TRANS } else { NO_TRANS },
            m as i32,
            n as i32,
            k as i32,
            1.0,
            a.as_ptr(),
            lda as i32,
            b.as_ptr(),
            ldb as i32,
            0.0,
            out.as_mut_ptr(),
            n as i32,
        );
    }
    out
}

/// The contiguous f32 data of a CPU tensor, copied (`None` for other tensors).
fn f32_data(t: &Tensor) -> candle_core::Result<Option<Vec<f32>>> {
    if !matches!(t.device(), Device::Cpu) || t.dtype() != candle_core::DType::F32 {
        return Ok(None);
    }
    Ok(Some(t.flatten_all()?.to_vec1::<f32>()?))
}

/// `y = x Wᵀ` as a differentiable operation whose forward and backward products run on the BLAS.
struct MatmulNt;

impl candle_core::CustomOp2 for MatmulNt {
    fn name(&self) -> &'static str {
        "blas-matmul-nt"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &candle_core::Layout,
        s2: &CpuStorage,
        l2: &candle_core::Layout,
    ) -> candle_core::Result<(CpuStorage, candle_core::Shape)> {
        let blas = blas().ok_or_else(|| candle_core::Error::Msg("no BLAS loaded".into()))?;
        let (CpuStorage::F32(x), CpuStorage::F32(w)) = (s1, s2) else {
            candle_core::bail!("blas-matmul-nt needs f32 tensors")
        };
        let (Some((xo, xe)), Some((wo, we))) = (l1.contiguous_offsets(), l2.contiguous_offsets())
        else {
            candle_core::bail!("blas-matmul-nt needs contiguous tensors")
        };
        let (m, k) = l1.shape().dims2()?;
        let (n, k2) = l2.shape().dims2()?;
        if k != k2 {
            candle_core::bail!("blas-matmul-nt: inner sizes {k} and {k2} differ")
        }
        let y = sgemm_general(blas, (false, true), (m, n, k), &x[xo..xe], &w[wo..we]);
        Ok((CpuStorage::F32(y), candle_core::Shape::from((m, n))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _y: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let blas = blas().ok_or_else(|| candle_core::Error::Msg("no BLAS loaded".into()))?;
        let (m, k) = x.dims2()?;
        let (n, _) = w.dims2()?;
        let (Some(xd), Some(wd), Some(gd)) = (f32_data(x)?, f32_data(w)?, f32_data(grad)?) else {
            candle_core::bail!("blas-matmul-nt needs f32 CPU tensors")
        };
        // dx = g W  ([m, n] · [n, k]);  dW = gᵀ x  ([n, m] · [m, k]).
        let dx = sgemm_general(blas, (false, false), (m, k, n), &gd, &wd);
        let dw = sgemm_general(blas, (true, false), (n, k, m), &gd, &xd);
        Ok((
            Some(Tensor::from_vec(dx, (m, k), x.device())?),
            Some(Tensor::from_vec(dw, (n, k), w.device())?),
        ))
    }
}

/// `x Wᵀ` for `x` `[m, k]` and `W` `[n, k]` with gradients, on the BLAS; `None` when no BLAS
/// is loaded or the tensors are not f32 CPU tensors (the caller then uses candle's matmul).
pub fn matmul_nt_differentiable(x: &Tensor, w: &Tensor) -> candle_core::Result<Option<Tensor>> {
    if blas().is_none()
        || !matches!(x.device(), Device::Cpu)
        || x.dtype() != candle_core::DType::F32
        || w.dtype() != candle_core::DType::F32
    {
        return Ok(None);
    }
    let (m, k) = x.dims2()?;
    let (n, k2) = w.dims2()?;
    if k != k2 || m == 0 || n == 0 || i32::try_from(m.max(n).max(k)).is_err() {
        return Ok(None);
    }
    x.contiguous()?
        .apply_op2(&w.contiguous()?, MatmulNt)
        .map(Some)
}

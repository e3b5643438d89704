//! Run-time choice of vector width for the element-wise kernels (GELU, layer norm, softmax).
//!
//! The crate is built for baseline x86-64 (SSE2), where these loops run four lanes wide. Each
//! kernel is compiled three times by [`multiversion!`]: for AVX-512F, for AVX2 with FMA, and for
//! the baseline; the first call picks the widest the CPU has. The code is the same in all three
//! and Rust never contracts `a·b + c` into a fused multiply-add on its own, and every reduction
//! is written with a fixed number of partial sums, so all three give bit-identical results: only
//! the speed differs. `BIOLORE_SIMD=avx512|avx2|base` caps the choice (for tests and
//! measurements).

use std::sync::OnceLock;

/// The vector instruction sets a kernel can be compiled for, ordered narrowest to widest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Baseline x86-64 (SSE2), or any other architecture.
    Base,
    /// AVX2 with FMA: eight lanes.
    Avx2,
    /// AVX-512F: sixteen lanes.
    Avx512,
}

impl Level {
    /// The name `BIOLORE_SIMD` takes for this level.
    pub fn name(self) -> &'static str {
        match self {
            Level::Base => "base",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }

    /// Every level this CPU can run, narrowest first.
    pub fn supported() -> Vec<Level> {
        [Level::Base, Level::Avx2, Level::Avx512]
            .into_iter()
            .filter(|l| *l <= level_supported())
            .collect()
    }
}

/// The widest level the CPU supports.
fn detected() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Level::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Level::Avx2;
        }
    }
    Level::Base
}

/// The level the kernels run at: the CPU's widest, capped by `BIOLORE_SIMD`.
pub fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let cap = match std::env::var("BIOLORE_SIMD").ok().as_deref() {
            Some("base") | Some("sse2") | Some("off") => Level::Base,
            Some("avx2") => Level::Avx2,
            _ => Level::Avx512,
        };
        let chosen = level_supported().min(cap);
        tracing::debug!("element-wise kernels: {}", chosen.name());
        chosen
    })
}

/// Defines `pub fn NAME(args) -> R` that runs `BODY(args)` compiled for the widest [`Level`]
/// the CPU has (or the one given as the first argument of `NAME_at`, for tests). `BODY` must be
/// an `#[inline(always)]` function, so that it is compiled again inside each variant.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident / $name_at:ident ($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $body:path) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            $name_at($crate::kernels::simd::level(), $($arg),*)
        }

        /// The same kernel at a given level (clamped to what the CPU has).
        #[allow(dead_code)]
        $vis fn $name_at(level: $crate::kernels::simd::Level, $($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn wide($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn middle($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                let level = level.min($crate::kernels::simd::level_supported());
                match level {
                    // SAFETY: the CPU supports AVX-512F (checked by `level_supported`).
                    $crate::kernels::simd::Level::Avx512 => return unsafe { wide($($arg),*) },
                    // SAFETY: the CPU supports AVX2 and FMA (checked by `level_supported`).
                    $crate::kernels::simd::Level::Avx2 => return unsafe { middle($($arg),*) },
                    $crate::kernels::simd::Level::Base => {}
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            let _ = level;
            $body($($arg),*)
        }
    };
}
pub(crate) use multiversion;

/// The widest level the CPU supports (whatever `BIOLORE_SIMD` says).
pub fn level_supported() -> Level {
    static DETECTED: OnceLock<Level> = OnceLock::new();
    *DETECTED.get_or_init(detected)
}

/// Partial sums a reduction keeps: a fixed number, so the order of additions (and the result)
/// is the same whatever the vector width.
pub const LANES: usize = 16;

/// Σ `f(x)` over `xs` with [`LANES`] partial sums, combined pairwise at the end.
#[inline(always)]
pub fn lane_sum(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += f(v);
        }
    }
    for (a, &v) in acc.iter_mut().zip(chunks.remainder()) {
        *a += f(v);
    }
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            acc[l] += acc[l + width];
        }
    }
    acc[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_sum_adds_every_term_once() {
        for n in [0usize, 1, 15, 16, 17, 100, 384] {
            let xs: Vec<f32> = (0..n).map(|i| i as f32).collect();
            let s = lane_sum(&xs, |v| v);
            assert_eq!(s, (n * n.saturating_sub(1) / 2) as f32, "n {n}");
        }
    }
}

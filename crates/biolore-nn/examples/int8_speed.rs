use biolore_nn::kernels::{gemm, int8_gemm::*};
use std::time::Instant;
fn main() {
    biolore_nn::runtime::init(Some(1));
    gemm::add_search_dir(std::path::Path::new("models/.lib"));
    let shapes = [(320usize, 768usize, 768usize), (320, 3072, 768), (320, 768, 3072), (8, 768, 768), (8, 3072, 768)];
    for (m, n, k) in shapes {
        let x: Vec<f32> = (0..m * k).map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0).collect();
        let w: Vec<f32> = (0..n * k).map(|i| ((i * 104729 % 1000) as f32 / 500.0) - 1.0).collect();
        let packed = PackedWeight::quantize(&w, n, k, None);
        let mut out = vec![0f32; m * n];
        let reps = (2_000_000_000 / (m * n * k)).max(3);
        for kern in Int8Kernel::all_supported() {
            let t = Instant::now();
            for _ in 0..reps {
                let rows = QuantizedRows::quantize(&x, m, k, None);
                gemm_with(kern, &rows, &packed, &mut out);
            }
            let s = t.elapsed().as_secs_f64() / reps as f64;
            println!("{m}x{n}x{k} {:9} {:.3} ms {:.1} GMAC/s", kern.name(), s * 1e3, (m * n * k) as f64 / s / 1e9);
        }
        let t = Instant::now();
        for _ in 0..reps {
            gemm::sgemm_nt_into(&x, &w, m, n, k, &mut out);
        }
        let s = t.elapsed().as_secs_f64() / reps as f64;
        println!("{m}x{n}x{k} {:9} {:.3} ms {:.1} GMAC/s  ({})", "sgemm", s * 1e3, (m * n * k) as f64 / s / 1e9, gemm::backend_name());
    }
}

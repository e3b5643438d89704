use biolore_encoder::*;
use std::time::Instant;
fn main() {
    biolore_nn::runtime::init(None);
    let args: Vec<String> = std::env::args().collect();
    let folder = std::path::Path::new(&args[1]);
    let texts: Vec<String> = std::fs::read_to_string(&args[2]).unwrap().lines().take(args[3].parse().unwrap()).map(String::from).collect();
    let dev = candle_core::Device::Cpu;
    let f = Encoder::load(folder, &dev).unwrap();
    let mut q = Encoder::load(folder, &dev).unwrap();
    let rep = q.quantize_int8(&Int8Options::from_env()).unwrap();
    println!("{rep:?}");
    let lim = BatchLimits { max_texts: 32, max_tokens: 8192 };
    for round in 0..2 {
        let t = Instant::now();
        let a = f.embed_with_progress(&texts, lim, |_| {}).unwrap();
        let tf = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let b = q.embed_with_progress(&texts, lim, |_| {}).unwrap();
        let tq = t.elapsed().as_secs_f64();
        let cs: Vec<f32> = (0..texts.len()).map(|i| cosine(a.row(i), b.row(i))).collect();
        let min = cs.iter().cloned().fold(1.0, f32::min);
        let mut idx: Vec<usize> = (0..cs.len()).collect(); idx.sort_by(|&x, &y| cs[x].total_cmp(&cs[y]));
        for &i in idx.iter().take(3) { println!("{:.5} {}", cs[i], texts[i]); }
        let mean = cs.iter().sum::<f32>() / cs.len() as f32;
        println!("round {round}: f32 {:.1}/s int8 {:.1}/s ratio {:.2} min cos {min:.5} mean {mean:.6}", texts.len() as f64 / tf, texts.len() as f64 / tq, tf / tq);
    }
}

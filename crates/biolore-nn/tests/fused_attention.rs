//! The fused inference attention gives candle's composite attention, whole or split across a
//! pool's threads, with the padding bias of BERT and the per-head bias of MPNet.

use biolore_nn::kernels::attention;
use biolore_nn::runtime::with_kernel_split;
use candle_core::{Device, Tensor};

mod common;
use common::{blas_loaded, largest_difference, two_thread_pool};

/// candle's composite attention, as the blocks computed it before.
fn reference(q: &Tensor, k: &Tensor, v: &Tensor, bias: &Tensor, heads: usize) -> Tensor {
    let (b, t, hidden) = q.dims3().unwrap();
    let d = hidden / heads;
    let split = |y: &Tensor| {
        y.reshape((b, t, heads, d))
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .contiguous()
            .unwrap()
    };
    let (q, k, v) = (split(q), split(k), split(v));
    let scores = (q.matmul(&k.t().unwrap()).unwrap() * (1.0 / (d as f64).sqrt()))
        .unwrap()
        .broadcast_add(bias)
        .unwrap();
    let probs = candle_nn::ops::softmax_last_dim(&scores).unwrap();
    probs
        .matmul(&v)
        .unwrap()
        .transpose(1, 2)
        .unwrap()
        .contiguous()
        .unwrap()
        .reshape((b, t, hidden))
        .unwrap()
}

#[test]
fn fused_attention_matches_candle_with_both_bias_shapes() {
    if !blas_loaded() {
        eprintln!("no BLAS library (run scripts/setup.sh): the fused attention needs one");
        return;
    }
    let pool = two_thread_pool();
    let dev = &Device::Cpu;
    for (b, t, heads, hidden) in [(3, 7, 4, 32), (1, 12, 12, 384), (2, 40, 12, 768)] {
        let q = Tensor::randn(0f32, 1.0, (b, t, hidden), dev).unwrap();
        let k = Tensor::randn(0f32, 1.0, (b, t, hidden), dev).unwrap();
        let v = Tensor::randn(0f32, 1.0, (b, t, hidden), dev).unwrap();
        // Item i has its last i positions padded.
        let mask: Vec<f32> = (0..b * t)
            .map(|i| if i % t < t - i / t { 0.0 } else { f32::MIN })
            .collect();
        let padding = Tensor::from_vec(mask, (b, 1, 1, t), dev).unwrap();
        let positions = Tensor::randn(0f32, 1.0, (1, heads, t, t), dev).unwrap();
        let per_head = positions.broadcast_add(&padding).unwrap();
        for bias in [padding, per_head] {
            let want = reference(&q, &k, &v, &bias, heads);
            let whole = attention::attend(&q, &k, &v, &bias, heads)
                .unwrap()
                .unwrap();
            let split = pool
                .install(|| with_kernel_split(2, || attention::attend(&q, &k, &v, &bias, heads)))
                .unwrap()
                .unwrap();
            let diff = largest_difference(&want, &whole);
            assert!(diff < 1e-5, "{b}x{t}x{hidden}: largest difference {diff}");
            assert_eq!(
                largest_difference(&whole, &split),
                0.0,
                "{b}x{t}x{hidden}: the split changed the result"
            );
        }
    }
}

/// The attention of a ragged batch (real tokens only) gives each sequence what the fused
/// attention gives it alone, bit for bit, with and without MPNet's per-head bias, whole or
/// split across a pool's threads.
#[test]
fn ragged_attention_gives_each_sequence_its_own_attention() {
    if !blas_loaded() {
        eprintln!("no BLAS library (run scripts/setup.sh): the ragged attention needs one");
        return;
    }
    let pool = two_thread_pool();
    let dev = &Device::Cpu;
    let (heads, hidden) = (12, 384);
    let lengths = [9usize, 1, 0, 17, 4];
    let padded = *lengths.iter().max().unwrap();
    let rows: usize = lengths.iter().sum();
    let mut starts = vec![0];
    for len in lengths {
        starts.push(starts[starts.len() - 1] + len);
    }
    let q = Tensor::randn(0f32, 1.0, (rows, hidden), dev).unwrap();
    let k = Tensor::randn(0f32, 1.0, (rows, hidden), dev).unwrap();
    let v = Tensor::randn(0f32, 1.0, (rows, hidden), dev).unwrap();
    let positions = Tensor::randn(0f32, 1.0, (heads, padded, padded), dev).unwrap();
    let data = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let (qd, kd, vd, pd) = (data(&q), data(&k), data(&v), data(&positions));
    for with_positions in [false, true] {
        let bias = with_positions.then(|| attention::HeadBias {
            data: &pd,
            t: padded,
        });
        let mut whole = vec![0f32; rows * hidden];
        assert!(attention::attend_rows(
            (&qd, &kd, &vd),
            (heads, hidden),
            &starts,
            bias,
            &mut whole
        ));
        let mut split = vec![0f32; rows * hidden];
        pool.install(|| {
            with_kernel_split(2, || {
                attention::attend_rows((&qd, &kd, &vd), (heads, hidden), &starts, bias, &mut split)
            })
        });
        assert_eq!(whole, split, "the split changed the result");
        for (s, &len) in lengths.iter().enumerate().filter(|(_, &len)| len > 0) {
            let one = |t: &Tensor| t.narrow(0, starts[s], len).unwrap().unsqueeze(0).unwrap();
            let bias = if with_positions {
                positions
                    .narrow(1, 0, len)
                    .unwrap()
                    .narrow(2, 0, len)
                    .unwrap()
                    .unsqueeze(0)
                    .unwrap()
            } else {
                Tensor::zeros((1, 1, 1, len), candle_core::DType::F32, dev).unwrap()
            };
            let alone = attention::attend(&one(&q), &one(&k), &one(&v), &bias, heads)
                .unwrap()
                .unwrap();
            let alone = data(&alone);
            assert_eq!(
                alone,
                whole[starts[s] * hidden..starts[s + 1] * hidden],
                "sequence {s} (length {len}, positions {with_positions})"
            );
        }
    }
    // Sizes that don't fit are refused, leaving the output alone.
    let mut out = vec![7f32; rows * hidden];
    assert!(!attention::attend_rows(
        (&qd, &kd, &vd),
        (heads, hidden),
        &[0, rows + 1],
        None,
        &mut out
    ));
    assert!(out.iter().all(|&x| x == 7.0));
}

//! Loss functions: symmetric multiple-negatives ranking (InfoNCE) and distillation losses.

use candle_core::{DType, Result, Tensor, D};

/// Rows divided by their L2 norms.
pub fn normalize_rows(x: &Tensor) -> Result<Tensor> {
    let norm = x
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f64::MAX)?;
    x.broadcast_div(&norm)
}

/// Symmetric multiple-negatives ranking loss of paired rows `a[i] ↔ b[i]` with in-batch negatives.
///
/// Scores are `scale · cos(a_i, b_j)`; the loss is the mean of the cross-entropy of each row of
/// `a` picking its partner among all of `b`, and of each row of `b` picking its partner among all
/// of `a` (sentence-transformers' `MultipleNegativesSymmetricRankingLoss`).
pub fn symmetric_mnrl(a: &Tensor, b: &Tensor, scale: f64) -> Result<Tensor> {
    let (n, _) = a.dims2()?;
    let scores = (normalize_rows(a)?.matmul(&normalize_rows(b)?.t()?)? * scale)?;
    let labels = Tensor::arange(0u32, n as u32, a.device())?;
    let forward = candle_nn::loss::cross_entropy(&scores, &labels)?;
    let backward = candle_nn::loss::cross_entropy(&scores.t()?.contiguous()?, &labels)?;
    (forward + backward)? / 2.0
}

/// Multiple-negatives ranking loss with hard negatives: each text `b_i` picks its name `a_i`
/// among all names `a` and all hard negatives `c`, and each name picks its text among all `b`.
///
/// `excluded` is `[rows of b, rows of c]`, 1 where a negative is in fact a right answer for that
/// text (another pair's negative can be this pair's concept); those scores are left out. Without
/// negatives it equals [`symmetric_mnrl`].
pub fn mnrl_with_negatives(
    a: &Tensor,
    b: &Tensor,
    c: Option<(&Tensor, &Tensor)>,
    scale: f64,
) -> Result<Tensor> {
    let Some((c, excluded)) = c else {
        return symmetric_mnrl(a, b, scale);
    };
    let (n, _) = a.dims2()?;
    let (na, nb, nc) = (normalize_rows(a)?, normalize_rows(b)?, normalize_rows(c)?);
    let labels = Tensor::arange(0u32, n as u32, a.device())?;
    let to_names = (nb.matmul(&na.t()?)? * scale)?;
    let to_negatives = ((nb.matmul(&nc.t()?)? * scale)? - (excluded * 1e4)?)?;
    let forward =
        candle_nn::loss::cross_entropy(&Tensor::cat(&[&to_names, &to_negatives], 1)?, &labels)?;
    let backward = candle_nn::loss::cross_entropy(&to_names.t()?.contiguous()?, &labels)?;
    (forward + backward)? / 2.0
}

/// Mean cosine distance `1 - cos(student_i, target_i)` over rows.
pub fn cosine_distance(student: &Tensor, target: &Tensor) -> Result<Tensor> {
    let cos = (normalize_rows(student)? * normalize_rows(target)?)?.sum(D::Minus1)?;
    (1.0 - cos)?.mean_all()
}

/// Mean squared error over all elements.
pub fn mse(student: &Tensor, target: &Tensor) -> Result<Tensor> {
    (student - target)?.sqr()?.mean_all()
}

/// Sum over rows of `x_i · g_i` with `g` constant: its gradient with respect to `x` is `g`.
///
/// Used to push a gradient computed on cached embeddings back through the encoder.
pub fn surrogate(x: &Tensor, grad: &Tensor) -> Result<Tensor> {
    (x * grad.detach().to_dtype(DType::F32)?)?.sum_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn t(rows: &[[f32; 2]]) -> Tensor {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_vec(flat, (rows.len(), 2), &Device::Cpu).unwrap()
    }

    fn scalar(x: Tensor) -> f64 {
        f64::from(x.to_scalar::<f32>().unwrap())
    }

    #[test]
    fn symmetric_mnrl_matches_hand_computation() {
        // a = (1,0), (0,1); b = (1,0), (1,1)/√2 (unnormalised here: the loss normalises).
        let a = t(&[[1.0, 0.0], [0.0, 2.0]]);
        let b = t(&[[3.0, 0.0], [1.0, 1.0]]);
        let s = 1.0 / 2f64.sqrt();
        // Cosine matrix [[1, s], [0, s]], scale 2.
        let m = [[2.0, 2.0 * s], [0.0, 2.0 * s]];
        let ce = |row: [f64; 2], k: usize| -> f64 {
            let z = row[0].exp() + row[1].exp();
            z.ln() - row[k]
        };
        let forward = (ce(m[0], 0) + ce(m[1], 1)) / 2.0;
        let backward = (ce([m[0][0], m[1][0]], 0) + ce([m[0][1], m[1][1]], 1)) / 2.0;
        let expected = (forward + backward) / 2.0;
        let got = scalar(symmetric_mnrl(&a, &b, 2.0).unwrap());
        assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
    }

    #[test]
    fn hard_negatives_enter_the_text_side_and_exclusions_drop_out() {
        let a = t(&[[1.0, 0.0], [0.0, 2.0]]);
        let b = t(&[[3.0, 0.0], [1.0, 1.0]]);
        let c = t(&[[1.0, 1.0], [-1.0, 0.0]]);
        let none = Tensor::zeros((2, 2), DType::F32, &Device::Cpu).unwrap();
        let plain = scalar(symmetric_mnrl(&a, &b, 2.0).unwrap());
        assert!((scalar(mnrl_with_negatives(&a, &b, None, 2.0).unwrap()) - plain).abs() < 1e-6);
        let with = scalar(mnrl_with_negatives(&a, &b, Some((&c, &none)), 2.0).unwrap());
        assert!(
            with > plain,
            "negatives add terms to the softmax: {with} vs {plain}"
        );
        // Excluding every negative gives the plain loss back.
        let all = Tensor::ones((2, 2), DType::F32, &Device::Cpu).unwrap();
        let excluded = scalar(mnrl_with_negatives(&a, &b, Some((&c, &all)), 2.0).unwrap());
        assert!((excluded - plain).abs() < 1e-5, "{excluded} vs {plain}");
        // By hand: each text's row holds its scaled cosines with a0, a1, c0, c1.
        let s = 1.0 / 2f64.sqrt();
        let row1 = [2.0 * s, 2.0 * s, 2.0, -2.0 * s];
        let row0 = [2.0, 0.0, 2.0 * s, -2.0];
        let ce = |row: [f64; 4], k: usize| row.iter().map(|x| x.exp()).sum::<f64>().ln() - row[k];
        let forward = (ce(row0, 0) + ce(row1, 1)) / 2.0;
        let m = [[2.0, 2.0 * s], [0.0, 2.0 * s]];
        let ce2 = |row: [f64; 2], k: usize| (row[0].exp() + row[1].exp()).ln() - row[k];
        let backward = (ce2(m[0], 0) + ce2(m[1], 1)) / 2.0;
        assert!((with - (forward + backward) / 2.0).abs() < 1e-5);
    }

    #[test]
    fn distillation_losses_match_hand_computation() {
        let s = t(&[[1.0, 0.0], [0.0, 1.0]]);
        let g = t(&[[2.0, 0.0], [1.0, 1.0]]);
        let expected_cos = ((1.0 - 1.0) + (1.0 - 1.0 / 2f64.sqrt())) / 2.0;
        assert!((scalar(cosine_distance(&s, &g).unwrap()) - expected_cos).abs() < 1e-6);
        // Squared differences 1, 0, 1, 0 → mean 0.5.
        assert!((scalar(mse(&s, &g).unwrap()) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn surrogate_passes_the_given_gradient() {
        let x = Var::from_tensor(&t(&[[1.0, 2.0], [3.0, 4.0]])).unwrap();
        let g = t(&[[0.5, -1.0], [2.0, 0.0]]);
        let grads = surrogate(x.as_tensor(), &g).unwrap().backward().unwrap();
        let got = grads.get(x.as_tensor()).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(got, vec![vec![0.5, -1.0], vec![2.0, 0.0]]);
    }
}

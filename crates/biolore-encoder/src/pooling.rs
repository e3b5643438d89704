//! Pooling token states into one sentence vector, as sentence-transformers' Pooling module does.

use std::path::Path;

use candle_core::{DType, Tensor, D};
use serde::Deserialize;

use crate::error::{EncoderError, Result};

/// How token states become a sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Mean over non-padding tokens (BioLORD, all-mpnet-base-v2, MiniLM).
    Mean,
    /// The first token's state.
    Cls,
    /// Element-wise maximum over non-padding tokens.
    Max,
    /// Sum over non-padding tokens divided by the square root of their count.
    MeanSqrtLen,
}

impl Pooling {
    /// The name used in `1_Pooling/config.json` and by the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Cls => "cls",
            Pooling::Max => "max",
            Pooling::MeanSqrtLen => "mean_sqrt_len",
        }
    }

    /// Pools `states` `[batch, seq, hidden]` with the 0/1 `mask` `[batch, seq]` into `[batch, hidden]`.
    pub fn apply(self, states: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(D::Minus1)?; // [b, t, 1]
        match self {
            Pooling::Cls => states.narrow(1, 0, 1)?.squeeze(1),
            Pooling::Mean | Pooling::MeanSqrtLen => {
                let summed = states.broadcast_mul(&mask)?.sum(1)?;
                let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?; // [b, 1]
                let denom = if self == Pooling::Mean {
                    counts
                } else {
                    counts.sqrt()?
                };
                summed.broadcast_div(&denom)
            }
            Pooling::Max => {
                // Padding positions get a very low value so they never win the maximum.
                let low = ((mask.ones_like()? - &mask)? * -1e9f64)?;
                states.broadcast_add(&low)?.max(1)
            }
        }
    }
}

/// The fields of `1_Pooling/config.json`.
#[derive(Debug, Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
    #[serde(default)]
    pooling_mode: Option<String>,
}

impl Pooling {
    /// Reads a sentence-transformers pooling config; exactly one mode must be on.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| EncoderError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let c: PoolingConfig =
            serde_json::from_str(&text).map_err(|e| EncoderError::InvalidConfig {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        if let Some(mode) = &c.pooling_mode {
            return Self::from_name(mode).ok_or_else(|| EncoderError::Unsupported {
                path: path.to_path_buf(),
                message: format!("pooling_mode '{mode}'"),
            });
        }
        let unsupported = |m: &str| EncoderError::Unsupported {
            path: path.to_path_buf(),
            message: format!("pooling mode '{m}' (supported: mean, cls, max, mean_sqrt_len)"),
        };
        if c.pooling_mode_weightedmean_tokens {
            return Err(unsupported("weightedmean"));
        }
        if c.pooling_mode_lasttoken {
            return Err(unsupported("lasttoken"));
        }
        let modes: Vec<Pooling> = [
            (c.pooling_mode_mean_tokens, Pooling::Mean),
            (c.pooling_mode_cls_token, Pooling::Cls),
            (c.pooling_mode_max_tokens, Pooling::Max),
            (c.pooling_mode_mean_sqrt_len_tokens, Pooling::MeanSqrtLen),
        ]
        .into_iter()
        .filter_map(|(on, m)| on.then_some(m))
        .collect();
        match modes.as_slice() {
            [one] => Ok(*one),
            [] => Err(EncoderError::InvalidConfig {
                path: path.to_path_buf(),
                message: "no pooling mode is enabled".into(),
            }),
            _ => Err(EncoderError::Unsupported {
                path: path.to_path_buf(),
                message: "several pooling modes at once (concatenated vectors)".into(),
            }),
        }
    }

    /// Parses `mean`, `cls`, `max` or `mean_sqrt_len`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "mean" | "mean_tokens" => Some(Pooling::Mean),
            "cls" | "cls_token" => Some(Pooling::Cls),
            "max" | "max_tokens" => Some(Pooling::Max),
            "mean_sqrt_len" | "mean_sqrt_len_tokens" => Some(Pooling::MeanSqrtLen),
            _ => None,
        }
    }
}

/// Scales each row of `[batch, dim]` to unit L2 norm (as `torch.nn.functional.normalize`).
pub fn l2_normalize(x: &Tensor) -> candle_core::Result<Tensor> {
    let norm = x
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12f32, f32::MAX)?;
    x.broadcast_div(&norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn states() -> (Tensor, Tensor) {
        let dev = Device::Cpu;
        // batch 2, seq 3, hidden 2; second sequence has one padding position.
        let s = Tensor::from_vec(
            vec![1f32, 2., 3., 4., 5., 6., 10., 20., 30., 40., 99., 99.],
            (2, 3, 2),
            &dev,
        )
        .unwrap();
        let m = Tensor::from_vec(vec![1u32, 1, 1, 1, 1, 0], (2, 3), &dev).unwrap();
        (s, m)
    }

    #[test]
    fn mean_ignores_padding() {
        let (s, m) = states();
        let v = Pooling::Mean
            .apply(&s, &m)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(v, vec![vec![3., 4.], vec![20., 30.]]);
    }

    #[test]
    fn max_cls_and_sqrt_len() {
        let (s, m) = states();
        let v = Pooling::Max
            .apply(&s, &m)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(v, vec![vec![5., 6.], vec![30., 40.]]);
        let v = Pooling::Cls
            .apply(&s, &m)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(v, vec![vec![1., 2.], vec![10., 20.]]);
        let v = Pooling::MeanSqrtLen
            .apply(&s, &m)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let r2 = 2f32.sqrt();
        assert!((v[1][0] - 40. / r2).abs() < 1e-4 && (v[1][1] - 60. / r2).abs() < 1e-4);
    }

    #[test]
    fn normalize_gives_unit_rows() {
        let x = Tensor::from_vec(vec![3f32, 4., 0., 0.], (2, 2), &Device::Cpu).unwrap();
        let v = l2_normalize(&x).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(v, vec![vec![0.6, 0.8], vec![0., 0.]]);
    }

    #[test]
    fn pooling_config_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(
            &p,
            "{\"pooling_mode_mean_tokens\": true, \"pooling_mode_cls_token\": true}",
        )
        .unwrap();
        let e = Pooling::from_file(&p).unwrap_err().to_string();
        assert!(e.contains("config.json"), "{e}");
        std::fs::write(&p, "{not json").unwrap();
        assert!(Pooling::from_file(&p)
            .unwrap_err()
            .to_string()
            .contains("config.json"));
        std::fs::write(&p, "{\"pooling_mode_cls_token\": true}").unwrap();
        assert_eq!(Pooling::from_file(&p).unwrap(), Pooling::Cls);
    }
}

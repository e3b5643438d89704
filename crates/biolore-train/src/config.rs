//! Training settings: defaults from BioLORD-2023, a TOML file, and command-line overrides.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::pairs::PairKind;

/// How phase 2 compares the student's vectors with their targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DistillLoss {
    /// Mean of `1 - cos`.
    Cosine,
    /// Mean squared error.
    Mse,
}

/// Every setting of a training run (phase 1 and phase 2 share the file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Optimisation steps.
    pub steps: usize,
    /// Pairs (phase 1) or concept names (phase 2) per step.
    pub batch_size: usize,
    /// Texts per forward pass, as a memory budget: a step's batch is cut into micro-batches of
    /// similar length whose padded tokens stay within `micro_batch × max_length` (DPO and the
    /// extractor cut this many texts), run on the worker threads.
    pub micro_batch: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Decoupled weight decay (not on biases and layer norms).
    pub weight_decay: f64,
    /// Fraction of the steps spent warming the learning rate up.
    pub warmup_ratio: f64,
    /// Global gradient-norm clip (0 switches clipping off).
    pub max_grad_norm: f64,
    /// Scale of the cosine scores in the contrastive loss.
    pub scale: f64,
    /// Tokens per text in training (special tokens included).
    pub max_length: usize,
    /// Seed of the data order and of dropout.
    pub seed: u64,
    /// Steps between checkpoints.
    pub checkpoint_every: usize,
    /// Pair kinds (phase 1): `definition`, `description`, `synonym`.
    pub pairs: Vec<PairKind>,
    /// Names of a concept paired with each of its definitions and descriptions.
    pub names_per_text: usize,
    /// Dropout during training (the model's own rates).
    pub dropout: bool,
    /// Embeddings and this many lower transformer layers stay as they are (0 trains everything).
    pub freeze_layers: usize,
    /// Phase 2: weight of the concept term (name → teacher's definition/description vector).
    pub concept_weight: f64,
    /// Phase 2: weight of the sentence term (student → base model on general sentences).
    pub sentence_weight: f64,
    /// Phase 2: general sentences per step.
    pub sentences_per_step: usize,
    /// Phase 2: loss of both terms.
    pub distill_loss: DistillLoss,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            steps: 1000,
            batch_size: 64,
            micro_batch: 32,
            lr: 2e-5,
            weight_decay: 0.01,
            warmup_ratio: 0.1,
            max_grad_norm: 1.0,
            scale: 20.0,
            max_length: 64,
            seed: 42,
            checkpoint_every: 100,
            pairs: vec![
                PairKind::Definition,
                PairKind::Description,
                PairKind::Synonym,
            ],
            names_per_text: 4,
            dropout: true,
            freeze_layers: 0,
            concept_weight: 1.0,
            sentence_weight: 1.0,
            sentences_per_step: 16,
            distill_loss: DistillLoss::Cosine,
        }
    }
}

impl TrainConfig {
    /// Reads a TOML file; keys left out keep their defaults, unknown keys are errors.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        toml::from_str(&text).map_err(|e| TrainError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// The settings as TOML (saved next to a trained model).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Warm-up steps.
    pub fn warmup_steps(&self) -> usize {
        ((self.steps as f64) * self.warmup_ratio.clamp(0.0, 1.0)).round() as usize
    }

    /// Checks values that would make a run meaningless.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| {
            Err(TrainError::Config {
                path: "training settings".into(),
                message: m.to_string(),
            })
        };
        if self.steps == 0 {
            return bad("steps must be at least 1");
        }
        if self.batch_size < 2 {
            return bad("batch_size must be at least 2 (in-batch negatives)");
        }
        if self.micro_batch == 0 {
            return bad("micro_batch must be at least 1");
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("lr must be a positive number");
        }
        if self.max_length < 2 {
            return bad("max_length must be at least 2");
        }
        if self.pairs.is_empty() {
            return bad("pairs must name at least one kind");
        }
        Ok(())
    }

    /// What must match for a checkpoint to be resumed: everything but how often to checkpoint.
    pub fn run_identity(&self) -> String {
        let mut c = self.clone();
        c.checkpoint_every = 0;
        serde_json::to_string(&c).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_defaults_and_rejects_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "steps = 7\npairs = [\"synonym\"]\ndistill_loss = \"mse\"\n",
        )
        .unwrap();
        let c = TrainConfig::from_file(&p).unwrap();
        assert_eq!(c.steps, 7);
        assert_eq!(c.pairs, vec![PairKind::Synonym]);
        assert_eq!(c.distill_loss, DistillLoss::Mse);
        assert_eq!(c.lr, 2e-5);
        std::fs::write(&p, "stpes = 7\n").unwrap();
        let e = TrainConfig::from_file(&p).unwrap_err().to_string();
        assert!(e.contains("c.toml") && e.contains("stpes"), "{e}");
        let back: TrainConfig = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn the_shipped_configs_load_and_validate() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let c = TrainConfig::from_file(&path).unwrap();
                c.validate().unwrap();
                assert!(c.steps >= 80, "{}", path.display());
                seen += 1;
            }
        }
        assert!(seen >= 2, "configs/ holds the CPU recipes");
    }
}

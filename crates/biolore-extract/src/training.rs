//! Training the student with the shared trainer: the encoder's weights and the pair tagger's as
//! one set of variables; the loss is token cross-entropy of the drug tags plus, for each labelled
//! drug, of its effect tags (the drug given, as in the paper's teacher-forced training).

use std::path::Path;
use std::sync::atomic::AtomicBool;

use biolore_encoder::{Encoder, ModelSpec};
use biolore_nn::heads::PairTagger;
use biolore_nn::weights::load_tensors;
use biolore_train::log::StepReport;
use biolore_train::model::{copy_model_files, write_safetensors};
use biolore_train::sampler::mix_seed;
use biolore_train::step::{backward_jobs, chunks, job_seed, Gradients};
use biolore_train::trainer::{train, Objective, Outcome};
use biolore_train::{Parameters, TrainConfig, TrainError, Trainable};
use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::error::{ExtractError, Result};
use crate::labels::{tag_sentence, TaggedSentence};
use crate::sentence::AdeSentence;
use crate::student::{Extractor, TaggerConfig, TAGGER_CONFIG, TAGGER_WEIGHTS};

/// Prefix of the tagger's variables among the encoder's.
const PREFIX: &str = "extractor.";

/// A student under training.
#[derive(Debug)]
pub struct TrainableExtractor {
    spec: ModelSpec,
    config: TaggerConfig,
    params: Parameters,
    tracked: Extractor,
    device: Device,
}

impl TrainableExtractor {
    /// Starts from a sentence-encoder folder (new tagger, seeded) or a student folder (its tagger).
    pub fn load(folder: &Path, seed: u64, device: &Device) -> Result<Self> {
        let spec = ModelSpec::read(folder)?;
        let mut tensors = load_tensors(&spec.weights, device)?;
        let hidden = spec.config.hidden_size;
        let config = if folder.join(TAGGER_WEIGHTS).is_file() {
            let config = TaggerConfig::read(folder)?;
            for (name, t) in load_tensors(&folder.join(TAGGER_WEIGHTS), device)? {
                tensors.insert(format!("{PREFIX}{name}"), t);
            }
            config
        } else {
            let mut rng = rand::rngs::StdRng::seed_from_u64(mix_seed(&[seed, 0x7a66]));
            for (name, shape) in PairTagger::weight_shapes(hidden) {
                let n: usize = shape.iter().product();
                let values: Vec<f32> = if name.ends_with("bias") {
                    vec![0.0; n]
                } else {
                    // N(0, 0.02) as transformers initialises classifier heads.
                    (0..n).map(|_| normal(&mut rng) * 0.02).collect()
                };
                tensors.insert(
                    format!("{PREFIX}{name}"),
                    Tensor::from_vec(values, shape, device)?,
                );
            }
            TaggerConfig::ade(&folder.display().to_string())
        };
        let params = Parameters::from_tensors(tensors)?;
        let tracked = build(&spec, &config, &params, device)?;
        Ok(Self {
            spec,
            config,
            params,
            tracked,
            device: device.clone(),
        })
    }

    /// The model whose forward pass records gradients.
    pub fn tracked(&self) -> &Extractor {
        &self.tracked
    }

    /// The current weights as an extractor without gradient tracking (for evaluation).
    pub fn snapshot(&self) -> Result<Extractor> {
        let detached = Parameters::from_tensors(self.params.view(&|_| true).into_iter().collect())?;
        build(&self.spec, &self.config, &detached, &self.device)
    }
}

fn build(
    spec: &ModelSpec,
    config: &TaggerConfig,
    params: &Parameters,
    device: &Device,
) -> Result<Extractor> {
    let frozen = params.frozen().to_vec();
    let vb = VarBuilder::from_tensors(params.view(&|i| frozen[i]), DType::F32, device);
    let encoder = Encoder::with_weights(spec.clone(), vb.clone(), device)?;
    let tagger = PairTagger::load(spec.config.hidden_size, config.dropout, vb.pp("extractor"))
        .map_err(|e| ExtractError::Model {
            path: spec.folder.clone(),
            message: format!("the tagger's weights do not fit the encoder: {e}"),
        })?;
    Ok(Extractor::from_parts(encoder, tagger, config.clone()))
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut rand::rngs::StdRng) -> f32 {
    use rand::Rng;
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

impl Trainable for TrainableExtractor {
    fn parameters(&self) -> &Parameters {
        &self.params
    }

    fn device(&self) -> &Device {
        &self.device
    }

    /// Saves the encoder folder (new weights) with `extractor.safetensors` and `extractor.json`.
    fn save(&self, out: &Path) -> std::result::Result<(), TrainError> {
        copy_model_files(&self.spec.folder, out)?;
        let (mut encoder, mut tagger) = (Vec::new(), Vec::new());
        let mut all: Vec<(String, Tensor)> = self.params.view(&|_| true).into_iter().collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, t) in all {
            match name.strip_prefix(PREFIX) {
                Some(rest) => tagger.push((rest.to_string(), t)),
                None => encoder.push((name, t)),
            }
        }
        write_safetensors(&encoder, &out.join("model.safetensors"))?;
        write_safetensors(&tagger, &out.join(TAGGER_WEIGHTS))?;
        let path = out.join(TAGGER_CONFIG);
        let json = serde_json::to_string_pretty(&self.config).unwrap_or_default();
        std::fs::write(&path, json).map_err(|e| TrainError::io(&path, e))
    }
}

/// The tagging objective over a fixed list of tagged sentences.
pub struct Tagging {
    examples: Vec<TaggedSentence>,
    config: TrainConfig,
    identity: String,
}

impl Tagging {
    /// Tags `sentences` with the student's tokenizer; fails when none is usable.
    pub fn new(
        model: &TrainableExtractor,
        sentences: &[AdeSentence],
        config: &TrainConfig,
    ) -> Result<Self> {
        let tokenizer = model.tracked().encoder().tokenizer();
        let examples: Vec<TaggedSentence> = sentences
            .iter()
            .filter(|s| s.failed.is_none() && !s.text.trim().is_empty())
            .map(|s| tag_sentence(tokenizer, s))
            .collect::<Result<_>>()?;
        if examples.is_empty() {
            return Err(ExtractError::Invalid(
                "no usable training sentence (all empty or failed)".into(),
            ));
        }
        let relations: usize = sentences.iter().map(|s| s.relations.len()).sum();
        let mut h: u64 = 0;
        for s in sentences {
            h = mix_seed(&[h, s.text.len() as u64, s.relations.len() as u64]);
        }
        Ok(Self {
            identity: format!("{} sentences, {relations} relations, {h:x}", examples.len()),
            examples,
            config: config.clone(),
        })
    }

    /// Sentences the objective trains on.
    pub fn len(&self) -> usize {
        self.examples.len()
    }

    /// True when there is nothing to train on (never, after [`Self::new`]).
    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }

    fn batch(&self, step: usize) -> Vec<usize> {
        let n = self.examples.len();
        let size = self.config.batch_size.max(1);
        let mut cached: Option<(usize, Vec<usize>)> = None;
        (step * size..(step + 1) * size)
            .map(|at| {
                let (epoch, pos) = (at / n, at % n);
                if cached.as_ref().is_none_or(|(e, _)| *e != epoch) {
                    let mut order: Vec<usize> = (0..n).collect();
                    let seed = mix_seed(&[self.config.seed, epoch as u64, 0x7a6]);
                    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
                    cached = Some((epoch, order));
                }
                cached.as_ref().map_or(pos, |(_, o)| o[pos])
            })
            .collect()
    }
}

/// Summed cross-entropy of `labels` under `logits` `[rows, seq, 3]` where `weights` is 1.
fn tag_loss(logits: &Tensor, labels: Vec<u32>, weights: Vec<f32>) -> candle_core::Result<Tensor> {
    let (rows, seq, k) = logits.dims3()?;
    let device = logits.device();
    let logp = candle_nn::ops::log_softmax(&logits.reshape((rows * seq, k))?, D::Minus1)?;
    let labels = Tensor::from_vec(labels, (rows * seq, 1), device)?;
    let picked = logp.gather(&labels, 1)?.squeeze(1)?;
    let weights = Tensor::from_vec(weights, rows * seq, device)?;
    picked.mul(&weights)?.sum_all()?.neg()
}

impl Objective<TrainableExtractor> for Tagging {
    fn phase(&self) -> &'static str {
        "extractor"
    }

    fn data_identity(&self) -> String {
        self.identity.clone()
    }

    fn gradients(
        &mut self,
        model: &TrainableExtractor,
        step: usize,
    ) -> std::result::Result<(Gradients, usize), TrainError> {
        let batch = self.batch(step);
        let examples: Vec<&TaggedSentence> = batch.iter().map(|&i| &self.examples[i]).collect();
        let max_len = self.config.max_length.max(2);
        // Normalise by tokens so long and short batches weigh alike.
        let tokens: usize = examples.iter().map(|e| e.ids.len().min(max_len)).sum();
        let drug_tokens: usize = examples
            .iter()
            .map(|e| e.drugs.len() * e.ids.len().min(max_len))
            .sum();
        let jobs = chunks(examples.len(), self.config.micro_batch.max(1));
        let dropout = self.config.dropout;
        let seed = self.config.seed;
        let extractor = model.tracked();
        let grads = backward_jobs(model.parameters().vars(), jobs.len(), |j| {
            let part = &examples[jobs[j].clone()];
            biolore_nn::blocks::seed_dropout(job_seed(seed, step, j));
            let seqs: Vec<&[u32]> = part
                .iter()
                .map(|e| &e.ids[..e.ids.len().min(max_len)])
                .collect();
            let width = seqs.iter().map(|s| s.len()).max().unwrap_or(1);
            let encoder = extractor.encoder();
            let (ids, mask) = encoder.pad_batch(&seqs)?;
            let states = encoder
                .transformer()
                .forward(&ids, &mask, dropout)?
                .to_dtype(DType::F32)?;
            let tagger = extractor.tagger();
            let mut labels = vec![0u32; part.len() * width];
            let mut weights = vec![0f32; part.len() * width];
            for (r, e) in part.iter().enumerate() {
                for p in 0..seqs[r].len() {
                    labels[r * width + p] = e.drug_labels[p];
                    weights[r * width + p] = 1.0 / tokens.max(1) as f32;
                }
            }
            let mut loss = tag_loss(&tagger.head_logits(&states, dropout)?, labels, weights)?;
            let mut rows = Vec::new();
            let (mut masks, mut tail_labels, mut tail_weights) =
                (Vec::new(), Vec::new(), Vec::new());
            for (r, e) in part.iter().enumerate() {
                for (drug_mask, effect_labels) in &e.drugs {
                    rows.push(r as u32);
                    for p in 0..width {
                        let inside = p < seqs[r].len();
                        masks.push(if inside { drug_mask[p] } else { 0 });
                        tail_labels.push(if inside { effect_labels[p] } else { 0 });
                        tail_weights.push(if inside {
                            1.0 / drug_tokens.max(1) as f32
                        } else {
                            0.0
                        });
                    }
                }
            }
            if !rows.is_empty() {
                let n = rows.len();
                let index = Tensor::from_vec(rows, n, states.device())?;
                let picked = states.index_select(&index, 0)?;
                let masks = Tensor::from_vec(masks, (n, width), states.device())?;
                let logits = tagger.tail_logits(&picked, &masks, dropout)?;
                loss = (loss + tag_loss(&logits, tail_labels, tail_weights)?)?;
            }
            Ok(loss)
        })?;
        Ok((grads, examples.len()))
    }
}

/// Trains a student from `base` (a sentence encoder, or a student to continue) on `sentences`
/// and saves it in `out` (resumable: see the trainer).
pub fn train_student(
    base: &Path,
    sentences: &[AdeSentence],
    config: &TrainConfig,
    out: &Path,
    device: &Device,
    stop: Option<&AtomicBool>,
    observer: &mut dyn FnMut(&StepReport),
) -> Result<Outcome> {
    let model = TrainableExtractor::load(base, config.seed, device)?;
    let mut objective = Tagging::new(&model, sentences, config)?;
    tracing::info!(
        sentences = objective.len(),
        parameters = model.parameters().count(),
        "training the extractor"
    );
    Ok(train(&model, &mut objective, config, out, stop, observer)?)
}

//! The student: a sentence encoder's token states read by a pair tagger (drugs, then each drug's
//! adverse effects). Saved as the encoder's folder plus `extractor.safetensors` and
//! `extractor.json`, so the folder still loads as a sentence encoder too.

use std::path::Path;

use biolore_encoder::{Encoder, Token};
use biolore_nn::heads::{bio_spans, PairTagger};
use candle_core::{DType, Device, Tensor, D};
use serde::{Deserialize, Serialize};

use crate::error::{ExtractError, Result};
use crate::sentence::{span_of, AdeRelation, AdeSentence, DRUG, EFFECT};

/// File of the tagger's weights in a student folder.
pub const TAGGER_WEIGHTS: &str = "extractor.safetensors";
/// File of the tagger's settings in a student folder.
pub const TAGGER_CONFIG: &str = "extractor.json";

/// What `extractor.json` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaggerConfig {
    /// The task (`ade`: drugs and their adverse effects).
    pub task: String,
    /// Label names of both taggers, by id.
    pub labels: Vec<String>,
    /// Dropout before the taggers in training.
    pub dropout: f64,
    /// The encoder the student started from.
    pub base_model: String,
}

impl TaggerConfig {
    /// The settings of a new ADE student on `base_model`.
    pub fn ade(base_model: &str) -> Self {
        Self {
            task: "ade".into(),
            labels: vec!["O".into(), "B".into(), "I".into()],
            dropout: 0.1,
            base_model: base_model.into(),
        }
    }

    /// Reads `extractor.json` of a student folder.
    pub fn read(folder: &Path) -> Result<Self> {
        let path = folder.join(TAGGER_CONFIG);
        let text = std::fs::read_to_string(&path).map_err(|e| ExtractError::Model {
            path: folder.to_path_buf(),
            message: format!("not a trained extractor ({TAGGER_CONFIG}: {e}); train one with `biolore train extractor`"),
        })?;
        serde_json::from_str(&text).map_err(|e| ExtractError::Model {
            path: path.clone(),
            message: e.to_string(),
        })
    }
}

/// A trained extractor, ready to find (drug, adverse effect) relations in sentences.
#[derive(Debug, Clone)]
pub struct Extractor {
    encoder: Encoder,
    tagger: PairTagger,
    config: TaggerConfig,
}

impl Extractor {
    /// Loads a student folder.
    pub fn load(folder: &Path, device: &Device) -> Result<Self> {
        let config = TaggerConfig::read(folder)?;
        let encoder = Encoder::load(folder, device)?;
        let vb = biolore_nn::weights::var_builder(&folder.join(TAGGER_WEIGHTS), device)?;
        let tagger = PairTagger::load(encoder.dim(), config.dropout, vb).map_err(|e| {
            ExtractError::Model {
                path: folder.join(TAGGER_WEIGHTS),
                message: format!("the tagger's weights do not fit the encoder: {e}"),
            }
        })?;
        Ok(Self::from_parts(encoder, tagger, config))
    }

    /// An extractor from an encoder and a tagger (training builds its own).
    pub fn from_parts(encoder: Encoder, tagger: PairTagger, config: TaggerConfig) -> Self {
        Self {
            encoder,
            tagger,
            config,
        }
    }

    /// The encoder.
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// The pair tagger.
    pub fn tagger(&self) -> &PairTagger {
        &self.tagger
    }

    /// The tagger's settings.
    pub fn config(&self) -> &TaggerConfig {
        &self.config
    }

    /// Relations of each sentence (ids and texts kept; spans in characters of each text), in
    /// batches of `batch` sentences; `progress` sees how many are done.
    pub fn extract(
        &self,
        sentences: &[AdeSentence],
        batch: usize,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<AdeSentence>> {
        let mut out = Vec::with_capacity(sentences.len());
        for chunk in sentences.chunks(batch.max(1)) {
            out.extend(self.extract_batch(chunk)?);
            progress(out.len());
        }
        Ok(out)
    }

    fn extract_batch(&self, sentences: &[AdeSentence]) -> Result<Vec<AdeSentence>> {
        let tokens: Vec<Vec<Token>> = sentences
            .iter()
            .map(|s| self.encoder.tokenizer().encode_with_offsets(&s.text))
            .collect::<Result<_, _>>()?;
        let ids: Vec<Vec<u32>> = tokens
            .iter()
            .map(|t| t.iter().map(|t| t.id).collect())
            .collect();
        let seqs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
        let (ids_t, mask) = self.encoder.pad_batch(&seqs)?;
        let states = self
            .encoder
            .transformer()
            .forward(&ids_t, &mask, false)?
            .to_dtype(DType::F32)?;
        let head_probs = softmax_rows(&self.tagger.head_logits(&states, false)?)?;
        let mut out = Vec::with_capacity(sentences.len());
        for (i, sentence) in sentences.iter().enumerate() {
            let toks = &tokens[i];
            let (labels, probs) = decode(&head_probs[i], toks);
            let mut result = AdeSentence::new(&sentence.id, &sentence.text);
            let drugs = bio_spans(&labels);
            if !drugs.is_empty() {
                let seq = states.dim(1)?;
                let rows = states.narrow(0, i, 1)?.repeat((drugs.len(), 1, 1))?;
                let mut masks = vec![0u32; drugs.len() * seq];
                for (k, &(s, e)) in drugs.iter().enumerate() {
                    masks[k * seq + s..k * seq + e].fill(1);
                }
                let masks = Tensor::from_vec(masks, (drugs.len(), seq), states.device())?;
                let tail_probs = softmax_rows(&self.tagger.tail_logits(&rows, &masks, false)?)?;
                for (k, &(ds, de)) in drugs.iter().enumerate() {
                    let (tail_labels, tail_p) = decode(&tail_probs[k], toks);
                    let drug = char_span(&sentence.text, toks, ds, de, DRUG);
                    let drug_score = mean(&probs[ds..de]);
                    for (es, ee) in bio_spans(&tail_labels) {
                        let effect = char_span(&sentence.text, toks, es, ee, EFFECT);
                        if effect.start < drug.end && drug.start < effect.end {
                            continue;
                        }
                        result.add(AdeRelation {
                            drug: drug.clone(),
                            effect,
                            score: Some(round4(f64::from(drug_score * mean(&tail_p[es..ee])))),
                            drug_concept: None,
                            effect_concept: None,
                        });
                    }
                }
            }
            out.push(result);
        }
        Ok(out)
    }
}

/// Per-row probability vectors `[batch][seq][labels]` of logits `[batch, seq, labels]`.
fn softmax_rows(logits: &Tensor) -> Result<Vec<Vec<Vec<f32>>>> {
    let p = candle_nn::ops::softmax(&logits.to_dtype(DType::F32)?, D::Minus1)?;
    Ok(p.to_vec3::<f32>()?)
}

/// The most likely label of each real token (special tokens and padding are `O`) and its probability.
fn decode(probs: &[Vec<f32>], tokens: &[Token]) -> (Vec<u32>, Vec<f32>) {
    tokens
        .iter()
        .zip(probs)
        .map(|(t, p)| {
            if t.special {
                return (0, 1.0);
            }
            let (best, score) =
                p.iter().enumerate().fold(
                    (0usize, f32::MIN),
                    |acc, (j, &v)| if v > acc.1 { (j, v) } else { acc },
                );
            (best as u32, score)
        })
        .unzip()
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

fn mean(xs: &[f32]) -> f32 {
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f32>() / xs.len() as f32
    }
}

/// Character span of tokens `s..e`, widened to whole words (a word's pieces belong together).
fn char_span(text: &str, tokens: &[Token], s: usize, e: usize, kind: &str) -> biolore_text::Span {
    let chars: Vec<char> = text.chars().collect();
    let mut start = tokens[s].start.min(chars.len());
    let mut end = tokens[e - 1].end.min(chars.len()).max(start);
    while start > 0
        && start < chars.len()
        && chars[start - 1].is_alphanumeric()
        && chars[start].is_alphanumeric()
    {
        start -= 1;
    }
    while end > 0
        && end < chars.len()
        && chars[end - 1].is_alphanumeric()
        && chars[end].is_alphanumeric()
    {
        end += 1;
    }
    span_of(text, start, end, kind)
}

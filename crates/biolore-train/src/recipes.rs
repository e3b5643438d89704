//! The recipes, ready to run: what each training command loads and prepares before the loop
//! (the CLI adds flags, progress and Ctrl-C; the server or the Python package can call these too).

use std::path::{Path, PathBuf};

use biolore_encoder::Encoder;
use biolore_kb::KnowledgeBase;
use candle_core::Device;

use crate::config::TrainConfig;
use crate::decoder::TrainableDecoder;
use crate::distill::read_sentences;
use crate::error::{Result, TrainError};
use crate::language_model::{read_examples, LmExample};
use crate::model::TrainableModel;
use crate::pairs::{build_pairs, Pair, PairKind, PairOptions};

/// Phase 1 (contrastive) prepared: the student and its pairs.
#[derive(Debug)]
pub struct ContrastiveRun {
    /// The model to train (lower layers frozen as the config says).
    pub model: TrainableModel,
    /// The (name, text) pairs of the KB, of the kinds the config asks for.
    pub pairs: Vec<Pair>,
}

/// Loads the model in `folder` and builds the KB's pairs for phase 1.
pub fn contrastive(
    kb: &KnowledgeBase,
    folder: &Path,
    config: &TrainConfig,
    device: &Device,
) -> Result<ContrastiveRun> {
    let options = PairOptions {
        kinds: config.pairs.clone(),
        names_per_text: config.names_per_text,
        ..Default::default()
    };
    let pairs = build_pairs(kb, &options);
    if pairs.is_empty() {
        return Err(TrainError::Empty(
            "the KB gives no training pairs of the kinds asked for".into(),
        ));
    }
    let model = TrainableModel::load(folder, device)?.freeze_layers(config.freeze_layers)?;
    Ok(ContrastiveRun { model, pairs })
}

/// Phase 2 (self-distillation) prepared: student, frozen teacher and base, targets, sentences.
#[derive(Debug)]
pub struct DistillRun {
    /// The student.
    pub model: TrainableModel,
    /// The frozen phase-1 teacher.
    pub teacher: Encoder,
    /// The frozen base model (targets for general sentences).
    pub base: Encoder,
    /// (name, definition or description) targets.
    pub items: Vec<Pair>,
    /// General sentences.
    pub sentences: Vec<String>,
    /// The folder the student was initialised from.
    pub student_folder: PathBuf,
}

/// Loads teacher, base and student (from the base when `student_from_base`, else the teacher)
/// and reads the targets and general sentences for phase 2.
pub fn distill(
    kb: &KnowledgeBase,
    teacher_folder: &Path,
    base_folder: &Path,
    student_from_base: bool,
    sentence_files: &[PathBuf],
    config: &TrainConfig,
    device: &Device,
) -> Result<DistillRun> {
    let options = PairOptions {
        kinds: vec![PairKind::Definition, PairKind::Description],
        names_per_text: config.names_per_text,
        ..Default::default()
    };
    let items = build_pairs(kb, &options);
    let mut sentences = Vec::new();
    for p in sentence_files {
        sentences.extend(read_sentences(p)?);
    }
    let teacher = Encoder::load(teacher_folder, device)?;
    let base = Encoder::load(base_folder, device)?;
    let student_folder = if student_from_base {
        base_folder
    } else {
        teacher_folder
    };
    let model =
        TrainableModel::load(student_folder, device)?.freeze_layers(config.freeze_layers)?;
    Ok(DistillRun {
        model,
        teacher,
        base,
        items,
        sentences,
        student_folder: student_folder.to_path_buf(),
    })
}

/// Language-model fine-tuning prepared: the decoder and its examples.
#[derive(Debug)]
pub struct LanguageModelRun {
    /// The decoder to train.
    pub model: TrainableDecoder,
    /// Tokenized (prompt, completion) examples.
    pub examples: Vec<LmExample>,
}

/// Loads a decoder (GGUF or folder) and its JSONL data; with `chat`, prompts are rendered with
/// the model's chat template and completions end with its end-of-turn token.
pub fn language_model(
    model_path: &Path,
    data: &Path,
    chat: bool,
    config: &TrainConfig,
    device: &Device,
) -> Result<LanguageModelRun> {
    let model = TrainableDecoder::load(model_path, device)?.freeze_layers(config.freeze_layers)?;
    let template = if chat {
        Some(model.chat_template()?.ok_or_else(|| {
            TrainError::Mismatch(format!(
                "--chat: {} has no chat template",
                model_path.display()
            ))
        })?)
    } else {
        None
    };
    let examples = read_examples(
        data,
        model.tokenizer(),
        template.as_ref(),
        model.eos_token(),
        config.max_length,
    )?;
    Ok(LanguageModelRun { model, examples })
}

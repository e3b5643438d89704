//! Knowledge extraction by distillation (Gu et al., 2023): a language model labels sentences with
//! (drug, adverse effect) relations; a small encoder student learns from those labels alone.
//!
//! The data path: sentences ([`sentence`], the ADE corpus in [`ade`]) → a [`teacher`] (an
//! OpenAI-compatible endpoint or a local GGUF model; answers cached, read robustly, [`align`]ed
//! back to character offsets) → token labels ([`labels`]) → the student ([`training`] on the
//! shared trainer, [`student`] for inference, optional [`self_training`] rounds) → relations in documents ([`documents`]), their spans [`linking`] to concepts →
//! precision/recall/F1 ([`eval`]).

pub mod ade;
pub mod align;
pub mod documents;
pub mod error;
pub mod eval;
pub mod inputs;
pub mod labels;
pub mod linking;
pub mod self_training;
pub mod sentence;
pub mod student;
pub mod teacher;
pub mod training;

pub use ade::{read_corpus, AdeCorpus};
pub use error::{ExtractError, Result};
pub use eval::{Evaluation, Scores};
pub use linking::{link_relations, SpanLinkers};
pub use sentence::{AdeRelation, AdeSentence, LinkedConcept};
pub use student::Extractor;
pub use teacher::{label, LabelOptions, LabelSummary, Teacher};
pub use training::{train_student, TrainableExtractor};

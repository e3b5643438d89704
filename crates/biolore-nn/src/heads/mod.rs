//! Heads on top of the architectures: token classification, pair tagging (drug → adverse effect), and language modelling with
//! greedy generation and chat templates. (Sentence pooling lives with the sentence encoder.)

pub mod chat_template;
pub mod generate;
pub mod pair_tagger;
pub mod token_classification;

pub use chat_template::{ChatMessage, ChatTemplate};
pub use generate::{Generation, LanguageModel};
pub use pair_tagger::{bio_spans, PairTagger, BIO_LABELS};
pub use token_classification::TokenClassifier;

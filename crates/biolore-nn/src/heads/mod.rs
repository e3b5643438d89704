//! Heads on top of the architectures: token classification, pair tagging (drug → adverse effect), and language modelling with
//! greedy generation, chat templates, and beam search constrained by a token trie. (Sentence pooling lives with the sentence encoder.)

pub mod chat_template;
pub mod constrained_beam;
pub mod generate;
pub mod pair_tagger;
pub mod token_classification;
pub mod token_trie;

pub use chat_template::{ChatMessage, ChatTemplate};
pub use constrained_beam::Hypothesis;
pub use generate::{Generation, LanguageModel};
pub use pair_tagger::{bio_spans, PairTagger, BIO_LABELS};
pub use token_classification::TokenClassifier;
pub use token_trie::TokenTrie;

//! Heads on top of the architectures: token classification, and language modelling with
//! greedy generation and chat templates. (Sentence pooling lives with the sentence encoder.)

pub mod chat_template;
pub mod generate;
pub mod token_classification;

pub use chat_template::{ChatMessage, ChatTemplate};
pub use generate::{Generation, LanguageModel};
pub use token_classification::TokenClassifier;

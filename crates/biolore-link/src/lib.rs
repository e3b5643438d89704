//! biolore's entity linking: documents and mentions → ranked ontology concepts, and its evaluation.
//!
//! One pipeline: [`queries`] prepares mentions (abbreviations, composites), [`Linker`] (an
//! encoder and its index) ranks concepts, [`open`] opens or builds the index, [`eval`] scores.
//! [`GenerativeLinker`] writes concept names with a decoder constrained by the [`NameTrie`] of
//! the KB's names; [`HybridLinker`] lets the generator re-score the dense linker's candidates.
//! All three are [`MentionRanker`]s.

pub mod abbreviations;
pub mod augment;
pub mod choice;
pub mod composite;
pub mod error;
pub mod eval;
pub mod generative;
pub mod hybrid;
pub mod inputs;
pub mod linker;
pub mod mention_context;
pub mod mention_ranker;
pub mod name_similarity;
pub mod name_trie;
pub mod open;
pub mod queries;

pub use abbreviations::Abbreviations;
pub use augment::training_mentions;
pub use choice::{open_ranker, GeneratorOptions, LinkerKind};
pub use composite::split_composite;
pub use error::{LinkError, Result};
pub use eval::{evaluate, EvalReport};
pub use generative::GenerativeLinker;
pub use hybrid::HybridLinker;
pub use inputs::{read_mentions, MentionFormat, MentionRecord};
pub use linker::{merge_parts, rank, Candidate, Linker};
pub use mention_context::{MentionContext, PromptSettings};
pub use mention_ranker::MentionRanker;
pub use name_similarity::TrigramTfIdf;
pub use name_trie::NameTrie;
pub use open::{build_quietly, default_index, open_linker, LinkerOptions, OpenedLinker};
pub use queries::{prepare_document, prepare_mention, PreparedMention, QueryOptions};

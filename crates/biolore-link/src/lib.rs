//! biolore's entity linking: documents and mentions → ranked ontology concepts, and its evaluation.
//!
//! One pipeline: [`queries`] prepares mentions (abbreviations, composites), [`Linker`] (an
//! encoder and its index) ranks concepts, [`open`] opens or builds the index, [`eval`] scores.

pub mod abbreviations;
pub mod augment;
pub mod composite;
pub mod error;
pub mod eval;
pub mod inputs;
pub mod linker;
pub mod open;
pub mod queries;

pub use abbreviations::Abbreviations;
pub use augment::training_mentions;
pub use composite::split_composite;
pub use error::{LinkError, Result};
pub use eval::{evaluate, EvalReport};
pub use inputs::{read_mentions, MentionFormat, MentionRecord};
pub use linker::{merge_parts, rank, Candidate, Linker};
pub use open::{build_quietly, default_index, open_linker, LinkerOptions, OpenedLinker};
pub use queries::{prepare_document, prepare_mention, PreparedMention, QueryOptions};

//! biolore's entity linking: documents and mentions → ranked ontology concepts, and its evaluation.

pub mod abbreviations;
pub mod composite;
pub mod error;
pub mod eval;
pub mod linker;
pub mod pubtator;

pub use abbreviations::Abbreviations;
pub use composite::split_composite;
pub use error::{LinkError, Result};
pub use eval::{evaluate, EvalReport};
pub use linker::{rank, Candidate, Linker};

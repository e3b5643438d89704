//! biolore's knowledge bases: concepts, id normalisation, loaders and compact on-disk storage.

pub mod concept;
pub mod error;
pub mod ids;
pub mod load;
pub mod store;

pub use concept::{Concept, KnowledgeBase, Relation, Scope, Synonym};
pub use error::{KbError, Result};
pub use ids::normalize_id;
pub use load::{Issue, Loaded, Policy};

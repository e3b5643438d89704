//! The BioLORD training recipe on biolore's own encoder code.
//!
//! The data path: a knowledge base → [`pairs`] (name with definition, description or synonym) →
//! [`sampler`] (seeded batches without repeated concepts) → [`contrastive`] (phase 1, symmetric
//! InfoNCE) or [`distill`] (phase 2, self-distillation) through [`step`] (gradients from worker
//! threads), [`optim`] (AdamW, schedule, clipping) and [`checkpoint`] (resumable runs) → a
//! sentence-transformers folder ([`model`]); [`average`] is phase 3, [`relatedness`] the
//! EHR-Rel evaluation, [`log`] the loss curve.

pub mod average;
pub mod checkpoint;
pub mod config;
pub mod contrastive;
pub mod distill;
pub mod error;
pub mod log;
pub mod loss;
pub mod model;
pub mod optim;
pub mod pairs;
pub mod relatedness;
pub mod sampler;
pub mod step;
pub mod trainer;

pub use config::TrainConfig;
pub use error::{Result, TrainError};
pub use model::TrainableModel;
pub use pairs::{Pair, PairKind};

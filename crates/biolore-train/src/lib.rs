//! The BioLORD training recipe on biolore's own encoder code.
//!
//! The data path: a knowledge base → [`pairs`] (name with definition, description or synonym) →
//! [`sampler`] (seeded batches without repeated concepts) → [`contrastive`] (phase 1, symmetric
//! InfoNCE) or [`distill`] (phase 2, self-distillation) through [`step`] (gradients from worker
//! threads), [`optim`] (AdamW, schedule, clipping) and [`checkpoint`] (resumable runs) → a
//! sentence-transformers folder ([`model`]); [`average`] is phase 3, [`relatedness`] the
//! EHR-Rel evaluation, [`log`] the loss curve. [`link_pairs`] turns an annotated corpus into
//! (mention, gold name, hard negative) pairs for fine-tuning a dense linker with the same
//! [`contrastive`] objective; [`preference`] trains a generative linker on its own mistakes
//! (ANGEL's DPO stage).
//!
//! The trainer trains any model that implements [`Trainable`]: sentence encoders
//! ([`TrainableModel`]) and decoders ([`TrainableDecoder`], trained by the
//! [`language_model`] objective) share the loop, the optimizer and the checkpoints.

pub mod average;
pub mod balance;
pub mod checkpoint;
pub mod config;
pub mod contrastive;
pub mod decoder;
pub mod distill;
pub mod error;
pub mod language_model;
pub mod link_pairs;
pub mod log;
pub mod loss;
pub mod model;
pub mod optim;
pub mod pairs;
pub mod parameters;
pub mod preference;
pub mod recipes;
pub mod relatedness;
pub mod sampler;
pub mod step;
pub mod trainer;

pub use config::TrainConfig;
pub use decoder::TrainableDecoder;
pub use error::{Result, TrainError};
pub use model::TrainableModel;
pub use pairs::{Negative, Pair, PairKind};
pub use parameters::{Parameters, Trainable};

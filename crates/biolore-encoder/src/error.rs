//! Typed errors of the encoder library: the model library's, under the encoder's name.

pub use biolore_nn::error::{ModelError as EncoderError, Result};

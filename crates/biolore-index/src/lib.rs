//! biolore's concept index: the names of a KB embedded once, stored on disk, searched exactly.

pub mod ann;
pub mod build;
pub mod error;
pub mod import;
pub mod manifest;
pub mod names;
pub mod quantized;
pub mod search;

pub use ann::HnswParams;
pub use build::{build, BuildOptions, BuildReport};
pub use error::{IndexError, Result};
pub use import::{ImportReport, VectorImport};
pub use manifest::Manifest;
pub use names::{normalize_name, NameEntry, NameTable};
pub use quantized::Precision;
pub use search::{recall, Hit, Index};

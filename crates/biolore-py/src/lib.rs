//! biolore's Python module (`biolore._native`): encoders, linkers (dense, generative, hybrid),
//! knowledge bases, adverse-event extractors and decoders over the library crates. Compute releases the GIL and runs on a thread pool created lazily in the
//! process that uses it, so the objects are safe in the forked workers of Spark and Ray.

use pyo3::prelude::*;

pub mod encoder;
pub mod errors;
pub mod extractor;
pub mod generator;
pub mod kb;
pub mod linker;
pub mod pool;
pub mod texts;

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Kernels run single-threaded inside data-parallel workers, as in the CLI; no pool is built
    // here (each object builds its own on first use, in the process that uses it).
    biolore_nn::runtime::init_workers(biolore_nn::runtime::available_cores());
    biolore_encoder::resolve::register_blas_dir();
    m.add("BioloreError", m.py().get_type::<errors::BioloreError>())?;
    m.add_class::<encoder::PyEncoder>()?;
    m.add_class::<linker::PyLinker>()?;
    m.add_class::<kb::PyKnowledgeBase>()?;
    m.add_class::<extractor::PyExtractor>()?;
    m.add_class::<generator::PyGenerator>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

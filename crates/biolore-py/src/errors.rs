//! Library errors as Python exceptions: `biolore.BioloreError` with the library's message.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::PyErr;

create_exception!(
    biolore,
    BioloreError,
    PyException,
    "An error from the biolore library (a model, index or KB that cannot be used, bad input)."
);

/// A library error as a `BioloreError` carrying its message (and its causes').
pub fn to_py(e: impl std::error::Error) -> PyErr {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    BioloreError::new_err(message)
}

//! Python sequences of strings → Rust strings, with errors that name the bad item.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyString;

/// The strings of `seq` (any iterable of `str`); a lone `str`, `None` or a non-string item is a
/// `TypeError` naming `what[i]`.
pub fn strings(seq: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<String>> {
    if seq.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a list of strings, not a single string (wrap it: [{what}])"
        )));
    }
    let mut out = Vec::new();
    for (i, item) in seq.try_iter()?.enumerate() {
        let item = item?;
        if item.is_none() {
            return Err(PyTypeError::new_err(format!(
                "{what}[{i}] is None, not a string"
            )));
        }
        let text: String = item.extract().map_err(|_| {
            let kind = item
                .get_type()
                .name()
                .map_or_else(|_| "?".to_string(), |n| n.to_string());
            PyTypeError::new_err(format!("{what}[{i}] is a {kind}, not a string"))
        })?;
        out.push(text);
    }
    Ok(out)
}

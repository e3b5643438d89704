//! The errors of reading text columns and writing embedding columns.

use std::path::PathBuf;

/// What can go wrong with a columnar input or output.
#[derive(Debug, thiserror::Error)]
pub enum ColumnarError {
    /// A file could not be opened, created or renamed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The Parquet library failed on a file.
    #[error("{path}: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: parquet::errors::ParquetError,
    },
    /// Arrow refused to build a column or batch.
    #[error("{0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// The text column is not in the schema.
    #[error("no column {field:?}; the columns are: {available}")]
    NoColumn {
        /// The column asked for.
        field: String,
        /// The columns there are, comma-separated.
        available: String,
    },
    /// The embedding column holds no list of floats.
    #[error("column {field:?} holds {data_type}, not vectors (a list of float32 or float64)")]
    NotVectors {
        /// The column.
        field: String,
        /// Its type.
        data_type: String,
    },
    /// The text column holds neither strings nor bytes.
    #[error("column {field:?} holds {data_type}, not text (string or binary)")]
    NotText {
        /// The column.
        field: String,
        /// Its type.
        data_type: String,
    },
    /// A binary text is not UTF-8.
    #[error("row {row}: column {field:?} is not valid UTF-8 ({detail})")]
    InvalidUtf8 {
        /// The column.
        field: String,
        /// The row, counted from 0 over the whole input.
        row: u64,
        /// Where decoding failed.
        detail: String,
    },
    /// A text is null and nulls are not allowed.
    #[error("row {row}: column {field:?} is null (pass --null-text skip to write a null embedding instead)")]
    NullText {
        /// The column.
        field: String,
        /// The row, counted from 0 over the whole input.
        row: u64,
    },
    /// A JSONL record does not fit the schema inferred from all the records.
    #[error("row {row}: {detail}")]
    Record {
        /// The row, counted from 0 over the whole input.
        row: u64,
        /// What did not fit.
        detail: String,
    },
    /// The output column's name is taken by an input column.
    #[error("the input already has a column {0:?}; name the output column otherwise")]
    ColumnExists(String),
    /// A column's values do not match the batch's rows.
    #[error("{given} values for {rows} rows")]
    Rows {
        /// Values given.
        given: usize,
        /// Rows in the batch.
        rows: usize,
    },
    /// The vectors do not fit the batch.
    #[error("{vectors} vectors of dimension {dim} for {rows} rows")]
    Shape {
        /// Vectors given.
        vectors: usize,
        /// Their dimension.
        dim: usize,
        /// Rows in the batch.
        rows: usize,
    },
}

//! Arrow and Parquet for biolore: the text column of a record batch (or plain texts and JSONL
//! records made into batches) in, an `embedding`
//! column (`list<float32>`), a `candidates` or a `relations` column out, and Parquet files read row group by row group and written
//! atomically, so any number of rows runs in bounded memory.

pub mod candidates_column;
pub mod embedding_column;
pub mod error;
pub mod list_column;
pub mod parquet_stream;
pub mod records_batch;
pub mod relations_column;
pub mod text_column;

pub use candidates_column::{schema_with_candidates, with_candidates, CandidateCell};
pub use embedding_column::{embedding_rows, schema_with_embeddings, with_embeddings};
pub use error::ColumnarError;
pub use parquet_stream::{ParquetBatches, ParquetSink};
pub use records_batch::{records_batch, records_schema, texts_batch, texts_schema};
pub use relations_column::{schema_with_relations, with_relations, RelationCell, SpanCell};
pub use text_column::{require_column, text_column, NullText};

/// Re-exported so callers name the same Arrow types.
pub use arrow_array::RecordBatch;
/// Re-exported so callers name the same Arrow types.
pub use arrow_schema::SchemaRef;

/// Results of this crate.
pub type Result<T> = std::result::Result<T, ColumnarError>;

/// Whether `path` names a Parquet file (by its extension: `.parquet` or `.pq`).
pub fn is_parquet(path: &std::path::Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"))
}

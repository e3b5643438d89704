//! Parquet files read as a stream of record batches (row group by row group) and written to a
//! temporary file that is renamed into place only when every row is written.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::{ColumnarError, Result};

/// Rows per output row group: bounds the writer's buffer (16,384 × 768 floats ≈ 50 MB).
pub const ROW_GROUP_ROWS: usize = 16_384;

/// The record batches of a Parquet file, `batch_size` rows at a time.
pub struct ParquetBatches {
    reader: ParquetRecordBatchReader,
    schema: SchemaRef,
    rows: u64,
    path: PathBuf,
}

impl ParquetBatches {
    /// Opens `path`, reading batches of `batch_size` rows.
    pub fn open(path: &Path, batch_size: usize) -> Result<Self> {
        let file = File::open(path).map_err(|source| ColumnarError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let parquet = |source| ColumnarError::Parquet {
            path: path.to_path_buf(),
            source,
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet)?;
        let rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
        let schema = builder.schema().clone();
        let reader = builder
            .with_batch_size(batch_size.max(1))
            .build()
            .map_err(parquet)?;
        Ok(Self {
            reader,
            schema,
            rows,
            path: path.to_path_buf(),
        })
    }

    /// The file's Arrow schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Rows in the file (from its footer).
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

impl Iterator for ParquetBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.reader.next().map(|r| {
            r.map_err(|e| ColumnarError::Parquet {
                path: self.path.clone(),
                source: parquet::errors::ParquetError::External(Box::new(e)),
            })
        })
    }
}

/// A Parquet file being written: batches go to `PATH.partial`, renamed to `PATH` by `finish`;
/// dropped unfinished (an error on the way), the partial file is removed and `PATH` is untouched.
pub struct ParquetSink {
    writer: Option<ArrowWriter<File>>,
    partial: PathBuf,
    path: PathBuf,
    rows: u64,
}

impl ParquetSink {
    /// Starts writing `path` with `schema` (Snappy-compressed row groups of [`ROW_GROUP_ROWS`]).
    pub fn create(path: &Path, schema: SchemaRef) -> Result<Self> {
        let mut name = path
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".partial");
        let partial = path.with_file_name(name);
        let file = File::create(&partial).map_err(|source| ColumnarError::Io {
            path: partial.clone(),
            source,
        })?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        let writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(|source| {
            ColumnarError::Parquet {
                path: partial.clone(),
                source,
            }
        })?;
        Ok(Self {
            writer: Some(writer),
            partial,
            path: path.to_path_buf(),
            rows: 0,
        })
    }

    /// Appends a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        writer
            .write(batch)
            .map_err(|source| ColumnarError::Parquet {
                path: self.partial.clone(),
                source,
            })?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Writes the footer and renames the file into place; the rows written.
    pub fn finish(mut self) -> Result<u64> {
        if let Some(writer) = self.writer.take() {
            writer.close().map_err(|source| ColumnarError::Parquet {
                path: self.partial.clone(),
                source,
            })?;
            std::fs::rename(&self.partial, &self.path).map_err(|source| ColumnarError::Io {
                path: self.path.clone(),
                source,
            })?;
        }
        Ok(self.rows)
    }
}

impl Drop for ParquetSink {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::{Array, Int64Array, StringArray};

    use super::*;
    use crate::{text_column, with_embeddings, NullText};

    #[test]
    fn a_file_streams_through_with_its_columns_and_an_embedding() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.parquet");
        let n = 1000usize;
        let texts: Vec<String> = (0..n).map(|i| format!("text {i}")).collect();
        let batch = RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(Int64Array::from_iter_values(0..n as i64)) as Arc<dyn Array>,
            ),
            (
                "text",
                Arc::new(StringArray::from(texts.clone())) as Arc<dyn Array>,
            ),
        ])
        .unwrap();
        let mut sink = ParquetSink::create(&input, batch.schema()).unwrap();
        sink.write(&batch).unwrap();
        assert_eq!(sink.finish().unwrap(), n as u64);

        let output = dir.path().join("out.parquet");
        let batches = ParquetBatches::open(&input, 64).unwrap();
        assert_eq!(batches.rows(), n as u64);
        let schema = crate::schema_with_embeddings(&batches.schema(), "embedding").unwrap();
        let mut sink = ParquetSink::create(&output, schema).unwrap();
        let mut first = 0u64;
        for b in batches {
            let b = b.unwrap();
            let t = text_column(&b, "text", first, NullText::Error).unwrap();
            let vectors: Vec<Vec<f32>> = t.iter().map(|s| vec![s.unwrap().len() as f32]).collect();
            let refs: Vec<Option<&[f32]>> = vectors.iter().map(|v| Some(v.as_slice())).collect();
            sink.write(&with_embeddings(&b, "embedding", &refs, 1).unwrap())
                .unwrap();
            first += b.num_rows() as u64;
        }
        assert!(!dir.path().join("out.parquet").exists());
        sink.finish().unwrap();
        assert!(!dir.path().join("out.parquet.partial").exists());

        let back: Vec<RecordBatch> = ParquetBatches::open(&output, 4096)
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
        assert_eq!(back.len(), 1);
        let b = &back[0];
        assert_eq!(b.num_rows(), n);
        assert_eq!(
            b.column(0)
                .as_primitive::<arrow_array::types::Int64Type>()
                .value(999),
            999
        );
        let list = b.column(2).as_list::<i32>();
        let v = list.value(999);
        assert_eq!(
            v.as_primitive::<arrow_array::types::Float32Type>().value(0),
            8.0
        );
    }

    #[test]
    fn a_file_that_is_not_parquet_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.parquet");
        std::fs::write(&p, b"id,text\n1,a\n").unwrap();
        let e = ParquetBatches::open(&p, 10).err().unwrap();
        assert!(e.to_string().contains("x.parquet"), "{e}");
    }
}

//! Row inputs that are not Parquet (plain text lines, JSONL records) as Arrow record batches, so
//! they can be written as Parquet with their fields kept: the schema is inferred once from every
//! record (numbers widen, fields missing from some records are nullable), then batches are built
//! in any slices of the rows.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde_json::{Map, Value};

use crate::{ColumnarError, Result};

/// The schema of JSONL records: every field any record has, types inferred over all of them.
pub fn records_schema(records: &[&Map<String, Value>]) -> Result<SchemaRef> {
    let values = records.iter().map(|r| Ok(Value::Object((*r).clone())));
    let schema = arrow_json::reader::infer_json_schema_from_iterator(values)?;
    Ok(Arc::new(schema))
}

/// One batch of JSONL records under `schema` (from [`records_schema`] over all the rows).
/// A number or boolean in a column inferred as text (a field that is text in other records) is
/// written as text; a record that still does not fit is an error naming its row, `first_row`
/// (0-based, over the whole input) plus its place in `records`.
pub fn records_batch(
    schema: &SchemaRef,
    records: &[&Map<String, Value>],
    first_row: u64,
) -> Result<RecordBatch> {
    match decode(schema, records) {
        Ok(batch) => Ok(batch),
        Err(e) => {
            // Find the first record that fails alone, to name it.
            for (i, record) in records.iter().enumerate() {
                if let Err(detail) = decode(schema, std::slice::from_ref(record)) {
                    return Err(ColumnarError::Record {
                        row: first_row + i as u64,
                        detail: detail.to_string(),
                    });
                }
            }
            Err(e.into())
        }
    }
}

fn decode(
    schema: &SchemaRef,
    records: &[&Map<String, Value>],
) -> std::result::Result<RecordBatch, arrow_schema::ArrowError> {
    let mut decoder = arrow_json::ReaderBuilder::new(schema.clone())
        .with_batch_size(records.len().max(1))
        .with_coerce_primitive(true)
        .build_decoder()?;
    decoder.serialize(records)?;
    Ok(decoder
        .flush()?
        .unwrap_or_else(|| RecordBatch::new_empty(schema.clone())))
}

/// The schema of plain texts: one non-null string column `name`.
pub fn texts_schema(name: &str) -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(name, DataType::Utf8, false)]))
}

/// One batch of plain texts under [`texts_schema`].
pub fn texts_batch(schema: &SchemaRef, texts: &[&str]) -> Result<RecordBatch> {
    let column: ArrayRef = Arc::new(StringArray::from_iter_values(texts.iter().copied()));
    Ok(RecordBatch::try_new(schema.clone(), vec![column])?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, Float64Array, Int64Array};
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test records are objects"),
        }
    }

    #[test]
    fn records_keep_their_fields_with_types_inferred_over_all_rows() {
        let rows = [
            object(json!({"id": 1, "text": "heart attack", "score": 1})),
            object(json!({"id": 2, "text": "fever", "score": 0.5, "note": "x"})),
            object(json!({"id": 3, "text": "cough"})),
        ];
        let refs: Vec<&Map<String, Value>> = rows.iter().collect();
        let schema = records_schema(&refs).unwrap();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names.len(), 4);
        for name in ["id", "text", "score", "note"] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        // Built in two slices under the one schema: the score column is float in both.
        let a = records_batch(&schema, &refs[..1], 0).unwrap();
        let b = records_batch(&schema, &refs[1..], 1).unwrap();
        assert_eq!((a.num_rows(), b.num_rows()), (1, 2));
        let score = a.column_by_name("score").unwrap();
        let score = score.as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!(score.value(0), 1.0);
        let id = b.column_by_name("id").unwrap();
        let id = id.as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(id.values(), &[2, 3]);
        let note = b.column_by_name("note").unwrap();
        assert!(note.is_null(1));
    }

    #[test]
    fn mixed_field_types_become_text_and_a_misfit_names_its_row() {
        let rows = [
            object(json!({"id": "A1", "text": "fever"})),
            object(json!({"id": 2, "text": "cough"})),
        ];
        let refs: Vec<&Map<String, Value>> = rows.iter().collect();
        let schema = records_schema(&refs).unwrap();
        let batch = records_batch(&schema, &refs, 0).unwrap();
        let id = batch.column_by_name("id").unwrap();
        let id = id.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!((id.value(0), id.value(1)), ("A1", "2"));

        // A list where the schema (from other records) wants text: the row is named.
        let bad = [
            object(json!({"tag": "a"})),
            object(json!({"tag": "b"})),
            object(json!({"tag": ["c"]})),
        ];
        let text_schema = records_schema(&[&bad[0]]).unwrap();
        let refs: Vec<&Map<String, Value>> = bad.iter().collect();
        let err = records_batch(&text_schema, &refs, 10).unwrap_err();
        assert!(err.to_string().starts_with("row 12:"), "{err}");
    }

    #[test]
    fn plain_texts_are_one_column() {
        let schema = texts_schema("text");
        let batch = texts_batch(&schema, &["a", "b c"]).unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.schema().field(0).name(), "text");
    }
}

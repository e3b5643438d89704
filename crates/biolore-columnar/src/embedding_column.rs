//! An embedding column (`list<float32>`, null where a row has no vector) appended to a batch.

use std::sync::Arc;

use arrow_array::{Array, Float32Array, ListArray, RecordBatch};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::{ColumnarError, Result};

fn item_field() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Float32, false))
}

/// The field of an embedding column named `name`.
pub fn embedding_field(name: &str) -> Field {
    Field::new(name, DataType::List(item_field()), true)
}

/// `input`'s schema with an embedding column `name` appended; an error if `name` is taken.
pub fn schema_with_embeddings(input: &Schema, name: &str) -> Result<SchemaRef> {
    if input.field_with_name(name).is_ok() {
        return Err(ColumnarError::ColumnExists(name.to_string()));
    }
    let mut fields: Vec<Arc<Field>> = input.fields().iter().cloned().collect();
    fields.push(Arc::new(embedding_field(name)));
    Ok(Arc::new(Schema::new_with_metadata(
        fields,
        input.metadata().clone(),
    )))
}

/// `batch` with the column `name` appended: row `i` holds `vectors[i]` (each of `dim` floats),
/// or null where it is `None`.
pub fn with_embeddings(
    batch: &RecordBatch,
    name: &str,
    vectors: &[Option<&[f32]>],
    dim: usize,
) -> Result<RecordBatch> {
    let rows = batch.num_rows();
    if vectors.len() != rows || vectors.iter().flatten().any(|v| v.len() != dim) {
        return Err(ColumnarError::Shape {
            vectors: vectors.len(),
            dim,
            rows,
        });
    }
    let mut values = Vec::with_capacity(vectors.iter().flatten().count() * dim);
    let mut lengths = Vec::with_capacity(rows);
    for v in vectors {
        match v {
            Some(v) => {
                values.extend_from_slice(v);
                lengths.push(dim);
            }
            None => lengths.push(0),
        }
    }
    let nulls = vectors
        .iter()
        .any(Option::is_none)
        .then(|| NullBuffer::from_iter(vectors.iter().map(Option::is_some)));
    let list = ListArray::try_new(
        item_field(),
        OffsetBuffer::from_lengths(lengths),
        Arc::new(Float32Array::from(values)),
        nulls,
    )?;
    let schema = schema_with_embeddings(&batch.schema(), name)?;
    let mut columns: Vec<Arc<dyn Array>> = batch.columns().to_vec();
    columns.push(Arc::new(list));
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// The vectors of column `name` of `batch` (`list`, `large_list` or `fixed_size_list` of float32
/// or float64, as Spark, Ray, pandas and biolore write them), one per row, `None` where null.
pub fn embedding_rows(batch: &RecordBatch, name: &str) -> Result<Vec<Option<Vec<f32>>>> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float32Type, Float64Type};
    let Some(column) = batch.column_by_name(name) else {
        return Err(crate::text_column::missing_column(&batch.schema(), name));
    };
    let not_vectors = || ColumnarError::NotVectors {
        field: name.to_string(),
        data_type: column.data_type().to_string(),
    };
    let floats = |values: &dyn Array| -> Result<Vec<f32>> {
        match values.data_type() {
            DataType::Float32 => Ok(values.as_primitive::<Float32Type>().values().to_vec()),
            DataType::Float64 => Ok(values
                .as_primitive::<Float64Type>()
                .values()
                .iter()
                .map(|&x| x as f32)
                .collect()),
            _ => Err(not_vectors()),
        }
    };
    let rows: Vec<Option<std::sync::Arc<dyn Array>>> = match column.data_type() {
        DataType::List(_) => column.as_list::<i32>().iter().collect(),
        DataType::LargeList(_) => column.as_list::<i64>().iter().collect(),
        DataType::FixedSizeList(_, _) => column.as_fixed_size_list().iter().collect(),
        _ => return Err(not_vectors()),
    };
    rows.into_iter()
        .map(|row| row.map(|values| floats(values.as_ref())).transpose())
        .collect()
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float32Type;
    use arrow_array::StringArray;

    use super::*;

    #[test]
    fn vectors_and_nulls_land_in_their_rows() {
        let batch = RecordBatch::try_from_iter([(
            "text",
            Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])) as Arc<dyn Array>,
        )])
        .unwrap();
        let (a, c) = ([1.0f32, 2.0], [3.0f32, 4.0]);
        let out = with_embeddings(&batch, "embedding", &[Some(&a), None, Some(&c)], 2).unwrap();
        assert_eq!(out.num_columns(), 2);
        let list = out.column(1).as_list::<i32>();
        assert!(list.is_null(1) && list.is_valid(0));
        let row2 = list.value(2);
        assert_eq!(row2.as_primitive::<Float32Type>().values(), &[3.0, 4.0]);
        let e = with_embeddings(&out, "embedding", &[Some(&a), None, Some(&c)], 2).unwrap_err();
        assert!(matches!(e, ColumnarError::ColumnExists(_)), "{e}");
        let e = with_embeddings(&batch, "v", &[Some(&a)], 2).unwrap_err();
        assert!(matches!(e, ColumnarError::Shape { .. }), "{e}");
        // Read back: the rows and the null as written; a text column is not vectors.
        let rows = embedding_rows(&out, "embedding").unwrap();
        assert_eq!(rows, vec![Some(a.to_vec()), None, Some(c.to_vec())]);
        let e = embedding_rows(&out, "text").unwrap_err();
        assert!(matches!(e, ColumnarError::NotVectors { .. }), "{e}");
        assert!(embedding_rows(&out, "nope").is_err());
    }
}

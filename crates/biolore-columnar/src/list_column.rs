//! A nullable `list<item>` column appended to a batch: the shape the `candidates` and
//! `relations` columns share (one list of structs per row, null where a row has none).

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, ListArray, RecordBatch};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Field, Schema};

use crate::{ColumnarError, Result};

/// `input`'s schema with a nullable `list<item>` column `name` appended; an error if `name` is taken.
pub fn schema_with_list(input: &Schema, name: &str, item: Arc<Field>) -> Result<Arc<Schema>> {
    if input.field_with_name(name).is_ok() {
        return Err(ColumnarError::ColumnExists(name.to_string()));
    }
    let mut fields: Vec<Arc<Field>> = input.fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(
        name,
        DataType::List(item.clone()),
        true,
    )));
    Ok(Arc::new(Schema::new_with_metadata(
        fields,
        input.metadata().clone(),
    )))
}

/// `batch` with the list column `name` appended: row `i` holds the next `rows[i].len()` values
/// of `items` (all rows' values, in row order), or null where `rows[i]` is `None`.
pub fn append_list<T>(
    batch: &RecordBatch,
    name: &str,
    item: Arc<Field>,
    items: ArrayRef,
    rows: &[Option<Vec<T>>],
) -> Result<RecordBatch> {
    if rows.len() != batch.num_rows() {
        return Err(ColumnarError::Rows {
            given: rows.len(),
            rows: batch.num_rows(),
        });
    }
    let schema = schema_with_list(&batch.schema(), name, item.clone())?;
    let lengths = rows.iter().map(|r| r.as_ref().map_or(0, Vec::len));
    let nulls = rows
        .iter()
        .any(Option::is_none)
        .then(|| NullBuffer::from_iter(rows.iter().map(Option::is_some)));
    let list = ListArray::try_new(item, OffsetBuffer::from_lengths(lengths), items, nulls)?;
    let mut columns: Vec<Arc<dyn Array>> = batch.columns().to_vec();
    columns.push(Arc::new(list));
    Ok(RecordBatch::try_new(schema, columns)?)
}

//! A candidates column (`list<struct<id, name, matched: string, score: float32>>`, null where a
//! row was not linked) appended to a batch.

use std::sync::Arc;

use arrow_array::{Array, Float32Array, RecordBatch, StringArray, StructArray};
use arrow_schema::{DataType, Field, Fields, Schema};

use crate::Result;

/// One ranked concept of a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CandidateCell<'a> {
    /// Concept id.
    pub id: &'a str,
    /// The concept's preferred name.
    pub name: &'a str,
    /// The name or synonym that matched.
    pub matched: &'a str,
    /// Cosine similarity.
    pub score: f32,
}

fn struct_fields() -> Fields {
    Fields::from(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("matched", DataType::Utf8, false),
        Field::new("score", DataType::Float32, false),
    ])
}

fn item_field() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Struct(struct_fields()), false))
}

/// `batch` with the column `name` appended: row `i` holds `rows[i]`'s candidates in rank
/// order, or null where it is `None`.
pub fn with_candidates(
    batch: &RecordBatch,
    name: &str,
    rows: &[Option<Vec<CandidateCell<'_>>>],
) -> Result<RecordBatch> {
    let cells: Vec<&CandidateCell> = rows.iter().flatten().flatten().collect();
    let strings = |f: for<'c> fn(&'c CandidateCell<'_>) -> &'c str| -> Arc<dyn Array> {
        Arc::new(StringArray::from_iter_values(cells.iter().map(|c| f(c))))
    };
    let items = StructArray::try_new(
        struct_fields(),
        vec![
            strings(|c| c.id),
            strings(|c| c.name),
            strings(|c| c.matched),
            Arc::new(Float32Array::from_iter_values(
                cells.iter().map(|c| c.score),
            )),
        ],
        None,
    )?;
    crate::list_column::append_list(batch, name, item_field(), Arc::new(items), rows)
}

/// The schema [`with_candidates`] gives a batch of schema `input`.
pub fn schema_with_candidates(input: &Schema, name: &str) -> Result<Arc<Schema>> {
    crate::list_column::schema_with_list(input, name, item_field())
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray;

    use super::*;

    #[test]
    fn candidates_land_in_rank_order_with_nulls() {
        let batch = RecordBatch::try_from_iter([(
            "mention",
            Arc::new(StringArray::from(vec![Some("WD"), None])) as Arc<dyn Array>,
        )])
        .unwrap();
        let a = CandidateCell {
            id: "MESH:D006527",
            name: "Hepatolenticular Degeneration",
            matched: "Wilson Disease",
            score: 0.9,
        };
        let b = CandidateCell {
            score: 0.5,
            id: "MESH:D1",
            ..a
        };
        let out = with_candidates(&batch, "candidates", &[Some(vec![a, b]), None]).unwrap();
        assert_eq!(
            out.schema().as_ref(),
            schema_with_candidates(&batch.schema(), "candidates")
                .unwrap()
                .as_ref()
        );
        let list = out.column(1).as_list::<i32>();
        assert!(list.is_null(1));
        let first = list.value(0);
        let first = first.as_struct();
        assert_eq!(first.column(0).as_string::<i32>().value(1), "MESH:D1");
        assert_eq!(
            first.column(2).as_string::<i32>().value(0),
            "Wilson Disease"
        );
    }
}

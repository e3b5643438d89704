//! A relations column — `list<struct<drug, effect: struct<start, end: int64, text: string>,
//! score: float32, drug_concept, effect_concept: string>>`, null where a row had no text —
//! appended to a batch (what `biolore extract` writes for a Parquet input).

use std::sync::Arc;

use arrow_array::{Float32Array, Int64Array, RecordBatch, StringArray, StructArray};
use arrow_schema::{DataType, Field, Fields, Schema};

use crate::Result;

/// A span of a row's text, in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanCell<'a> {
    /// First character.
    pub start: usize,
    /// One past the last character.
    pub end: usize,
    /// The span's text.
    pub text: &'a str,
}

/// One (drug, adverse effect) relation of a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelationCell<'a> {
    /// The drug.
    pub drug: SpanCell<'a>,
    /// The adverse effect.
    pub effect: SpanCell<'a>,
    /// The model's confidence.
    pub score: Option<f32>,
    /// The drug's linked concept id.
    pub drug_concept: Option<&'a str>,
    /// The effect's linked concept id.
    pub effect_concept: Option<&'a str>,
}

fn span_fields() -> Fields {
    Fields::from(vec![
        Field::new("start", DataType::Int64, false),
        Field::new("end", DataType::Int64, false),
        Field::new("text", DataType::Utf8, false),
    ])
}

fn relation_fields() -> Fields {
    Fields::from(vec![
        Field::new("drug", DataType::Struct(span_fields()), false),
        Field::new("effect", DataType::Struct(span_fields()), false),
        Field::new("score", DataType::Float32, true),
        Field::new("drug_concept", DataType::Utf8, true),
        Field::new("effect_concept", DataType::Utf8, true),
    ])
}

fn item_field() -> Arc<Field> {
    Arc::new(Field::new(
        "item",
        DataType::Struct(relation_fields()),
        false,
    ))
}

fn spans(cells: &[&SpanCell<'_>]) -> Result<StructArray> {
    Ok(StructArray::try_new(
        span_fields(),
        vec![
            Arc::new(Int64Array::from_iter_values(
                cells.iter().map(|s| s.start as i64),
            )),
            Arc::new(Int64Array::from_iter_values(
                cells.iter().map(|s| s.end as i64),
            )),
            Arc::new(StringArray::from_iter_values(cells.iter().map(|s| s.text))),
        ],
        None,
    )?)
}

/// `batch` with the column `name` appended: row `i` holds `rows[i]`'s relations, or null where
/// it is `None`.
pub fn with_relations(
    batch: &RecordBatch,
    name: &str,
    rows: &[Option<Vec<RelationCell<'_>>>],
) -> Result<RecordBatch> {
    let cells: Vec<&RelationCell> = rows.iter().flatten().flatten().collect();
    let drugs: Vec<&SpanCell> = cells.iter().map(|c| &c.drug).collect();
    let effects: Vec<&SpanCell> = cells.iter().map(|c| &c.effect).collect();
    let items = StructArray::try_new(
        relation_fields(),
        vec![
            Arc::new(spans(&drugs)?),
            Arc::new(spans(&effects)?),
            Arc::new(Float32Array::from_iter(cells.iter().map(|c| c.score))),
            Arc::new(StringArray::from_iter(cells.iter().map(|c| c.drug_concept))),
            Arc::new(StringArray::from_iter(
                cells.iter().map(|c| c.effect_concept),
            )),
        ],
        None,
    )?;
    crate::list_column::append_list(batch, name, item_field(), Arc::new(items), rows)
}

/// The schema [`with_relations`] gives a batch of schema `input`.
pub fn schema_with_relations(input: &Schema, name: &str) -> Result<Arc<Schema>> {
    crate::list_column::schema_with_list(input, name, item_field())
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;

    use super::*;
    use crate::ColumnarError;
    use arrow_array::Array;

    #[test]
    fn relations_and_nulls_land_in_their_rows() {
        let batch = RecordBatch::try_from_iter([(
            "text",
            Arc::new(StringArray::from(vec![
                Some("aspirin caused rash"),
                None,
                Some("no drug here"),
            ])) as Arc<dyn Array>,
        )])
        .unwrap();
        let r = RelationCell {
            drug: SpanCell {
                start: 0,
                end: 7,
                text: "aspirin",
            },
            effect: SpanCell {
                start: 15,
                end: 19,
                text: "rash",
            },
            score: Some(0.9),
            drug_concept: None,
            effect_concept: Some("MESH:D005076"),
        };
        let out =
            with_relations(&batch, "relations", &[Some(vec![r]), None, Some(vec![])]).unwrap();
        let list = out.column(1).as_list::<i32>();
        assert!(list.is_valid(0) && list.is_null(1) && list.is_valid(2));
        assert_eq!((list.value(0).len(), list.value(2).len()), (1, 0));
        let first = list.value(0);
        let item = first.as_struct();
        let effect = item.column_by_name("effect").unwrap().as_struct();
        assert_eq!(effect.column(0).as_primitive::<Int64Type>().value(0), 15);
        assert_eq!(effect.column(2).as_string::<i32>().value(0), "rash");
        let concepts = item
            .column_by_name("effect_concept")
            .unwrap()
            .as_string::<i32>();
        assert_eq!(concepts.value(0), "MESH:D005076");
        assert!(item.column_by_name("drug_concept").unwrap().is_null(0));
        let e = with_relations(&out, "relations", &[None, None, None]).unwrap_err();
        assert!(matches!(e, ColumnarError::ColumnExists(_)), "{e}");
        assert!(with_relations(&batch, "r", &[None]).is_err());
    }
}

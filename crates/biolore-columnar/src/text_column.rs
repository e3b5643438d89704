//! The texts of one column of a record batch: strings (any offset width, views) or UTF-8
//! bytes, with nulls and invalid UTF-8 reported by row.

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema};

use crate::{ColumnarError, Result};

/// What a null text becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NullText {
    /// An error naming the row (the default).
    #[default]
    Error,
    /// `None`: the caller writes a null output and counts it.
    Skip,
}

/// The error for a column `field` that `schema` lacks, naming the columns there are.
pub(crate) fn missing_column(schema: &Schema, field: &str) -> ColumnarError {
    ColumnarError::NoColumn {
        field: field.to_string(),
        available: schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Checks that `schema` has a column `field` (before any work starts).
pub fn require_column(schema: &Schema, field: &str) -> Result<()> {
    match schema.field_with_name(field) {
        Ok(_) => Ok(()),
        Err(_) => Err(missing_column(schema, field)),
    }
}

/// The texts of column `field` of `batch`; `first_row` is the batch's first row in the whole
/// input (for messages). A null is an error or `None`, as `nulls` says.
pub fn text_column<'a>(
    batch: &'a RecordBatch,
    field: &str,
    first_row: u64,
    nulls: NullText,
) -> Result<Vec<Option<&'a str>>> {
    let Some(column) = batch.column_by_name(field) else {
        return Err(missing_column(&batch.schema(), field));
    };
    let n = column.len();
    let raw: Vec<Option<&[u8]>> = match column.data_type() {
        DataType::Utf8 => iter_bytes(
            column
                .as_string::<i32>()
                .iter()
                .map(|s| s.map(str::as_bytes)),
        ),
        DataType::LargeUtf8 => iter_bytes(
            column
                .as_string::<i64>()
                .iter()
                .map(|s| s.map(str::as_bytes)),
        ),
        DataType::Utf8View => {
            iter_bytes(column.as_string_view().iter().map(|s| s.map(str::as_bytes)))
        }
        DataType::Binary => iter_bytes(column.as_binary::<i32>().iter()),
        DataType::LargeBinary => iter_bytes(column.as_binary::<i64>().iter()),
        DataType::BinaryView => iter_bytes(column.as_binary_view().iter()),
        other => {
            return Err(ColumnarError::NotText {
                field: field.to_string(),
                data_type: other.to_string(),
            })
        }
    };
    debug_assert_eq!(raw.len(), n);
    raw.into_iter()
        .enumerate()
        .map(|(i, bytes)| {
            let row = first_row + i as u64;
            match bytes {
                None => match nulls {
                    NullText::Error => Err(ColumnarError::NullText {
                        field: field.to_string(),
                        row,
                    }),
                    NullText::Skip => Ok(None),
                },
                Some(b) => {
                    std::str::from_utf8(b)
                        .map(Some)
                        .map_err(|e| ColumnarError::InvalidUtf8 {
                            field: field.to_string(),
                            row,
                            detail: e.to_string(),
                        })
                }
            }
        })
        .collect()
}

fn iter_bytes<'a>(values: impl Iterator<Item = Option<&'a [u8]>>) -> Vec<Option<&'a [u8]>> {
    values.collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{BinaryArray, Int32Array, LargeStringArray, StringArray};

    use super::*;

    fn batch(column: Arc<dyn Array>) -> RecordBatch {
        RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(Int32Array::from(vec![1, 2, 3])) as Arc<dyn Array>,
            ),
            ("text", column),
        ])
        .unwrap()
    }

    #[test]
    fn strings_of_every_width_are_read() {
        let b = batch(Arc::new(StringArray::from(vec!["a", "b", "c"])));
        let t = text_column(&b, "text", 0, NullText::Error).unwrap();
        assert_eq!(t, vec![Some("a"), Some("b"), Some("c")]);
        let b = batch(Arc::new(LargeStringArray::from(vec!["x", "y", "z"])));
        assert_eq!(
            text_column(&b, "text", 0, NullText::Error).unwrap()[2],
            Some("z")
        );
    }

    #[test]
    fn nulls_are_errors_naming_the_row_or_skipped() {
        let b = batch(Arc::new(StringArray::from(vec![
            Some("a"),
            None,
            Some("c"),
        ])));
        let e = text_column(&b, "text", 100, NullText::Error).unwrap_err();
        assert!(e.to_string().contains("row 101"), "{e}");
        let t = text_column(&b, "text", 100, NullText::Skip).unwrap();
        assert_eq!(t, vec![Some("a"), None, Some("c")]);
    }

    #[test]
    fn invalid_utf8_bytes_name_the_row() {
        let b = batch(Arc::new(BinaryArray::from(vec![
            b"ok".as_slice(),
            b"also ok".as_slice(),
            b"\xff\xfe".as_slice(),
        ])));
        let e = text_column(&b, "text", 10, NullText::Skip).unwrap_err();
        assert!(
            e.to_string().contains("row 12") && e.to_string().contains("UTF-8"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_or_numeric_column_is_named() {
        let b = batch(Arc::new(StringArray::from(vec!["a", "b", "c"])));
        let e = text_column(&b, "body", 0, NullText::Error).unwrap_err();
        assert!(e.to_string().contains("id, text"), "{e}");
        let e = text_column(&b, "id", 0, NullText::Error).unwrap_err();
        assert!(e.to_string().contains("Int32"), "{e}");
    }
}

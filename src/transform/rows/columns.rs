//! A table's builder set, declared once: the `columns!` macro writes the struct (one Arrow
//! builder per column, in the schema's column order) and its [`ColumnSet`] impl, so that the
//! column list is not written out three times (fields, `new`, `finish`) for every table.

use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Date32Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};

use crate::transform::schema;

/// A group of column builders appended to together.
pub(super) trait ColumnSet {
    /// The columns' names, as declared (a table's set declares its schema's names).
    #[cfg(test)]
    const COLUMNS: &'static [&'static str];
    /// Every builder empty.
    fn new() -> Self;
    /// Rows appended since the last [`ColumnSet::finish`] (every column has as many).
    fn rows(&self) -> usize;
    /// The columns, in the schema's order; the builders start over.
    fn finish(&mut self) -> Vec<ArrayRef>;
}

/// A column builder that starts empty as its column's type wants.
pub(super) trait NewColumn: ArrayBuilder {
    /// An empty builder.
    fn empty() -> Self;
}

impl NewColumn for StringBuilder {
    fn empty() -> Self {
        StringBuilder::new()
    }
}

impl NewColumn for Int64Builder {
    fn empty() -> Self {
        Int64Builder::new()
    }
}

impl NewColumn for BooleanBuilder {
    fn empty() -> Self {
        BooleanBuilder::new()
    }
}

impl NewColumn for Date32Builder {
    fn empty() -> Self {
        Date32Builder::new()
    }
}

impl NewColumn for TimestampMicrosecondBuilder {
    fn empty() -> Self {
        ts_builder()
    }
}

impl NewColumn for ListBuilder<StringBuilder> {
    fn empty() -> Self {
        list_builder()
    }
}

/// A builder for a timestamp column (`Timestamp(Microsecond, "UTC")`).
pub(super) fn ts_builder() -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::new().with_timezone(schema::UTC)
}

/// A builder for a `List<Utf8>` column with the `item` field.
pub(super) fn list_builder() -> ListBuilder<StringBuilder> {
    ListBuilder::new(StringBuilder::new()).with_field(Arc::new(schema::list_item_field()))
}

/// A builder's column so far; the builder starts over.
#[inline]
pub(super) fn fin(b: &mut dyn ArrayBuilder) -> ArrayRef {
    b.finish()
}

/// Declares a builder set: `struct Name { column: Builder, … }` with one field per column in
/// the schema's column order (the first one counts the rows), and its [`ColumnSet`] impl.
macro_rules! columns {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(#[$first_meta:meta])* $first:ident: $first_ty:ty,
            $($(#[$field_meta:meta])* $field:ident: $ty:ty,)*
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $(#[$first_meta])* $first: $first_ty,
            $($(#[$field_meta])* $field: $ty,)*
        }

        impl $crate::transform::rows::columns::ColumnSet for $name {
            #[cfg(test)]
            const COLUMNS: &'static [&'static str] =
                &[stringify!($first), $(stringify!($field),)*];

            fn new() -> Self {
                use $crate::transform::rows::columns::NewColumn;
                $name {
                    $first: <$first_ty as NewColumn>::empty(),
                    $($field: <$ty as NewColumn>::empty(),)*
                }
            }

            fn rows(&self) -> usize {
                arrow_array::builder::ArrayBuilder::len(&self.$first)
            }

            fn finish(&mut self) -> Vec<arrow_array::ArrayRef> {
                use $crate::transform::rows::columns::fin;
                vec![fin(&mut self.$first), $(fin(&mut self.$field),)*]
            }
        }
    };
}
pub(super) use columns;

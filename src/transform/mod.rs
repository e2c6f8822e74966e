//! Raw issue JSON → Parquet tables.
pub mod adf;
pub mod fields;
pub mod rows;
pub mod schema;

//! Raw issue JSON → Parquet tables.
pub mod adf;

//! The field catalogue: what `GET /rest/api/3/field` says about each field id.
//!
//! # Why
//! An issue's `fields` object is keyed by ids (`customfield_10100`), which mean nothing to an
//! analyst and say nothing about the value's type. The catalogue supplies the three things
//! the transform needs and the issue JSON lacks:
//! - the human-readable **name**, which keys `custom_fields` (docs/tables.md);
//! - whether a field is a JSM **SLA** field (`schema.custom ==
//!   "com.atlassian.servicedesk:sd-sla-field"`), the source of the SLA columns
//!   and rows when the JSM overlay is absent, and never part of `custom_fields`;
//! - the **column kind** of a `[fields]` mapping, which fixes its Arrow type in the schema
//!   (option → value, user → display name, number → DOUBLE,
//!   date → DATE, datetime → TIMESTAMP, array → `LIST<STRING>`, anything else → text).
//!
//! The kind comes from the catalogue, not from a value, so that a column's type never depends
//! on which issues a month file holds. The catalogue is read leniently: an entry without an
//! `id` is skipped, a missing `name`/`schema` only loses that piece, and an unknown field is
//! treated as JSON text; a broken catalogue degrades the `custom_fields` keys, never the run.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::config::SlaNames;

/// The state's `meta` row caching the answer of `GET /rest/api/3/field` (refreshed at most
/// daily when a command starts).
pub(crate) const CATALOG_META: &str = "field_catalog";

/// `schema.custom` of a JSM SLA field.
pub(crate) const SLA_FIELD_TYPE: &str = "com.atlassian.servicedesk:sd-sla-field";

/// `schema.custom` of Jira Software's sprint field (the `sprint` column of `issues`).
pub(crate) const SPRINT_FIELD_TYPE: &str = "com.pyxis.greenhopper.jira:gh-sprint";

/// `schema.type` that some Jira versions give SLA fields (accepted as well).
const SLA_SCHEMA_TYPE: &str = "sd-servicelevelagreement";

/// How a `[fields]` column is typed and what of the value it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    /// `schema.type == "option"`: the option's `value` (Utf8).
    Option,
    /// `schema.type == "user"`: the user's `displayName` (Utf8).
    User,
    /// `schema.type == "number"`: Float64.
    Number,
    /// `schema.type == "date"` (`YYYY-MM-DD`): Date32.
    Date,
    /// `schema.type == "datetime"`: Timestamp(µs, UTC).
    DateTime,
    /// `schema.type == "array"`: `List<Utf8>` of element strings (a string as is, an object
    /// by its `value`, else `displayName`, else `name`, else its JSON text).
    Array,
    /// `schema.type == "string"`: Utf8 text (a textarea's ADF document becomes plain text).
    String,
    /// Anything else, or a field unknown to the catalogue: JSON text (a plain string is kept
    /// as text, an ADF document becomes plain text).
    Json,
}

impl ColumnKind {
    /// The kind for a catalogue `schema.type`.
    fn from_schema_type(ty: Option<&str>) -> ColumnKind {
        match ty {
            Some("option") => ColumnKind::Option,
            Some("user") => ColumnKind::User,
            Some("number") => ColumnKind::Number,
            Some("date") => ColumnKind::Date,
            Some("datetime") => ColumnKind::DateTime,
            Some("array") => ColumnKind::Array,
            Some("string") => ColumnKind::String,
            _ => ColumnKind::Json,
        }
    }
}

/// What the catalogue knows about one field.
#[derive(Clone, Debug, PartialEq)]
struct FieldInfo {
    name: Option<String>,
    custom: bool,
    sla: bool,
    sprint: bool,
    kind: ColumnKind,
}

/// The field catalogue, keyed by field id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldCatalog {
    by_id: HashMap<String, FieldInfo>,
}

impl FieldCatalog {
    /// Reads the answer of `GET /rest/api/3/field`: an array of `{id, name, custom,
    /// schema{type, items?, custom?, system?}}`. A paged `{values: [...]}` answer
    /// (`/field/search`) is accepted too. Tolerant: entries without a string `id` are skipped,
    /// missing parts only lose what they would have said, anything else gives an empty
    /// catalogue. The first entry of a repeated id wins.
    pub fn from_json(fields: &Value) -> FieldCatalog {
        let entries = match fields {
            Value::Array(a) => a.as_slice(),
            Value::Object(o) => o
                .get("values")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice),
            _ => &[],
        };
        let mut by_id = HashMap::with_capacity(entries.len());
        for entry in entries {
            let Some(id) = entry.get("id").and_then(Value::as_str) else {
                continue;
            };
            if id.is_empty() || by_id.contains_key(id) {
                continue;
            }
            let schema = entry.get("schema");
            let schema_str = |k: &str| schema.and_then(|s| s.get(k)).and_then(Value::as_str);
            let sla = schema_str("custom") == Some(SLA_FIELD_TYPE)
                || schema_str("type") == Some(SLA_SCHEMA_TYPE);
            let sprint = schema_str("custom") == Some(SPRINT_FIELD_TYPE);
            let custom = entry
                .get("custom")
                .and_then(Value::as_bool)
                .unwrap_or_else(|| is_custom_id(id));
            let kind = if sla {
                ColumnKind::Json
            } else {
                ColumnKind::from_schema_type(schema_str("type"))
            };
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.trim().is_empty())
                .map(str::to_owned);
            by_id.insert(
                id.to_owned(),
                FieldInfo {
                    name,
                    custom,
                    sla,
                    sprint,
                    kind,
                },
            );
        }
        FieldCatalog { by_id }
    }

    /// A catalogue that knows no field: names fall back to ids, every `[fields]` column is
    /// JSON text, SLA fields are recognised only by their shape.
    pub fn empty() -> FieldCatalog {
        FieldCatalog::default()
    }

    /// Number of fields known.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no field is known.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Whether the catalogue has an entry for `id`.
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// The human-readable name of field `id` (`Severity`), if known.
    pub fn name(&self, id: &str) -> Option<&str> {
        self.by_id.get(id)?.name.as_deref()
    }

    /// Whether field `id` is a JSM SLA field (`schema.custom ==
    /// "com.atlassian.servicedesk:sd-sla-field"`, or `schema.type ==
    /// "sd-servicelevelagreement"`).
    pub fn is_sla(&self, id: &str) -> bool {
        self.by_id.get(id).is_some_and(|f| f.sla)
    }

    /// Ids of Jira Software's sprint fields (`schema.custom ==
    /// "com.pyxis.greenhopper.jira:gh-sprint"`), sorted; usually one.
    pub(crate) fn sprint_fields(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .by_id
            .iter()
            .filter(|(_, f)| f.sprint)
            .map(|(id, _)| id.as_str())
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Whether field `id` is a custom field: the catalogue's `custom` flag, or for an unknown
    /// field (or an entry without the flag) an id of the form `customfield_N`.
    pub fn is_custom(&self, id: &str) -> bool {
        self.by_id
            .get(id)
            .map_or_else(|| is_custom_id(id), |f| f.custom)
    }

    /// How a `[fields]` column for field `id` is typed; [`ColumnKind::Json`] for an unknown
    /// field and for SLA fields.
    pub(crate) fn column_kind(&self, id: &str) -> ColumnKind {
        self.by_id.get(id).map_or(ColumnKind::Json, |f| f.kind)
    }

    /// Every custom field known: `(id, name, is_sla)`, in no particular order.
    pub(crate) fn custom_fields(&self) -> impl Iterator<Item = (&str, Option<&str>, bool)> {
        self.by_id
            .iter()
            .filter(|(_, f)| f.custom)
            .map(|(id, f)| (id.as_str(), f.name.as_deref(), f.sla))
    }
}

/// `customfield_` followed by at least one character: how Jira names custom field ids.
pub(crate) fn is_custom_id(id: &str) -> bool {
    id.len() > "customfield_".len() && id.starts_with("customfield_")
}

/// What the schemas and row builders need besides the issue (here, below both, so neither
/// depends on the other for it): the field catalogue, the `[fields]`
/// mappings and the `[sla]` names.
#[derive(Clone, Debug)]
pub struct RowContext {
    /// The answer of `GET /rest/api/3/field` (names, SLA fields, column kinds).
    pub catalog: FieldCatalog,
    /// `[fields]`: custom field id → column name in `issues`.
    pub fields: BTreeMap<String, String>,
    /// `[sla]`: which SLAs feed the `first_response_*` / `time_to_resolution_*` columns.
    pub sla: SlaNames,
}

impl RowContext {
    /// A context from its three parts.
    pub fn new(catalog: FieldCatalog, fields: BTreeMap<String, String>, sla: SlaNames) -> Self {
        RowContext {
            catalog,
            fields,
            sla,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn simulator_catalog() -> FieldCatalog {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/rows/fields.json"
        ))
        .unwrap();
        FieldCatalog::from_json(&serde_json::from_str(&text).unwrap())
    }

    #[test]
    fn reads_the_simulator_catalogue() {
        let c = simulator_catalog();
        assert_eq!(c.len(), 52);
        assert_eq!(c.name("customfield_10100"), Some("Severity"));
        assert_eq!(c.name("summary"), Some("Summary"));
        assert!(c.is_sla("customfield_10030") && c.is_sla("customfield_10031"));
        assert!(!c.is_sla("customfield_10100") && !c.is_sla("nope"));
        assert!(c.is_custom("customfield_10100") && !c.is_custom("summary"));
        let kinds = [
            ("customfield_10100", ColumnKind::Option),
            ("customfield_10200", ColumnKind::Number),
            ("customfield_10300", ColumnKind::String),
            ("customfield_10301", ColumnKind::Option),
            ("customfield_10400", ColumnKind::Date),
            ("customfield_10401", ColumnKind::DateTime),
            ("customfield_10500", ColumnKind::Array),
            ("customfield_10600", ColumnKind::Array),
            ("customfield_10700", ColumnKind::String),
            ("customfield_10030", ColumnKind::Json),
            ("assignee", ColumnKind::User),
            ("customfield_99999", ColumnKind::Json),
        ];
        for (id, kind) in kinds {
            assert_eq!(c.column_kind(id), kind, "{id}");
        }
        assert_eq!(c.custom_fields().count(), 11);
    }

    #[test]
    fn tolerates_missing_parts_and_garbage() {
        let c = FieldCatalog::from_json(&json!([
            {"id": "customfield_1"},
            {"name": "no id"},
            {"id": 5, "name": "numeric id"},
            {"id": "customfield_2", "name": "  ", "schema": {"type": "user"}},
            {"id": "customfield_3", "name": "Other", "custom": false, "schema": "odd"},
            {"id": "customfield_4", "name": "SLA", "schema": {"type": "sd-servicelevelagreement"}},
            {"id": "customfield_1", "name": "later duplicate"},
            "not an object",
        ]));
        assert_eq!(c.len(), 4);
        assert_eq!(c.name("customfield_1"), None);
        assert_eq!(c.name("customfield_2"), None, "blank names are no names");
        assert_eq!(c.column_kind("customfield_2"), ColumnKind::User);
        assert_eq!(c.column_kind("customfield_1"), ColumnKind::Json);
        assert!(c.is_custom("customfield_1"), "custom by its id");
        assert!(!c.is_custom("customfield_3"), "the catalogue's flag wins");
        assert!(c.is_sla("customfield_4"));
        assert!(c.is_custom("customfield_77") && !c.is_custom("customfield_"));
        assert!(FieldCatalog::from_json(&json!({"oops": 1})).is_empty());
        assert!(FieldCatalog::from_json(&Value::Null).is_empty());
        let paged = FieldCatalog::from_json(&json!({"values": [{"id": "x", "name": "X"}]}));
        assert_eq!(paged.name("x"), Some("X"));
        assert!(FieldCatalog::empty().is_empty());
    }
}

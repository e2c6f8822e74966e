//! The reference tables: `projects`, `users`, `statuses`, `priorities`, `fields`.
//!
//! Analysts join the issue tables to these (a project's type, a user's e-mail, a status's
//! category, a priority's order, a custom field's name). Each is one file,
//! `parquet/<name>/<name>.parquet`, rewritten atomically (and copied to the distribution
//! folder) when refreshed: at most daily, by the first writing command after a day has
//! passed and by the daemon's daily reconcile (`refresh_if_stale`). A table Jira refuses
//! (the account may not browse users, say) keeps its previous file and is named in a
//! warning; the others are written all the same. Only wrong credentials stop the refresh.
//!
//! Each table has an explicit schema (like the monthly tables, docs/tables.md): a column is
//! read from one JSON path of the item, typed `VARCHAR`, `BIGINT` (Jira's numeric-string ids
//! too) or `BOOLEAN`; anything of another shape is null.

use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use serde_json::Value;

use super::fields::SLA_FIELD_TYPE;
use super::parquet::{self, MonthStore};
use crate::jira::{self, JiraClient};
use crate::state::{self, State};

/// How a column reads an item.
#[derive(Clone, Copy, Debug)]
enum Get {
    /// A string at this path.
    Str(&'static [&'static str]),
    /// An integer (or a string of digits) at this path.
    Int(&'static [&'static str]),
    /// A boolean at this path.
    Bool(&'static [&'static str]),
    /// Whether the string at this path equals the value.
    Is(&'static [&'static str], &'static str),
    /// A user's account id (Cloud `accountId`; Data Center user `key`, else `name`).
    Account,
}

/// One reference table: its name and columns.
#[derive(Debug)]
pub(crate) struct Reference {
    /// The table's name: its folder and file under `parquet/`, its view `jira_<name>`.
    pub name: &'static str,
    columns: &'static [(&'static str, Get)],
}

/// Every reference table, in refresh order.
pub(crate) const REFERENCES: [Reference; 5] = [
    Reference {
        name: "projects",
        columns: &[
            ("project_id", Get::Int(&["id"])),
            ("project_key", Get::Str(&["key"])),
            ("name", Get::Str(&["name"])),
            ("project_type_key", Get::Str(&["projectTypeKey"])),
            (
                "is_service_desk",
                Get::Is(&["projectTypeKey"], "service_desk"),
            ),
            ("category", Get::Str(&["projectCategory", "name"])),
            ("style", Get::Str(&["style"])),
            ("simplified", Get::Bool(&["simplified"])),
            ("is_private", Get::Bool(&["isPrivate"])),
        ],
    },
    Reference {
        name: "users",
        columns: &[
            ("account_id", Get::Account),
            ("display_name", Get::Str(&["displayName"])),
            ("email_address", Get::Str(&["emailAddress"])),
            ("active", Get::Bool(&["active"])),
            ("account_type", Get::Str(&["accountType"])),
            ("time_zone", Get::Str(&["timeZone"])),
        ],
    },
    Reference {
        name: "statuses",
        columns: &[
            ("status_id", Get::Int(&["id"])),
            ("name", Get::Str(&["name"])),
            ("description", Get::Str(&["description"])),
            ("status_category", Get::Str(&["statusCategory", "name"])),
            ("status_category_key", Get::Str(&["statusCategory", "key"])),
        ],
    },
    Reference {
        name: "priorities",
        columns: &[
            ("priority_id", Get::Int(&["id"])),
            ("name", Get::Str(&["name"])),
            ("description", Get::Str(&["description"])),
            ("status_color", Get::Str(&["statusColor"])),
            ("is_default", Get::Bool(&["isDefault"])),
        ],
    },
    Reference {
        name: "fields",
        columns: &[
            ("field_id", Get::Str(&["id"])),
            ("name", Get::Str(&["name"])),
            ("custom", Get::Bool(&["custom"])),
            ("schema_type", Get::Str(&["schema", "type"])),
            ("schema_items", Get::Str(&["schema", "items"])),
            ("schema_custom", Get::Str(&["schema", "custom"])),
            ("is_sla", Get::Is(&["schema", "custom"], SLA_FIELD_TYPE)),
        ],
    },
];

/// The state's `meta` key holding when the reference tables were last refreshed (epoch ms).
const REFRESHED_META: &str = "reference_refreshed_ms";

/// How often the reference tables are refreshed.
pub(crate) const REFRESH_EVERY_MS: i64 = 24 * 3600 * 1000;

impl Reference {
    /// The Arrow schema: every column nullable.
    pub(crate) fn schema(&self) -> Arc<Schema> {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|(name, get)| {
                    let ty = match get {
                        Get::Str(_) | Get::Account => DataType::Utf8,
                        Get::Int(_) => DataType::Int64,
                        Get::Bool(_) | Get::Is(..) => DataType::Boolean,
                    };
                    Field::new(*name, ty, true)
                })
                .collect::<Vec<_>>(),
        ))
    }

    /// The rows of `items` (one per item, in Jira's order).
    pub(crate) fn batch(&self, items: &[Value]) -> RecordBatch {
        let columns: Vec<ArrayRef> = self
            .columns
            .iter()
            .map(|(_, get)| -> ArrayRef {
                match *get {
                    Get::Str(path) => Arc::new(
                        items
                            .iter()
                            .map(|i| at(i, path).and_then(Value::as_str))
                            .collect::<StringArray>(),
                    ),
                    Get::Account => Arc::new(
                        items
                            .iter()
                            .map(super::rows::account_id)
                            .collect::<StringArray>(),
                    ),
                    Get::Int(path) => Arc::new(
                        items
                            .iter()
                            .map(|i| at(i, path).and_then(int))
                            .collect::<Int64Array>(),
                    ),
                    Get::Bool(path) => Arc::new(
                        items
                            .iter()
                            .map(|i| at(i, path).and_then(Value::as_bool))
                            .collect::<BooleanArray>(),
                    ),
                    Get::Is(path, value) => Arc::new(
                        items
                            .iter()
                            .map(|i| Some(at(i, path).and_then(Value::as_str) == Some(value)))
                            .collect::<BooleanArray>(),
                    ),
                }
            })
            .collect();
        RecordBatch::try_new(self.schema(), columns)
            .unwrap_or_else(|e| panic!("the {} columns do not match the schema: {e}", self.name))
    }

    /// Everything of this table Jira lists.
    async fn fetch(&self, jira: &JiraClient) -> jira::Result<Vec<Value>> {
        match self.name {
            "projects" => jira.projects().await,
            "users" => jira.users().await,
            "statuses" => jira.statuses().await,
            "priorities" => jira.priorities().await,
            _ => jira.fields().await,
        }
    }
}

/// The field catalogue cached in the state, if it is there and readable.
fn cached_catalog(state: &State) -> Option<Vec<Value>> {
    let (json, _) = state.meta(super::fields::CATALOG_META).ok().flatten()?;
    match crate::json::from_str(&json).ok()? {
        Value::Array(items) => Some(items),
        _ => None,
    }
}

fn at<'a>(item: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(item, |v, k| v.get(*k))
}

/// An id: a JSON integer, or a string of digits (Jira's ids are strings).
fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// What a refresh did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Refreshed {
    /// Tables written, with their row counts.
    pub written: Vec<(&'static str, usize)>,
    /// Tables Jira refused or failed (their previous file is kept).
    pub failed: Vec<&'static str>,
}

/// Why a refresh stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Jira refused the credentials.
    #[error("the reference tables could not be refreshed")]
    Jira(#[from] jira::Error),
    /// A file could not be written.
    #[error("a reference table could not be written")]
    Write(#[from] parquet::Error),
    /// The state database failed.
    #[error("the reference tables' refresh time could not be recorded")]
    State(#[from] state::Error),
}

/// Refreshes every reference table when the last refresh is older than
/// [`REFRESH_EVERY_MS`] (or never happened); `None` when it was recent.
pub(crate) async fn refresh_if_stale(
    jira: &JiraClient,
    store: &MonthStore,
    state: &State,
) -> Result<Option<Refreshed>, Error> {
    let now = crate::time::now_ms();
    let last = state
        .meta(REFRESHED_META)?
        .and_then(|(value, _)| value.parse::<i64>().ok());
    if last.is_some_and(|t| now.saturating_sub(t) < REFRESH_EVERY_MS) {
        return Ok(None);
    }
    let refreshed = refresh(jira, store, state).await?;
    state.set_meta(REFRESHED_META, &now.to_string())?;
    Ok(Some(refreshed))
}

/// [`refresh_if_stale`] with its outcome logged: what was written, or why not (the next
/// run after a day tries again). Only wrong credentials come back as an error.
pub(crate) async fn refresh_when_due(
    jira: &JiraClient,
    store: &MonthStore,
    state: &State,
) -> Result<(), jira::Error> {
    match refresh_if_stale(jira, store, state).await {
        Ok(Some(r)) => tracing::info!(
            written = ?r.written,
            failed = ?r.failed,
            "Reference tables refreshed."
        ),
        Ok(None) => {}
        Err(Error::Jira(e)) if e.is_fatal() => return Err(e),
        Err(e) => {
            let cause = std::error::Error::source(&e)
                .map(ToString::to_string)
                .unwrap_or_default();
            tracing::warn!(error = %e, cause, "Reference tables not refreshed; the next run tries again.");
        }
    }
    Ok(())
}

/// Fetches and writes every reference table. A table Jira refuses or fails keeps its file.
/// The `fields` table comes from the field catalogue the state caches (every command has
/// just made sure it is at most a day old), not from a second `/field` request.
pub(crate) async fn refresh(
    jira: &JiraClient,
    store: &MonthStore,
    state: &State,
) -> Result<Refreshed, Error> {
    let mut refreshed = Refreshed::default();
    for table in &REFERENCES {
        let cached = match table.name {
            "fields" => cached_catalog(state),
            _ => None,
        };
        let fetched = match cached {
            Some(items) => Ok(items),
            None => table.fetch(jira).await,
        };
        match fetched {
            Ok(items) => {
                let items = crate::json::DeepValue::new(Value::Array(items));
                let rows = items.as_array().map_or(&[][..], Vec::as_slice);
                store.write_reference(table.name, &table.batch(rows))?;
                refreshed.written.push((table.name, rows.len()));
            }
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => {
                tracing::warn!(table = table.name, error = %e, "Reference table not refreshed; its previous file is kept.");
                refreshed.failed.push(table.name);
            }
        }
    }
    store.write_views()?;
    Ok(refreshed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_read_their_paths_and_anything_else_is_null() {
        let projects = &REFERENCES[0];
        let batch = projects.batch(&[
            json!({"id": "10000", "key": "SUP", "name": "Support", "projectTypeKey": "service_desk",
                   "projectCategory": {"name": "Customers"}, "style": "classic",
                   "simplified": false, "isPrivate": false}),
            json!({"id": 7, "key": ["not", "a", "string"], "projectTypeKey": "software"}),
            json!("not an object"),
        ]);
        assert_eq!(batch.num_rows(), 3);
        let ids = batch
            .column_by_name("project_id")
            .unwrap()
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(ids.iter().collect::<Vec<_>>(), [Some(10000), Some(7), None]);
        let keys = batch
            .column_by_name("project_key")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(keys.iter().collect::<Vec<_>>(), [Some("SUP"), None, None]);
        let desk = batch
            .column_by_name("is_service_desk")
            .unwrap()
            .as_any()
            .downcast_ref::<BooleanArray>()
            .unwrap();
        assert_eq!(
            desk.iter().collect::<Vec<_>>(),
            [Some(true), Some(false), Some(false)]
        );
        let category = batch
            .column_by_name("category")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(category.value(0), "Customers");
    }

    #[test]
    fn every_table_has_a_schema_and_builds_an_empty_batch() {
        let names: Vec<&str> = REFERENCES.iter().map(|r| r.name).collect();
        assert_eq!(names, super::super::schema::REFERENCE_TABLES);
        for r in &REFERENCES {
            let batch = r.batch(&[]);
            assert_eq!(batch.num_rows(), 0);
            assert_eq!(batch.schema(), r.schema());
            assert!(r.schema().fields().iter().all(|f| f.is_nullable()));
        }
    }
}

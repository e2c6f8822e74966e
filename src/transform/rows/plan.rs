//! The plan: what the row context says about custom fields and SLA names, worked out once per
//! builder so that appending an issue looks each field id up once.

use std::collections::HashMap;

use serde_json::Value;

use super::sla::{fold_name, looks_like_sla};
use crate::transform::fields::{ColumnKind, FieldCatalog, RowContext, is_custom_id};

/// What a custom field id means for `custom_fields` and the SLA columns.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Role {
    /// Mapped to a `[fields]` column: not in `custom_fields`.
    Mapped,
    /// An SLA field (mapped or not): an SLA source, not in `custom_fields`.
    Sla,
    /// In `custom_fields` under this key.
    Custom(Box<str>),
}

#[derive(Debug)]
pub(super) struct Plan {
    /// `[fields]` in column order: (field id, kind).
    pub(super) mapped: Vec<(Box<str>, ColumnKind)>,
    /// Every custom field the catalogue knows, plus every mapped id.
    roles: HashMap<Box<str>, Role>,
    /// The `[sla]` names, trimmed and lowercased: first response, time to resolution.
    pub(super) sla_targets: [String; 2],
    /// Jira Software's sprint fields (the `sprint` column).
    pub(super) sprint_fields: Vec<Box<str>>,
}

impl Plan {
    pub(super) fn new(ctx: &RowContext) -> Plan {
        let catalog = &ctx.catalog;
        let mapped: Vec<(Box<str>, ColumnKind)> = ctx
            .fields
            .keys()
            .map(|id| (Box::from(id.as_str()), catalog.column_kind(id)))
            .collect();
        let is_mapped = |id: &str| ctx.fields.contains_key(id);
        // Names shared by two fields that would both land in `custom_fields`.
        let mut uses: HashMap<&str, usize> = HashMap::new();
        for (id, name, sla) in catalog.custom_fields() {
            if let (Some(name), false, false) = (name, sla, is_mapped(id)) {
                *uses.entry(name).or_default() += 1;
            }
        }
        let mut roles = HashMap::new();
        for (id, name, sla) in catalog.custom_fields() {
            let role = if sla {
                Role::Sla
            } else if is_mapped(id) {
                Role::Mapped
            } else {
                Role::Custom(match name {
                    Some(n) if uses.get(n).copied().unwrap_or(0) > 1 => {
                        format!("{n} ({id})").into_boxed_str()
                    }
                    Some(n) => Box::from(n),
                    None => Box::from(id),
                })
            };
            roles.insert(Box::from(id), role);
        }
        for (id, _) in &mapped {
            roles.entry(id.clone()).or_insert(Role::Mapped);
        }
        Plan {
            mapped,
            roles,
            sprint_fields: catalog.sprint_fields().into_iter().map(Box::from).collect(),
            sla_targets: [
                fold_name(&ctx.sla.first_response).collect(),
                fold_name(&ctx.sla.time_to_resolution).collect(),
            ],
        }
    }

    /// One pass over an issue's `fields`: the entries of `custom_fields` go to `custom`, and
    /// the SLA fields' values to `slas` unless `jsm` (the overlay's values are the SLAs then).
    /// A custom field unknown to `catalog` is an SLA if it looks like one.
    pub(super) fn sort_fields<'v>(
        &'v self,
        fields: &'v Value,
        catalog: &FieldCatalog,
        jsm: bool,
        custom: &mut Vec<(&'v str, &'v Value)>,
        slas: &mut Vec<&'v Value>,
    ) {
        let Value::Object(map) = fields else {
            return;
        };
        for (id, v) in map {
            if v.is_null() {
                continue;
            }
            let is_sla = match self.roles.get(id.as_str()) {
                Some(Role::Mapped) => false,
                Some(Role::Sla) => true,
                Some(Role::Custom(key)) => {
                    custom.push((key, v));
                    false
                }
                None if is_custom_id(id) && !catalog.contains(id) => {
                    let sla = looks_like_sla(v);
                    if !sla {
                        custom.push((id, v));
                    }
                    sla
                }
                None => false,
            };
            if is_sla && !jsm {
                slas.push(v);
            }
        }
    }
}

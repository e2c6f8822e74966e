//! SLAs: the four columns per configured SLA in `issues` and the rows of the `sla` table, both
//! read from JSM SLA values (the overlay's, or the SLA custom fields').

use arrow_array::builder::{
    BooleanBuilder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use serde_json::Value;

use super::columns::columns;
use super::head::Head;
use super::values::{NULL, put_str, str_of};

/// An SLA `DateDTO`'s `epochMillis` as microseconds.
#[inline]
fn epoch_micros(date: Option<&Value>) -> Option<i64> {
    let ms = date?.get("epochMillis")?;
    ms.as_i64()
        .or_else(|| ms.as_str()?.trim().parse().ok())?
        .checked_mul(1_000)
}

/// A `DurationDTO`'s `millis`.
#[inline]
fn duration_millis(cycle: &Value, key: &str) -> Option<i64> {
    cycle.get(key)?.get("millis")?.as_i64()
}

/// Whether a value of a field unknown to the catalogue looks like a JSM SLA value.
pub(crate) fn looks_like_sla(v: &Value) -> bool {
    v.get("name").is_some_and(Value::is_string)
        && v.get("completedCycles").is_some_and(Value::is_array)
}

/// An SLA name as names are compared (`[sla]` with the SLA values'): trimmed, lowercased.
pub(super) fn fold_name(name: &str) -> impl Iterator<Item = char> + '_ {
    name.trim().chars().flat_map(char::to_lowercase)
}

columns! {
    /// The four SLA columns of `issues` for one SLA.
    pub(super) struct SlaCols {
        elapsed: Int64Builder,
        goal: Int64Builder,
        remaining: Int64Builder,
        breached: BooleanBuilder,
    }
}

impl SlaCols {
    /// The current cycle of the SLA among `slas` whose name folds to `target` (already
    /// folded), or nulls.
    pub(super) fn put(&mut self, slas: &[&Value], target: &str) {
        let sla = slas.iter().find(|s| {
            s.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| fold_name(n).eq(target.chars()))
        });
        let c = sla.and_then(|s| current_cycle(s)).unwrap_or(&NULL);
        self.elapsed
            .append_option(duration_millis(c, "elapsedTime"));
        self.goal.append_option(duration_millis(c, "goalDuration"));
        self.remaining
            .append_option(duration_millis(c, "remainingTime"));
        self.breached
            .append_option(c.get("breached").and_then(Value::as_bool));
    }
}

/// The cycle that feeds the issues columns: the ongoing one, else the latest completed one.
fn current_cycle(sla: &Value) -> Option<&Value> {
    sla.get("ongoingCycle")
        .filter(|c| c.is_object())
        .or_else(|| sla.get("completedCycles")?.as_array()?.last())
}

columns! {
    /// The `sla` table's columns: one row per SLA cycle.
    pub(super) struct SlaRowsCols {
        issue_key: StringBuilder,
        sla_name: StringBuilder,
        cycle: StringBuilder,
        start_at: TimestampMicrosecondBuilder,
        stop_at: TimestampMicrosecondBuilder,
        breach_at: TimestampMicrosecondBuilder,
        breached: BooleanBuilder,
        paused: BooleanBuilder,
        goal_millis: Int64Builder,
        elapsed_millis: Int64Builder,
        remaining_millis: Int64Builder,
    }
}

impl SlaRowsCols {
    pub(super) fn put(&mut self, h: &Head<'_>, slas: &[&Value]) {
        for sla in slas {
            let name = str_of(sla, "name");
            let completed = sla
                .get("completedCycles")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            for c in completed {
                self.row(h.key, name, "completed", c, true);
            }
            if let Some(c) = sla.get("ongoingCycle").filter(|c| c.is_object()) {
                self.row(h.key, name, "ongoing", c, false);
            }
        }
    }

    fn row(&mut self, key: &str, name: Option<&str>, kind: &str, c: &Value, completed: bool) {
        self.issue_key.append_value(key);
        put_str(&mut self.sla_name, name);
        self.cycle.append_value(kind);
        self.start_at
            .append_option(epoch_micros(c.get("startTime")));
        self.stop_at.append_option(if completed {
            epoch_micros(c.get("stopTime"))
        } else {
            None
        });
        self.breach_at
            .append_option(epoch_micros(c.get("breachTime")));
        self.breached
            .append_option(c.get("breached").and_then(Value::as_bool));
        self.paused.append_option(if completed {
            None
        } else {
            c.get("paused").and_then(Value::as_bool)
        });
        self.goal_millis
            .append_option(duration_millis(c, "goalDuration"));
        self.elapsed_millis
            .append_option(duration_millis(c, "elapsedTime"));
        self.remaining_millis
            .append_option(duration_millis(c, "remainingTime"));
    }
}

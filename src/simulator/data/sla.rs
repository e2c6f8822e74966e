//! JSM SLAs: the two SLA custom fields and the `/servicedeskapi/request/{key}/sla` values,
//! computed from an issue's cycles.

use serde_json::{Value, json};

use super::vocab::WAITING;
use super::{Clock, HOUR_MS, Issue, Store};

/// Field id of the "Time to first response" SLA.
pub(crate) const SLA_FIRST_RESPONSE_FIELD: &str = "customfield_10030";
/// Field id of the "Time to resolution" SLA.
pub(crate) const SLA_RESOLUTION_FIELD: &str = "customfield_10031";
const FIRST_RESPONSE_GOAL_MS: i64 = 4 * HOUR_MS;
const RESOLUTION_GOAL_MS: i64 = 48 * HOUR_MS;

impl Store {
    pub(super) fn sla_field(&self, issue: &Issue, which: &str) -> Value {
        if !issue.has_sla {
            return Value::Null;
        }
        let (metric, name, goal, cycles, paused) = if which == SLA_FIRST_RESPONSE_FIELD {
            (
                "1",
                "Time to first response",
                FIRST_RESPONSE_GOAL_MS,
                &issue.sla.first_response,
                false,
            )
        } else {
            (
                "2",
                "Time to resolution",
                RESOLUTION_GOAL_MS,
                &issue.sla.resolution,
                issue.status == WAITING,
            )
        };
        sla_value(
            &self.base,
            self.clock,
            issue.id,
            metric,
            name,
            goal,
            cycles,
            issue.sla.measured_at,
            paused,
        )
    }

    /// The SLA values of a JSM request (empty for other issues), as in the custom fields.
    pub(crate) fn sla_values(&self, issue: &Issue) -> Vec<Value> {
        if !issue.has_sla {
            return Vec::new();
        }
        vec![
            self.sla_field(issue, SLA_FIRST_RESPONSE_FIELD),
            self.sla_field(issue, SLA_RESOLUTION_FIELD),
        ]
    }
}

fn date_dto(clock: Clock, ms: i64) -> Value {
    json!({"iso8601": clock.iso(ms), "jira": clock.jira(ms), "friendly": clock.friendly(ms), "epochMillis": ms})
}

fn friendly_duration(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let mins = ms.abs() / 60_000;
    format!("{sign}{}h {}m", mins / 60, mins % 60)
}

fn duration_dto(ms: i64) -> Value {
    json!({"millis": ms, "friendly": friendly_duration(ms)})
}

/// One SLA value (same object in the custom field and in `/servicedeskapi/.../sla`).
#[allow(clippy::too_many_arguments)]
fn sla_value(
    base: &str,
    clock: Clock,
    issue_id: u64,
    metric_id: &str,
    name: &str,
    goal: i64,
    cycles: &[(i64, Option<i64>)],
    now: i64,
    paused: bool,
) -> Value {
    let mut completed = Vec::new();
    let mut ongoing = None;
    for (start, stop) in cycles {
        match stop {
            Some(stop) => {
                let elapsed = stop - start;
                completed.push(json!({
                    "startTime": date_dto(clock, *start),
                    "stopTime": date_dto(clock, *stop),
                    "breachTime": date_dto(clock, start + goal),
                    "breached": elapsed > goal,
                    "goalDuration": duration_dto(goal),
                    "elapsedTime": duration_dto(elapsed),
                    "remainingTime": duration_dto(goal - elapsed),
                }));
            }
            None => {
                let elapsed = (now - start).max(0);
                let mut c = json!({
                    "startTime": date_dto(clock, *start),
                    "breached": elapsed > goal,
                    "paused": paused,
                    "withinCalendarHours": false,
                    "goalDuration": duration_dto(goal),
                    "elapsedTime": duration_dto(elapsed),
                    "remainingTime": duration_dto(goal - elapsed),
                });
                if !paused && let Some(o) = c.as_object_mut() {
                    o.insert("breachTime".into(), date_dto(clock, start + goal));
                }
                ongoing = Some(c);
            }
        }
    }
    let mut v = json!({
        "id": metric_id,
        "name": name,
        "_links": {"self": format!("{base}/rest/servicedeskapi/request/{issue_id}/sla/{metric_id}")},
        "completedCycles": completed,
        "slaDisplayFormat": "NEW_SLA_FORMAT",
    });
    if let (Some(c), Some(o)) = (ongoing, v.as_object_mut()) {
        o.insert("ongoingCycle".into(), c);
    }
    v
}

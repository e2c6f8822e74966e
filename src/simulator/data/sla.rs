//! JSM SLAs: a request's cycles (which follow its status history), and the two SLA custom
//! fields and the `/servicedeskapi/request/{key}/sla` values computed from them.

use serde_json::{Value, json};

use super::changelog::Workflow;
use super::vocab::{DONE, WAITING};
use super::{Clock, Cycle, HOUR_MS, Issue, Sla, Store};

/// Field id of the "Time to first response" SLA.
pub(super) const SLA_FIRST_RESPONSE_FIELD: &str = "customfield_10030";
/// Field id of the "Time to resolution" SLA.
pub(super) const SLA_RESOLUTION_FIELD: &str = "customfield_10031";

/// One SLA metric of the service desk.
struct Metric {
    /// Metric id in `/sla` URLs.
    id: &'static str,
    name: &'static str,
    goal_ms: i64,
}

const FIRST_RESPONSE: Metric = Metric {
    id: "1",
    name: "Time to first response",
    goal_ms: 4 * HOUR_MS,
};
const RESOLUTION: Metric = Metric {
    id: "2",
    name: "Time to resolution",
    goal_ms: 48 * HOUR_MS,
};

impl Sla {
    /// The cycles of a new request created at `created`, measured at `now`: first response
    /// until the first public reply (or, for a done issue without one, its first resolution),
    /// resolution cycles as the workflow left them.
    pub(super) fn new(
        created: i64,
        first_public_reply: Option<i64>,
        flow: &Workflow,
        now: i64,
    ) -> Sla {
        let fr_stop = first_public_reply.or(if flow.status == DONE {
            flow.resolution_cycles[0].1
        } else {
            None
        });
        Sla {
            first_response: vec![(created, fr_stop)],
            resolution: flow.resolution_cycles.clone(),
            measured_at: now,
        }
    }

    /// Stops every open cycle at `t` (or at its start, if later).
    pub(super) fn stop_open_cycles(&mut self, t: i64) {
        for cycles in [&mut self.first_response, &mut self.resolution] {
            for c in cycles.iter_mut().filter(|c| c.1.is_none()) {
                c.1 = Some(t.max(c.0));
            }
        }
    }
}

impl Store {
    /// The SLA custom field `which` of an issue (null for issues that are not requests).
    pub(super) fn sla_field(&self, issue: &Issue, which: &str) -> Value {
        if !issue.has_sla {
            return Value::Null;
        }
        let (metric, cycles, paused) = if which == SLA_FIRST_RESPONSE_FIELD {
            (&FIRST_RESPONSE, &issue.sla.first_response, false)
        } else {
            (&RESOLUTION, &issue.sla.resolution, issue.status == WAITING)
        };
        let measured = Measured {
            clock: self.clock,
            now: issue.sla.measured_at,
            paused,
        };
        let mut v = json!({
            "id": metric.id,
            "name": metric.name,
            "_links": {"self": format!("{}/rest/servicedeskapi/request/{}/sla/{}", self.base, issue.id, metric.id)},
            "completedCycles": measured.completed_cycles(metric.goal_ms, cycles),
            "slaDisplayFormat": "NEW_SLA_FORMAT",
        });
        if let (Some(c), Some(o)) = (
            measured.ongoing_cycle(metric.goal_ms, cycles),
            v.as_object_mut(),
        ) {
            o.insert("ongoingCycle".into(), c);
        }
        v
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

/// How an SLA's cycles render: in the site's clock, ongoing ones measured at `now`.
struct Measured {
    clock: Clock,
    now: i64,
    /// Whether the ongoing cycle is paused (no breach time).
    paused: bool,
}

impl Measured {
    /// The stopped cycles, oldest first.
    fn completed_cycles(&self, goal: i64, cycles: &[Cycle]) -> Vec<Value> {
        let clock = self.clock;
        cycles
            .iter()
            .filter_map(|(start, stop)| Some((*start, (*stop)?)))
            .map(|(start, stop)| {
                let elapsed = stop - start;
                json!({
                    "startTime": date_dto(clock, start),
                    "stopTime": date_dto(clock, stop),
                    "breachTime": date_dto(clock, start + goal),
                    "breached": elapsed > goal,
                    "goalDuration": duration_dto(goal),
                    "elapsedTime": duration_dto(elapsed),
                    "remainingTime": duration_dto(goal - elapsed),
                })
            })
            .collect()
    }

    /// The last open cycle, if any.
    fn ongoing_cycle(&self, goal: i64, cycles: &[Cycle]) -> Option<Value> {
        let clock = self.clock;
        let (start, _) = cycles.iter().rev().find(|(_, stop)| stop.is_none())?;
        let elapsed = (self.now - start).max(0);
        let mut c = json!({
            "startTime": date_dto(clock, *start),
            "breached": elapsed > goal,
            "paused": self.paused,
            "withinCalendarHours": false,
            "goalDuration": duration_dto(goal),
            "elapsedTime": duration_dto(elapsed),
            "remainingTime": duration_dto(goal - elapsed),
        });
        if !self.paused
            && let Some(o) = c.as_object_mut()
        {
            o.insert("breachTime".into(), date_dto(clock, start + goal));
        }
        Some(c)
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

//! The tiny JQL subset the simulator understands.
//!
//! The mirror only ever sends a handful of JQL shapes: the user's scope (`project = SUP`,
//! `project in (A, B)`, `key in (…)`), an `updated`/`created` bound in **epoch milliseconds**,
//! the open-issue filter of the SLA poll (`statusCategory != Done`, `resolution = EMPTY`) and an
//! `ORDER BY`. Everything else is rejected with a 400, on purpose: a client that starts sending
//! something new should notice in tests, not in production. In particular a quoted date string
//! (`updated >= "2024/01/02 10:00"`) is refused because Jira reads those at minute precision in the
//! API user's time zone — exactly the bug an epoch-ms bound avoids.
//!
//! Like Jira's `/search/jql`, an unbounded query (no restriction clause at all) is refused.
//!
//! A Data Center site ([`Dates::Zone`]) is the other way round: Jira Data Center's JQL takes
//! date strings — `"yyyy/MM/dd HH:mm"`, `"yyyy-MM-dd HH:mm"`, `"yyyy/MM/dd"`,
//! `"yyyy-MM-dd"`, quoted or (without a time) bare — read in the API account's zone at
//! minute precision (the bound is the first millisecond of that local minute; `updated >=
//! "2026-03-05 10:15"` finds a change at 10:15:30). A local time the zone skips (a DST gap)
//! or shows twice (a fold) is read with the offset in force *before* the transition, as
//! Java's `LocalDateTime.atZone` does: 02:30 in New York's spring gap is 03:30 EDT, 01:30 in
//! its autumn fold is the first one, EDT. A number (an epoch-ms bound) is refused there, so
//! tests prove the client sends Data Center's form.

use std::cmp::Ordering;

use chrono::{NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;

/// How a site reads the value of a date bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dates {
    /// Cloud (as the mirror uses it): integers in epoch milliseconds only.
    EpochMs,
    /// Data Center: date strings in this zone at minute precision; numbers refused.
    Zone(Tz),
}

/// Most `ORDER BY` fields Jira accepts on the enhanced search.
const MAX_ORDER_FIELDS: usize = 7;

/// A parsed query: clauses joined by `AND`, then the ordering.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Query {
    /// Every clause must hold.
    clauses: Vec<Clause>,
    /// `ORDER BY` terms; ties are always broken by id ascending.
    order: Vec<(OrderField, Direction)>,
}

/// One restriction.
#[derive(Clone, Debug, PartialEq)]
enum Clause {
    /// `project = A` / `project in (A, B)`; keys upper-cased.
    ProjectIn(Vec<String>),
    /// `key = A-1` / `key in (A-1, B-2)` / `id in (10001, …)`; keys upper-cased. Old keys of
    /// moved issues match too; a number matches the issue id.
    KeyIn(Vec<String>),
    /// `updated >= 1700000000000` and friends.
    Time {
        /// `created` or `updated`.
        field: TimeField,
        /// The comparison.
        op: Cmp,
        /// Epoch milliseconds.
        ms: i64,
    },
    /// `statusCategory = X` (`negate == false`) or `statusCategory != X`; holds the category key.
    StatusCategory {
        /// `!=` when true.
        negate: bool,
        /// `new`, `indeterminate` or `done`.
        key: &'static str,
    },
    /// `resolution = EMPTY` / `resolution is EMPTY` (`negate == false`) or the `!=` / `is not` form.
    ResolutionEmpty {
        /// `is not EMPTY` when true.
        negate: bool,
    },
}

/// A timestamp field usable in a bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimeField {
    /// `created`.
    Created,
    /// `updated`.
    Updated,
}

/// Comparison operator of a time bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    /// `=`
    Eq,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

/// A field usable in `ORDER BY`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OrderField {
    /// `updated`
    Updated,
    /// `created`
    Created,
    /// `key` (project key, then number)
    Key,
    /// `id`
    Id,
}

/// Sort direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    /// Ascending (the default here).
    Asc,
    /// Descending.
    Desc,
}

/// What a query is evaluated against.
pub(super) trait Subject {
    /// Numeric issue id.
    fn id(&self) -> u64;
    /// Current project key (upper case).
    fn project_key(&self) -> &str;
    /// Whether `key` (upper case) is the current or a former key of the issue.
    fn has_key(&self, key: &str) -> bool;
    /// Project key and number, for `ORDER BY key`.
    fn key_sort(&self) -> (&str, u64);
    /// Creation instant, epoch ms.
    fn created_ms(&self) -> i64;
    /// Last update instant, epoch ms.
    fn updated_ms(&self) -> i64;
    /// Status category key: `new`, `indeterminate` or `done`.
    fn status_category(&self) -> &str;
    /// Whether the resolution field is set.
    fn resolved(&self) -> bool;
}

impl Query {
    /// Whether every clause holds for `s`.
    pub(super) fn matches<S: Subject>(&self, s: &S) -> bool {
        self.clauses.iter().all(|c| match c {
            Clause::ProjectIn(keys) => keys.iter().any(|k| k == s.project_key()),
            Clause::KeyIn(keys) => keys
                .iter()
                .any(|k| s.has_key(k) || k.parse::<u64>().is_ok_and(|id| id == s.id())),
            Clause::Time { field, op, ms } => {
                let v = match field {
                    TimeField::Created => s.created_ms(),
                    TimeField::Updated => s.updated_ms(),
                };
                match op {
                    Cmp::Eq => v == *ms,
                    Cmp::Gt => v > *ms,
                    Cmp::Ge => v >= *ms,
                    Cmp::Lt => v < *ms,
                    Cmp::Le => v <= *ms,
                }
            }
            Clause::StatusCategory { negate, key } => (s.status_category() == *key) != *negate,
            Clause::ResolutionEmpty { negate } => s.resolved() == *negate,
        })
    }

    /// Ordering of two matching issues: the `ORDER BY` terms, then id ascending.
    pub(super) fn compare<S: Subject>(&self, a: &S, b: &S) -> Ordering {
        for (field, dir) in &self.order {
            let o = match field {
                OrderField::Updated => a.updated_ms().cmp(&b.updated_ms()),
                OrderField::Created => a.created_ms().cmp(&b.created_ms()),
                OrderField::Key => a.key_sort().cmp(&b.key_sort()),
                OrderField::Id => a.id().cmp(&b.id()),
            };
            let o = if *dir == Direction::Desc {
                o.reverse()
            } else {
                o
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.id().cmp(&b.id())
    }

    /// Every project key named by a `project` clause (to report unknown projects like Jira).
    pub(super) fn projects(&self) -> impl Iterator<Item = &str> {
        self.clauses
            .iter()
            .flat_map(|c| match c {
                Clause::ProjectIn(keys) => keys.as_slice(),
                _ => &[],
            })
            .map(String::as_str)
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '!' | '>' | '<' | '=' | '~' => {
                let next = chars.get(i + 1).copied();
                let (op, len) = match (c, next) {
                    ('!', Some('=')) => ("!=", 2),
                    ('!', Some('~')) => ("!~", 2),
                    ('>', Some('=')) => (">=", 2),
                    ('<', Some('=')) => ("<=", 2),
                    ('>', _) => (">", 1),
                    ('<', _) => ("<", 1),
                    ('=', _) => ("=", 1),
                    ('~', _) => ("~", 1),
                    _ => {
                        return Err(format!(
                            "Error in the JQL Query: unexpected character '{c}'."
                        ));
                    }
                };
                out.push(Tok::Op(op));
                i += len;
            }
            '"' | '\'' => {
                let quote = c;
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(
                                "Error in the JQL Query: unterminated quoted string.".into()
                            );
                        }
                        Some('\\') => {
                            if let Some(n) = chars.get(i + 1) {
                                text.push(*n);
                            }
                            i += 2;
                        }
                        Some(ch) if *ch == quote => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            text.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Quoted(text));
            }
            c if c.is_alphanumeric()
                || matches!(c, '_' | '-' | '.' | '[' | ']' | '*' | '/' | ':' | '+') =>
            {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric()
                        || matches!(
                            chars[i],
                            '_' | '-' | '.' | '[' | ']' | '*' | '/' | ':' | '+'
                        ))
                {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
            other => {
                return Err(format!(
                    "Error in the JQL Query: the character '{other}' is a reserved JQL character."
                ));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    dates: Dates,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn expect(&mut self, want: &Tok, what: &str) -> Result<(), String> {
        match self.next() {
            Some(t) if &t == want => Ok(()),
            Some(t) => Err(format!(
                "Error in the JQL Query: expecting {what} but got {}.",
                show(&t)
            )),
            None => Err(format!(
                "Error in the JQL Query: expecting {what} before the end of the query."
            )),
        }
    }

    /// expr := term (AND term)*
    fn expr(&mut self, out: &mut Vec<Clause>) -> Result<(), String> {
        self.term(out)?;
        loop {
            if self.peek_word("and") {
                self.pos += 1;
                self.term(out)?;
            } else if self.peek_word("or") {
                return Err(
                    "Error in the JQL Query: OR is not supported by this simulator (only AND)."
                        .into(),
                );
            } else {
                return Ok(());
            }
        }
    }

    /// term := '(' expr ')' | clause
    fn term(&mut self, out: &mut Vec<Clause>) -> Result<(), String> {
        match self.peek() {
            Some(Tok::LParen) => {
                self.pos += 1;
                self.expr(out)?;
                self.expect(&Tok::RParen, "')'")
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => {
                Err("Error in the JQL Query: NOT is not supported by this simulator.".into())
            }
            Some(Tok::Word(_)) => {
                let c = self.clause()?;
                out.push(c);
                Ok(())
            }
            Some(t) => Err(format!(
                "Error in the JQL Query: expecting a field name but got {}.",
                show(t)
            )),
            None => Err(
                "Error in the JQL Query: expecting a field name before the end of the query."
                    .into(),
            ),
        }
    }

    fn op(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Op(o)) => Ok(o.to_string()),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => Ok("in".into()),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("is") => {
                if self.peek_word("not") {
                    self.pos += 1;
                    Ok("is not".into())
                } else {
                    Ok("is".into())
                }
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => {
                if self.peek_word("in") {
                    self.pos += 1;
                    Ok("not in".into())
                } else {
                    Err("Error in the JQL Query: expecting an operator after NOT.".into())
                }
            }
            Some(t) => Err(format!(
                "Error in the JQL Query: expecting an operator but got {}.",
                show(&t)
            )),
            None => Err(
                "Error in the JQL Query: expecting an operator before the end of the query.".into(),
            ),
        }
    }

    fn value(&mut self) -> Result<Tok, String> {
        match self.next() {
            Some(t @ (Tok::Word(_) | Tok::Quoted(_))) => Ok(t),
            Some(t) => Err(format!(
                "Error in the JQL Query: expecting a value but got {}.",
                show(&t)
            )),
            None => {
                Err("Error in the JQL Query: expecting a value before the end of the query.".into())
            }
        }
    }

    fn list(&mut self) -> Result<Vec<Tok>, String> {
        self.expect(&Tok::LParen, "'('")?;
        let mut vals = vec![self.value()?];
        loop {
            match self.next() {
                Some(Tok::Comma) => vals.push(self.value()?),
                Some(Tok::RParen) => return Ok(vals),
                Some(t) => {
                    return Err(format!(
                        "Error in the JQL Query: expecting ',' or ')' but got {}.",
                        show(&t)
                    ));
                }
                None => {
                    return Err(
                        "Error in the JQL Query: expecting ')' before the end of the query.".into(),
                    );
                }
            }
        }
    }

    fn clause(&mut self) -> Result<Clause, String> {
        let Some(Tok::Word(field)) = self.next() else {
            return Err("Error in the JQL Query: expecting a field name.".into());
        };
        let lf = field.to_ascii_lowercase();
        let op = self.op()?;
        match lf.as_str() {
            // `id`, `key` and `issuekey` are one field to Jira; a number names an id.
            "project" | "key" | "issuekey" | "id" => {
                let vals = match op.as_str() {
                    "=" => vec![self.value()?],
                    "in" => self.list()?,
                    _ => return Err(unsupported_op(&field, &op)),
                };
                let keys = vals
                    .into_iter()
                    .map(|t| tok_text(&t).to_ascii_uppercase())
                    .collect::<Vec<_>>();
                if lf == "project" {
                    Ok(Clause::ProjectIn(keys))
                } else {
                    Ok(Clause::KeyIn(keys))
                }
            }
            "updated" | "updateddate" | "created" | "createddate" => {
                let cmp = match op.as_str() {
                    "=" => Cmp::Eq,
                    ">" => Cmp::Gt,
                    ">=" => Cmp::Ge,
                    "<" => Cmp::Lt,
                    "<=" => Cmp::Le,
                    _ => return Err(unsupported_op(&field, &op)),
                };
                let value = self.value()?;
                let ms = match (self.dates, value) {
                    (Dates::EpochMs, Tok::Word(w)) => w
                        .parse::<i64>()
                        .map_err(|_| epoch_ms_required(&field, &w))?,
                    (Dates::EpochMs, Tok::Quoted(q)) => {
                        return Err(epoch_ms_required(&field, &format!("\"{q}\"")));
                    }
                    (Dates::Zone(tz), Tok::Word(w) | Tok::Quoted(w)) => {
                        local_date_ms(&w, tz).ok_or_else(|| date_format_required(&field, &w))?
                    }
                    (_, other) => return Err(epoch_ms_required(&field, &show(&other))),
                };
                let field = if lf.starts_with("updated") {
                    TimeField::Updated
                } else {
                    TimeField::Created
                };
                Ok(Clause::Time { field, op: cmp, ms })
            }
            "statuscategory" => {
                let negate = match op.as_str() {
                    "=" => false,
                    "!=" => true,
                    _ => return Err(unsupported_op(&field, &op)),
                };
                let v = self.value()?;
                let key = match tok_text(&v).to_ascii_lowercase().as_str() {
                    "done" | "3" => "done",
                    "to do" | "new" | "2" => "new",
                    "in progress" | "indeterminate" | "4" => "indeterminate",
                    other => {
                        return Err(format!(
                            "The value '{other}' does not exist for the field 'statusCategory'."
                        ));
                    }
                };
                Ok(Clause::StatusCategory { negate, key })
            }
            "resolution" => {
                let negate = match op.as_str() {
                    "=" | "is" => false,
                    "!=" | "is not" => true,
                    _ => return Err(unsupported_op(&field, &op)),
                };
                match self.value()? {
                    Tok::Word(w)
                        if w.eq_ignore_ascii_case("empty") || w.eq_ignore_ascii_case("null") =>
                    {
                        Ok(Clause::ResolutionEmpty { negate })
                    }
                    v => Err(format!(
                        "Only 'resolution = EMPTY' / 'resolution is EMPTY' are supported by this simulator, not {}.",
                        show(&v)
                    )),
                }
            }
            _ => Err(format!(
                "Field '{field}' is not supported by the jira-mirror simulator (supported: project, key, updated, created, statusCategory, resolution)."
            )),
        }
    }

    fn order_by(&mut self) -> Result<Vec<(OrderField, Direction)>, String> {
        let mut out = Vec::new();
        loop {
            let field = match self.next() {
                Some(Tok::Word(w)) => w,
                Some(t) => {
                    return Err(format!(
                        "Error in the JQL Query: expecting a field name after ORDER BY but got {}.",
                        show(&t)
                    ));
                }
                None => {
                    return Err(
                        "Error in the JQL Query: expecting a field name after ORDER BY.".into(),
                    );
                }
            };
            let f = match field.to_ascii_lowercase().as_str() {
                "updated" | "updateddate" => OrderField::Updated,
                "created" | "createddate" => OrderField::Created,
                "key" | "issuekey" => OrderField::Key,
                "id" => OrderField::Id,
                _ => {
                    return Err(format!(
                        "Ordering by '{field}' is not supported by the jira-mirror simulator (supported: updated, created, key, id)."
                    ));
                }
            };
            let mut dir = Direction::Asc;
            if self.peek_word("asc") {
                self.pos += 1;
            } else if self.peek_word("desc") {
                self.pos += 1;
                dir = Direction::Desc;
            }
            out.push((f, dir));
            if out.len() > MAX_ORDER_FIELDS {
                return Err(format!(
                    "The ORDER BY clause may contain at most {MAX_ORDER_FIELDS} fields."
                ));
            }
            match self.peek() {
                Some(Tok::Comma) => self.pos += 1,
                None => return Ok(out),
                Some(t) => {
                    return Err(format!(
                        "Error in the JQL Query: expecting ',' or the end of the query but got {}.",
                        show(t)
                    ));
                }
            }
        }
    }
}

fn show(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("'{w}'"),
        Tok::Quoted(q) => format!("\"{q}\""),
        Tok::Op(o) => format!("'{o}'"),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::Comma => "','".into(),
    }
}

fn tok_text(t: &Tok) -> &str {
    match t {
        Tok::Word(w) | Tok::Quoted(w) => w,
        _ => "",
    }
}

fn unsupported_op(field: &str, op: &str) -> String {
    format!(
        "The operator '{op}' is not supported for the field '{field}' by the jira-mirror simulator."
    )
}

fn epoch_ms_required(field: &str, got: &str) -> String {
    format!(
        "Date value {got} for field '{field}' is not accepted: this simulator requires an integer in epoch milliseconds \
         (e.g. {field} >= 1700000000000); quoted date strings are read by Jira at minute precision in the user's time zone."
    )
}

/// The 400 of a Data Center date bound that is no date string (a number, `-1d`, …).
fn date_format_required(field: &str, got: &str) -> String {
    format!(
        "Date value '{got}' for field '{field}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd' \
         (this simulator accepts no epoch milliseconds and no relative dates on Data Center)."
    )
}

/// The first millisecond of the local minute (or day) `text` names in `tz` (see the
/// module docs for gaps and folds); `None` when `text` is no Data Center date string.
fn local_date_ms(text: &str, tz: Tz) -> Option<i64> {
    let t = text.trim();
    let local = ["%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
        .or_else(|| {
            ["%Y/%m/%d", "%Y-%m-%d"]
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(t, f).ok())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    let instant = match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(d) => d.timestamp_millis(),
        // A fold: the earlier offset (the first of the two instants).
        chrono::LocalResult::Ambiguous(first, _) => first.timestamp_millis(),
        // A gap: the offset before the transition (a day earlier is before it).
        chrono::LocalResult::None => {
            let before = local - chrono::Duration::days(1);
            let offset = tz.offset_from_local_datetime(&before).earliest()?.fix();
            (local - chrono::Duration::seconds(i64::from(offset.local_minus_utc())))
                .and_utc()
                .timestamp_millis()
        }
    };
    Some(instant)
}

/// Parses `jql` with Cloud's date bounds (epoch ms); the error text becomes the 400
/// `errorMessages` entry.
#[cfg(test)]
pub(super) fn parse(jql: &str) -> Result<Query, String> {
    parse_with(jql, Dates::EpochMs)
}

/// Parses `jql`, reading date bounds as `dates` says; the error text becomes the 400
/// `errorMessages` entry.
pub(super) fn parse_with(jql: &str, dates: Dates) -> Result<Query, String> {
    let toks = tokenize(jql)?;
    let mut p = Parser {
        toks,
        pos: 0,
        dates,
    };
    let mut clauses = Vec::new();
    if p.peek().is_some() && !p.peek_word("order") {
        p.expr(&mut clauses)?;
    }
    let mut order = Vec::new();
    if p.peek_word("order") {
        p.pos += 1;
        if !p.peek_word("by") {
            return Err("Error in the JQL Query: expecting 'by' after 'order'.".into());
        }
        p.pos += 1;
        order = p.order_by()?;
    }
    if let Some(t) = p.peek() {
        return Err(format!(
            "Error in the JQL Query: unexpected {} (expecting AND or ORDER BY).",
            show(t)
        ));
    }
    if clauses.is_empty() {
        return Err("Unbounded JQL queries are not allowed here. Please add a search restriction to your query.".into());
    }
    Ok(Query { clauses, order })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct S {
        id: u64,
        project: &'static str,
        number: u64,
        created: i64,
        updated: i64,
        cat: &'static str,
        resolved: bool,
    }

    impl Subject for S {
        fn id(&self) -> u64 {
            self.id
        }
        fn project_key(&self) -> &str {
            self.project
        }
        fn has_key(&self, key: &str) -> bool {
            key == format!("{}-{}", self.project, self.number)
        }
        fn key_sort(&self) -> (&str, u64) {
            (self.project, self.number)
        }
        fn created_ms(&self) -> i64 {
            self.created
        }
        fn updated_ms(&self) -> i64 {
            self.updated
        }
        fn status_category(&self) -> &str {
            self.cat
        }
        fn resolved(&self) -> bool {
            self.resolved
        }
    }

    fn s(id: u64, project: &'static str, number: u64, updated: i64) -> S {
        S {
            id,
            project,
            number,
            created: 0,
            updated,
            cat: "new",
            resolved: false,
        }
    }

    #[test]
    fn parses_scope_and_bound() {
        let q =
            parse("(project = sup) AND updated >= 1700000000000 ORDER BY updated ASC, key DESC")
                .unwrap();
        assert_eq!(q.clauses.len(), 2);
        assert_eq!(q.clauses[0], Clause::ProjectIn(vec!["SUP".into()]));
        assert_eq!(
            q.clauses[1],
            Clause::Time {
                field: TimeField::Updated,
                op: Cmp::Ge,
                ms: 1_700_000_000_000
            }
        );
        assert_eq!(
            q.order,
            vec![
                (OrderField::Updated, Direction::Asc),
                (OrderField::Key, Direction::Desc)
            ]
        );
        assert!(q.matches(&s(1, "SUP", 1, 1_700_000_000_000)));
        assert!(!q.matches(&s(1, "SUP", 1, 1_699_999_999_999)));
        assert!(!q.matches(&s(1, "OPS", 1, 1_700_000_000_000)));
    }

    #[test]
    fn parses_lists_and_status_filters() {
        let q = parse("project in (A, \"B\") and key in (A-1, b-2) and statusCategory != Done and resolution is EMPTY")
            .unwrap();
        assert_eq!(
            q.clauses[0],
            Clause::ProjectIn(vec!["A".into(), "B".into()])
        );
        assert_eq!(
            q.clauses[1],
            Clause::KeyIn(vec!["A-1".into(), "B-2".into()])
        );
        let by_id = parse("(project = SUP) AND id in (7, 10001)").unwrap();
        assert!(by_id.matches(&s(7, "SUP", 1, 0)));
        assert!(!by_id.matches(&s(8, "SUP", 1, 0)));
        assert!(!by_id.matches(&s(7, "OPS", 1, 0)));
        assert_eq!(
            q.clauses[2],
            Clause::StatusCategory {
                negate: true,
                key: "done"
            }
        );
        assert_eq!(q.clauses[3], Clause::ResolutionEmpty { negate: false });
        assert!(q.matches(&s(1, "B", 2, 0)));
        let done = S {
            cat: "done",
            ..s(1, "B", 2, 0)
        };
        assert!(!q.matches(&done));
        let resolved = S {
            resolved: true,
            ..s(1, "B", 2, 0)
        };
        assert!(!q.matches(&resolved));
        assert!(parse("project = A AND resolution = EMPTY").is_ok());
        assert!(parse("project = A AND statusCategory = \"In Progress\"").is_ok());
    }

    #[test]
    fn all_time_operators() {
        for (op, t, want) in [
            (">", 10, false),
            (">", 9, true),
            (">=", 10, true),
            ("<", 10, false),
            ("<", 11, true),
            ("<=", 10, true),
            ("=", 10, true),
        ] {
            let q = parse(&format!("created {op} {t}")).unwrap();
            let subject = S {
                created: 10,
                ..s(1, "A", 1, 0)
            };
            assert_eq!(q.matches(&subject), want, "created {op} {t}");
        }
    }

    #[test]
    fn rejects_quoted_dates_and_relative_dates() {
        let e = parse("project = SUP AND updated >= \"2024/01/02 10:00\"").unwrap_err();
        assert!(e.contains("epoch milliseconds"), "{e}");
        let e = parse("updated >= -1d").unwrap_err();
        assert!(e.contains("epoch milliseconds"), "{e}");
        let e = parse("updated >= 2024-01-02").unwrap_err();
        assert!(e.contains("epoch milliseconds"), "{e}");
    }

    #[test]
    fn data_center_dates_in_the_zone() {
        let berlin = Dates::Zone(chrono_tz::Europe::Berlin);
        // 2026-07-01 12:00 in Berlin is 10:00Z (CEST, +0200).
        let want = 1_782_900_000_000;
        for text in [
            "\"2026/07/01 12:00\"",
            "\"2026-07-01 12:00\"",
            "'2026-07-01 12:00'",
        ] {
            let q = parse_with(&format!("project = A AND updated >= {text}"), berlin).unwrap();
            assert_eq!(
                q.clauses[1],
                Clause::Time {
                    field: TimeField::Updated,
                    op: Cmp::Ge,
                    ms: want
                },
                "{text}"
            );
        }
        // A day without a time is its local midnight (+0100 in winter).
        for text in ["\"2026/01/15\"", "2026-01-15", "2026/01/15"] {
            let q = parse_with(&format!("created < {text}"), berlin).unwrap();
            assert_eq!(
                q.clauses[0],
                Clause::Time {
                    field: TimeField::Created,
                    op: Cmp::Lt,
                    ms: 1_768_431_600_000
                },
                "{text}"
            );
        }
        for bad in [
            "updated >= 1700000000000",
            "updated >= \"1700000000000\"",
            "updated >= -1d",
            "updated >= \"2026-07-01T12:00\"",
            "updated >= \"2026-13-01\"",
        ] {
            let e = parse_with(bad, berlin).unwrap_err();
            assert!(e.contains("yyyy/MM/dd HH:mm"), "{bad}: {e}");
        }
    }

    #[test]
    fn data_center_gaps_and_folds_take_the_earlier_offset() {
        let ny = Dates::Zone(chrono_tz::America::New_York);
        let ms = |text: &str| match parse_with(&format!("updated >= \"{text}\""), ny)
            .unwrap()
            .clauses[0]
        {
            Clause::Time { ms, .. } => ms,
            _ => unreachable!(),
        };
        // Spring gap 2026-03-08 02:00 → 03:00: 02:30 read at -0500 is 07:30Z (03:30 EDT).
        assert_eq!(ms("2026-03-08 02:30"), 1_772_955_000_000);
        assert_eq!(ms("2026-03-08 03:30"), 1_772_955_000_000);
        // Autumn fold 2026-11-01 01:00–02:00 twice: 01:30 is the first, EDT (-0400): 05:30Z.
        assert_eq!(ms("2026-11-01 01:30"), 1_793_511_000_000);
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "ORDER BY key DESC",
            "project = A OR project = B",
            "NOT project = A",
            "assignee = currentUser()",
            "project ~ A",
            "project = A ORDER BY priority",
            "project = A AND",
            "(project = A",
            "project = A project = B",
            "project = A AND resolution = Done",
            "project = A AND statusCategory = Weird",
            "project = A ORDER BY updated, created, key, id, updated, created, key, id",
            "project = A; drop",
        ] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn ordering_ties_broken_by_id() {
        let q = parse("project = A ORDER BY updated DESC").unwrap();
        let mut v = [s(3, "A", 3, 5), s(1, "A", 1, 5), s(2, "A", 2, 9)];
        v.sort_by(|a, b| q.compare(a, b));
        assert_eq!(v.iter().map(|x| x.id).collect::<Vec<_>>(), vec![2, 1, 3]);
        let q = parse("project = A ORDER BY key").unwrap();
        let mut v = [s(1, "A", 10, 0), s(2, "A", 9, 0), s(3, "AB", 1, 0)];
        v.sort_by(|a, b| q.compare(a, b));
        assert_eq!(v.iter().map(|x| x.id).collect::<Vec<_>>(), vec![2, 1, 3]);
    }
}

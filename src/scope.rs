//! The mirror's scope (`[jira] jql`) as seen by the triggers that only *name* issues.
//!
//! Sweeps, backfills and the reconcile census send the scope to Jira, so whatever they list
//! is in scope by construction. Mail and webhook deliveries only name keys and ids, and
//! anyone who can send mail to the mailbox or reach the receiver can name any key. So an
//! issue the mirror does not hold yet is saved only after Jira confirms it is in scope
//! (`(<scope>) AND id in (…)`, see `pipeline::confirm`); this module supplies the cheap
//! part in front of that: [`Scope::may_hold`], which drops keys of projects the scope
//! certainly excludes without a request.
//!
//! Reading projects out of JQL is deliberately conservative. Only a plain `project = KEY`
//! or `project in (KEY, …)` joined to the rest of the query by `AND` restricts; a project
//! named by id (`project = 10000`) or by a name that is not written like a key (upper-case
//! letters, digits, `_`), a negation (`project != X`, `project not in (…)`, `NOT …`) and
//! anything under an `OR` restrict nothing. A scope this cannot read is never taken to mean
//! "every project": it means "ask Jira about every key".

use std::collections::BTreeSet;

use crate::key::IssueKey;

/// The scope JQL and the project keys it certainly restricts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    jql: String,
    projects: Option<BTreeSet<String>>,
}

impl Scope {
    /// Reads `jql` (the user's scope, without `ORDER BY`).
    pub fn new(jql: &str) -> Self {
        let jql = jql.trim().to_string();
        let projects = tokens(&jql).and_then(|t| restricted_projects(&t));
        Scope { jql, projects }
    }

    /// The scope JQL.
    pub fn jql(&self) -> &str {
        &self.jql
    }

    /// The project keys every issue of the scope belongs to, when the scope says so plainly;
    /// `None` when it cannot be told from the JQL (then only Jira can answer).
    pub fn projects(&self) -> Option<&BTreeSet<String>> {
        self.projects.as_ref()
    }

    /// False when `key` is certainly outside the scope (its project is not one of
    /// [`Scope::projects`]); true when it may be inside, which only Jira can confirm.
    pub(crate) fn may_hold(&self, key: &IssueKey) -> bool {
        self.projects
            .as_ref()
            .is_none_or(|p| p.contains(key.project()))
    }
}

/// A JQL token, as far as finding project restrictions needs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Open,
    Close,
    Comma,
    /// `=`, `!=`, `~`, `<`, `>=`, …
    Op(String),
    /// `AND`, `&&`, `&`.
    And,
    /// `OR`, `||`, `|`.
    Or,
    /// `NOT`, `!`.
    Not,
    /// A bare word (field, function, value, `in`, `is`, …).
    Word(String),
    /// A quoted value, unescaped.
    Quoted(String),
}

/// Splits `jql` into tokens; `None` when it cannot be read (an unterminated quote).
fn tokens(jql: &str) -> Option<Vec<Tok>> {
    let mut out = Vec::new();
    let mut chars = jql.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' => {
                chars.next();
                out.push(match c {
                    '(' => Tok::Open,
                    ')' => Tok::Close,
                    _ => Tok::Comma,
                });
            }
            '"' | '\'' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next()? {
                        '\\' => value.push(chars.next()?),
                        q if q == c => break,
                        other => value.push(other),
                    }
                }
                out.push(Tok::Quoted(value));
            }
            '&' | '|' => {
                chars.next();
                if chars.peek() == Some(&c) {
                    chars.next();
                }
                out.push(if c == '&' { Tok::And } else { Tok::Or });
            }
            '=' | '!' | '<' | '>' | '~' => {
                chars.next();
                let mut op = c.to_string();
                if let Some(&next) = chars.peek()
                    && (next == '=' || (c == '!' && next == '~'))
                {
                    op.push(next);
                    chars.next();
                }
                out.push(if op == "!" { Tok::Not } else { Tok::Op(op) });
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "()=,!<>~\"'&|".contains(c) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push(match word.to_ascii_uppercase().as_str() {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "NOT" => Tok::Not,
                    _ => Tok::Word(word),
                });
            }
        }
    }
    Some(out)
}

/// The projects a query restricts to (see the module docs), or `None`.
fn restricted_projects(toks: &[Tok]) -> Option<BTreeSet<String>> {
    let mut conjuncts: Vec<&[Tok]> = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, t) in toks.iter().enumerate() {
        match t {
            Tok::Open => depth += 1,
            Tok::Close => depth = depth.checked_sub(1)?,
            Tok::Or if depth == 0 => return None,
            Tok::And if depth == 0 => {
                conjuncts.push(&toks[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return None;
    }
    conjuncts.push(&toks[start..]);
    conjuncts
        .into_iter()
        .filter_map(conjunct_projects)
        .reduce(|a, b| a.intersection(&b).cloned().collect())
}

/// The projects one `AND`-joined part restricts to, or `None` when it restricts none.
fn conjunct_projects(toks: &[Tok]) -> Option<BTreeSet<String>> {
    match toks {
        [Tok::Open, inner @ .., Tok::Close] if balanced(inner) => restricted_projects(inner),
        [Tok::Word(field), Tok::Op(op), value] if is_project(field) && op == "=" => {
            project_key(value).map(|k| BTreeSet::from([k]))
        }
        [
            Tok::Word(field),
            Tok::Word(op),
            Tok::Open,
            list @ ..,
            Tok::Close,
        ] if is_project(field) && op.eq_ignore_ascii_case("in") => {
            let mut keys = BTreeSet::new();
            for (i, t) in list.iter().enumerate() {
                if i % 2 == 1 {
                    (*t == Tok::Comma).then_some(())?;
                } else {
                    keys.insert(project_key(t)?);
                }
            }
            (!list.is_empty() && list.len() % 2 == 1).then_some(keys)
        }
        _ => None,
    }
}

/// True when the parentheses of `toks` pair up among themselves (so `(a) AND (b)` is not
/// read as one group `a) AND (b`).
fn balanced(toks: &[Tok]) -> bool {
    let mut depth = 0usize;
    for t in toks {
        match t {
            Tok::Open => depth += 1,
            Tok::Close => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            _ => {}
        }
    }
    depth == 0
}

fn is_project(field: &str) -> bool {
    field.eq_ignore_ascii_case("project")
}

/// A value written like a project key (`SUP`, `"OPS_2"`), which Jira matches to the key.
/// Numbers are project ids and other words may be project names: neither names a key.
fn project_key(t: &Tok) -> Option<String> {
    let (Tok::Word(v) | Tok::Quoted(v)) = t else {
        return None;
    };
    let mut chars = v.chars();
    let first = chars.next()?;
    (first.is_ascii_uppercase()
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
    .then(|| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn projects(jql: &str) -> Option<Vec<String>> {
        Scope::new(jql)
            .projects()
            .map(|p| p.iter().cloned().collect())
    }

    fn set(keys: &[&str]) -> Option<Vec<String>> {
        Some(keys.iter().map(|k| k.to_string()).collect())
    }

    #[test]
    fn plain_project_clauses_restrict() {
        assert_eq!(projects("project = SUP"), set(&["SUP"]));
        assert_eq!(projects("project = \"SUP\""), set(&["SUP"]));
        assert_eq!(projects("project='OPS_2'"), set(&["OPS_2"]));
        assert_eq!(
            projects("PROJECT in (A, \"B\", C1)"),
            set(&["A", "B", "C1"])
        );
        assert_eq!(
            projects("project in (A, B) AND status != Done AND labels = x"),
            set(&["A", "B"])
        );
        assert_eq!(
            projects("(project = SUP) AND (updated >= -30d)"),
            set(&["SUP"])
        );
        assert_eq!(projects("project in (A, B) && project = B"), set(&["B"]));
        assert_eq!(projects("project = A AND project = B"), set(&[]));
        assert_eq!(
            projects("NOT project = OPS AND project = SUP"),
            set(&["SUP"])
        );
    }

    #[test]
    fn anything_unclear_restricts_nothing() {
        for jql in [
            "project = 10000",
            "project = \"Support Desk\"",
            "project = support",
            "project != OPS",
            "project not in (OPS, SEC)",
            "NOT project = OPS",
            "project = SUP OR assignee = currentUser()",
            "project = SUP || labels = x",
            "(project = SUP OR project = OPS)",
            "(project = SUP) OR (project = OPS)",
            "project in (SUP, 10000)",
            "project in ()",
            "project in (SUP OPS)",
            "labels = customer",
            "project = \"SUP",
            "project = SUP)",
            "(project = SUP",
            "filter = 12345",
            "",
        ] {
            assert_eq!(projects(jql), None, "{jql}");
        }
    }

    #[test]
    fn may_hold_only_rules_out_what_is_certain() {
        let key = |k: &str| IssueKey::parse(k).unwrap();
        let scope = Scope::new("project in (SUP, OPS) AND labels = x");
        assert!(scope.may_hold(&key("SUP-1")));
        assert!(scope.may_hold(&key("OPS-2")));
        assert!(!scope.may_hold(&key("SEC-3")));
        let unclear = Scope::new("project = 10000");
        assert!(unclear.may_hold(&key("SEC-3")));
        assert_eq!(unclear.jql(), "project = 10000");
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_read_without_panic(jql in ".{0,200}") {
            let _ = Scope::new(&jql);
        }
    }
}

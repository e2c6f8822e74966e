//! [`IssueKey`]: a validated Jira issue key such as `SUP-123`.
//!
//! Keys come from untrusted places (mail subjects, webhook bodies, the command line, Jira's
//! own answers) and end up in file names (`raw/issues/<KEY>.json`), so a key is only accepted
//! when it has Jira's shape: a project key of an ASCII letter followed by letters, digits or
//! `_`, a dash, and a positive number. Nothing else can reach the filesystem.

use std::fmt;
use std::str::FromStr;

/// A validated issue key (`PROJ-123`), upper-cased.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IssueKey(String);

/// Why a string is not an issue key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a Jira issue key (expected PROJECT-123)")]
pub struct InvalidKey(pub String);

impl IssueKey {
    /// Parses and upper-cases `s`.
    pub fn parse(s: &str) -> Result<IssueKey, InvalidKey> {
        let upper = s.trim().to_ascii_uppercase();
        let invalid = || InvalidKey(s.chars().take(64).collect());
        let (project, number) = upper.rsplit_once('-').ok_or_else(invalid)?;
        let mut chars = project.chars();
        let project_ok = project.len() <= 64
            && chars.next().is_some_and(|c| c.is_ascii_uppercase())
            && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        let number_ok = !number.is_empty()
            && number.len() <= 18
            && number.bytes().all(|b| b.is_ascii_digit())
            && !number.starts_with('0');
        if project_ok && number_ok {
            Ok(IssueKey(upper))
        } else {
            Err(invalid())
        }
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The project part (`SUP` of `SUP-123`).
    pub fn project(&self) -> &str {
        self.0.rsplit_once('-').map_or("", |(p, _)| p)
    }
}

impl FromStr for IssueKey {
    type Err = InvalidKey;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IssueKey::parse(s)
    }
}

impl fmt::Display for IssueKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for IssueKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_jira_shapes() {
        assert_eq!(IssueKey::parse("sup-12").unwrap().as_str(), "SUP-12");
        assert_eq!(IssueKey::parse("AB_2-1").unwrap().project(), "AB_2");
    }

    #[test]
    fn rejects_everything_that_could_escape_a_path() {
        for bad in [
            "../SUP-1", "SUP-1/..", "SUP-", "-1", "1A-2", "SUP-01", "SUP 1", "", "A-1.json",
            "A-B-x",
        ] {
            assert!(IssueKey::parse(bad).is_err(), "{bad}");
        }
    }
}

//! The static vocabularies generated issues draw from (people, issue types, statuses,
//! priorities, words, attachment names, …): kept apart so the generator and the renderers read
//! as logic, and so every value an issue can carry is listed in one place.

// ---------------------------------------------------------------------------------------------
// Static vocabularies
// ---------------------------------------------------------------------------------------------

/// (accountId, displayName, emailAddress, timeZone, active)
pub(super) const PEOPLE: &[(&str, &str, Option<&str>, &str, bool)] = &[
    (
        "5b10a2844c20165700ede21g",
        "Mia Krystof",
        Some("mia@example.com"),
        "Australia/Sydney",
        true,
    ),
    (
        "5d53f3cbc6b9320d9ea5bdc2",
        "José Müller",
        Some("jose.mueller@example.com"),
        "Europe/Berlin",
        true,
    ),
    (
        "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077",
        "Priya Natarajan",
        None,
        "Asia/Kolkata",
        true,
    ),
    (
        "60e5a86a471e61006a4c5a7e",
        "李雷",
        Some("li.lei@example.com"),
        "Asia/Shanghai",
        true,
    ),
    (
        "5fc9e78d2730d800760becc4",
        "Sam O'Neil",
        Some("sam.oneil@example.com"),
        "America/New_York",
        true,
    ),
    (
        "6123ab45cd67ef0012345678",
        "Former Employee",
        None,
        "UTC",
        false,
    ),
    (
        "5e8b7c6d5a4f3e2d1c0b9a88",
        "Zoë Dubois",
        Some("zoe.dubois@example.com"),
        "Europe/Paris",
        true,
    ),
    (
        "712020:0e7b6a4c-9f1d-4c2b-8a3e-5d6f7a8b9c0d",
        "Carla Customer",
        Some("carla@customer.example"),
        "America/Chicago",
        true,
    ),
];
/// Data Center user names of [`PEOPLE`] (same order); their user keys are `JIRAUSER10100`
/// on, their e-mail the `PEOPLE` one or `{name}@example.com` (Data Center hides none).
pub(super) const DC_USER_NAMES: &[&str] = &[
    "mia",
    "jose.mueller",
    "priya",
    "li.lei",
    "sam.oneil",
    "former.employee",
    "zoe.dubois",
    "carla",
];
pub(super) const MIRROR_ACCOUNT_ID: &str = "5f0a1b2c3d4e5f6a7b8c9d01";
pub(super) const SLA_ACCOUNT_ID: &str = "5f0a1b2c3d4e5f6a7b8c9d02";

/// (id, name, subtask, hierarchyLevel, description)
pub(super) const ISSUE_TYPES: &[(&str, &str, bool, i64, &str)] = &[
    (
        "10001",
        "Service Request",
        false,
        0,
        "Created by Jira Service Management.",
    ),
    (
        "10002",
        "Incident",
        false,
        0,
        "For system outages or incidents.",
    ),
    (
        "10003",
        "Problem",
        false,
        0,
        "Track underlying causes of incidents.",
    ),
    (
        "10004",
        "Task",
        false,
        0,
        "A small, distinct piece of work.",
    ),
    (
        "10005",
        "Sub-task",
        true,
        -1,
        "A small piece of work that's part of a larger task.",
    ),
];
pub(super) const SUBTASK_TYPE: usize = 4;

/// (id, name, category index into STATUS_CATEGORIES)
pub(super) const STATUSES: &[(&str, &str, usize)] = &[
    ("10000", "To Do", 0),
    ("3", "In Progress", 1),
    ("10001", "Waiting for customer", 1),
    ("10002", "Done", 2),
];
pub(super) const TODO: usize = 0;
pub(super) const IN_PROGRESS: usize = 1;
pub(super) const WAITING: usize = 2;
pub(super) const DONE: usize = 3;
/// (id, key, colorName, name)
pub(super) const STATUS_CATEGORIES: &[(i64, &str, &str, &str)] = &[
    (2, "new", "blue-gray", "To Do"),
    (4, "indeterminate", "yellow", "In Progress"),
    (3, "done", "green", "Done"),
];
pub(super) const PRIORITIES: &[(&str, &str, &str)] = &[
    ("1", "Highest", "highest"),
    ("2", "High", "high"),
    ("3", "Medium", "medium"),
    ("4", "Low", "low"),
    ("5", "Lowest", "lowest"),
];
pub(super) const RESOLUTIONS: &[(&str, &str, &str)] = &[
    ("10000", "Done", "Work has been completed on this issue."),
    ("10001", "Won't Do", "This issue won't be actioned."),
    (
        "10002",
        "Duplicate",
        "The problem is a duplicate of an existing issue.",
    ),
    (
        "10003",
        "Cannot Reproduce",
        "All attempts at reproducing this issue failed.",
    ),
];
pub(super) const COMPONENTS: &[(&str, &str)] = &[
    ("10010", "Billing"),
    ("10011", "Login"),
    ("10012", "Mobile app"),
    ("10013", "Public API"),
];
/// (id, name, released, releaseDate)
pub(super) const VERSIONS: &[(&str, &str, bool, &str)] = &[
    ("10100", "2024.1", true, "2024-03-28"),
    ("10101", "2024.2", true, "2024-09-30"),
    ("10102", "2025.1", false, "2025-07-15"),
];
pub(super) const SEVERITIES: &[(&str, &str)] = &[
    ("10101", "S1 - Critical"),
    ("10102", "S2 - Major"),
    ("10103", "S3 - Minor"),
    ("10104", "S4 - Cosmetic"),
];
pub(super) const TEAM_OPTIONS: &[(&str, &str)] = &[
    ("10201", "Platform"),
    ("10202", "Payments"),
    ("10203", "Mobile"),
];
pub(super) const TEAM_TEXT: &[&str] = &[
    "Platform",
    "Payments squad",
    "Équipe Mobile",
    "Tier 2 support",
];
pub(super) const SERVICES: &[&str] = &[
    "billing-api",
    "auth",
    "search",
    "notifications",
    "web-frontend",
];
pub(super) const LABELS: &[&str] = &[
    "billing",
    "sso",
    "urgent",
    "customer-x",
    "regression",
    "mobile",
    "api",
    "ui",
    "data-loss",
    "vip",
];
/// (id, name, inward, outward)
pub(super) const LINK_TYPES: &[(&str, &str, &str, &str)] = &[
    ("10000", "Blocks", "is blocked by", "blocks"),
    ("10001", "Cloners", "is cloned by", "clones"),
    ("10002", "Duplicate", "is duplicated by", "duplicates"),
    ("10003", "Relates", "relates to", "relates to"),
];
pub(super) const SUBJECTS: &[&str] = &[
    "Login page",
    "Invoice export",
    "Password reset e-mail",
    "Mobile app sync",
    "Payment gateway",
    "Search results",
    "SSO with Okta",
    "CSV import",
    "Dashboard widget",
    "Webhook delivery",
    "Café locator",
    "Report «Umsatz»",
];
pub(super) const PROBLEMS: &[&str] = &[
    "returns 500 for some users",
    "is very slow since the last release",
    "shows the wrong currency",
    "times out for large accounts",
    "fails with an unknown error",
    "displays garbled characters (naïve → naÃ¯ve)",
    "needs a new field",
    "stopped working after the upgrade",
    "ignores the user's time zone",
    "duplicates every entry",
];
pub(super) const WORDS: &[&str] = &[
    "customer",
    "cannot",
    "log",
    "in",
    "after",
    "the",
    "latest",
    "deploy",
    "invoice",
    "totals",
    "are",
    "wrong",
    "when",
    "currency",
    "is",
    "EUR",
    "export",
    "times",
    "out",
    "for",
    "large",
    "accounts",
    "café",
    "naïve",
    "résumé",
    "Straße",
    "データ",
    "support",
    "ticket",
    "escalation",
    "payment",
    "gateway",
    "returns",
    "an",
    "error",
    "intermittently",
    "since",
    "Monday",
    "please",
    "check",
    "logs",
    "attached",
];
pub(super) const EMOJI: &[(&str, &str, &str)] = &[
    (":smile:", "1f604", "😄"),
    (":thumbsup:", "1f44d", "👍"),
    (":warning:", "atlassian-warning", ":warning:"),
    (":fire:", "1f525", "🔥"),
];
pub(super) const STATUS_LOZENGES: &[(&str, &str)] = &[
    ("IN REVIEW", "blue"),
    ("BLOCKED", "red"),
    ("DONE", "green"),
    ("ON HOLD", "yellow"),
    ("NEW", "neutral"),
];
pub(super) const PANEL_TYPES: &[&str] = &["info", "note", "warning", "error", "success"];
pub(super) const CODE_LANGS: &[&str] = &["java", "json", "bash", "sql", "python"];
/// (filename, mimeType)
pub(super) const ATTACHMENT_NAMES: &[(&str, &str)] = &[
    ("screenshot-1.png", "image/png"),
    ("error-log.txt", "text/plain"),
    ("Invoice March.pdf", "application/pdf"),
    ("export (2).csv", "text/csv"),
    ("har capture.json", "application/json"),
    ("server.log", "text/plain"),
    ("Übersicht.pdf", "application/pdf"),
    ("logs.zip", "application/zip"),
];

//! ADF → Jira wiki markup, for the REST API v2 of Data Center (rich text is a wiki string
//! there: descriptions, environments, comment bodies, worklog comments, textarea fields).
//!
//! Covers the nodes `adf.rs` generates: paragraphs (top-level blocks are separated by a
//! blank line), headings (`h2. …`), bullet and ordered lists (`*`, `#`, nested as `**`,
//! `*#`, …), code blocks (`{code:lang}…{code}`, `{noformat}` without a language),
//! blockquotes (`{quote}`), panels (`{info}`, `{note}`, `{warning}`, `{tip}`), tables
//! (`||h||` / `|c|`), rules (`----`), text marks (`*bold*`, `_italic_`, `{{code}}`,
//! `-strike-`, `+underline+`, `[text|url]`), mentions (`[~name]`), emoji (their text), hard
//! breaks (a newline; `\\` inside a list item or table cell, where a newline would end it),
//! smart links (`[url|url|smart-link]`), dates (`yyyy-MM-dd`, UTC) and status lozenges
//! (`*TEXT*`). Unknown nodes render their children. Text is not escaped.
//!
//! The walk is iterative (an explicit stack), so a document nested 10,000 lists deep (a
//! [`PoisonKind::DeepDescription`](crate::simulator::PoisonKind)) renders as one line of
//! 10,000 `*` and its text, without growing the thread's stack.

use serde_json::Value;

/// One step of the walk.
enum Step<'a> {
    /// A block node.
    Block(&'a Value),
    /// An inline node.
    Inline(&'a Value),
    /// Literal text.
    Text(&'static str),
    /// Text made while walking.
    Owned(String),
    /// A blank line before the next top-level block.
    BlankLine,
    /// Start a new line unless at the start of one.
    LineStart,
    /// Enter a list level (`*` or `#`).
    PushList(char),
    /// Leave a list level.
    PopList,
    /// Write the current list prefix and a space (a list item's line).
    ItemPrefix,
    /// Enter / leave a table cell.
    Cell(bool),
}

/// The wiki markup of the ADF document `doc`; `mention` names the user of a mention's
/// account id (`None`: the mention's text without `@`).
pub(super) fn adf_to_wiki(doc: &Value, mention: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut prefix = String::new();
    let mut cells = 0usize;
    let mut stack = vec![Step::Block(doc)];
    while let Some(step) = stack.pop() {
        match step {
            Step::Text(t) => out.push_str(t),
            Step::Owned(t) => out.push_str(&t),
            Step::BlankLine => {
                if !out.is_empty() {
                    if !out.ends_with('\n') {
                        out.push('\n');
                    }
                    out.push('\n');
                }
            }
            Step::LineStart => {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
            }
            Step::PushList(c) => prefix.push(c),
            Step::PopList => {
                prefix.pop();
            }
            Step::ItemPrefix => {
                out.push_str(&prefix);
                out.push(' ');
            }
            Step::Cell(enter) => {
                if enter {
                    cells += 1;
                } else {
                    cells = cells.saturating_sub(1);
                }
            }
            Step::Inline(node) => {
                let nested = !prefix.is_empty() || cells > 0;
                inline(node, nested, mention, &mut out, &mut stack);
            }
            Step::Block(node) => block(node, &mut stack),
        }
    }
    while out.ends_with('\n') {
        out.pop();
    }
    out
}

fn kind(node: &Value) -> &str {
    node.get("type").and_then(Value::as_str).unwrap_or("")
}

fn children(node: &Value) -> &[Value] {
    node.get("content")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn attr<'a>(node: &'a Value, name: &str) -> Option<&'a Value> {
    node.get("attrs").and_then(|a| a.get(name))
}

fn attr_str<'a>(node: &'a Value, name: &str) -> &'a str {
    attr(node, name).and_then(Value::as_str).unwrap_or("")
}

/// Pushes `steps` so that they run in the order given.
fn push_in_order<'a>(stack: &mut Vec<Step<'a>>, steps: Vec<Step<'a>>) {
    stack.extend(steps.into_iter().rev());
}

/// The steps of a block node (pushed in reverse, so they run in order).
fn block<'a>(node: &'a Value, stack: &mut Vec<Step<'a>>) {
    let kids = children(node);
    let inlines = || kids.iter().map(Step::Inline).collect::<Vec<_>>();
    let mut steps = Vec::new();
    match kind(node) {
        "doc" => {
            for (i, k) in kids.iter().enumerate() {
                if i > 0 {
                    steps.push(Step::BlankLine);
                }
                steps.push(Step::Block(k));
            }
        }
        "paragraph" => steps = inlines(),
        "heading" => {
            let level = attr(node, "level")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .clamp(1, 6);
            steps.push(Step::LineStart);
            steps.push(Step::Owned(format!("h{level}. ")));
            steps.extend(inlines());
        }
        "bulletList" | "orderedList" => {
            let c = if kind(node) == "bulletList" { '*' } else { '#' };
            steps.push(Step::PushList(c));
            steps.extend(kids.iter().map(Step::Block));
            steps.push(Step::PopList);
        }
        "listItem" => {
            // An item that only holds a list has no line of its own (its items carry the
            // longer prefix): a deep nest is one line, not one line per level.
            let is_list = |k: &Value| matches!(kind(k), "bulletList" | "orderedList");
            if !kids.first().is_some_and(is_list) {
                steps.push(Step::LineStart);
                steps.push(Step::ItemPrefix);
            }
            for (i, k) in kids.iter().enumerate() {
                match kind(k) {
                    "bulletList" | "orderedList" => {}
                    _ if i > 0 => steps.push(Step::Text(" ")),
                    _ => {}
                }
                steps.push(Step::Block(k));
            }
        }
        "codeBlock" => {
            let lang = attr_str(node, "language");
            let (open, close) = if lang.is_empty() {
                ("{noformat}".to_string(), "{noformat}")
            } else {
                (format!("{{code:{lang}}}"), "{code}")
            };
            steps.push(Step::LineStart);
            steps.push(Step::Owned(open + "\n"));
            for k in kids {
                steps.push(Step::Owned(
                    k.get("text")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                ));
            }
            steps.push(Step::Text("\n"));
            steps.push(Step::Text(close));
        }
        "blockquote" | "panel" => {
            let tag = if kind(node) == "blockquote" {
                "quote"
            } else {
                match attr_str(node, "panelType") {
                    "note" => "note",
                    "warning" | "error" => "warning",
                    "success" => "tip",
                    _ => "info",
                }
            };
            steps.push(Step::LineStart);
            steps.push(Step::Owned(format!("{{{tag}}}\n")));
            for (i, k) in kids.iter().enumerate() {
                if i > 0 {
                    steps.push(Step::BlankLine);
                }
                steps.push(Step::Block(k));
            }
            steps.push(Step::Text("\n"));
            steps.push(Step::Owned(format!("{{{tag}}}")));
        }
        "table" => steps.extend(kids.iter().map(Step::Block)),
        "tableRow" => {
            steps.push(Step::LineStart);
            let mut last = "|";
            for cell in kids {
                let sep = if kind(cell) == "tableHeader" {
                    "||"
                } else {
                    "|"
                };
                steps.push(Step::Text(sep));
                steps.push(Step::Cell(true));
                for (i, k) in children(cell).iter().enumerate() {
                    if i > 0 {
                        steps.push(Step::Text(" \\\\ "));
                    }
                    steps.push(Step::Block(k));
                }
                steps.push(Step::Cell(false));
                last = sep;
            }
            steps.push(Step::Text(last));
        }
        "rule" => {
            steps.push(Step::LineStart);
            steps.push(Step::Text("----"));
        }
        "text" | "mention" | "emoji" | "hardBreak" | "inlineCard" | "date" | "status" => {
            steps.push(Step::Inline(node));
        }
        _ => steps.extend(kids.iter().map(Step::Block)),
    }
    push_in_order(stack, steps);
}

/// Writes an inline node (its children go on the stack when it has any). `nested`: inside a
/// list item or a table cell.
fn inline<'a>(
    node: &'a Value,
    nested: bool,
    mention: &dyn Fn(&str) -> Option<String>,
    out: &mut String,
    stack: &mut Vec<Step<'a>>,
) {
    match kind(node) {
        "text" => out.push_str(&marked(node)),
        "mention" => {
            let name = mention(attr_str(node, "id"))
                .unwrap_or_else(|| attr_str(node, "text").trim_start_matches('@').to_string());
            out.push_str(&format!("[~{name}]"));
        }
        "emoji" => {
            let text = attr_str(node, "text");
            out.push_str(if text.is_empty() {
                attr_str(node, "shortName")
            } else {
                text
            });
        }
        "hardBreak" => out.push_str(if nested { " \\\\ " } else { "\n" }),
        "inlineCard" => {
            let url = attr_str(node, "url");
            out.push_str(&format!("[{url}|{url}|smart-link]"));
        }
        "date" => {
            let ms = attr(node, "timestamp")
                .and_then(|t| t.as_str().and_then(|s| s.parse().ok()).or(t.as_i64()))
                .unwrap_or(0);
            if let Some(d) = chrono::DateTime::from_timestamp_millis(ms) {
                out.push_str(&d.format("%Y-%m-%d").to_string());
            }
        }
        "status" => out.push_str(&format!("*{}*", attr_str(node, "text"))),
        _ => {
            let steps = children(node).iter().map(Step::Inline).collect();
            push_in_order(stack, steps);
        }
    }
}

/// A text node with its marks as wiki markup.
fn marked(node: &Value) -> String {
    let mut t = node
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let marks = node
        .get("marks")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let mut link = None;
    for m in marks {
        t = match kind(m) {
            "strong" => format!("*{t}*"),
            "em" => format!("_{t}_"),
            "code" => format!("{{{{{t}}}}}"),
            "strike" => format!("-{t}-"),
            "underline" => format!("+{t}+"),
            "link" => {
                link = Some(attr_str(m, "href").to_string());
                t
            }
            _ => t,
        };
    }
    match link {
        Some(href) => format!("[{t}|{href}]"),
        None => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wiki(doc: Value) -> String {
        adf_to_wiki(&doc, &|id| (id == "acc-1").then(|| "mia".to_string()))
    }

    #[test]
    fn blocks_and_marks() {
        let doc = json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [
                {"type": "text", "text": "bold", "marks": [{"type": "strong"}]},
                {"type": "text", "text": " and "},
                {"type": "text", "text": "it", "marks": [{"type": "em"}]},
                {"type": "text", "text": " "},
                {"type": "text", "text": "here", "marks": [{"type": "link", "attrs": {"href": "http://x/y"}}]},
                {"type": "hardBreak"},
                {"type": "mention", "attrs": {"id": "acc-1", "text": "@Mia"}},
                {"type": "text", "text": " "},
                {"type": "mention", "attrs": {"id": "other", "text": "@Bob"}},
                {"type": "text", "text": " "},
                {"type": "text", "text": "x()", "marks": [{"type": "code"}]},
            ]},
            {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Title"}]},
            {"type": "bulletList", "content": [
                {"type": "listItem", "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": "one"}]},
                    {"type": "orderedList", "content": [
                        {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "inner"}]}]}
                    ]}
                ]},
                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "two"}]}]}
            ]},
            {"type": "codeBlock", "attrs": {"language": "java"}, "content": [{"type": "text", "text": "a\nb"}]},
            {"type": "codeBlock", "content": [{"type": "text", "text": "raw"}]},
            {"type": "blockquote", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "q"}]}]},
            {"type": "panel", "attrs": {"panelType": "info"}, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "p"}]}]},
            {"type": "table", "content": [
                {"type": "tableRow", "content": [
                    {"type": "tableHeader", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "h1"}]}]},
                    {"type": "tableHeader", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "h2"}]}]}
                ]},
                {"type": "tableRow", "content": [
                    {"type": "tableCell", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "c1"}]}]},
                    {"type": "tableCell", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "c2"}]}]}
                ]}
            ]},
            {"type": "rule"}
        ]});
        let want = "*bold* and _it_ [here|http://x/y]\n[~mia] [~Bob] {{x()}}\n\n\
                    h2. Title\n\n\
                    * one\n*# inner\n* two\n\n\
                    {code:java}\na\nb\n{code}\n\n\
                    {noformat}\nraw\n{noformat}\n\n\
                    {quote}\nq\n{quote}\n\n\
                    {info}\np\n{info}\n\n\
                    ||h1||h2||\n|c1|c2|\n\n\
                    ----";
        assert_eq!(wiki(doc), want);
    }

    #[test]
    fn deep_lists_render_without_recursion() {
        let doc = super::super::adf::deep_description(10_000, "SUP-9");
        let text = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let t = wiki_of(&doc);
                crate::json::drop_deep(doc);
                t
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(text, format!("{} deep bottom of SUP-9", "*".repeat(10_000)));
    }

    fn wiki_of(doc: &Value) -> String {
        adf_to_wiki(doc, &|_| None)
    }
}

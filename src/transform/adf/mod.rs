//! Atlassian Document Format (ADF) → plain text.
//!
//! # Why
//! Jira's REST API v3 returns every rich-text value — issue `description`, comment `body`,
//! worklog `comment`, textarea custom fields — as an ADF document: a JSON tree of block nodes
//! (`paragraph`, `bulletList`, `table`, …) holding inline nodes (`text`, `mention`, `emoji`, …).
//! Analysts querying the Parquet tables with DuckDB want to search, count and read that text,
//! not walk JSON, so the transform stores a plain-text rendering beside the raw JSON. The
//! REST API v2 and webhook bodies carry the same fields as wiki-markup *strings*; [`to_text`]
//! passes those through unchanged, and the row builders render them with `super::wiki` by
//! the same conventions.
//!
//! # Rendering rules
//! - Blocks (paragraphs, headings, list items, rows, …) each start a new line; blocks are
//!   separated by a single `\n`. An empty paragraph stands for a blank line, runs of blank
//!   lines (empty paragraphs, repeated `hardBreak`s) collapse to one, and the text neither
//!   starts nor ends with a newline.
//! - Lists: `- item`, `1. item` (starting at `orderedList.attrs.order`), tasks `[ ] `/`[x] `;
//!   nested lists are indented by two spaces per level, so are continuation lines of an item.
//!   A list item whose first block is itself a list shows both markers (`- - nested`); an
//!   item without text shows nothing but still takes its number.
//! - `blockquote` lines are prefixed `> `; `rule` is `---`; `codeBlock` text is kept verbatim
//!   (whitespace, blank lines, no mark processing).
//! - Tables: one line per row, cells separated by ` | ` (empty cells keep their separators so
//!   columns line up; an all-empty row is left out); a cell's own line breaks, including
//!   those of a code block in it, become spaces so that a row stays on one line.
//! - Inline nodes: `@Name` mentions, emoji short names, `date` as `YYYY-MM-DD` (UTC),
//!   `[STATUS]`, smart-link URLs, and a `link` mark adds ` (href)` after its text when the
//!   href differs from the text (adjacent text nodes with the same link share one suffix).
//! - Anything unknown keeps its text: an unrecognised node renders its `content` and its
//!   `text` field. Malformed parts (non-object nodes, a non-array `content`, a missing
//!   `type`) are skipped or read leniently; the renderer never panics.
//!
//! # Why iterative
//! ADF comes from users and from other tools; nothing bounds its nesting depth. A recursive
//! renderer would overflow the thread's stack (an abort, not a recoverable error) on a
//! deeply nested document, so the walk keeps its own heap-allocated stack of frames: memory
//! grows with depth, the call stack does not. The same is true of every per-level state
//! (line prefixes, list counters).
//!
//! # Cost
//! The batch transform renders a description and a handful of comments per issue at
//! thousands of issues per second, so the renderer appends into one pre-sized `String`,
//! borrows every string from the input, and allocates nothing per node (its frame and
//! prefix stacks are a few `Vec`s per document).

use std::fmt::Write as _;

use serde_json::{Map, Value};

/// Plain text of a Jira rich-text value: an ADF document (v3) is rendered; a string (v2 wiki
/// markup, webhook bodies) passes through unchanged; null → None.
///
/// Numbers and booleans become their JSON text and an array is rendered as a sequence of ADF
/// nodes, so a value of an unexpected shape still yields its text rather than nothing. An
/// empty document gives `Some("")`, distinct from a missing value (`None`).
pub fn to_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(_) | Value::Number(_) => Some(value.to_string()),
        Value::Object(_) | Value::Array(_) => Some(adf_to_text(value)),
    }
}

/// Renders an ADF node (usually the `doc`) to plain text.
///
/// Any node can be the root; an array is rendered as a sequence of sibling nodes; any other
/// JSON value (not an ADF node) gives an empty string. See the [module docs](self) for the
/// rules.
pub fn adf_to_text(node: &Value) -> String {
    let mut out = String::with_capacity(estimated_len(node));
    adf_to_text_into(node, &mut out);
    out
}

/// Like [`adf_to_text`] but appends to `out`, so that a batch can reuse one buffer.
///
/// Nothing is inserted between what `out` already holds and the rendered text.
pub fn adf_to_text_into(node: &Value, out: &mut String) {
    Renderer::new(out).run(node);
}

/// A cheap guess of the rendered size, to allocate the output once in the common case.
fn estimated_len(node: &Value) -> usize {
    let blocks = match node.get("content") {
        Some(Value::Array(a)) => a.len(),
        _ => 1,
    };
    blocks.saturating_mul(96).saturating_add(64).min(1 << 16)
}

/// One piece of the prefix that every line starts with, innermost last.
#[derive(Clone, Copy, Debug)]
enum Seg {
    /// Two spaces: a list nested directly in a list.
    Indent,
    /// `> `: inside a blockquote.
    Quote,
    /// A list or task item: its marker on the item's first line, two spaces on later lines.
    Item { marker: Marker, pending: bool },
}

#[derive(Clone, Copy, Debug)]
enum Marker {
    Bullet,
    Number(u64),
    Todo,
    Done,
}

/// What a frame does when its node is left (and what its children see as their parent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Unknown or inline node: no line structure of its own.
    Transparent,
    /// A block: starts and ends a line.
    Block,
    /// A block whose emptiness means a blank line.
    Paragraph,
    /// A block whose text is verbatim.
    Code,
    BulletList,
    OrderedList,
    TaskList,
    /// A table row: its children are cells on one line.
    Row,
}

impl Kind {
    fn is_list(self) -> bool {
        matches!(self, Kind::BulletList | Kind::OrderedList | Kind::TaskList)
    }
}

/// One entered node whose children are still being walked.
struct Frame<'a> {
    children: std::slice::Iter<'a, Value>,
    kind: Kind,
    /// `segs.len()` when the node was entered; restored when it is left.
    seg_len: usize,
    /// `out.len()` after the node was entered (a paragraph that wrote nothing is empty).
    mark: usize,
    /// The next number of an ordered list.
    next_number: u64,
}

/// The table row being written. Rows nested in a cell are read as plain blocks.
#[derive(Clone, Copy, Debug)]
struct RowState {
    /// `segs` below this index belong to the row's line; those above to a cell's content.
    seg_base: usize,
    /// Newlines owed when the row was entered; used when its line starts.
    saved_pending: u32,
    saved_raw: bool,
    /// Where the row's line starts in `out`, once something was written in the row.
    line_start: Option<usize>,
    /// Index of the cell being walked, cells entered so far, ` | ` written so far.
    cell_index: u32,
    cells_seen: u32,
    seps_written: u32,
    cell_has_content: bool,
}

struct Renderer<'a, 'o> {
    out: &'o mut String,
    segs: Vec<Seg>,
    /// Newlines owed before the next content (written lazily, so that nothing trails).
    pending: u32,
    /// The owed newlines come from a code block: not capped.
    pending_raw: bool,
    /// Depth of enclosing code blocks.
    raw: u32,
    /// Something has been written (newlines before the first content are dropped).
    started: bool,
    /// An open run of text under one `link` mark: (href, where its text starts in `out`).
    link: Option<(&'a str, usize)>,
    row: Option<RowState>,
}

impl<'a, 'o> Renderer<'a, 'o> {
    fn new(out: &'o mut String) -> Self {
        Renderer {
            out,
            segs: Vec::new(),
            pending: 0,
            pending_raw: false,
            raw: 0,
            started: false,
            link: None,
            row: None,
        }
    }

    fn run(mut self, root: &'a Value) {
        let mut frames: Vec<Frame<'a>> = Vec::with_capacity(16);
        match root {
            Value::Object(node) => self.enter(node, &mut frames),
            Value::Array(items) => frames.push(Frame {
                children: items.iter(),
                kind: Kind::Transparent,
                seg_len: 0,
                mark: 0,
                next_number: 0,
            }),
            _ => {}
        }
        while let Some(top) = frames.last_mut() {
            match top.children.next() {
                Some(Value::Object(node)) => self.enter(node, &mut frames),
                // Not a node (string, number, null, array): nothing usable.
                Some(_) => {}
                None => {
                    if let Some(frame) = frames.pop() {
                        self.exit(&frame);
                    }
                }
            }
        }
        self.close_link();
    }

    /// Writes what a node shows before its children and pushes its frame.
    fn enter(&mut self, node: &'a Map<String, Value>, frames: &mut Vec<Frame<'a>>) {
        let ty = node.get("type").and_then(Value::as_str).unwrap_or("");
        let seg_len = self.segs.len();
        let parent = frames.last_mut();
        if parent.as_ref().is_some_and(|p| p.kind == Kind::Row) {
            self.next_cell();
        }
        let kind = match self.enter_block(ty, node, parent) {
            Some(kind) => kind,
            None => {
                self.enter_inline(ty, node);
                Kind::Transparent
            }
        };
        let children = children_of(node);
        if kind == Kind::Transparent && children.len() == 0 {
            return;
        }
        let next_number = if kind == Kind::OrderedList {
            list_start(node)
        } else {
            0
        };
        frames.push(Frame {
            children,
            kind,
            seg_len,
            mark: self.out.len(),
            next_number,
        });
    }

    /// A child of the table row being written: the row's next cell.
    fn next_cell(&mut self) {
        if let Some(row) = self.row.as_mut() {
            row.cell_index = row.cells_seen;
            row.cells_seen = row.cells_seen.saturating_add(1);
        }
    }

    /// A block node: starts a line, writes what the block shows before its children and
    /// returns its kind. `None`, having done nothing, for an inline or unknown node.
    fn enter_block(
        &mut self,
        ty: &str,
        node: &'a Map<String, Value>,
        parent: Option<&mut Frame<'a>>,
    ) -> Option<Kind> {
        let kind = match ty {
            "doc" | "heading" | "panel" | "layoutSection" | "layoutColumn" | "decisionList"
            | "decisionItem" | "bodiedExtension" | "mediaSingle" | "mediaGroup" | "caption"
            | "table" | "tableCell" | "tableHeader" => {
                self.boundary();
                Kind::Block
            }
            "paragraph" => {
                self.boundary();
                Kind::Paragraph
            }
            "codeBlock" => {
                self.boundary();
                self.raw = self.raw.saturating_add(1);
                Kind::Code
            }
            "blockquote" => {
                self.boundary();
                self.segs.push(Seg::Quote);
                Kind::Block
            }
            "rule" => {
                self.boundary();
                self.emit("---");
                Kind::Block
            }
            "bulletList" | "orderedList" | "taskList" => {
                self.boundary();
                self.enter_list(ty, parent.is_some_and(|p| p.kind.is_list()))
            }
            "listItem" => {
                self.boundary();
                self.enter_item(list_item_marker(parent));
                Kind::Block
            }
            "taskItem" => {
                self.boundary();
                self.enter_item(task_item_marker(node));
                Kind::Block
            }
            "expand" | "nestedExpand" => {
                self.boundary();
                if let Some(title) = attr_str(node, "title") {
                    self.emit(title);
                    self.boundary();
                }
                Kind::Block
            }
            "tableRow" => {
                self.boundary();
                self.enter_row()
            }
            "media" => {
                self.boundary();
                self.emit_some(media_name(node));
                Kind::Block
            }
            "blockCard" | "embedCard" => {
                self.boundary();
                self.emit_some(card_url(node));
                Kind::Block
            }
            "extension" => {
                self.boundary();
                self.emit_some(attr_str(node, "text"));
                Kind::Block
            }
            _ => return None,
        };
        Some(kind)
    }

    /// A bullet, ordered or task list; one nested directly in a list is indented.
    fn enter_list(&mut self, ty: &str, in_a_list: bool) -> Kind {
        if in_a_list {
            self.segs.push(Seg::Indent);
        }
        match ty {
            "bulletList" => Kind::BulletList,
            "orderedList" => Kind::OrderedList,
            _ => Kind::TaskList,
        }
    }

    /// A list or task item: `marker` goes on its first line.
    fn enter_item(&mut self, marker: Marker) {
        self.segs.push(Seg::Item {
            marker,
            pending: true,
        });
    }

    /// A table row: its cells go on one line, unless the table is itself inside a cell
    /// (then its rows are just blocks of the outer cell).
    fn enter_row(&mut self) -> Kind {
        if self.row.is_some() {
            return Kind::Block;
        }
        self.row = Some(RowState {
            seg_base: self.segs.len(),
            saved_pending: self.pending,
            saved_raw: self.pending_raw,
            line_start: None,
            cell_index: 0,
            cells_seen: 0,
            seps_written: 0,
            cell_has_content: false,
        });
        Kind::Row
    }

    /// Writes an inline node, or the text of a node of unknown (or missing) type; either
    /// way its children, if any, are walked next.
    fn enter_inline(&mut self, ty: &str, node: &'a Map<String, Value>) {
        match ty {
            "hardBreak" => {
                self.close_link();
                self.newline();
            }
            "mention" => self.mention(node),
            "emoji" => self.emit_some(
                attr_str(node, "shortName")
                    .filter(|s| !s.is_empty())
                    .or_else(|| attr_str(node, "text")),
            ),
            "date" => self.date(node),
            "status" => self.status(node),
            "inlineCard" => self.emit_some(card_url(node)),
            "mediaInline" => self.emit_some(media_name(node)),
            "placeholder" | "inlineExtension" => self.emit_some(attr_str(node, "text")),
            // `text`, and any unknown type: keep its text.
            _ => self.text_node(node),
        }
    }

    /// A node's `text` with its `link` mark (none inside a code block).
    fn text_node(&mut self, node: &'a Map<String, Value>) {
        if let Some(text) = node.get("text").and_then(Value::as_str) {
            let href = if self.raw > 0 { None } else { link_href(node) };
            self.text(text, href);
        }
    }

    /// A status lozenge: `[TEXT]`.
    fn status(&mut self, node: &'a Map<String, Value>) {
        if let Some(text) = attr_str(node, "text").filter(|t| !t.is_empty()) {
            self.start_inline();
            self.out.push('[');
            self.out.push_str(text);
            self.out.push(']');
        }
    }

    /// Finishes a node whose children have all been walked.
    fn exit(&mut self, frame: &Frame<'a>) {
        self.segs.truncate(frame.seg_len);
        match frame.kind {
            Kind::Transparent => {}
            Kind::Block | Kind::BulletList | Kind::OrderedList | Kind::TaskList => self.boundary(),
            Kind::Paragraph => {
                self.close_link();
                if self.started && self.row.is_none() && self.out.len() == frame.mark {
                    // An empty paragraph is the author's blank line.
                    self.pending = self.pending.saturating_add(1);
                }
                self.boundary();
            }
            Kind::Code => {
                self.raw = self.raw.saturating_sub(1);
                if self.raw == 0 {
                    // Newlines trailing the code are layout again: capped like any other.
                    self.pending_raw = false;
                }
                self.boundary();
            }
            Kind::Row => {
                self.close_link();
                if let Some(row) = self.row.take() {
                    if row.line_start.is_some() {
                        // Empty trailing cells still get their separators: columns line up.
                        let missing = row
                            .cells_seen
                            .saturating_sub(1)
                            .saturating_sub(row.seps_written);
                        for _ in 0..missing {
                            self.out.push_str(" | ");
                        }
                        if missing > 0 {
                            self.out.pop();
                        }
                        self.pending = 1;
                        self.pending_raw = false;
                    } else {
                        // Nothing written: forget the line breaks counted inside the cells.
                        self.pending = row.saved_pending;
                        self.pending_raw = row.saved_raw;
                    }
                }
                self.boundary();
            }
        }
    }

    /// A block starts or ends here: the next content goes on a new line.
    fn boundary(&mut self) {
        self.close_link();
        if self.pending == 0 {
            self.pending = 1;
        }
    }

    /// A line break inside a block (`hardBreak`, `\n` in text).
    fn newline(&mut self) {
        self.pending = self.pending.saturating_add(1);
        if self.raw > 0 {
            self.pending_raw = true;
        }
    }

    /// Writes inline text that is not part of a link run.
    fn emit(&mut self, s: &'a str) {
        self.text(s, None);
    }

    /// [`Renderer::emit`] for text that may be missing.
    fn emit_some(&mut self, s: Option<&'a str>) {
        if let Some(s) = s {
            self.emit(s);
        }
    }

    /// Writes a text node's text; `href` is its `link` mark, if any.
    fn text(&mut self, s: &'a str, href: Option<&'a str>) {
        if s.is_empty() {
            return;
        }
        let continues = matches!((self.link, href), (Some((open, _)), Some(h)) if open == h);
        if !continues {
            self.close_link();
        }
        for (i, piece) in s.split('\n').enumerate() {
            if i > 0 {
                self.newline();
            }
            if piece.is_empty() {
                continue;
            }
            self.content_start();
            if let (None, Some(h)) = (self.link, href) {
                self.link = Some((h, self.out.len()));
            }
            self.out.push_str(piece);
        }
    }

    /// Prepares the output for inline content that is not a text run.
    fn start_inline(&mut self) {
        self.close_link();
        self.content_start();
    }

    /// Ends an open link run: ` (href)` unless the text already is the link.
    fn close_link(&mut self) {
        if let Some((href, start)) = self.link.take() {
            let text = self.out.get(start..).unwrap_or("");
            let same = text == href || href.strip_prefix("mailto:") == Some(text);
            if !same {
                self.out.push_str(" (");
                self.out.push_str(href);
                self.out.push(')');
            }
        }
    }

    fn mention(&mut self, node: &'a Map<String, Value>) {
        if let Some(text) = attr_str(node, "text").filter(|t| !t.is_empty()) {
            if text.starts_with('@') {
                self.emit(text);
            } else {
                self.start_inline();
                self.out.push('@');
                self.out.push_str(text);
            }
        } else if let Some(id) = attr_str(node, "id").filter(|t| !t.is_empty()) {
            self.start_inline();
            self.out.push('@');
            self.out.push_str(id);
        }
    }

    fn date(&mut self, node: &'a Map<String, Value>) {
        let ms = match node.get("attrs").and_then(|a| a.get("timestamp")) {
            Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(f64_to_i64)),
            Some(Value::String(s)) => {
                let t = s.trim();
                match t.parse::<i64>() {
                    Ok(ms) => Some(ms),
                    Err(_) => match t.parse::<f64>() {
                        Ok(f) if f.is_finite() => Some(f64_to_i64(f)),
                        // Not a number: keep what the author's tool wrote.
                        _ => {
                            self.emit(s);
                            return;
                        }
                    },
                }
            }
            _ => None,
        };
        if let Some(ms) = ms {
            self.start_inline();
            let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
            // Writing into a String cannot fail.
            let _ = write!(self.out, "{y:04}-{m:02}-{d:02}");
        }
    }

    /// Before any visible content: owed newlines, the line prefix, table-cell separators.
    fn content_start(&mut self) {
        let Some(mut row) = self.row else {
            if self.pending > 0 || !self.started {
                self.begin_line(self.segs.len(), self.pending, self.pending_raw);
            }
            return;
        };
        if row.line_start.is_none() {
            self.begin_line(row.seg_base, row.saved_pending, row.saved_raw);
            row.line_start = Some(self.out.len());
        }
        while row.seps_written < row.cell_index {
            if Some(self.out.len()) == row.line_start {
                self.out.push_str("| ");
            } else {
                self.out.push_str(" | ");
            }
            row.seps_written += 1;
            row.cell_has_content = false;
        }
        let space = row.cell_has_content && self.pending > 0;
        if space {
            self.out.push(' ');
        }
        if space || !row.cell_has_content {
            let segs = self.segs.get_mut(row.seg_base..).unwrap_or_default();
            write_cell_prefix(self.out, segs);
        }
        row.cell_has_content = true;
        self.pending = 0;
        self.pending_raw = false;
        self.row = Some(row);
    }

    /// Starts a new line: owed newlines (blank lines capped at one unless raw) and the prefix
    /// made of `segs[..limit]`.
    fn begin_line(&mut self, limit: usize, pending: u32, raw: bool) {
        let limit = limit.min(self.segs.len());
        if self.started && pending > 0 {
            let n = if raw { pending } else { pending.min(2) };
            self.out.push('\n');
            for _ in 1..n {
                let start = self.out.len();
                for seg in &self.segs[..limit] {
                    self.out.push_str(if matches!(seg, Seg::Quote) {
                        "> "
                    } else {
                        "  "
                    });
                }
                let kept = self.out[start..].trim_end_matches(' ').len();
                self.out.truncate(start + kept);
                self.out.push('\n');
            }
        }
        self.started = true;
        self.pending = 0;
        self.pending_raw = false;
        for seg in &mut self.segs[..limit] {
            match seg {
                Seg::Indent => self.out.push_str("  "),
                Seg::Quote => self.out.push_str("> "),
                Seg::Item { marker, pending } => {
                    if *pending {
                        *pending = false;
                        write_marker(self.out, *marker);
                    } else {
                        self.out.push_str("  ");
                    }
                }
            }
        }
    }
}

/// Inside a table cell a "line" shows quote marks and item markers, not indentation.
fn write_cell_prefix(out: &mut String, segs: &mut [Seg]) {
    for seg in segs {
        match seg {
            Seg::Quote => out.push_str("> "),
            Seg::Item { marker, pending } if *pending => {
                *pending = false;
                write_marker(out, *marker);
            }
            _ => {}
        }
    }
}

fn write_marker(out: &mut String, marker: Marker) {
    match marker {
        Marker::Bullet => out.push_str("- "),
        Marker::Number(n) => {
            let _ = write!(out, "{n}. ");
        }
        Marker::Todo => out.push_str("[ ] "),
        Marker::Done => out.push_str("[x] "),
    }
}

/// The marker of a list item: the next number of an ordered list (counted in its frame),
/// else a bullet.
fn list_item_marker(parent: Option<&mut Frame<'_>>) -> Marker {
    match parent {
        Some(p) if p.kind == Kind::OrderedList => {
            let n = p.next_number;
            p.next_number = n.saturating_add(1);
            Marker::Number(n)
        }
        _ => Marker::Bullet,
    }
}

/// The marker of a task item: `[x]` when its state is `DONE` (any case), else `[ ]`.
fn task_item_marker(node: &Map<String, Value>) -> Marker {
    let done = attr_str(node, "state").is_some_and(|s| s.eq_ignore_ascii_case("DONE"));
    if done { Marker::Done } else { Marker::Todo }
}

/// A node's children: `content` as an array, or a lone object read as one child.
fn children_of(node: &Map<String, Value>) -> std::slice::Iter<'_, Value> {
    match node.get("content") {
        Some(Value::Array(items)) => items.iter(),
        Some(child @ Value::Object(_)) => std::slice::from_ref(child).iter(),
        _ => [].iter(),
    }
}

fn attr_str<'a>(node: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    node.get("attrs")?.get(key)?.as_str()
}

/// `orderedList.attrs.order`, 1 when missing or not a non-negative integer.
fn list_start(node: &Map<String, Value>) -> u64 {
    match node.get("attrs").and_then(|a| a.get("order")) {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && *f >= 0.0)
                    .map(|f| f as u64)
            })
            .unwrap_or(1),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(1),
        _ => 1,
    }
}

/// The href of a text node's `link` mark.
fn link_href(node: &Map<String, Value>) -> Option<&str> {
    node.get("marks")?.as_array()?.iter().find_map(|mark| {
        if mark.get("type")?.as_str()? != "link" {
            return None;
        }
        mark.get("attrs")?
            .get("href")?
            .as_str()
            .filter(|h| !h.is_empty())
    })
}

/// A media node's alt text or file name.
fn media_name(node: &Map<String, Value>) -> Option<&str> {
    ["alt", "name", "fileName"]
        .into_iter()
        .find_map(|key| attr_str(node, key).filter(|s| !s.is_empty()))
}

/// A smart link's URL (`attrs.url`, else `attrs.data.url`, else `attrs.data.name`).
fn card_url(node: &Map<String, Value>) -> Option<&str> {
    fn nonempty(v: Option<&Value>) -> Option<&str> {
        v.and_then(Value::as_str).filter(|s| !s.is_empty())
    }
    let attrs = node.get("attrs")?;
    let data = attrs.get("data");
    nonempty(attrs.get("url"))
        .or_else(|| nonempty(data.and_then(|d| d.get("url"))))
        .or_else(|| nonempty(data.and_then(|d| d.get("name"))))
}

/// Saturating float → integer (NaN → 0), for timestamps written as floats.
fn f64_to_i64(f: f64) -> i64 {
    f as i64
}

/// (year, month, day) of a day number counted from 1970-01-01, proleptic Gregorian
/// (H. Hinnant's `civil_from_days`). Total over all `i64` day numbers a timestamp in
/// milliseconds can produce.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests;

//! Jira wiki markup → plain text, for the rich-text columns of the tables.
//!
//! # Why
//! The REST API v2 (Jira Data Center and Server) and webhook bodies carry descriptions,
//! comment bodies and textarea fields as wiki-markup strings (`h1. Title`, `*bold*`,
//! `[text|https://…]`, `{code}…{code}`), where v3 carries ADF documents. The raw JSON keeps
//! the markup verbatim; the tables get plain text that reads like the ADF rendering
//! (`super::adf`), so an analyst's query does not care which API the issue came from.
//!
//! # Rendering rules (the ADF renderer's conventions)
//! - `h1.`…`h6.` keep their text; `bq.` and `{quote}` lines are prefixed `> `; `----` is
//!   `---`.
//! - Lists: `*`, `-` → `- item`, `#` → `1. item` (numbered per level); deeper levels (`**`,
//!   `#*`) are indented two spaces per level.
//! - Tables: `||head||head||` and `|cell|cell|` rows become cells separated by ` | `.
//! - `{code}` and `{noformat}` content is kept verbatim (no markup read inside); `{panel}`,
//!   `{color}`, `{anchor}` tags are dropped and their content kept.
//! - Inline: text effects (`*strong*`, `_emphasis_`, `-deleted-`, `+inserted+`, `^sup^`,
//!   `~sub~`, `??citation??`, `{{monospace}}`) keep their text; `[text|url]` is
//!   `text (url)`, `[url]` the url, `[~user]` `@user`, `[^file]` and `!image.png|…!` the
//!   file name; `\x` is `x` (an escape) and `\\` a line break.
//! - Runs of blank lines collapse to one; the text neither starts nor ends with a newline.
//!
//! # Hostile input
//! Markup comes from users. The renderer works line by line with no recursion; looking for
//! the end of an effect or a link is bounded ([`LOOKAHEAD`]), so a line of unmatched markers
//! costs linear time; it never panics (every slice is at a char boundary).

/// How far (bytes) a text effect or link looks for its closing marker on the same line.
const LOOKAHEAD: usize = 1024;

/// Plain text of a wiki-markup string (see the module docs).
pub fn to_text(markup: &str) -> String {
    let mut out = Lines::default();
    let mut verbatim: Option<&'static str> = None;
    let mut quoting = false;
    for raw in markup.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(close) = verbatim {
            match line.find(close) {
                Some(at) => {
                    if !line[..at].trim().is_empty() {
                        out.push_verbatim(&line[..at]);
                    }
                    verbatim = None;
                    let rest = line[at + close.len()..].trim_start();
                    if !rest.is_empty() {
                        out.push(&inline(rest), quoting);
                    }
                }
                None => out.push_verbatim(line),
            }
            continue;
        }
        let trimmed = line.trim_start();
        if let Some((tag, rest)) = block_open(trimmed) {
            let close = if tag == "code" {
                "{code}"
            } else {
                "{noformat}"
            };
            match rest.find(close) {
                Some(at) => {
                    out.push_verbatim(&rest[..at]);
                    let after = rest[at + close.len()..].trim_start();
                    if !after.is_empty() {
                        out.push(&inline(after), quoting);
                    }
                }
                None => {
                    if !rest.is_empty() {
                        out.push_verbatim(rest);
                    }
                    verbatim = Some(close);
                }
            }
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("{quote}") {
            quoting = !quoting;
            if !rest.trim().is_empty() {
                out.push(&inline(rest), quoting);
            }
            continue;
        }
        let text = block_line(trimmed, &mut out.numbers);
        out.push(&text, quoting);
    }
    out.finish()
}

/// `{code}`, `{code:java}`, `{noformat}` or `{noformat:nopanel=true}` at the start of a line:
/// its name and what follows the tag.
fn block_open(line: &str) -> Option<(&'static str, &str)> {
    for tag in ["code", "noformat"] {
        if let Some(rest) = line.strip_prefix('{').and_then(|r| r.strip_prefix(tag))
            && (rest.starts_with('}') || rest.starts_with(':'))
            && let Some(end) = rest.find('}')
        {
            return Some((tag, &rest[end + 1..]));
        }
    }
    None
}

/// One line outside a code block: headings, quotes, rules, lists and tables, then inline.
fn block_line(line: &str, numbers: &mut Vec<u32>) -> String {
    if let Some(rest) = heading(line) {
        numbers.clear();
        return inline(rest);
    }
    if let Some(rest) = line.strip_prefix("bq. ") {
        numbers.clear();
        return format!("> {}", inline(rest));
    }
    if line.trim_end() == "----" {
        numbers.clear();
        return "---".to_owned();
    }
    if let Some(text) = list_item(line, numbers) {
        return text;
    }
    numbers.clear();
    if line.starts_with('|') {
        return table_row(line);
    }
    inline(line)
}

/// `h1. ` … `h6. `: the heading's text.
fn heading(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('h')?;
    let mut chars = rest.chars();
    let level = chars.next()?;
    if !('1'..='6').contains(&level) {
        return None;
    }
    rest[1..]
        .strip_prefix(". ")
        .or_else(|| (rest[1..].trim_end() == ".").then_some(""))
}

/// A list item (`* a`, `## b`, `*# c`, `- d`): its rendering, numbering `#` items per level.
fn list_item(line: &str, numbers: &mut Vec<u32>) -> Option<String> {
    let markers = line
        .bytes()
        .take_while(|b| matches!(b, b'*' | b'#' | b'-'))
        .count();
    if markers == 0 || !line[markers..].starts_with(' ') {
        return None;
    }
    let marks = &line[..markers];
    // `-` only makes a list at the first level (`--` is not a list, `-- a` is text).
    if marks.contains('-') && marks != "-" {
        return None;
    }
    let depth = markers;
    numbers.truncate(depth);
    numbers.resize(depth, 0);
    let text = inline(line[markers..].trim_start());
    let indent = "  ".repeat(depth - 1);
    Some(if marks.ends_with('#') {
        numbers[depth - 1] += 1;
        format!("{indent}{}. {text}", numbers[depth - 1])
    } else {
        numbers[depth - 1] = 0;
        format!("{indent}- {text}")
    })
}

/// `||a||b||` or `|a|b|`: the cells separated by ` | `.
fn table_row(line: &str) -> String {
    let body = line.trim_end();
    let body = body
        .strip_prefix("||")
        .or_else(|| body.strip_prefix('|'))
        .unwrap_or(body);
    let body = body
        .strip_suffix("||")
        .or_else(|| body.strip_suffix('|'))
        .unwrap_or(body);
    body.split('|')
        .filter(|cell| !cell.is_empty() || !body.contains("||"))
        .map(|cell| inline(cell.trim()))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Text effects, links, mentions, images, escapes and tags of one line.
fn inline(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    let mut previous: Option<char> = None;
    while let Some(c) = rest.chars().next() {
        let after = &rest[c.len_utf8()..];
        match c {
            '\\' => {
                // `\\` is a line break; `\x` is `x`.
                if let Some(next) = after.chars().next() {
                    if next == '\\' {
                        out.push('\n');
                    } else {
                        out.push(next);
                    }
                    previous = Some(next);
                    rest = &after[next.len_utf8()..];
                } else {
                    rest = after;
                }
                continue;
            }
            '[' => {
                if let Some((text, len)) = link(after) {
                    out.push_str(&text);
                    previous = text.chars().last();
                    rest = &after[len..];
                    continue;
                }
            }
            '!' if previous.is_none_or(|p| !p.is_alphanumeric()) => {
                if let Some(end) = bounded_find(after, '!')
                    && let Some(name) = image_name(&after[..end])
                {
                    out.push_str(name);
                    previous = name.chars().last();
                    rest = &after[end + 1..];
                    continue;
                }
            }
            '{' => {
                if let Some(inner) = after.strip_prefix('{')
                    && let Some(end) = bounded_find_str(inner, "}}")
                {
                    out.push_str(&inner[..end]);
                    previous = inner[..end].chars().last();
                    rest = &inner[end + 2..];
                    continue;
                }
                if let Some(len) = dropped_tag(after) {
                    rest = &after[len..];
                    continue;
                }
            }
            '?' if after.starts_with('?') && previous.is_none_or(|p| !p.is_alphanumeric()) => {
                let inner = &after[1..];
                if let Some(end) = bounded_find_str(inner, "??")
                    && end > 0
                {
                    out.push_str(&inline(&inner[..end]));
                    previous = Some('?');
                    rest = &inner[end + 2..];
                    continue;
                }
            }
            '*' | '_' | '-' | '+' | '^' | '~' => {
                if let Some(end) = effect_end(c, previous, after) {
                    out.push_str(&inline(&after[..end]));
                    previous = after[..end].chars().last();
                    rest = &after[end + c.len_utf8()..];
                    continue;
                }
            }
            _ => {}
        }
        out.push(c);
        previous = Some(c);
        rest = after;
    }
    out
}

/// Where the text effect opened by `marker` (after `previous`) ends in `after`: an opener
/// follows a non-alphanumeric character and precedes a non-space; the closer is the same
/// marker after a non-space and before a non-alphanumeric character, on this line.
fn effect_end(marker: char, previous: Option<char>, after: &str) -> Option<usize> {
    if previous.is_some_and(char::is_alphanumeric) {
        return None;
    }
    let first = after.chars().next()?;
    if first.is_whitespace() || first == marker {
        return None;
    }
    let window = &after[..floor_boundary(after, LOOKAHEAD)];
    let mut last: Option<char> = None;
    for (at, c) in window.char_indices() {
        if c == marker && at > 0 && last.is_some_and(|l| !l.is_whitespace()) {
            let next = window[at + c.len_utf8()..].chars().next();
            if next.is_none_or(|n| !n.is_alphanumeric()) {
                return Some(at);
            }
        }
        last = Some(c);
    }
    None
}

/// `[text|url]`, `[url]`, `[~user]`, `[^file]`, `[#anchor]` after the `[`: the rendering and
/// the bytes it took (up to and including `]`).
fn link(after: &str) -> Option<(String, usize)> {
    let end = bounded_find(after, ']')?;
    let inner = &after[..end];
    if inner.is_empty() || inner.contains('[') {
        return None;
    }
    let text = if let Some(user) = inner.strip_prefix('~') {
        format!("@{}", user.strip_prefix("accountid:").unwrap_or(user))
    } else if let Some(file) = inner.strip_prefix('^') {
        file.to_owned()
    } else if let Some((label, target)) = inner.rsplit_once('|') {
        let (label, target) = (label.trim(), target.trim());
        if target.is_empty() {
            return None;
        }
        if label.is_empty() || label == target {
            target.to_owned()
        } else {
            format!("{} ({target})", inline(label))
        }
    } else if let Some(anchor) = inner.strip_prefix('#') {
        anchor.to_owned()
    } else if inner.contains("://") || inner.starts_with("mailto:") || inner.starts_with("file:") {
        inner.trim().to_owned()
    } else {
        return None;
    };
    Some((text, end + 1))
}

/// `image.png` or `image.png|thumbnail` between `!`s: the file name, when it looks like one
/// (no spaces, an extension or a URL).
fn image_name(inner: &str) -> Option<&str> {
    let name = inner.split('|').next()?.trim();
    (!name.is_empty()
        && !name.contains(char::is_whitespace)
        && (name.contains('.') || name.contains("://")))
    .then_some(name)
}

/// `{color:red}`, `{color}`, `{panel:title=x}`, `{panel}`, `{anchor:a}` after the `{`: the
/// bytes to drop (up to and including `}`).
fn dropped_tag(after: &str) -> Option<usize> {
    let end = bounded_find(after, '}')?;
    let name = after[..end].split(':').next()?;
    matches!(
        name,
        "color" | "panel" | "anchor" | "quote" | "section" | "column"
    )
    .then_some(end + 1)
}

fn bounded_find(s: &str, c: char) -> Option<usize> {
    s[..floor_boundary(s, LOOKAHEAD)].find(c)
}

fn bounded_find_str(s: &str, pat: &str) -> Option<usize> {
    s[..floor_boundary(s, LOOKAHEAD)].find(pat)
}

/// The largest char boundary of `s` at or below `max`.
fn floor_boundary(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    (0..=max)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
}

/// The rendered lines: blank runs collapsed, no leading or trailing blank line.
#[derive(Default)]
struct Lines {
    out: String,
    /// A blank line is owed before the next text.
    blank: bool,
    /// The counters of the current numbered list, per level.
    numbers: Vec<u32>,
}

impl Lines {
    fn push(&mut self, text: &str, quoting: bool) {
        if text.trim().is_empty() {
            self.blank = !self.out.is_empty();
            self.numbers.clear();
            return;
        }
        for line in text.split('\n') {
            self.newline();
            if quoting {
                self.out.push_str("> ");
            }
            self.out.push_str(line.trim_end());
        }
    }

    /// A line of a code block: kept as is, blank lines included.
    fn push_verbatim(&mut self, line: &str) {
        self.newline();
        self.out.push_str(line);
    }

    fn newline(&mut self) {
        if !self.out.is_empty() {
            self.out.push('\n');
            if self.blank {
                self.out.push('\n');
            }
        }
        self.blank = false;
    }

    fn finish(self) -> String {
        let trimmed = self.out.trim_end_matches(['\n', ' ']);
        trimmed.trim_start_matches('\n').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_escapes_of_a_real_data_center_comment_are_read() {
        // A comment body of a 2018 REST v2 issue capture (wiki markup escapes the dash).
        assert_eq!(
            to_text("Proyecto privado \\- no se puede asignar"),
            "Proyecto privado - no se puede asignar"
        );
    }

    #[test]
    fn blocks_render_like_adf() {
        let markup = "h1. Printer on fire\r\n\
                      The *main* printer _really_ is {{on fire}}.\r\n\
                      \r\n\
                      \r\n\
                      * first\r\n\
                      ** nested with [a link|https://example.com/x]\r\n\
                      # one\r\n\
                      # two\r\n\
                      bq. said [~ann] and [~accountid:5b10a2844c20165700ede21g]\r\n\
                      ----\r\n\
                      ||Host||State||\r\n\
                      |db-1|-down-|\r\n\
                      {code:java}\r\n\
                      int *x* = [0];\r\n\
                      \r\n\
                      return x;\r\n\
                      {code}\r\n\
                      {quote}\r\n\
                      quoted +text+\r\n\
                      {quote}\r\n\
                      See [^trace.log] and !screen.png|thumbnail! {color:red}now{color}.\\\\Next line";
        assert_eq!(
            to_text(markup),
            "Printer on fire\n\
             The main printer really is on fire.\n\
             \n\
             - first\n  - nested with a link (https://example.com/x)\n\
             1. one\n2. two\n\
             > said @ann and @5b10a2844c20165700ede21g\n\
             ---\n\
             Host | State\n\
             db-1 | down\n\
             int *x* = [0];\n\
             \n\
             return x;\n\
             > quoted text\n\
             See trace.log and screen.png now.\nNext line"
        );
    }

    #[test]
    fn text_that_only_looks_like_markup_is_kept() {
        for text in [
            "2*3*4 = 24",
            "snake_case_name and a-b-c",
            "costs 5 - 3 = 2",
            "[not a link] and [x|]",
            "email me! now!",
            "{unknown} tag",
            "a ~ b ^ c",
        ] {
            assert_eq!(to_text(text), text, "{text}");
        }
    }

    #[test]
    fn an_unclosed_code_block_runs_to_the_end_verbatim() {
        assert_eq!(to_text("{noformat}\n*a*\n  b"), "*a*\n  b");
        assert_eq!(to_text("{code}x = *1*{code} then *y*"), "x = *1*\nthen y");
    }

    proptest! {
        /// Any string renders without panicking, and a string without any markup character
        /// comes back as its trimmed lines.
        #[test]
        fn anything_renders(s in "\\PC{0,300}") {
            let _ = to_text(&s);
        }

        #[test]
        fn plain_words_pass_through(words in proptest::collection::vec("[a-zA-Z0-9]{1,8}", 1..20)) {
            let text = words.join(" ");
            prop_assert_eq!(to_text(&text), text);
        }
    }

    #[test]
    fn a_long_line_of_unmatched_markers_is_linear() {
        let line = "*a _b [c {d ".repeat(50_000);
        let text = to_text(&line);
        assert_eq!(text.len(), line.trim_end().len());
    }
}

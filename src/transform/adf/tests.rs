//! Tests of the ADF renderer: golden files, every node kind, malformed and deeply nested
//! input, the simulator's documents and random trees. Kept apart from the renderer so that
//! neither file grows past what one can read in a sitting.

use super::*;
use proptest::prelude::*;
use serde_json::json;

/// Moves `content` into a `doc` (no `json!` here: it clones interpolated values through
/// `serde_json::to_value`, which recurses once per level).
fn doc(content: Value) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!("doc"));
    m.insert("version".into(), json!(1));
    m.insert("content".into(), content);
    Value::Object(m)
}

/// `{"type": ty, "content": [child]}`, moving `child` in.
fn wrap(ty: &str, child: Value) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), Value::String(ty.into()));
    m.insert("content".into(), Value::Array(vec![child]));
    Value::Object(m)
}

fn p(text: &str) -> Value {
    json!({"type": "paragraph", "content": [{"type": "text", "text": text}]})
}

fn li(content: Value) -> Value {
    json!({"type": "listItem", "content": content})
}

fn render(content: Value) -> String {
    adf_to_text(&doc(content))
}

// ----- golden files -------------------------------------------------------------------

fn golden(json: &str, txt: &str) {
    let v: Value = serde_json::from_str(json).expect("golden JSON parses");
    assert_eq!(adf_to_text(&v), txt);
    assert_eq!(to_text(&v).as_deref(), Some(txt));
}

#[test]
fn golden_airbyte_capture_description() {
    golden(
        include_str!("../../../tests/data/adf/airbyte_search_description.json"),
        include_str!("../../../tests/data/adf/airbyte_search_description.txt"),
    );
}

#[test]
fn golden_spec_issue_description() {
    golden(
        include_str!("../../../tests/data/adf/spec_issue_description.json"),
        include_str!("../../../tests/data/adf/spec_issue_description.txt"),
    );
}

#[test]
fn golden_spec_comment_body() {
    golden(
        include_str!("../../../tests/data/adf/spec_comment_body.json"),
        include_str!("../../../tests/data/adf/spec_comment_body.txt"),
    );
}

#[test]
fn golden_spec_worklog_comment() {
    golden(
        include_str!("../../../tests/data/adf/spec_worklog_comment.json"),
        include_str!("../../../tests/data/adf/spec_worklog_comment.txt"),
    );
}

#[test]
fn golden_kitchen_sink() {
    golden(
        include_str!("../../../tests/data/adf/kitchen_sink.json"),
        include_str!("../../../tests/data/adf/kitchen_sink.txt"),
    );
}

// ----- to_text ------------------------------------------------------------------------

#[test]
fn strings_pass_through_and_null_is_none() {
    let wiki = "h1. Title\n\n* item with {code}x{code}\n[~mia]";
    assert_eq!(to_text(&json!(wiki)).as_deref(), Some(wiki));
    assert_eq!(to_text(&json!("")).as_deref(), Some(""));
    assert_eq!(to_text(&Value::Null), None);
    assert_eq!(to_text(&json!(42)).as_deref(), Some("42"));
    assert_eq!(to_text(&json!(true)).as_deref(), Some("true"));
    assert_eq!(to_text(&doc(json!([]))).as_deref(), Some(""));
    assert_eq!(to_text(&json!([p("a"), p("b")])).as_deref(), Some("a\nb"));
    assert_eq!(adf_to_text(&json!("not a node")), "");
}

#[test]
fn into_appends_to_the_buffer() {
    let mut buf = String::from("x:");
    adf_to_text_into(&doc(json!([p("a"), p("b")])), &mut buf);
    assert_eq!(buf, "x:a\nb");
}

// ----- blocks -------------------------------------------------------------------------

#[test]
fn paragraphs_and_headings_are_lines() {
    let out = render(json!([
        {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Title"}]},
        p("one"),
        {"type": "paragraph", "content": [
            {"type": "text", "text": "two "},
            {"type": "text", "text": "bold", "marks": [{"type": "strong"}, {"type": "em"}]}
        ]},
    ]));
    assert_eq!(out, "Title\none\ntwo bold");
}

#[test]
fn blank_lines_collapse_and_do_not_lead_or_trail() {
    let br = json!({"type": "hardBreak"});
    let empty = json!({"type": "paragraph", "content": []});
    let out = render(json!([
        empty, empty,
        p("a"),
        empty, empty, empty,
        {"type": "paragraph", "content": [
            {"type": "text", "text": "b"}, br, br, br, br, {"type": "text", "text": "c"}, br
        ]},
        p("d\n\n\n\ne"),
        {"type": "paragraph", "content": [{"type": "text", "text": "f"}, br]},
        p("g"),
        empty, empty, {"type": "paragraph", "content": [br, br]},
    ]));
    assert_eq!(out, "a\n\nb\n\nc\nd\n\ne\nf\ng");
}

#[test]
fn bullet_and_nested_lists() {
    let out = render(json!([{"type": "bulletList", "content": [
        li(json!([p("a")])),
        li(json!([p("b"), {"type": "bulletList", "content": [
            li(json!([p("b1"), {"type": "bulletList", "content": [li(json!([p("b1x")]))]}])),
            li(json!([p("b2")])),
        ]}])),
        li(json!([p("c"), p("c continued")])),
    ]}]));
    assert_eq!(
        out,
        "- a\n- b\n  - b1\n    - b1x\n  - b2\n- c\n  c continued"
    );
}

#[test]
fn ordered_list_start_and_numbering() {
    let ol = |attrs: Value| {
        json!([{"type": "orderedList", "attrs": attrs, "content": [
            li(json!([p("x")])), li(json!([p("y")])),
        ]}])
    };
    assert_eq!(render(ol(json!({"order": 1}))), "1. x\n2. y");
    assert_eq!(render(ol(json!({"order": 9}))), "9. x\n10. y");
    assert_eq!(render(ol(json!({}))), "1. x\n2. y");
    assert_eq!(render(ol(json!({"order": "4"}))), "4. x\n5. y");
    assert_eq!(render(ol(json!({"order": -3}))), "1. x\n2. y");
    assert_eq!(render(ol(json!({"order": 2.0}))), "2. x\n3. y");
    assert_eq!(
        render(ol(json!({"order": u64::MAX}))),
        format!("{m}. x\n{m}. y", m = u64::MAX)
    );
    // Nested ordered list inside a bullet item; numbering restarts per list.
    let out = render(json!([{"type": "bulletList", "content": [
        li(json!([p("a"), {"type": "orderedList", "content": [li(json!([p("a1")])), li(json!([p("a2")]))]}])),
    ]}]));
    assert_eq!(out, "- a\n  1. a1\n  2. a2");
}

#[test]
fn item_starting_with_a_list_shows_both_markers() {
    let out = render(json!([{"type": "bulletList", "content": [
        li(json!([{"type": "orderedList", "content": [li(json!([p("inner")])), li(json!([p("next")]))]}])),
    ]}]));
    assert_eq!(out, "- 1. inner\n  2. next");
}

#[test]
fn item_line_breaks_are_indented() {
    let out = render(json!([{"type": "bulletList", "content": [li(json!([
        {"type": "paragraph", "content": [
            {"type": "text", "text": "a"}, {"type": "hardBreak"}, {"type": "text", "text": "b"}
        ]}
    ]))]}]));
    assert_eq!(out, "- a\n  b");
}

#[test]
fn code_block_is_verbatim() {
    let code = "  fn main() {\n\tprintln!(\"hi\");  \n\n\n  }\n";
    let out = render(json!([
        p("before"),
        {"type": "codeBlock", "attrs": {"language": "rust"}, "content": [
            {"type": "text", "text": code},
            {"type": "text", "text": "see", "marks": [{"type": "link", "attrs": {"href": "https://x.test"}}]},
            {"type": "text", "text": " **not bold** ", "marks": [{"type": "strong"}]},
        ]},
        p("after"),
    ]));
    assert_eq!(
        out,
        "before\n  fn main() {\n\tprintln!(\"hi\");  \n\n\n  }\nsee **not bold** \nafter"
    );
    // Whitespace-only code survives too.
    let out = render(json!([{"type": "codeBlock", "content": [{"type": "text", "text": "   "}]}]));
    assert_eq!(out, "   ");
}

#[test]
fn blockquote_prefixes_every_line() {
    let out = render(json!([{"type": "blockquote", "content": [
        {"type": "paragraph", "content": [
            {"type": "text", "text": "a"}, {"type": "hardBreak"}, {"type": "text", "text": "b"}
        ]},
        {"type": "paragraph"},
        {"type": "bulletList", "content": [li(json!([p("c")]))]},
        {"type": "blockquote", "content": [p("d")]},
        {"type": "codeBlock", "content": [{"type": "text", "text": "x\n\ny"}]},
    ]}, p("out")]));
    assert_eq!(out, "> a\n> b\n>\n> - c\n> > d\n> x\n>\n> y\nout");
}

#[test]
fn rule_is_three_dashes() {
    assert_eq!(
        render(json!([p("a"), {"type": "rule"}, p("b")])),
        "a\n---\nb"
    );
}

#[test]
fn table_rows_are_lines_and_cells_are_piped() {
    let cell = |ty: &str, content: Value| json!({"type": ty, "attrs": {}, "content": content});
    let out = render(json!([
        p("before"),
        {"type": "table", "content": [
            {"type": "tableRow", "content": [cell("tableHeader", json!([p("H1")])), cell("tableHeader", json!([p("H2")]))]},
            {"type": "tableRow", "content": [
                cell("tableCell", json!([{"type": "paragraph", "content": [
                    {"type": "text", "text": "x"}, {"type": "hardBreak"}, {"type": "text", "text": "y"}
                ]}])),
                cell("tableCell", json!([{"type": "bulletList", "content": [li(json!([p("i1")])), li(json!([p("i2")]))]}])),
            ]},
            {"type": "tableRow", "content": [cell("tableCell", json!([{"type": "paragraph"}])), cell("tableCell", json!([{"type": "paragraph"}]))]},
            {"type": "tableRow", "content": [cell("tableCell", json!([p("only first")])), cell("tableCell", json!([]))]},
            {"type": "tableRow", "content": [cell("tableCell", json!([{"type": "codeBlock", "content": [{"type": "text", "text": "a\nb"}]}])), cell("tableCell", json!([p("z")]))]},
        ]},
        p("after"),
    ]));
    assert_eq!(
        out,
        "before\nH1 | H2\nx y | - i1 - i2\nonly first |\na b | z\nafter"
    );
    // A table in a blockquote keeps the quote prefix on each row.
    let out = render(
        json!([{"type": "blockquote", "content": [{"type": "table", "content": [
            {"type": "tableRow", "content": [cell("tableCell", json!([p("a")])), cell("tableCell", json!([p("b")]))]},
            {"type": "tableRow", "content": [cell("tableCell", json!([p("c")])), cell("tableCell", json!([p("d")]))]},
        ]}]}]),
    );
    assert_eq!(out, "> a | b\n> c | d");
    // A table nested in a cell flattens into that cell.
    let inner = json!({"type": "table", "content": [
        {"type": "tableRow", "content": [cell("tableCell", json!([p("i")])), cell("tableCell", json!([p("j")]))]}
    ]});
    let out = render(json!([{"type": "table", "content": [
        {"type": "tableRow", "content": [cell("tableCell", json!([p("o"), inner])), cell("tableCell", json!([p("k")]))]}
    ]}]));
    assert_eq!(out, "o i j | k");
}

#[test]
fn containers_render_their_blocks() {
    let out = render(json!([
        {"type": "panel", "attrs": {"panelType": "warning"}, "content": [p("careful"), p("twice")]},
        {"type": "expand", "attrs": {"title": "Details"}, "content": [p("hidden")]},
        {"type": "expand", "content": [p("untitled")]},
        {"type": "nestedExpand", "attrs": {"title": "Inner"}, "content": [p("n")]},
        {"type": "layoutSection", "content": [
            {"type": "layoutColumn", "content": [p("l")]},
            {"type": "layoutColumn", "content": [p("r")]},
        ]},
        {"type": "decisionList", "content": [
            {"type": "decisionItem", "attrs": {"state": "DECIDED"}, "content": [{"type": "text", "text": "d1"}]},
            {"type": "decisionItem", "content": [{"type": "text", "text": "d2"}]},
        ]},
        {"type": "bodiedExtension", "attrs": {"text": "ignored"}, "content": [p("body")]},
    ]));
    assert_eq!(
        out,
        "careful\ntwice\nDetails\nhidden\nuntitled\nInner\nn\nl\nr\nd1\nd2\nbody"
    );
}

#[test]
fn task_lists() {
    let task = |state: &str, text: &str| json!({"type": "taskItem", "attrs": {"localId": "x", "state": state}, "content": [{"type": "text", "text": text}]});
    let out = render(json!([{"type": "taskList", "content": [
        task("TODO", "a"),
        task("DONE", "b"),
        {"type": "taskList", "content": [task("DONE", "b1"), task("weird", "b2")]},
        {"type": "taskItem", "content": [{"type": "text", "text": "no state"}]},
    ]}]));
    assert_eq!(out, "[ ] a\n[x] b\n  [x] b1\n  [ ] b2\n[ ] no state");
}

// ----- inline nodes -------------------------------------------------------------------

fn inline(nodes: Value) -> String {
    render(json!([{"type": "paragraph", "content": nodes}]))
}

#[test]
fn mentions_are_not_doubled() {
    assert_eq!(
        inline(
            json!([{"type": "mention", "attrs": {"id": "1", "text": "@Mia Krystof", "accessLevel": ""}}])
        ),
        "@Mia Krystof"
    );
    assert_eq!(
        inline(json!([{"type": "mention", "attrs": {"id": "1", "text": "Mia"}}])),
        "@Mia"
    );
    assert_eq!(
        inline(json!([{"type": "mention", "attrs": {"id": "557058:abc", "text": ""}}])),
        "@557058:abc"
    );
    assert_eq!(
        inline(json!([{"type": "mention", "attrs": {"id": "557058:abc"}}])),
        "@557058:abc"
    );
    assert_eq!(
        inline(json!([{"type": "mention"}, {"type": "text", "text": "x"}])),
        "x"
    );
}

#[test]
fn emoji_short_name_then_text() {
    assert_eq!(
        inline(
            json!([{"type": "emoji", "attrs": {"shortName": ":smile:", "id": "1f604", "text": "😄"}}])
        ),
        ":smile:"
    );
    assert_eq!(
        inline(json!([{"type": "emoji", "attrs": {"text": "😄"}}])),
        "😄"
    );
    assert_eq!(
        inline(json!([{"type": "emoji", "attrs": {"shortName": "", "text": "😄"}}])),
        "😄"
    );
    assert_eq!(inline(json!([{"type": "emoji", "attrs": {}}])), "");
}

#[test]
fn dates_are_utc_days() {
    let date = |ts: Value| inline(json!([{"type": "date", "attrs": {"timestamp": ts}}]));
    assert_eq!(date(json!("1700006400000")), "2023-11-15");
    assert_eq!(date(json!("1700006399999")), "2023-11-14");
    assert_eq!(date(json!(1_700_006_400_000_i64)), "2023-11-15");
    assert_eq!(date(json!(0)), "1970-01-01");
    assert_eq!(date(json!(-1)), "1969-12-31");
    assert_eq!(date(json!("951782400000")), "2000-02-29");
    assert_eq!(date(json!(1.7000064e12)), "2023-11-15");
    assert_eq!(date(json!(" 1700006400000 ")), "2023-11-15");
    // Not a number: the text is kept rather than dropped.
    assert_eq!(date(json!("next Tuesday")), "next Tuesday");
    assert_eq!(date(json!(null)), "");
    // Extremes do not panic.
    for ts in [
        json!(i64::MIN),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(1e300),
        json!(-1e300),
    ] {
        let _ = date(ts);
    }
}

#[test]
fn civil_from_days_matches_chrono() {
    let mut day = -800_000_i64;
    while day < 800_000 {
        let (y, m, d) = civil_from_days(day);
        let c = chrono::DateTime::from_timestamp(day * 86_400, 0)
            .expect("in range")
            .date_naive();
        use chrono::Datelike;
        assert_eq!(
            (y, m, d),
            (i64::from(c.year()), c.month(), c.day()),
            "day {day}"
        );
        day += 37;
    }
}

#[test]
fn status_cards_and_breaks() {
    let out = inline(json!([
        {"type": "status", "attrs": {"text": "IN REVIEW", "color": "blue"}},
        {"type": "text", "text": " "},
        {"type": "status", "attrs": {"text": ""}},
        {"type": "inlineCard", "attrs": {"url": "https://a.test/1"}},
        {"type": "hardBreak"},
        {"type": "inlineCard", "attrs": {"data": {"url": "https://a.test/2"}}},
        {"type": "text", "text": " "},
        {"type": "inlineCard", "attrs": {"data": {"name": "Named"}}},
        {"type": "inlineCard", "attrs": {}},
    ]));
    assert_eq!(out, "[IN REVIEW] https://a.test/1\nhttps://a.test/2 Named");
    let out = render(json!([
        {"type": "blockCard", "attrs": {"url": "https://b.test"}},
        {"type": "embedCard", "attrs": {"url": "https://e.test", "layout": "wide"}},
    ]));
    assert_eq!(out, "https://b.test\nhttps://e.test");
}

#[test]
fn link_marks() {
    let link = |text: &str, href: &str| json!({"type": "text", "text": text, "marks": [{"type": "link", "attrs": {"href": href}}]});
    assert_eq!(
        inline(json!([link("docs", "https://d.test")])),
        "docs (https://d.test)"
    );
    assert_eq!(
        inline(json!([link("https://d.test", "https://d.test")])),
        "https://d.test"
    );
    assert_eq!(
        inline(json!([link("a@b.test", "mailto:a@b.test")])),
        "a@b.test"
    );
    // Adjacent text nodes under one link share the suffix.
    assert_eq!(
        inline(json!([
            link("read ", "https://d.test"),
            {"type": "text", "text": "this", "marks": [{"type": "strong"}, {"type": "link", "attrs": {"href": "https://d.test"}}]},
            {"type": "text", "text": " now"},
        ])),
        "read this (https://d.test) now"
    );
    assert_eq!(
        inline(json!([
            link("a", "https://a.test"),
            link("b", "https://b.test")
        ])),
        "a (https://a.test)b (https://b.test)"
    );
    // The suffix stays on the line of its text.
    assert_eq!(
        render(json!([{"type": "paragraph", "content": [link("x", "https://x.test")]}, p("y")])),
        "x (https://x.test)\ny"
    );
    assert_eq!(
        inline(
            json!([link("x", "https://x.test"), {"type": "hardBreak"}, link("x", "https://x.test")])
        ),
        "x (https://x.test)\nx (https://x.test)"
    );
    // Malformed link marks are ignored.
    assert_eq!(
        inline(
            json!([{"type": "text", "text": "t", "marks": [{"type": "link"}, {"type": "link", "attrs": {"href": 3}}, "x"]}])
        ),
        "t"
    );
    assert_eq!(
        inline(json!([{"type": "text", "text": "t", "marks": {"type": "link"}}])),
        "t"
    );
}

#[test]
fn media_alt_or_name_and_captions() {
    let out = render(json!([
        {"type": "mediaSingle", "attrs": {"layout": "center"}, "content": [
            {"type": "media", "attrs": {"type": "file", "id": "i", "collection": "", "alt": "shot.png"}},
            {"type": "caption", "content": [{"type": "text", "text": "A caption"}]},
        ]},
        {"type": "mediaSingle", "content": [
            {"type": "media", "attrs": {"type": "external", "url": "https://img.test/x.png"}},
            {"type": "caption", "content": [{"type": "text", "text": "Caption only"}]},
        ]},
        {"type": "mediaGroup", "content": [
            {"type": "media", "attrs": {"type": "file", "id": "1", "collection": "c", "name": "report.pdf"}},
            {"type": "media", "attrs": {"type": "file", "id": "2", "collection": "c"}},
            {"type": "media", "attrs": {"type": "file", "id": "3", "collection": "c", "fileName": "log.txt"}},
        ]},
        {"type": "paragraph", "content": [
            {"type": "text", "text": "see "},
            {"type": "mediaInline", "attrs": {"id": "4", "alt": "inline.pdf"}},
            {"type": "mediaInline", "attrs": {"id": "5"}},
        ]},
    ]));
    assert_eq!(
        out,
        "shot.png\nA caption\nCaption only\nreport.pdf\nlog.txt\nsee inline.pdf"
    );
}

#[test]
fn placeholders_and_extensions() {
    let out = render(json!([
        {"type": "paragraph", "content": [
            {"type": "placeholder", "attrs": {"text": "Type something"}},
            {"type": "text", "text": " / "},
            {"type": "inlineExtension", "attrs": {"extensionKey": "k", "text": "inline ext"}},
            {"type": "inlineExtension", "attrs": {"extensionKey": "k"}},
        ]},
        {"type": "extension", "attrs": {"extensionKey": "toc", "text": "block ext"}},
        {"type": "extension", "attrs": {"extensionKey": "toc"}},
        {"type": "bodiedExtension", "attrs": {"extensionKey": "x"}, "content": [p("bodied")]},
    ]));
    assert_eq!(out, "Type something / inline ext\nblock ext\nbodied");
}

// ----- unknown and malformed ----------------------------------------------------------

#[test]
fn unknown_nodes_keep_their_text() {
    let out = render(json!([
        {"type": "fancyBlock", "content": [p("in a block"), p("second")]},
        {"type": "paragraph", "content": [
            {"type": "text", "text": "a "},
            {"type": "sparkle", "text": "own", "content": [{"type": "text", "text": "+child"}]},
            {"type": "sparkle", "attrs": {"text": "attrs are not text"}},
            {"type": "text", "text": " b"},
        ]},
        {"type": "wrapper", "content": [{"type": "wrapper", "content": [{"type": "text", "text": "deep inline"}]}]},
        {"content": [p("no type at all")]},
        {"type": 7, "text": "numeric type"},
    ]));
    assert_eq!(
        out,
        "in a block\nsecond\na own+child b\ndeep inline\nno type at all\nnumeric type"
    );
}

#[test]
fn malformed_input_is_skipped_not_fatal() {
    let out = render(json!([
        "a bare string",
        42,
        null,
        [p("nested array is not a node")],
        {"type": "paragraph", "content": "not an array"},
        {"type": "paragraph", "content": {"type": "text", "text": "object content"}},
        {"type": "paragraph", "content": [null, 1, {"type": "text", "text": 5}, {"type": "text"}, {"type": "text", "text": "kept"}]},
        {"type": "bulletList", "content": [p("not an item")]},
        // The first item has no usable content: it shows nothing but still counts as 1.
        {"type": "orderedList", "attrs": "bad", "content": [li(json!("bad")), li(json!([p("x")]))]},
        {"type": "tableRow", "content": [p("row outside table"), {"type": "text", "text": "bare"}]},
        {"type": "tableCell", "content": [p("cell outside row")]},
        {"type": "listItem", "content": [p("item outside list")]},
        {"type": "mention", "attrs": [1, 2]},
        {"type": "date", "attrs": {"timestamp": {"x": 1}}},
        {"type": "heading", "attrs": {"level": "huge"}, "content": [{"type": "text", "text": "h"}]},
        {"type": "emoji", "attrs": {"shortName": 3, "text": false}},
    ]));
    assert_eq!(
        out,
        "object content\nkept\nnot an item\n2. x\nrow outside table | bare\ncell outside row\n- item outside list\nh"
    );
    for v in [
        json!({}),
        json!([]),
        json!({"type": "doc"}),
        json!({"type": "doc", "content": null}),
        json!(1.5),
    ] {
        assert_eq!(adf_to_text(&v), "");
    }
}

// ----- depth --------------------------------------------------------------------------

use crate::testing::on_small_stack;

/// Frees a deeply nested value without recursion. serde_json's `Drop` recurses once per
/// level, so dropping the test's own input normally would overflow the small stack —
/// a failure of the test harness, not of the renderer. Taking every container apart on
/// an explicit stack frees it all (no leak, unlike `mem::forget`).
fn drop_iteratively(v: Value) {
    let mut stack = vec![v];
    while let Some(mut v) = stack.pop() {
        match &mut v {
            Value::Array(items) => stack.append(items),
            Value::Object(map) => stack.extend(std::mem::take(map).into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

#[test]
fn ten_thousand_nested_lists_on_a_small_stack() {
    let out = on_small_stack(|| {
        let mut v = p("leaf");
        for _ in 0..10_000 {
            v = wrap("bulletList", wrap("listItem", v));
        }
        let v = doc(Value::Array(vec![v, p("after")]));
        let out = adf_to_text(&v);
        drop_iteratively(v);
        out
    });
    assert_eq!(out, format!("{}leaf\nafter", "- ".repeat(10_000)));
}

#[test]
fn ten_thousand_nested_blockquotes_on_a_small_stack() {
    let out = on_small_stack(|| {
        let mut v = json!({"type": "paragraph", "content": [
            {"type": "text", "text": "a"}, {"type": "hardBreak"}, {"type": "text", "text": "b"}
        ]});
        for _ in 0..10_000 {
            v = wrap("blockquote", v);
        }
        let v = doc(Value::Array(vec![v]));
        let out = adf_to_text(&v);
        drop_iteratively(v);
        out
    });
    let prefix = "> ".repeat(10_000);
    assert_eq!(out, format!("{prefix}a\n{prefix}b"));
}

#[test]
fn a_million_nested_unknown_nodes_on_a_small_stack() {
    let out = on_small_stack(|| {
        let mut v = json!({"type": "text", "text": "leaf"});
        for _ in 0..1_000_000 {
            v = wrap("x-future-node", v);
        }
        let v = doc(Value::Array(vec![v]));
        let out = to_text(&v);
        drop_iteratively(v);
        out
    });
    assert_eq!(out.as_deref(), Some("leaf"));
}

// ----- simulator ----------------------------------------------------------------------

/// Texts the renderer must show: `text` of `text` nodes and of unknown nodes, reached
/// through `content` (array or single object), in document order.
fn rendered_texts<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
    let Value::Object(node) = v else { return };
    let ty = node.get("type").and_then(Value::as_str).unwrap_or("");
    if (ty == "text" || !KNOWN.contains(&ty))
        && let Some(t) = node.get("text").and_then(Value::as_str)
    {
        out.push(t);
    }
    match node.get("content") {
        Some(Value::Array(items)) => items.iter().for_each(|c| rendered_texts(c, out)),
        Some(c @ Value::Object(_)) => rendered_texts(c, out),
        _ => {}
    }
}

/// Every node type the renderer knows (the types its `match` arms name).
const KNOWN: &[&str] = &[
    "doc",
    "paragraph",
    "heading",
    "bulletList",
    "orderedList",
    "listItem",
    "codeBlock",
    "blockquote",
    "panel",
    "rule",
    "table",
    "tableRow",
    "tableHeader",
    "tableCell",
    "mediaSingle",
    "mediaGroup",
    "media",
    "caption",
    "expand",
    "nestedExpand",
    "taskList",
    "taskItem",
    "decisionList",
    "decisionItem",
    "blockCard",
    "embedCard",
    "extension",
    "bodiedExtension",
    "layoutSection",
    "layoutColumn",
    "text",
    "hardBreak",
    "mention",
    "emoji",
    "date",
    "status",
    "inlineCard",
    "mediaInline",
    "placeholder",
    "inlineExtension",
];

fn visit<'v>(v: &'v Value, f: &mut impl FnMut(&'v Map<String, Value>)) {
    if let Value::Object(node) = v {
        f(node);
        if let Some(Value::Array(items)) = node.get("content") {
            items.iter().for_each(|c| visit(c, f));
        }
    }
}

/// Every document the simulator generates renders sensibly: all text present, links with
/// their href, mentions and dates as specified, no blank-line runs, no trailing newline.
#[tokio::test]
async fn simulated_site_renders() {
    use crate::simulator::{SimConfig, Simulator};
    let sim = Simulator::start(SimConfig {
        issues: 300,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts");
    let mut docs = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for key in sim.issue_keys() {
        let issue = sim.issue(&key).expect("issue exists");
        let fields = &issue["fields"];
        let mut bodies = vec![&fields["description"]];
        if let Some(comments) = fields["comment"]["comments"].as_array() {
            bodies.extend(comments.iter().map(|c| &c["body"]));
        }
        for body in bodies {
            let Some(text) = to_text(body) else { continue };
            if body.is_string() {
                continue;
            }
            docs += 1;
            assert!(
                !text.ends_with('\n') && !text.starts_with('\n'),
                "{key}: {text:?}"
            );
            assert!(!text.contains("\n\n\n"), "{key}: {text:?}");
            assert!(!text.contains("@@"), "{key}: {text:?}");
            let mut texts = Vec::new();
            rendered_texts(body, &mut texts);
            for t in texts {
                assert!(text.contains(t), "{key}: {t:?} missing from {text:?}");
            }
            visit(body, &mut |node| {
                let ty = node.get("type").and_then(Value::as_str).unwrap_or("");
                kinds.insert(ty.to_string());
                let attrs = node.get("attrs").unwrap_or(&Value::Null);
                match ty {
                    "mention" => {
                        let m = attrs["text"].as_str().expect("simulated mention text");
                        assert!(m.starts_with('@') && text.contains(m), "{key}: {m}");
                    }
                    "date" => {
                        let ms: i64 = attrs["timestamp"].as_str().unwrap().parse().unwrap();
                        let day = chrono::DateTime::from_timestamp_millis(ms)
                            .unwrap()
                            .format("%Y-%m-%d")
                            .to_string();
                        assert!(text.contains(&day), "{key}: {day} in {text:?}");
                    }
                    "status" => {
                        let s = format!("[{}]", attrs["text"].as_str().unwrap());
                        assert!(text.contains(&s), "{key}: {s}");
                    }
                    "text" => {
                        if let Some(href) = link_href(node) {
                            let t = node.get("text").and_then(Value::as_str).unwrap();
                            // Adjacent texts under the same link share one suffix.
                            let at = text.find(t).expect("text present");
                            let suffix = format!(" ({href})");
                            assert!(text[at..].contains(&suffix), "{key}: {t} in {text:?}");
                        }
                    }
                    "emoji" => {
                        assert!(text.contains(attrs["shortName"].as_str().unwrap()));
                    }
                    "inlineCard" => assert!(text.contains(attrs["url"].as_str().unwrap())),
                    _ => {}
                }
            });
        }
    }
    sim.shutdown().await;
    assert!(docs > 300, "only {docs} documents");
    for ty in [
        "table",
        "codeBlock",
        "mention",
        "orderedList",
        "blockquote",
        "rule",
    ] {
        assert!(kinds.contains(ty), "simulator produced no {ty}");
    }
}

// ----- properties ---------------------------------------------------------------------

/// Node types of the random trees: every type the renderer knows, then unknown ones and
/// an empty one.
fn types() -> Vec<&'static str> {
    KNOWN
        .iter()
        .copied()
        .chain(["futureNode", "x", ""])
        .collect()
}

const ATTR_KEYS: &[&str] = &[
    "order",
    "state",
    "text",
    "shortName",
    "id",
    "timestamp",
    "url",
    "title",
    "alt",
    "name",
    "level",
    "data",
    "language",
];

fn arb_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-zA-Z@:/.0-9]{0,12}".prop_map(Value::from),
        Just(json!({"url": "https://u.test", "name": "n"})),
        Just(json!([1, "two"])),
    ]
}

fn arb_attrs() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::collection::btree_map(prop::sample::select(ATTR_KEYS), arb_scalar(), 0..4)
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        1 => arb_scalar(),
    ]
}

fn arb_marks() -> impl Strategy<Value = Option<Value>> {
    prop::option::of(prop_oneof![
        Just(json!([{"type": "strong"}])),
        Just(json!([{"type": "link", "attrs": {"href": "https://l.test"}}])),
        Just(json!([{"type": "link", "attrs": {"href": "https://other.test"}}, {"type": "em"}])),
        Just(json!([{"type": "link"}])),
        Just(json!("bad marks")),
    ])
}

/// ADF-ish trees: known and unknown types, random attributes, sometimes malformed.
fn arb_node() -> impl Strategy<Value = Value> {
    let text = ("[a-z0-9][a-z0-9 ]{0,8}", arb_marks()).prop_map(|(t, marks)| {
        let mut v = json!({"type": "text", "text": t});
        if let Some(m) = marks {
            v["marks"] = m;
        }
        v
    });
    let leaf = prop_oneof![
        4 => text,
        2 => (prop::sample::select(types()), arb_attrs())
            .prop_map(|(ty, attrs)| json!({"type": ty, "attrs": attrs})),
        1 => ("[a-z0-9][a-z0-9 ]{0,8}", prop::sample::select(types()))
            .prop_map(|(t, ty)| json!({"type": ty, "text": t})),
        1 => arb_scalar(),
    ];
    leaf.prop_recursive(6, 96, 5, |inner| {
        (
            prop::sample::select(types()),
            arb_attrs(),
            prop::collection::vec(inner.clone(), 0..5),
            prop::option::of("[a-z0-9][a-z0-9 ]{0,8}"),
            0..10u8,
        )
            .prop_map(|(ty, attrs, mut children, text, shape)| {
                let mut node = json!({"attrs": attrs});
                if shape != 0 {
                    node["type"] = json!(ty);
                }
                if let Some(t) = text {
                    node["text"] = json!(t);
                }
                node["content"] = match shape {
                    1 => children.pop().unwrap_or(Value::Null),
                    2 => json!("content as a string"),
                    _ => Value::Array(children),
                };
                node
            })
    })
}

fn has_code(v: &Value) -> bool {
    let mut found = false;
    let mut stack = vec![v];
    while let Some(Value::Object(node)) = stack.pop() {
        found |= node.get("type").and_then(Value::as_str) == Some("codeBlock");
        match node.get("content") {
            Some(Value::Array(items)) => stack.extend(items),
            Some(c @ Value::Object(_)) => stack.push(c),
            _ => {}
        }
    }
    found
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_trees_never_panic_and_keep_all_text(root in arb_node()) {
        let out = adf_to_text(&root);
        let mut texts = Vec::new();
        rendered_texts(&root, &mut texts);
        for t in texts {
            prop_assert!(out.contains(t), "{t:?} missing from {out:?}");
        }
        prop_assert!(!out.starts_with('\n') && !out.ends_with('\n'), "{out:?}");
        if !has_code(&root) {
            let blank = |l: &str| l.chars().all(|c| c == ' ' || c == '>');
            let lines: Vec<&str> = out.split('\n').collect();
            prop_assert!(
                !lines.windows(2).any(|w| blank(w[0]) && blank(w[1])),
                "blank-line run in {out:?}"
            );
        }
        // Rendering inside a doc, as an array or via to_text never panics either.
        let _ = to_text(&json!([root.clone(), root.clone()]));
        let _ = adf_to_text(&doc(json!([root])));
    }
}

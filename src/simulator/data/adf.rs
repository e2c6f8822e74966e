//! Generated rich text (Atlassian Document Format) for descriptions, comments and notes, and
//! the deep description of a poisoned issue.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::vocab::{CODE_LANGS, EMOJI, PANEL_TYPES, PEOPLE, STATUS_LOZENGES, WORDS};
use super::{DAY_MS, REFERENCE_MS};
use crate::simulator::deep_bottom_text;

fn words(rng: &mut ChaCha8Rng, min: usize, max: usize) -> String {
    let n = rng.random_range(min..=max);
    let mut s = String::new();
    for k in 0..n {
        if k > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[rng.random_range(0..WORDS.len())]);
    }
    s
}

fn text(t: String) -> Value {
    json!({"type": "text", "text": t})
}

/// A document of one paragraph of plain text `t` (a typed comment, a worklog comment, an
/// environment).
pub(super) fn text_doc(t: String) -> Value {
    json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [text(t)]}
    ]})
}

fn marked_text(rng: &mut ChaCha8Rng, base: &str, key: &str) -> Value {
    let t = words(rng, 1, 4);
    let mark = match rng.random_range(0..6) {
        0 => json!({"type": "strong"}),
        1 => json!({"type": "em"}),
        2 => json!({"type": "code"}),
        3 => json!({"type": "link", "attrs": {"href": format!("{base}/browse/{key}")}}),
        _ => return text(t),
    };
    json!({"type": "text", "text": t, "marks": [mark]})
}

fn inline_nodes(rng: &mut ChaCha8Rng, key: &str, base: &str, anchor_ms: i64) -> Vec<Value> {
    let mut out = vec![marked_text(rng, base, key)];
    for _ in 0..rng.random_range(0..5) {
        let node = match rng.random_range(0..9) {
            0 => {
                let (id, name, ..) = PEOPLE[rng.random_range(0..PEOPLE.len())];
                json!({"type": "mention", "attrs": {"id": id, "text": format!("@{name}"), "accessLevel": ""}})
            }
            1 => {
                let (short, id, t) = EMOJI[rng.random_range(0..EMOJI.len())];
                json!({"type": "emoji", "attrs": {"shortName": short, "id": id, "text": t}})
            }
            2 => json!({"type": "hardBreak"}),
            3 => json!({"type": "inlineCard", "attrs": {"url": format!("{base}/browse/{key}")}}),
            4 => {
                let day = (anchor_ms / DAY_MS + rng.random_range(0..30)) * DAY_MS;
                json!({"type": "date", "attrs": {"timestamp": day.to_string()}})
            }
            5 => {
                let (t, color) = STATUS_LOZENGES[rng.random_range(0..STATUS_LOZENGES.len())];
                let local = format!("{:08x}-{:04x}", rng.random::<u32>(), rng.random::<u16>());
                json!({"type": "status", "attrs": {"text": t, "color": color, "localId": local, "style": ""}})
            }
            _ => marked_text(rng, base, key),
        };
        out.push(node);
        out.push(text(" ".to_string() + &words(rng, 1, 3)));
    }
    out
}

fn paragraph(rng: &mut ChaCha8Rng, key: &str, base: &str, anchor_ms: i64) -> Value {
    json!({"type": "paragraph", "content": inline_nodes(rng, key, base, anchor_ms)})
}

fn simple_paragraph(rng: &mut ChaCha8Rng) -> Value {
    json!({"type": "paragraph", "content": [text(words(rng, 2, 8))]})
}

fn list(rng: &mut ChaCha8Rng, ordered: bool) -> Value {
    let items: Vec<Value> = (0..rng.random_range(1..4))
        .map(|_| json!({"type": "listItem", "content": [simple_paragraph(rng)]}))
        .collect();
    if ordered {
        json!({"type": "orderedList", "attrs": {"order": 1}, "content": items})
    } else {
        json!({"type": "bulletList", "content": items})
    }
}

fn table(rng: &mut ChaCha8Rng) -> Value {
    let cols = rng.random_range(2..4);
    let header: Vec<Value> = (0..cols)
        .map(|_| json!({"type": "tableHeader", "attrs": {}, "content": [simple_paragraph(rng)]}))
        .collect();
    let mut rows = vec![json!({"type": "tableRow", "content": header})];
    for _ in 0..rng.random_range(1..3) {
        let cells: Vec<Value> = (0..cols)
            .map(|_| json!({"type": "tableCell", "attrs": {}, "content": [simple_paragraph(rng)]}))
            .collect();
        rows.push(json!({"type": "tableRow", "content": cells}));
    }
    json!({"type": "table", "attrs": {"isNumberColumnEnabled": false, "layout": "default"}, "content": rows})
}

fn block(rng: &mut ChaCha8Rng, key: &str, base: &str, anchor_ms: i64) -> Value {
    match rng.random_range(0..12) {
        0 => {
            json!({"type": "heading", "attrs": {"level": rng.random_range(1..4)}, "content": [text(words(rng, 1, 4))]})
        }
        1 => list(rng, false),
        2 => list(rng, true),
        3 => {
            let lang = CODE_LANGS[rng.random_range(0..CODE_LANGS.len())];
            let code = format!(
                "ERROR {} at line {}\n  caused by: {}",
                words(rng, 2, 4),
                rng.random_range(1..500),
                words(rng, 1, 3)
            );
            json!({"type": "codeBlock", "attrs": {"language": lang}, "content": [text(code)]})
        }
        4 => json!({"type": "blockquote", "content": [simple_paragraph(rng)]}),
        5 => {
            let t = PANEL_TYPES[rng.random_range(0..PANEL_TYPES.len())];
            json!({"type": "panel", "attrs": {"panelType": t}, "content": [simple_paragraph(rng)]})
        }
        6 => table(rng),
        7 => json!({"type": "rule"}),
        _ => paragraph(rng, key, base, anchor_ms),
    }
}

pub(super) fn description(rng: &mut ChaCha8Rng, key: &str, base: &str, anchor_ms: i64) -> Value {
    let mut content = vec![paragraph(rng, key, base, anchor_ms)];
    for _ in 0..rng.random_range(1..6) {
        content.push(block(rng, key, base, anchor_ms));
    }
    json!({"type": "doc", "version": 1, "content": content})
}

/// A JSON object from its entries (no `json!`: interpolating a deep value would serialise it
/// recursively).
fn object(entries: Vec<(&str, Value)>) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// [`PoisonKind::DeepDescription`]: `depth` nested bullet lists around one paragraph, built
/// from the inside out without recursion.
pub(super) fn deep_description(depth: usize, key: &str) -> Value {
    let text = object(vec![
        ("type", Value::from("text")),
        ("text", Value::from(deep_bottom_text(key))),
    ]);
    let mut node = object(vec![
        ("type", Value::from("paragraph")),
        ("content", Value::Array(vec![text])),
    ]);
    for _ in 0..depth {
        let item = object(vec![
            ("type", Value::from("listItem")),
            ("content", Value::Array(vec![node])),
        ]);
        node = object(vec![
            ("type", Value::from("bulletList")),
            ("content", Value::Array(vec![item])),
        ]);
    }
    object(vec![
        ("type", Value::from("doc")),
        ("version", Value::from(1)),
        ("content", Value::Array(vec![node])),
    ])
}

pub(super) fn comment_body(rng: &mut ChaCha8Rng, key: &str, base: &str) -> Value {
    let mut content = vec![paragraph(rng, key, base, REFERENCE_MS)];
    if rng.random_bool(0.3) {
        content.push(block(rng, key, base, REFERENCE_MS));
    }
    json!({"type": "doc", "version": 1, "content": content})
}

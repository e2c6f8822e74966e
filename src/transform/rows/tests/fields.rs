//! `[fields]` columns typed by their kind, and the `custom_fields` JSON.

use super::*;

/// A catalogue with one field of every kind (the simulator's plus a single user field and
/// an untyped one).
fn catalog_with_extras() -> FieldCatalog {
    let mut fields: Value = serde_json::from_str(&data("fields.json")).unwrap();
    let list = fields.as_array_mut().unwrap();
    list.push(
        json!({"id": "customfield_10800", "name": "Owner", "custom": true,
                     "schema": {"type": "user", "custom": "x:userpicker"}}),
    );
    list.push(
        json!({"id": "customfield_10900", "name": "Meta", "custom": true,
                     "schema": {"type": "any"}}),
    );
    list.push(
        json!({"id": "customfield_10901", "name": "Notes", "custom": true,
                     "schema": {"type": "string"}}),
    );
    FieldCatalog::from_json(&fields)
}

#[test]
fn fields_columns_are_typed_by_their_kind() {
    let mapping = [
        ("customfield_10100", "severity"),     // option
        ("customfield_10200", "story_points"), // number
        ("customfield_10300", "team_text"),    // string
        ("customfield_10400", "go_live"),      // date
        ("customfield_10401", "escalated_at"), // datetime
        ("customfield_10500", "services"),     // array of strings
        ("customfield_10600", "participants"), // array of users
        ("customfield_10700", "notes"),        // string (textarea, ADF)
        ("customfield_10800", "owner"),        // user
        ("customfield_10900", "meta"),         // json
        ("customfield_99999", "unknown"),      // not in the catalogue → json
    ];
    let ctx = ctx_with(catalog_with_extras(), &mapping, SlaNames::default());
    let kinds: Vec<ColumnKind> = mapping
        .iter()
        .map(|(id, _)| ctx.catalog.column_kind(id))
        .collect();
    use ColumnKind as K;
    assert_eq!(
        kinds,
        [
            K::Option,
            K::Number,
            K::String,
            K::Date,
            K::DateTime,
            K::Array,
            K::Array,
            K::String,
            K::User,
            K::Json,
            K::Json
        ]
    );
    let adf_doc = json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Call back"}]}]});
    let full = issue_with(
        json!({
            "customfield_10100": {"id": "1", "value": "S1 - Critical", "self": "x"},
            "customfield_10200": 2.5,
            "customfield_10300": "Payments squad",
            "customfield_10400": "2024-09-06",
            "customfield_10401": "2024-07-23T10:30:12.184-0500",
            "customfield_10500": ["auth", "billing-api"],
            "customfield_10600": [{"displayName": "Zoë", "accountId": "a"}, {"name": "legacy"}, {"accountId": "b"}],
            "customfield_10700": adf_doc,
            "customfield_10800": {"displayName": "Sam O'Neil", "accountId": "c"},
            "customfield_10900": {"b": 1, "a": [true, null]},
            "customfield_99999": "plain text",
        }),
        Value::Null,
    );
    let empty = issue_with(json!({"customfield_10100": null}), Value::Null);
    let odd = issue_with(
        json!({
            "customfield_10100": "bare string",
            "customfield_10200": "3",
            "customfield_10400": "2024-13-01",
            "customfield_10401": "yesterday",
            "customfield_10500": "single",
            "customfield_10600": [],
            "customfield_10800": "jsmith",
            "customfield_10900": 42,
            "customfield_99999": adf_doc,
        }),
        Value::Null,
    );
    let b = rows_of(&ctx, &[&full, &empty, &odd]);
    let t = Table::Issues;
    let s = |c: &str| strs(&b, t, c);
    let some = |x: &str| Some(x.to_owned());
    assert_eq!(
        s("severity"),
        [some("S1 - Critical"), None, some("bare string")]
    );
    let points: Vec<Option<f64>> = col(&b, t, "story_points")
        .as_primitive::<Float64Type>()
        .iter()
        .collect();
    assert_eq!(points, [Some(2.5), None, Some(3.0)]);
    assert_eq!(s("team_text"), [some("Payments squad"), None, None]);
    let dates: Vec<Option<i32>> = col(&b, t, "go_live")
        .as_primitive::<Date32Type>()
        .iter()
        .collect();
    assert_eq!(dates, [Some(19_972), None, None]);
    assert_eq!(
        tss(&b, t, "escalated_at"),
        [Some(us("2024-07-23T10:30:12.184-0500")), None, None]
    );
    assert_eq!(list(&b, t, "services", 0).unwrap(), ["auth", "billing-api"]);
    assert_eq!(list(&b, t, "services", 1), None);
    assert_eq!(list(&b, t, "services", 2).unwrap(), ["single"]);
    assert_eq!(
        list(&b, t, "participants", 0).unwrap(),
        ["Zoë", "legacy", r#"{"accountId":"b"}"#]
    );
    assert_eq!(
        list(&b, t, "participants", 2).unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(s("notes"), [some("Call back"), None, None]);
    assert_eq!(s("owner"), [some("Sam O'Neil"), None, some("jsmith")]);
    assert_eq!(
        s("meta")[0],
        some(&json!({"b": 1, "a": [true, null]}).to_string())
    );
    assert_eq!(s("meta")[2], some("42"));
    assert_eq!(s("unknown"), [some("plain text"), None, some("Call back")]);
    // Mapped fields stay out of custom_fields.
    assert_eq!(s("custom_fields"), [None, None, None]);
}

#[test]
fn custom_fields_json() {
    // 10300 and 10301 are both called "Team"; 10100 is mapped; 10030/10031 are SLA fields.
    let mapped = ctx(&[("customfield_10100", "severity")]);
    let issue = issue_with(
        json!({
            "customfield_10100": {"value": "S1"},
            "customfield_10030": sla_value("Time to first response", vec![], None),
            "customfield_10300": "Tier 2 \"support\"",
            "customfield_10301": {"id": "10203", "value": "Mobile"},
            "customfield_10700": {"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "Hello"}]}]},
            "customfield_10200": null,
            "customfield_55555": [1, 2],
            "environment": "not a custom field",
        }),
        Value::Null,
    );
    let b = rows_of(&mapped, &[&issue]);
    let text = str_at(&b, Table::Issues, "custom_fields", 0).unwrap();
    let notes = adf::to_text(&issue["fields"]["customfield_10700"]).unwrap();
    let expected = format!(
        concat!(
            r#"{{"Notes":{},"Team (customfield_10300)":"Tier 2 \"support\"","#,
            r#""Team (customfield_10301)":{{"id":"10203","value":"Mobile"}},"customfield_55555":[1,2]}}"#
        ),
        serde_json::to_string(&notes).unwrap()
    );
    assert_eq!(text, expected);
    // When one of the two is mapped, the other keeps its plain name.
    let ctx2 = ctx(&[("customfield_10300", "team")]);
    let b = rows_of(&ctx2, &[&issue]);
    let cf: Value =
        serde_json::from_str(&str_at(&b, Table::Issues, "custom_fields", 0).unwrap()).unwrap();
    let keys: Vec<&String> = cf.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["Notes", "Severity", "Team", "customfield_55555"]);
    assert_eq!(
        str_at(&b, Table::Issues, "team", 0).as_deref(),
        Some("Tier 2 \"support\"")
    );
}

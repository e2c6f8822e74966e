//! The SLA columns of `issues` and the `sla` table: which SLA, which cycle, from where.

use super::*;

const SLA_COLS: [&str; 8] = [
    "first_response_elapsed_millis",
    "first_response_goal_millis",
    "first_response_remaining_millis",
    "first_response_breached",
    "time_to_resolution_elapsed_millis",
    "time_to_resolution_goal_millis",
    "time_to_resolution_remaining_millis",
    "time_to_resolution_breached",
];

/// The 8 SLA columns of issue row `row` (booleans as 0/1).
fn sla_cols(b: &Batches, row: usize) -> [Option<i64>; 8] {
    SLA_COLS.map(|c| {
        if c.ends_with("breached") {
            bools(b, Table::Issues, c)[row].map(i64::from)
        } else {
            i64s(b, Table::Issues, c)[row]
        }
    })
}

#[test]
fn sla_columns_ongoing_else_latest_completed_else_null() {
    let ctx = ctx(&[]);
    let (sup20, sup3, sup7, sup1) = (demo("SUP-20"), demo("SUP-3"), demo("SUP-7"), demo("SUP-1"));
    let b = rows_of(&ctx, &[&sup20, &sup3, &sup7, &sup1]);
    // SUP-20: both completed (one cycle each).
    assert_eq!(
        sla_cols(&b, 0),
        [
            Some(106_767_824),
            Some(14_400_000),
            Some(-92_367_824),
            Some(1),
            Some(54_032_203),
            Some(172_800_000),
            Some(118_767_797),
            Some(0)
        ]
    );
    // SUP-3: time to resolution has a completed and an ongoing cycle: the ongoing one wins.
    let ongoing = &sup3["mirror"]["sla"]["values"][1]["ongoingCycle"];
    assert_eq!(ongoing["elapsedTime"]["millis"], 36_231_977_645_i64);
    assert_eq!(
        &sla_cols(&b, 1)[4..],
        [
            Some(36_231_977_645),
            Some(172_800_000),
            Some(-36_059_177_645),
            Some(1)
        ]
    );
    // SUP-7: no SLA at all → nulls.
    assert_eq!(sla_cols(&b, 2), [None; 8]);
    // SUP-1: 17 completed resolution cycles → the last one.
    assert_eq!(
        &sla_cols(&b, 3)[4..],
        [
            Some(50_783_183),
            Some(172_800_000),
            Some(122_016_817),
            Some(0)
        ]
    );

    // sla table: by SLA then cycle; completed cycles have stop_at and no paused.
    let t = Table::Sla;
    let keys = strs(&b, t, "issue_key");
    let sup3_rows: Vec<usize> = (0..keys.len())
        .filter(|i| keys[*i].as_deref() == Some("SUP-3"))
        .collect();
    assert_eq!(sup3_rows.len(), 3);
    let names = strs(&b, t, "sla_name");
    let cycles = strs(&b, t, "cycle");
    let got: Vec<(Option<String>, Option<String>)> = sup3_rows
        .iter()
        .map(|i| (names[*i].clone(), cycles[*i].clone()))
        .collect();
    let s = |x: &str| Some(x.to_owned());
    assert_eq!(
        got,
        [
            (s("Time to first response"), s("completed")),
            (s("Time to resolution"), s("completed")),
            (s("Time to resolution"), s("ongoing")),
        ]
    );
    let (first, last) = (sup3_rows[0], sup3_rows[2]);
    assert_eq!(tss(&b, t, "start_at")[first], Some(1_707_338_344_870_000));
    assert_eq!(tss(&b, t, "stop_at")[first], Some(1_708_620_539_548_000));
    assert_eq!(tss(&b, t, "breach_at")[first], Some(1_707_352_744_870_000));
    assert_eq!(bools(&b, t, "breached")[first], Some(true));
    assert_eq!(bools(&b, t, "paused")[first], None);
    assert_eq!(i64s(&b, t, "goal_millis")[first], Some(14_400_000));
    assert_eq!(i64s(&b, t, "elapsed_millis")[first], Some(1_282_194_678));
    assert_eq!(i64s(&b, t, "remaining_millis")[first], Some(-1_267_794_678));
    assert_eq!(tss(&b, t, "stop_at")[last], None);
    assert_eq!(bools(&b, t, "paused")[last], Some(false));
    assert_eq!(tss(&b, t, "breach_at")[last], Some(1_712_676_822_355_000));
    assert_eq!(
        tss(&b, t, "start_at")[last],
        ongoing["startTime"]["epochMillis"]
            .as_i64()
            .map(|m| m * 1000)
    );
}

#[test]
fn sla_from_jsm_overlay_or_from_sla_fields() {
    let ctx = ctx(&[]);
    let fields = json!({
        "customfield_10030": sla_value("Time to first response", vec![cycle(10, false)], None),
        "customfield_10031": sla_value("Time to resolution", vec![cycle(20, false), cycle(30, true)], None),
    });
    // No overlay (mirror.sla null): the SLA custom fields are the source.
    let from_fields = issue_with(fields.clone(), json!({"sla": null}));
    // Overlay present: it wins over the fields, even where they disagree.
    let from_jsm = issue_with(
        fields.clone(),
        json!({"sla": {"source": "jsm", "values": [
            sla_value("Time to resolution", vec![], Some(json!({
                "startTime": {"epochMillis": 5}, "breached": false, "paused": true,
                "goalDuration": {"millis": 1000}, "elapsedTime": {"millis": 77},
                "remainingTime": {"millis": 923}}))),
            sla_value("Time to first response", vec![], None),
        ]}}),
    );
    let b = rows_of(&ctx, &[&from_fields, &from_jsm]);
    assert_eq!(
        sla_cols(&b, 0),
        [
            Some(10),
            Some(1000),
            Some(990),
            Some(0),
            Some(30),
            Some(1000),
            Some(970),
            Some(1)
        ]
    );
    assert_eq!(
        sla_cols(&b, 1),
        [
            None,
            None,
            None,
            None,
            Some(77),
            Some(1000),
            Some(923),
            Some(0)
        ],
        "first response has no cycle → nulls"
    );
    let t = Table::Sla;
    assert_eq!(
        strs(&b, t, "cycle"),
        ["completed", "completed", "completed", "ongoing"].map(|s| Some(s.to_owned()))
    );
    assert_eq!(
        i64s(&b, t, "elapsed_millis"),
        [Some(10), Some(20), Some(30), Some(77)]
    );
    assert_eq!(bools(&b, t, "paused"), [None, None, None, Some(true)]);
    assert_eq!(tss(&b, t, "start_at")[3], Some(5_000));
    assert_eq!(tss(&b, t, "breach_at")[3], None);
    // SLA fields never reach custom_fields.
    assert_eq!(strs(&b, Table::Issues, "custom_fields"), [None, None]);
}

#[test]
fn sla_names_match_trimmed_and_case_insensitively() {
    let ctx = ctx_with(
        catalog(),
        &[],
        SlaNames {
            first_response: "  Time To First Response ".into(),
            time_to_resolution: "TEMPS DE RÉSOLUTION".into(),
        },
    );
    let issue = issue_with(
        json!({}),
        json!({"sla": {"source": "jsm", "values": [
            sla_value("time to first response", vec![cycle(1, false)], None),
            sla_value(" Temps de résolution", vec![cycle(2, false)], None),
            sla_value("Something else", vec![cycle(3, false)], None),
        ]}}),
    );
    let b = rows_of(&ctx, &[&issue]);
    assert_eq!(sla_cols(&b, 0)[0], Some(1));
    assert_eq!(sla_cols(&b, 0)[4], Some(2));
    assert_eq!(b[&Table::Sla].num_rows(), 3, "every SLA has its rows");
    // Names that match nothing leave the columns null.
    let other = ctx_with(
        catalog(),
        &[],
        SlaNames {
            first_response: "Erste Antwort".into(),
            time_to_resolution: "Lösung".into(),
        },
    );
    assert_eq!(sla_cols(&rows_of(&other, &[&issue]), 0), [None; 8]);
}

#[test]
fn sla_fields_unknown_to_the_catalogue_are_recognised_by_shape() {
    let ctx = ctx_with(FieldCatalog::empty(), &[], SlaNames::default());
    let issue = issue_with(
        json!({
            "customfield_1": sla_value("Time to resolution", vec![cycle(5, false)], None),
            "customfield_2": {"value": "not an SLA"},
        }),
        json!({"sla": null}),
    );
    let b = rows_of(&ctx, &[&issue]);
    assert_eq!(sla_cols(&b, 0)[4], Some(5));
    assert_eq!(b[&Table::Sla].num_rows(), 1);
    assert_eq!(
        str_at(&b, Table::Issues, "custom_fields", 0).as_deref(),
        Some(r#"{"customfield_2":{"value":"not an SLA"}}"#)
    );
}

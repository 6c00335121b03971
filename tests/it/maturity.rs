#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
//! Knowledge-management maturity (method tjk-1): aggregation on a hand-computed example, the
//! reliability and anonymity rules, and survey exports in their real-world forms.

use crate::common;

use common::*;
use mittari::io::tabular::{Encoding, XRow, decode_text, delimited_rows};
use mittari::model::quarantine::QuarantineEntry;
use mittari::stages::assess::survey::{
    Answer, AnswerType, MappedItem, ResponseFile, read_question_map, read_responses,
};
use mittari::stages::assess::{Params, aggregate};
use polars::prelude::*;

/// A respondent-level export read as the pipeline reads one (delimited text has every field of
/// a row; a workbook leaves empty cells out), with no date too late.
fn read(
    rows: &[XRow],
    header_rows: usize,
    map: &[MappedItem],
    salt: &str,
    file: &str,
    quarantine: &dyn Fn(String, &'static str, String, String) -> QuarantineEntry,
) -> Result<(Vec<Answer>, Vec<QuarantineEntry>), mittari::error::SourceError> {
    let how = ResponseFile {
        header_rows,
        map,
        salt,
        file,
        complete_rows: std::path::Path::new(file)
            .extension()
            .is_none_or(|e| e != "xlsx"),
        latest: chrono::NaiveDate::from_ymd_opt(2100, 1, 1).unwrap(),
    };
    read_responses(rows, &how, quarantine)
}

/// A `;` CSV export as rows, as the pipeline reads it.
fn csv_rows(text: &str) -> Vec<XRow> {
    delimited_rows(text, "test.csv").unwrap()
}

fn answer(
    who: &str,
    role: &'static str,
    item: &str,
    kind: AnswerType,
    value: Option<f64>,
) -> Answer {
    Answer {
        respondent: who.into(),
        role,
        answered: None,
        item: item.into(),
        dimension: "D1".into(),
        answer_type: kind,
        value,
        raw: String::new(),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Six respondents on D1 (two current items, one satisfaction, one target):
/// A management 4, 5 | B management 3, NA (half answered: kept) | C finance NA, NA (dropped) |
/// D finance 2, 3 | E `service_line` 5, 5 | F ict 4, 4. Satisfaction A 2, B 3; target A 5, B 4.
#[test]
fn aggregation_by_hand() {
    use AnswerType::{Current, Satisfaction, Target};
    let a = vec![
        answer("A", "management", "i1", Current, Some(4.0)),
        answer("A", "management", "i2", Current, Some(5.0)),
        answer("B", "management", "i1", Current, Some(3.0)),
        answer("B", "management", "i2", Current, None),
        answer("C", "finance", "i1", Current, None),
        answer("C", "finance", "i2", Current, None),
        answer("D", "finance", "i1", Current, Some(2.0)),
        answer("D", "finance", "i2", Current, Some(3.0)),
        answer("E", "service_line", "i1", Current, Some(5.0)),
        answer("E", "service_line", "i2", Current, Some(5.0)),
        answer("F", "ict", "i1", Current, Some(4.0)),
        answer("F", "ict", "i2", Current, Some(4.0)),
        answer("A", "management", "s", Satisfaction, Some(2.0)),
        answer("B", "management", "s", Satisfaction, Some(3.0)),
        answer("A", "management", "t", Target, Some(5.0)),
        answer("B", "management", "t", Target, Some(4.0)),
    ];
    let params = Params::default();
    let (dims, roles) = aggregate("HVA12", "2020", &a, &params);
    assert_eq!(dims.len(), 1);
    let d = &dims[0];
    // Role means: management (4.5 + 3) / 2 = 3.75, finance 2.5, service_line 5 (weight 0.5), ict 4.
    let s = (3.75 + 2.5 + 0.5 * 5.0 + 4.0) / 3.5;
    assert!(close(d.score.unwrap(), s), "{:?}", d.score);
    assert_eq!((d.n, d.roles, d.reliability), (5, 4, "ok"));
    assert!(close(d.mean.unwrap(), 3.8));
    assert!(close(d.median.unwrap(), 4.0));
    assert!(close(d.sd.unwrap(), (4.3f64 / 4.0).sqrt()));
    assert!(close(d.iqr.unwrap(), 1.5));
    assert!(close(d.rwg.unwrap(), 1.0 - 1.075 / 2.0));
    assert_eq!(d.flags, ["low_agreement", "role_divergence"]);
    assert!(close(d.satisfaction.unwrap(), 2.5));
    assert!(close(d.dissatisfaction.unwrap(), 2.5));
    assert!(close(d.target.unwrap(), 4.5));
    assert!(close(d.dev_need.unwrap(), 4.5 - s));
    assert!(close(d.priority.unwrap(), (4.5 - s) * 2.5 / 4.0));
    // n < 10: a seeded bootstrap, the same on every run, around the score.
    let (lo, hi) = d.ci.unwrap();
    assert_eq!(d.ci_method, Some("bootstrap"));
    assert!(lo < s && s < hi, "{lo} {s} {hi}");
    assert_eq!(aggregate("HVA12", "2020", &a, &params).0[0].ci, d.ci);
    // No role has 3 respondents: no role row is exported.
    assert!(roles.is_empty());
}

#[test]
fn reliability_suppression_and_the_t_interval() {
    use AnswerType::Current;
    let params = Params::default();
    let make = |n: usize, roles: &[&'static str]| -> Vec<Answer> {
        (0..n)
            .map(|i| {
                let v = f64::from(u32::try_from(1 + i % 5).unwrap());
                answer(
                    &format!("r{i}"),
                    roles[i % roles.len()],
                    "i1",
                    Current,
                    Some(v),
                )
            })
            .collect()
    };
    let two = aggregate("X", "r", &make(2, &["management"]), &params).0;
    assert_eq!(two[0].reliability, "suppressed");
    assert_eq!((two[0].score, two[0].mean, two[0].ci), (None, None, None));
    let three = aggregate(
        "X",
        "r",
        &make(3, &["management", "ict", "finance"]),
        &params,
    )
    .0;
    assert_eq!(three[0].reliability, "indicative");
    let few_roles = aggregate("X", "r", &make(6, &["management", "ict"]), &params).0;
    assert_eq!(few_roles[0].reliability, "indicative", "fewer than 3 roles");
    // Ten respondents: t-based, S ± 2.262 × SD / √10.
    let (ten, roles) = aggregate("X", "r", &make(10, &["management"]), &params);
    let d = &ten[0];
    assert_eq!(d.ci_method, Some("t"));
    let half = 2.262 * d.sd.unwrap() / 10f64.sqrt();
    let (lo, hi) = d.ci.unwrap();
    assert!(close(lo, d.score.unwrap() - half) && close(hi, d.score.unwrap() + half));
    assert_eq!(roles.len(), 1, "a role of 10 is exported");
    assert_eq!(roles[0].n, 10);
}

fn reject() -> impl Fn(String, &'static str, String, String) -> QuarantineEntry {
    |location, rule, reason, record| QuarantineEntry {
        stage: "normalize",
        source: "t".into(),
        raw_sha256: String::new(),
        location,
        rule,
        reason,
        record,
    }
}

/// Etelä-Savo's 2020 export (Windows-1252, two-row header, `Yhteensä` row) and the same answers
/// re-encoded as UTF-8 give the same scores; ids are only ever hashed.
#[test]
fn windows_1252_two_row_header_equals_utf8() {
    let dir = repo().join("sample-data/maturity");
    let map_text = std::fs::read_to_string(dir.join("question_map.csv")).unwrap();
    let map = read_question_map(&csv_rows(&map_text), "question_map.csv").unwrap();
    let bytes = std::fs::read(dir.join("SYNTHETIC_survey_etela_savo_2020.csv")).unwrap();
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the fixture really is Windows-1252"
    );
    let cp = decode_text(&bytes, Encoding::Auto, "es.csv").unwrap();
    let utf8 = decode_text(cp.as_bytes(), Encoding::Utf8, "es-utf8.csv").unwrap();
    let q = reject();
    let (a, qa) = read(&csv_rows(&cp), 2, &map, "salt", "es.csv", &q).unwrap();
    let (b, qb) = read(&csv_rows(&utf8), 2, &map, "salt", "es-utf8.csv", &q).unwrap();
    assert!(qa.is_empty() && qb.is_empty());
    assert_eq!(a, b);
    assert_eq!(
        a.len(),
        12 * 35,
        "12 respondents (the Yhteensä row is not one) x 35 items"
    );
    let params = Params::default();
    assert_eq!(
        aggregate("HVA12", "2020", &a, &params),
        aggregate("HVA12", "2020", &b, &params)
    );
    // "En osaa sanoa" is NA, not a number; ids are hashed with the salt.
    assert!(
        a.iter()
            .any(|x| x.raw == "En osaa sanoa" && x.value.is_none())
    );
    assert!(
        a.iter()
            .all(|x| x.respondent.len() == 16 && !x.respondent.contains("12-2020"))
    );
    let (c, _) = read(&csv_rows(&cp), 2, &map, "other salt", "es.csv", &q).unwrap();
    assert_ne!(a[0].respondent, c[0].respondent);
    // The reverse-coded item is mirrored: a label worth v counts 6 - v.
    let mut mirrored = 0;
    for x in a.iter().filter(|x| x.item == "D3_3") {
        if let Some(Some(v)) = mittari::stages::assess::survey::likert(&x.raw) {
            assert_eq!(x.value, Some(6.0 - v), "{}", x.raw);
            mirrored += 1;
        }
    }
    assert!(mirrored > 5);
}

#[test]
fn an_answer_outside_the_scale_is_quarantined_with_row_and_column() {
    let map = read_question_map(
        &csv_rows("header_regex;item_id;dimension_id;answer_type;scale_min;scale_max;reverse_coded\nQ1;q1;D1;current;1;5;0\nQ2;q2;D1;satisfaction;1;5;0\n"),
        "m.csv",
    )
    .unwrap();
    let text = "Vastaajatunnus;Rooli;Q1;Q2\nr1;Johto;Jokseenkin samaa mieltä;4\nr2;ICT;4;7\nr3;Talous;maybe;3\nYhteensä;;;\n";
    let (answers, q) = read(&csv_rows(text), 1, &map, "s", "survey.csv", &reject()).unwrap();
    assert_eq!(answers.len(), 2, "only r1's row");
    assert_eq!(q.len(), 2);
    assert_eq!(q[0].location, "survey.csv:3:4");
    assert!(
        q[0].reason.contains("7 is outside item `q2`'s scale 1..5"),
        "{}",
        q[0].reason
    );
    assert_eq!(q[1].location, "survey.csv:4:3");
    assert!(!q[0].record.is_empty());
}

#[test]
fn the_sample_produces_the_maturity_tables() {
    let ws = Workspace::new();
    let out = mittari()
        .arg("run")
        .arg(ws.pipeline())
        .arg("--out")
        .arg(ws.out())
        .arg("--cache")
        .arg(ws.path("cache"))
        .env("MITTARI_SURVEY_SALT", "test-salt")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let dims = read_parquet(&ws.out().join("maturity_dimension_scores.parquet"));
    assert_eq!(
        dims.height(),
        3 * 2 * 7,
        "3 counties x 2 rounds x 7 dimensions"
    );
    let roles = read_parquet(&ws.out().join("maturity_role_scores.parquet"));
    // Keski-Pohjanmaa's two finance respondents are never exported as a role row.
    let kp_finance = roles
        .clone()
        .lazy()
        .filter(
            col("region")
                .eq(lit("HVA18"))
                .and(col("role").eq(lit("finance"))),
        )
        .collect()
        .unwrap();
    assert_eq!(kp_finance.height(), 0);
    let params = read_parquet(&ws.out().join("maturity_method_params.parquet"));
    let w = row_where(&params, "param", "role_weight.service_line");
    assert_eq!(w["value"], "0.5");
    assert_eq!(w["method_version"], "tjk-1");
    let responses = read_parquet(&ws.out().join("maturity_responses.parquet"));
    let keys = responses
        .column("respondent_key")
        .unwrap()
        .str()
        .unwrap()
        .clone();
    assert!(keys.iter().all(|k| k.unwrap().len() == 16));
}

/// The sample's roadmap workbooks at 1 January 2023: execution, precision of dates, RAG.
#[test]
fn the_sample_roadmaps_at_an_as_of_date() {
    let ws = Workspace::new();
    let out = mittari()
        .arg("run")
        .arg(ws.pipeline())
        .arg("--out")
        .arg(ws.out())
        .arg("--cache")
        .arg(ws.path("cache"))
        .args(["--as-of", "2023-01-01"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let progress = read_parquet(&ws.out().join("roadmap_progress.parquet"));
    let row = |region: &str, dim: &str| {
        let r = progress
            .clone()
            .lazy()
            .filter(
                col("region")
                    .eq(lit(region))
                    .and(col("dimension_id").eq(lit(dim))),
            )
            .collect()
            .unwrap();
        assert_eq!(r.height(), 1, "{region} {dim}");
        r
    };
    let es = row("HVA12", "D1");
    let int = |df: &DataFrame, c: &str| df.column(c).unwrap().i64().unwrap().get(0).unwrap();
    // Three milestones due (autumn 2022 is due by 1.1.2023), two done, one late: SPI 2/3.
    assert_eq!(
        (int(&es, "due"), int(&es, "done"), int(&es, "late")),
        (3, 2, 1)
    );
    let spi = es.column("spi").unwrap().f64().unwrap().get(0).unwrap();
    assert!((spi - 2.0 / 3.0).abs() < 1e-12);
    // Keski-Pohjanmaa: two of three milestones late, SPI 1/3 < 0.6: red.
    let kp = row("HVA18", "D1");
    assert_eq!(kp.column("rag").unwrap().str().unwrap().get(0), Some("red"));
    // The cancelled milestone is not counted in D3 (two left), and the milestone table says so.
    assert_eq!(int(&row("HVA12", "D3"), "milestones"), 2);
    let ms = read_parquet(&ws.out().join("roadmap_milestones.parquet"));
    let cancelled = row_where(&ms, "milestone_id", "ES-3.1");
    assert_eq!(cancelled["status"], "Peruttu");
    let actions = read_parquet(&ws.out().join("roadmap_actions.parquet"));
    let a = row_where(&actions, "action_id", "ES-2");
    assert_eq!(
        (a["start_precision"].as_str(), a["due_precision"].as_str()),
        ("year", "half_year")
    );
    assert_eq!(a["dimensions"], "D2");
}

/// An aggregated export (question × option counts, with roles): item-level statistics by hand.
#[test]
fn an_aggregated_export_by_hand() {
    use mittari::stages::assess::aggregate_frequencies;
    use mittari::stages::assess::survey::read_frequencies;
    let map = read_question_map(
        &csv_rows("header_regex;item_id;dimension_id;answer_type;scale_min;scale_max;reverse_coded\nQ1;q1;D1;current;1;5;0\nQ2;q2;D1;current;1;5;0\n"),
        "m.csv",
    )
    .unwrap();
    let text = "Rooli;Kysymys;Vaihtoehto;Lukumäärä\n\
        Johto;Q1 tieto;Jokseenkin samaa mieltä;2\n\
        Johto;Q1 tieto;5;1\n\
        Johto;Q2 mittarit;3;3\n\
        Talous;Q1 tieto;2;3\n\
        Talous;Q2 mittarit;Jokseenkin eri mieltä;1\n\
        Talous;Q2 mittarit;4;2\n\
        Talous;Q2 mittarit;En osaa sanoa;4\n\
        Talous;Q2 mittarit;9;1\n\
        Yhteensä;;;16\n";
    let (freqs, q) = read_frequencies(&csv_rows(text), &map, "agg.csv", &reject()).unwrap();
    assert_eq!(q.len(), 1, "the 9 is off the scale");
    assert_eq!(q[0].location, "agg.csv:9:3");
    let (dims, roles) = aggregate_frequencies("HVA13", "2022", &freqs, &Params::default());
    let d = &dims[0];
    // Management (4·2 + 5 + 3·3) / 6, finance (2·3 + 2 + 4·2) / 6; "don't know" is not counted.
    let (m, f) = (22.0 / 6.0, 16.0 / 6.0);
    assert!(close(d.score.unwrap(), f64::midpoint(m, f)));
    assert_eq!((d.n, d.roles, d.reliability), (6, 2, "indicative"));
    assert_eq!(roles.len(), 2, "three answers per item in each role");
    assert!(close(roles[0].mean, m) || close(roles[0].mean, f));
}

/// A roadmap given as two CSV files (Windows-1252 here) runs like the workbook.
#[test]
fn a_roadmap_from_two_csv_files() {
    let ws = Workspace::new();
    let actions = "Tunnus;Toimenpide;Osa-alue;Vastuutaho;Alkaa;Päättyy;Tila;Tavoitetaso;Tavoitevuosi;Mittari;Tavoitearvo;Resurssit\r\n\
        X-1;Tietovarasto;Data ja sen laatu;ICT;Q1/2021;H2 2022;Käynnissä;3,5;2025;;;2\r\n\
        X-2;Huono rivi;D9;ICT;2021;2022;Käynnissä;3;2025;;;1\r\n";
    let milestones = "Tunnus;Toimenpide;Virstanpylväs;Suunniteltu pvm;Toteutunut pvm;Tila\r\n\
        X-1.1;X-1;Määrittely;syksy 2021;15.11.2021;Valmis\r\n\
        X-1.2;X-1;Käyttöönotto;kevät 2022;;Viivästynyt\r\n";
    let cp1252 = |s: &str| -> Vec<u8> {
        s.chars()
            .map(|c| match c {
                'ä' => 0xE4,
                'ö' => 0xF6,
                c => u8::try_from(u32::from(c)).unwrap(),
            })
            .collect()
    };
    std::fs::write(ws.path("sample-data/maturity/actions.csv"), cp1252(actions)).unwrap();
    std::fs::write(
        ws.path("sample-data/maturity/milestones.csv"),
        cp1252(milestones),
    )
    .unwrap();
    ws.edit(
        "pipelines/sample.toml",
        "path = \"../sample-data/maturity/SYNTHETIC_roadmap_etela_savo.xlsx\"",
        "actions = \"../sample-data/maturity/actions.csv\"\nmilestones = \"../sample-data/maturity/milestones.csv\"",
    );
    let out = mittari()
        .arg("run")
        .arg(ws.pipeline())
        .arg("--out")
        .arg(ws.out())
        .arg("--cache")
        .arg(ws.path("cache"))
        .args(["--as-of", "2023-01-01"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let progress = read_parquet(&ws.out().join("roadmap_progress.parquet"));
    let es = progress
        .lazy()
        .filter(col("region").eq(lit("HVA12")))
        .collect()
        .unwrap();
    assert_eq!(es.height(), 1, "only D3 has an action");
    assert_eq!(
        es.column("dimension_id").unwrap().str().unwrap().get(0),
        Some("D3")
    );
    assert_eq!(es.column("spi").unwrap().f64().unwrap().get(0), Some(0.5));
    // The row naming a dimension that does not exist is quarantined, not dropped, and said in
    // the log as a warning with its rule and place.
    let q = read_parquet(&ws.out().join("quarantine/maturity.parquet"));
    let row = row_where(&q, "rule", "unusable_roadmap_row");
    assert!(row["reason"].contains("Osa-alue `D9`"), "{}", row["reason"]);
    let err = stderr(&out);
    assert!(
        err.contains("WARN 1 row quarantined: unusable_roadmap_row at ")
            && err.contains("actions.csv"),
        "{err}"
    );
}

/// The same survey as an Excel workbook (labels as text, numbers as numbers, answer times as
/// Excel dates) reads to exactly the CSV's answers.
#[test]
fn an_xlsx_survey_reads_like_the_csv() {
    let dir = repo().join("sample-data/maturity");
    let map = read_question_map(
        &csv_rows(&std::fs::read_to_string(dir.join("question_map.csv")).unwrap()),
        "m.csv",
    )
    .unwrap();
    let csv =
        std::fs::read_to_string(dir.join("SYNTHETIC_survey_keski_pohjanmaa_2022.csv")).unwrap();
    let xlsx = std::fs::read(
        repo().join("tests/fixtures/maturity/SYNTHETIC_survey_keski_pohjanmaa_2022.xlsx"),
    )
    .unwrap();
    let rows = mittari::io::tabular::workbook::first_sheet(&xlsx, "kp.xlsx").unwrap();
    let q = reject();
    let (a, qa) = read(&csv_rows(&csv), 1, &map, "s", "kp.csv", &q).unwrap();
    let (b, qb) = read(&rows, 1, &map, "s", "kp.xlsx", &q).unwrap();
    assert!(qa.is_empty() && qb.is_empty(), "{qb:?}");
    assert_eq!(a.len(), 10 * 35);
    assert_eq!(a, b);
    assert!(b.iter().all(|x| x.answered.is_some()), "Excel dates read");
}

/// A survey export saved as Excel's "Unicode text" (UTF-16LE with a byte-order mark,
/// tab-separated) with a free-text answer holding a line break reads as the `;` CSV does: the
/// free text stays one field, and a quarantined answer's location is the line its row starts on.
#[test]
fn a_utf16_survey_with_a_line_break_in_free_text() {
    let map = read_question_map(
        &csv_rows("header_regex;item_id;dimension_id;answer_type;scale_min;scale_max;reverse_coded\nQ1;q1;D1;current;1;5;0\nQ2;q2;D1;satisfaction;1;5;0\n"),
        "m.csv",
    )
    .unwrap();
    let text = "Vastaajatunnus\tRooli\tVapaa sana\tQ1\tQ2\r\nr1\tJohto\t\"Hyvä alku;\r\nmutta kesken\"\t4\t5\r\nr2\tICT\t\t3\t7\r\n";
    let bytes: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let decoded = decode_text(&bytes, Encoding::Auto, "survey.txt").unwrap();
    let rows = delimited_rows(&decoded, "survey.txt").unwrap();
    let (answers, q) = read(&rows, 1, &map, "s", "survey.txt", &reject()).unwrap();
    assert_eq!(answers.len(), 2, "r1's two answers: {answers:?}");
    assert!(answers.iter().all(|a| a.value.is_some()));
    assert_eq!(q.len(), 1);
    // r2's row starts on line 4: r1's free text took lines 2 and 3.
    assert_eq!(q[0].location, "survey.txt:4:5");
}

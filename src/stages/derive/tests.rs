//! Tests of the derive stage: levels, indicator blocks and their order, the memo.

use super::*;
use crate::model::regions::COUNTRY;

/// Every use of a measure's levels the sample pipeline's indicators and checks will make is
/// counted (the ratio's numerator is also a count's: two), and an entry stays in the memo
/// until its last one; levels asked for without a plan stay.
#[test]
fn levels_leave_the_memo_after_their_last_planned_use() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/sample.toml");
    let p = crate::model::config::Pipeline::load(&path).unwrap().file;
    let memo = Memo::default();
    memo.plan_levels(&p.indicators, &p.crosschecks);
    let ratio = p
        .indicators
        .iter()
        .find(|i| i.aggregation == Aggregation::Ratio)
        .unwrap();
    let uses = locked(&memo.levels_uses).clone();
    assert!(uses[&levels_key(&ratio.numerator)] >= 2, "{uses:?}");
    assert!(uses[&levels_key(ratio.denominator.as_ref().unwrap())] >= 1);
    let df = Arc::new(MeasureLevels::default());
    let kept = |key: &str| locked(&memo.levels).contains_key(key);
    for (key, n) in uses {
        for _ in 1..n {
            memo.spend_levels(&key, &df);
            assert!(kept(&key), "{key} before its last use");
        }
        memo.spend_levels(&key, &df);
        assert!(!kept(&key), "{key} after its last use");
    }
    memo.spend_levels("unplanned", &df);
    memo.spend_levels("unplanned", &df);
    assert!(kept("unplanned"));
}

/// An indicator's rows before the comparisons, as `finish` builds them.
fn block(id: &str, rows: &[(&str, &str, i16, Option<f64>)]) -> Block<'static> {
    let n = rows.len();
    let values: Vec<Option<f64>> = rows.iter().map(|r| r.3).collect();
    let rows = DataFrame::new(
        n,
        vec![
            Column::new("indicator".into(), vec![id; n]),
            Column::new(
                "region".into(),
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            ),
            Column::new(
                "region_level".into(),
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            ),
            Column::new("year".into(), rows.iter().map(|r| r.2).collect::<Vec<_>>()),
            Column::new("value".into(), values.clone()),
            Column::new("numerator".into(), values),
            Column::new("denominator".into(), vec![None::<f64>; n]),
            Column::new("unit".into(), vec!["u"; n]),
            Column::new("method".into(), vec![format!("m {id}"); n]),
            Column::new("basis".into(), vec![compose::RECOMPUTED; n]),
            Column::new("flags".into(), vec![None::<&str>; n]),
        ],
    )
    .unwrap();
    Block::Frame {
        id: single_id(&rows).unwrap(),
        rows,
    }
}

/// A `count` indicator's block as `compose` builds it, from levels.
fn computed<'a>(id: &str, rows: &[(&'a str, &'static str, i16, Option<f64>)]) -> Block<'a> {
    let levels = MeasureLevels {
        region: rows.iter().map(|r| Some(r.0)).collect(),
        level: rows.iter().map(|r| r.1).collect(),
        year: rows.iter().map(|r| Some(r.2)).collect(),
        x: rows.iter().map(|r| r.3).collect(),
        flag: rows
            .iter()
            .map(|r| r.3.is_none().then(|| "missing in source".to_owned()))
            .collect(),
    };
    let ind = compose::Indicator {
        id: id.to_owned(),
        unit: "u".to_owned(),
        method: format!("m {id}"),
        scale: 1.0,
    };
    Block::Computed(Box::new(compose::count(ind, &levels)))
}

/// A block computed from levels, compared on its columns, gives the frame that comparing its
/// rows as a frame gives (the path `index` indicators and the population structure take).
#[test]
fn computed_blocks_compare_as_frames_do() {
    let rows = [
        ("KU091", "municipality", 2021, Some(3.0)),
        (COUNTRY, "country", 2021, Some(6.0)),
        ("KU091", "municipality", 2020, Some(2.0)),
        ("HVA12", "wellbeing_county", 2021, None),
        (COUNTRY, "country", 2020, Some(0.0)),
        ("KU049", "municipality", 2020, Some(1.0)),
    ];
    let on_columns = computed("a", &rows).compared().unwrap();
    let as_frame = compose::with_comparisons(&computed("a", &rows).into_frame().unwrap()).unwrap();
    assert!(
        on_columns.equals_missing(&as_frame),
        "{on_columns}\n{as_frame}"
    );
    crate::model::contract::Contract::for_table("indicators")
        .unwrap()
        .check_frame(&on_columns)
        .unwrap();
    let flags: Vec<Option<&str>> = on_columns
        .column("flags")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(flags.iter().filter(|f| f.is_some()).count(), 1);
}

/// Blocks compared one by one and put in indicator order give the table that comparing all
/// rows at once gives; an indicator in two blocks is compared over all its rows.
#[test]
fn blocks_in_order_equal_the_whole_table_compared() {
    let blocks = || {
        vec![
            block(
                "b",
                &[
                    ("KU091", "municipality", 2021, Some(3.0)),
                    (COUNTRY, "country", 2021, Some(6.0)),
                    ("KU091", "municipality", 2020, Some(2.0)),
                    ("HVA12", "wellbeing_county", 2021, None),
                ],
            ),
            block("empty", &[]),
            block(
                "a",
                &[
                    (COUNTRY, "country", 2020, Some(4.0)),
                    ("KU049", "municipality", 2020, Some(1.0)),
                    ("KU049", "municipality", 2021, Some(5.0)),
                    (COUNTRY, "country", 2021, Some(10.0)),
                ],
            ),
            computed("c", &[("KU049", "municipality", 2019, Some(7.0))]),
        ]
    };
    let whole = |blocks: Vec<Block>| {
        let frames: Vec<LazyFrame> = blocks
            .into_iter()
            .map(|b| b.into_frame().unwrap().lazy())
            .collect();
        let all = concat(frames, UnionArgs::default())
            .unwrap()
            .collect()
            .unwrap();
        compose::with_comparisons(&all).unwrap()
    };
    let expected = whole(blocks());
    let by_block = compared_in_order(blocks()).unwrap();
    assert!(by_block.equals_missing(&expected), "{by_block}\n{expected}");
    let ids: Vec<&str> = by_block
        .column("indicator")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    assert_eq!(ids, ["a", "a", "a", "a", "b", "b", "b", "b", "c"]);

    // "a" split over two blocks: not one block per indicator.
    let mut split = blocks();
    split.push(block("a", &[("KU091", "municipality", 2021, Some(9.0))]));
    let expected = whole(split);
    let mut split = blocks();
    split.push(block("a", &[("KU091", "municipality", 2021, Some(9.0))]));
    let out = compared_in_order(split).unwrap();
    assert!(out.equals_missing(&expected), "{out}\n{expected}");
    assert_eq!(out.height(), 10);

    // No rows at all: the empty table of the contract.
    let out = compared_in_order(vec![block("empty", &[])]).unwrap();
    assert_eq!(out.height(), 0);
    crate::model::contract::Contract::for_table("indicators")
        .unwrap()
        .check_frame(&out)
        .unwrap();
}

/// Contiguous datasets come out as slices, scattered ones gathered; no row is lost or
/// moved to another dataset, and rows without a dataset belong to none.
#[test]
fn split_by_dataset_keeps_every_row_once() {
    let obs = DataFrame::new(
        7,
        vec![
            Column::new(
                "dataset".into(),
                [
                    Some("a"),
                    Some("a"),
                    Some("b"),
                    Some("c"),
                    Some("a"),
                    None,
                    Some("c"),
                ],
            ),
            Column::new("row".into(), [0_i32, 1, 2, 3, 4, 5, 6]),
        ],
    )
    .unwrap();
    let categorical =
        DataType::from_categories(Categories::random("test".into(), CategoricalPhysical::U32));
    let mut dictionary = obs.clone();
    dictionary
        .apply("dataset", |c| c.cast(&categorical).unwrap())
        .unwrap();
    assert!(matches!(
        dictionary.column("dataset").unwrap().dtype(),
        DataType::Categorical(..)
    ));
    for obs in [obs, dictionary] {
        let parts = split_by_dataset(&obs).unwrap();
        let rows = |id: &str| -> Vec<Option<i32>> {
            parts[id]
                .column("row")
                .unwrap()
                .i32()
                .unwrap()
                .iter()
                .collect()
        };
        assert_eq!(parts.len(), 3);
        assert_eq!(rows("a"), [Some(0), Some(1), Some(4)]);
        assert_eq!(rows("b"), [Some(2)]);
        assert_eq!(rows("c"), [Some(3), Some(6)]);
    }
}

//! The reference tables a run publishes beside its results (regions, crosswalk, mergers, the
//! indicator catalogue) and the counts the manifest reports (quarantine per rule, rows per
//! indicator).

use std::collections::BTreeMap;
use std::sync::Arc;

use polars::prelude::*;

use std::collections::HashMap;

use super::checks::check_crosschecks;
use super::prepare::Prepared;
use super::sources::read_price_index;
use crate::app::manifest::{IndicatorSummary, InputRecord, QuarantineCount};
use crate::error::{Error, InternalError, PolarsContext};
use crate::model::config::CsvDialect;
use crate::model::config::SourceConfig;
use crate::model::contract::Contract;
use crate::model::quarantine::QuarantineEntry;
use crate::model::regions::{Crosswalk, Registry};
use crate::stages::derive::{DeriveInput, derive};
use crate::stages::normalize::regionfile::KpaRow;
use crate::stages::publish::Publisher;

pub(crate) fn quarantine_counts(entries: &[&QuarantineEntry]) -> Vec<QuarantineCount> {
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for e in entries {
        *counts.entry((e.stage, e.rule)).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((stage, rule), rows)| QuarantineCount {
            stage: stage.to_owned(),
            rule: rule.to_owned(),
            rows,
        })
        .collect()
}

/// Rows of each indicator in `indicators`, with and without a value, in indicator order.
pub(crate) fn indicator_summaries(
    indicators: &DataFrame,
) -> Result<Vec<IndicatorSummary>, InternalError> {
    /// A run's counts, added to its indicator's when the run ends.
    fn add<'a>(
        counts: &mut BTreeMap<&'a str, (usize, usize)>,
        (id, rows, with): (&'a str, usize, usize),
    ) {
        let c = counts.entry(id).or_default();
        (c.0, c.1) = (c.0 + rows, c.1 + with);
    }
    // One pass over the two columns, in place: the table comes in indicator order, so a row
    // mostly counts towards the same indicator as the row before it. (A polars group-by hashed
    // every row's id and, at national scale, took 300 MB at the very end of the run.)
    let what = "summarising indicators";
    let ids = indicators
        .column("indicator")
        .and_then(|c| c.str().cloned())
        .context(what)?;
    let values = indicators
        .column("value")
        .and_then(|c| c.f64().cloned())
        .context(what)?;
    // (rows, rows with a value) per indicator.
    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut run: Option<(&str, usize, usize)> = None;
    for (id, value) in ids.iter().zip(values.iter()) {
        let (id, with) = (id.unwrap_or_default(), usize::from(value.is_some()));
        match &mut run {
            Some((current, rows, with_value)) if *current == id => {
                *rows += 1;
                *with_value += with;
            }
            _ => {
                if let Some(ended) = run.replace((id, 1, with)) {
                    add(&mut counts, ended);
                }
            }
        }
    }
    if let Some(ended) = run {
        add(&mut counts, ended);
    }
    Ok(counts
        .into_iter()
        .map(|(id, (rows, with_value))| IndicatorSummary {
            indicator: id.to_owned(),
            rows,
            with_value,
            without_value: rows - with_value,
        })
        .collect())
}

/// The `regions` table.
pub fn regions_frame(registry: &Registry, cw: &Crosswalk) -> Result<DataFrame, InternalError> {
    let regions: Vec<_> = registry.regions().collect();
    // Polars dates are days since 1970-01-01.
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let days =
        |d: Option<chrono::NaiveDate>| d.and_then(|d| i32::try_from((d - epoch).num_days()).ok());
    let date_col = |name: &str, values: Vec<Option<i32>>| -> Result<Column, InternalError> {
        Ok(Series::new(name.into(), values)
            .cast(&DataType::Date)
            .context("building region dates")?
            .into())
    };
    let parent: Vec<Option<&str>> = regions
        .iter()
        .map(|r| match r.level {
            crate::model::regions::Level::Municipality => {
                cw.successor(&r.code).and_then(|s| cw.county_of(s))
            }
            _ => None,
        })
        .collect();
    let columns = vec![
        str_column("region", regions.iter().map(|r| r.code.as_str())),
        str_column("region_level", regions.iter().map(|r| r.level.as_str())),
        str_column("name_fi", regions.iter().map(|r| r.name_fi.as_str())),
        str_column("name_sv", regions.iter().map(|r| r.name_sv.as_str())),
        str_column("name_en", regions.iter().map(|r| r.name_en.as_str())),
        Series::new("parent_county".into(), parent).into(),
        date_col(
            "valid_from",
            regions.iter().map(|r| days(r.valid_from)).collect(),
        )?,
        date_col(
            "valid_to",
            regions.iter().map(|r| days(r.valid_to)).collect(),
        )?,
        Series::new(
            "sotkanet_id".into(),
            regions.iter().map(|r| r.sotkanet_id).collect::<Vec<_>>(),
        )
        .into(),
    ];
    DataFrame::new(regions.len(), columns).context("building `regions`")
}

/// Polars dates are days since 1970-01-01.
pub(crate) fn date_column(
    name: &str,
    dates: &[Option<chrono::NaiveDate>],
) -> Result<Column, InternalError> {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let days: Vec<Option<i32>> = dates
        .iter()
        .map(|d| d.and_then(|d| i32::try_from((d - epoch).num_days()).ok()))
        .collect();
    Ok(Series::new(name.into(), days)
        .cast(&DataType::Date)
        .context("building a date column")?
        .into())
}

/// The dated key, with where each municipality-year lands in the reference division.
pub fn crosswalk_frame(registry: &Registry, cw: &Crosswalk) -> Result<DataFrame, InternalError> {
    let rows: Vec<(i16, &String, &crate::model::regions::MunicipalityYear)> = registry
        .years()
        .iter()
        .flat_map(|(y, munis)| munis.iter().map(move |(code, m)| (*y, code, m)))
        .collect();
    let opt = |f: fn(&crate::model::regions::MunicipalityYear) -> &Option<Arc<str>>| -> Column {
        Series::new(
            "x".into(),
            rows.iter()
                .map(|(_, _, m)| f(m).as_deref())
                .collect::<Vec<_>>(),
        )
        .into()
    };
    let successor: Vec<Option<&str>> = rows.iter().map(|(_, c, _)| cw.successor(c)).collect();
    let columns = vec![
        Series::new(
            "year".into(),
            rows.iter().map(|(y, _, _)| *y).collect::<Vec<_>>(),
        )
        .into(),
        str_column("municipality", rows.iter().map(|(_, c, _)| c.as_str())),
        str_column("name_fi", rows.iter().map(|(_, _, m)| &*m.name_fi)),
        opt(|m| &m.county).with_name("county".into()),
        opt(|m| &m.region).with_name("region".into()),
        opt(|m| &m.hospital_district).with_name("hospital_district".into()),
        opt(|m| &m.collaboration_area).with_name("collaboration_area".into()),
        Series::new("reference_municipality".into(), successor.clone()).into(),
        Series::new(
            "reference_county".into(),
            successor
                .iter()
                .map(|s| s.and_then(|s| cw.county_of(s)))
                .collect::<Vec<_>>(),
        )
        .into(),
    ];
    DataFrame::new(rows.len(), columns).context("building `crosswalk`")
}

/// The producer of a Sotkanet dataset's data, from the indicator metadata the run fetched, and
/// whether it is THL.
fn producer(inputs: &[crate::app::manifest::InputRecord], dataset: &str) -> Option<(String, bool)> {
    let input = inputs
        .iter()
        .find(|i| i.dataset.as_deref() == Some(dataset) && i.metadata.is_some())?;
    super::attribution::organisation(input)
}

/// Every indicator of the run: the pipeline's own, then the catalogue's (derived or skipped).
pub fn catalogue_frame(
    p: &crate::model::config::Pipeline,
    inputs: &[crate::app::manifest::InputRecord],
) -> Result<DataFrame, InternalError> {
    use crate::model::config::IndicatorConfig;
    let cat = p.catalogue.as_ref();
    let from_catalogue: std::collections::BTreeSet<&str> = cat
        .map(|c| c.used.iter().map(String::as_str).collect())
        .unwrap_or_default();
    // (entry, catalogue version, derived, skipped reason)
    let mut rows: Vec<(&IndicatorConfig, Option<&str>, bool, Option<&str>)> = p
        .file
        .indicators
        .iter()
        .map(|i| {
            let v = from_catalogue
                .contains(i.id.as_str())
                .then(|| cat.map(|c| c.version.as_str()))
                .flatten();
            (i, v, true, None)
        })
        .collect();
    if let Some(c) = cat {
        for (id, reason) in &c.skipped {
            if let Some(e) = c.entries.iter().find(|e| &e.id == id) {
                rows.push((e, Some(c.version.as_str()), false, Some(reason.as_str())));
            }
        }
    }
    let describe = |m: &crate::model::config::MeasureRef| {
        format!(
            "{}/{}.{} (sex {}, age {})",
            m.dataset,
            m.measure,
            m.field.column(),
            m.sex,
            m.age
        )
    };
    let opt = |name: &str, v: Vec<Option<String>>| -> Column { Series::new(name.into(), v).into() };
    let columns = vec![
        str_column("indicator", rows.iter().map(|r| r.0.id.as_str())),
        opt(
            "catalogue_version",
            rows.iter().map(|r| r.1.map(str::to_owned)).collect(),
        ),
        opt("group", rows.iter().map(|r| r.0.group.clone()).collect()),
        str_column("title_fi", rows.iter().map(|r| r.0.title_fi.as_str())),
        opt(
            "title_sv",
            rows.iter().map(|r| r.0.title_sv.clone()).collect(),
        ),
        str_column("title_en", rows.iter().map(|r| r.0.title_en.as_str())),
        str_column("unit", rows.iter().map(|r| r.0.unit.as_str())),
        str_column(
            "aggregation",
            rows.iter().map(|r| match r.0.aggregation {
                crate::model::config::Aggregation::Count => "count",
                crate::model::config::Aggregation::Ratio => "ratio",
                crate::model::config::Aggregation::Mean => "mean",
                crate::model::config::Aggregation::Index => "index",
            }),
        ),
        opt(
            "numerator",
            rows.iter()
                .map(|r| Some(describe(&r.0.numerator)))
                .collect(),
        ),
        opt(
            "denominator",
            rows.iter()
                .map(|r| r.0.denominator.as_ref().map(describe))
                .collect(),
        ),
        opt(
            "weight",
            rows.iter()
                .map(|r| r.0.weight.as_ref().map(describe))
                .collect(),
        ),
        Series::new(
            "scale".into(),
            rows.iter().map(|r| r.0.scale).collect::<Vec<_>>(),
        )
        .into(),
        opt(
            "higher_is",
            rows.iter()
                .map(|r| r.0.higher_is.map(|d| d.as_str().to_owned()))
                .collect(),
        ),
        Series::new(
            "derived".into(),
            rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        )
        .into(),
        opt(
            "skipped_reason",
            rows.iter().map(|r| r.3.map(str::to_owned)).collect(),
        ),
        opt(
            "producer",
            rows.iter()
                .map(|r| producer(inputs, &r.0.numerator.dataset).map(|(name, _)| name))
                .collect(),
        ),
        opt(
            "terms_note",
            rows.iter()
                .map(|r| {
                    producer(inputs, &r.0.numerator.dataset)
                        .filter(|(_, thl)| !thl)
                        .map(|_| crate::app::indicators::PRODUCER_NOTE.to_owned())
                })
                .collect(),
        ),
    ];
    DataFrame::new(rows.len(), columns).context("building `indicator_catalogue`")
}

/// Municipal mergers with their dates.
pub fn mergers_frame(registry: &Registry) -> Result<DataFrame, InternalError> {
    let m = registry.mergers();
    DataFrame::new(
        m.len(),
        vec![
            str_column("abolished", m.iter().map(|m| m.abolished.as_str())),
            str_column("joined", m.iter().map(|m| m.joined.as_str())),
            date_column(
                "effective",
                &m.iter().map(|m| m.effective).collect::<Vec<_>>(),
            )?,
        ],
    )
    .context("building `mergers`")
}

/// A non-null text column.
pub(crate) fn str_column<'a>(name: &str, values: impl Iterator<Item = &'a str>) -> Column {
    Series::new(name.into(), values.collect::<Vec<_>>()).into()
}

/// What the derive stage gives a run.
pub(crate) struct Derived {
    pub(crate) indicators: DataFrame,
    pub(crate) kpa: Option<DataFrame>,
    pub(crate) comparisons: DataFrame,
    pub(crate) profile: DataFrame,
    pub(crate) crosschecks: Vec<crate::stages::derive::CrossCheckResult>,
    pub(crate) reconciliation: DataFrame,
    pub(crate) quarantine: Vec<QuarantineEntry>,
}

/// The derive stage: indicators (with the cross-source checks, which stop the run when they
/// fail), cost per client from the region's own files, and the comparisons with the country
/// and the peers.
pub(crate) fn derive_tables(
    p: &Prepared,
    observations: &DataFrame,
    inputs: &[InputRecord],
    kpa_inputs: &[(&SourceConfig, String, Vec<KpaRow>)],
) -> Result<Derived, Error> {
    let meta = &p.pipeline.file.pipeline;
    let source_of: HashMap<String, String> = inputs
        .iter()
        .flat_map(|i| {
            i.payloads
                .iter()
                .map(|p| (p.sha256.clone(), i.source.clone()))
        })
        .collect();
    let derive_input = DeriveInput {
        observations,
        crosswalk: &p.crosswalk,
        indicators: &p.pipeline.file.indicators,
        years: &meta.years,
        source_of: &source_of,
        population: p.pipeline.file.population.as_ref(),
        crosschecks: &p.pipeline.file.crosschecks,
        memo: crate::stages::derive::Memo::default(),
    };
    let derived = derive(&derive_input)?;
    check_crosschecks(&derived.crosschecks, &p.pipeline.file.crosschecks)?;
    let kpa = if kpa_inputs.is_empty() {
        None
    } else {
        let cfg = p.pipeline.file.kpa.clone().unwrap_or_default();
        let prices = match &cfg.price_index {
            Some(pi) => Some(read_price_index(p, pi)?),
            None => None,
        };
        let sources: Vec<crate::stages::derive::kpa::KpaSource<'_>> = kpa_inputs
            .iter()
            .filter_map(|(c, sha, rows)| {
                Some(crate::stages::derive::kpa::KpaSource {
                    source: &c.id,
                    region: c.region.as_ref()?,
                    cost_basis: *c.cost_basis.as_ref()?,
                    raw_sha256: sha,
                    rows,
                })
            })
            .collect();
        Some(crate::stages::derive::kpa::kpa_frame(
            &sources,
            &cfg,
            prices.as_ref(),
            &derive_input,
        )?)
    };
    // The measures selected for the indicators are not needed again.
    drop(derive_input);
    let focus: Vec<String> = p.pipeline.file.regions.focus.clone();
    let peers: Vec<String> = p
        .pipeline
        .file
        .comparison
        .as_ref()
        .map_or_else(|| focus.clone(), |c| c.peers.clone());
    let (comparisons, profile) = crate::stages::derive::compare::comparisons(
        &derived.indicators,
        &p.pipeline.file.indicators,
        &focus,
        &peers,
        &meta.years,
        p.pipeline.need_indicator(),
    )?;
    Ok(Derived {
        indicators: derived.indicators,
        kpa,
        comparisons,
        profile,
        crosschecks: derived.crosschecks,
        reconciliation: derived.reconciliation,
        quarantine: derived.quarantine,
    })
}

/// One output table of a run.
pub(crate) struct Table {
    /// Its path under the output folder, without extension (`indicators`,
    /// `quarantine/observations`); for a result table also its name.
    pub(crate) path: &'static str,
    /// The contract it is checked against (`quarantine` for every quarantine table).
    pub(crate) contract: &'static str,
    /// The rows.
    pub(crate) frame: DataFrame,
    /// The CSV twin's dialect, when it is not the pipeline's.
    pub(crate) dialect: Option<CsvDialect>,
    /// One of the run's large tables, written at the same time as the others (a table per core).
    pub(crate) large: bool,
}

impl Table {
    /// A result table, under its own name.
    pub(crate) fn new(name: &'static str, frame: DataFrame) -> Table {
        Table {
            path: name,
            contract: name,
            frame,
            dialect: None,
            large: false,
        }
    }

    /// A result table written together with the other large ones.
    pub(crate) fn large(name: &'static str, frame: DataFrame) -> Table {
        Table {
            large: true,
            ..Table::new(name, frame)
        }
    }

    /// A quarantine table at `path`.
    pub(crate) fn quarantine(path: &'static str, frame: DataFrame) -> Table {
        Table {
            contract: "quarantine",
            ..Table::new(path, frame)
        }
    }

    /// The table with its CSV twin in `dialect`.
    pub(crate) fn with_dialect(self, dialect: CsvDialect) -> Table {
        Table {
            dialect: Some(dialect),
            ..self
        }
    }
}

/// Checks every table against its contract and stages it: the large ones at the same time, then
/// the rest in order.
pub(crate) fn stage_tables(publisher: &mut Publisher, tables: &mut [Table]) -> Result<(), Error> {
    let (large, rest): (Vec<&mut Table>, Vec<&mut Table>) =
        tables.iter_mut().partition(|t| t.large);
    let large = large
        .into_iter()
        .map(|t| Ok((Contract::for_table(t.contract)?, t.path, &mut t.frame)))
        .collect::<Result<Vec<_>, InternalError>>()?;
    publisher.stage_together(large)?;
    for t in rest {
        publisher.stage_as(
            &Contract::for_table(t.contract)?,
            t.path,
            &mut t.frame,
            t.dialect,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Counted per indicator in byte order, whether the rows come in runs or not, values
    /// missing counted apart; no rows, no summaries.
    #[test]
    fn indicator_summaries_count_rows_and_values() {
        let ids = ["b", "b", "a", "b", "c", "a", "a"];
        let values = [Some(1.0), None, Some(2.0), Some(3.0), None, None, Some(4.0)];
        let df = DataFrame::new(
            ids.len(),
            vec![
                Column::new("indicator".into(), ids),
                Column::new("value".into(), values),
            ],
        )
        .unwrap();
        let got: Vec<(String, usize, usize, usize)> = indicator_summaries(&df)
            .unwrap()
            .into_iter()
            .map(|s| (s.indicator, s.rows, s.with_value, s.without_value))
            .collect();
        let expected = [("a", 3, 2, 1), ("b", 3, 2, 1), ("c", 1, 0, 1)]
            .map(|(id, r, w, wo)| (id.to_owned(), r, w, wo));
        assert_eq!(got, expected);
        assert!(indicator_summaries(&df.clear()).unwrap().is_empty());
    }
}

//! The report: a county profile page per focus region and language, an index page, an Excel
//! workbook and the region profile for people, written from the run's tables under `report/`.
//!
//! Pages are single self-contained HTML files (inline CSS and SVG, no script, font or image from
//! the network) rendered with minijinja from `templates/`: the page, and chart components drawn
//! from the geometry in `charts.rs`. Sections appear where the pipeline has data for them:
//! headline figures, population, service use and costs, cost per client (KPA), maturity, roadmap,
//! sources and method. Every figure is formatted in the page's language (`numbers.rs`) and marked
//! with its indicator, region and year (`data-indicator`, `data-region`, `data-year`), so that a
//! reader — and the browser test — can trace it to `indicators`.

mod charts;
mod labels;
mod model;
mod numbers;
mod pages;
mod people;
mod workbook;

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::DataFrame;

use crate::error::InternalError;
use crate::model::regions::Registry;

pub use numbers::Lang;

/// One source of the run, as the report credits it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceLine {
    /// The pipeline's id of the source.
    pub source: String,
    /// Who produced its figures.
    pub producer: String,
    /// Through whom they came.
    pub via: String,
    /// Its datasets.
    pub datasets: Vec<String>,
    /// When its data was retrieved or last updated (`YYYY-MM-DD`).
    pub date: Option<String>,
    /// Whether the pipeline marks it synthetic.
    pub synthetic: bool,
    /// The licence its producer publishes under, where known.
    pub licence: Option<String>,
}

/// What the report is made of.
pub struct ReportInput<'a> {
    /// The pipeline's name.
    pub pipeline: &'a str,
    /// The run's id.
    pub run_id: &'a str,
    /// When the run started (`YYYY-MM-DD`).
    pub date: String,
    /// Languages of the pages (the first is the index's default).
    pub languages: &'a [Lang],
    /// The focus regions: a page each.
    pub focus: &'a [String],
    /// The peer group.
    pub peers: &'a [String],
    /// The need index of the comparisons.
    pub need_indicator: Option<&'a str>,
    /// Region names.
    pub registry: &'a Registry,
    /// The run's tables by name.
    pub tables: &'a BTreeMap<&'a str, &'a DataFrame>,
    /// The run's sources.
    pub sources: &'a [SourceLine],
    /// The population by single year of age (dataset, measure), for the age pyramid.
    pub population: Option<(&'a str, &'a str)>,
}

/// A file of the report, relative to the output folder.
pub struct ReportFile {
    /// `report/<name>`.
    pub relative: String,
    /// `html`, `xlsx` or `csv`.
    pub format: &'static str,
    /// Its rows of data (a CSV's; 0 for a page or a workbook).
    pub rows: usize,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Every file of the report.
pub fn build(input: &ReportInput<'_>) -> Result<Vec<ReportFile>, InternalError> {
    let regions: BTreeSet<String> = input
        .focus
        .iter()
        .chain(input.peers)
        .cloned()
        .chain([crate::model::regions::COUNTRY.to_owned()])
        .collect();
    let table = |name: &str| input.tables.get(name).copied();
    let Some(indicators) = table("indicators") else {
        return Err(InternalError::Invariant(
            "the report needs the run's `indicators`".into(),
        ));
    };
    let data = model::Indicators::read(
        indicators,
        table("comparisons"),
        table("indicator_catalogue"),
        &regions,
    )?;
    let mut files = Vec::new();
    for &lang in input.languages {
        for region in input.focus {
            let html = pages::region_page(input, &data, region, lang)?;
            files.push(ReportFile {
                relative: format!("report/{region}.{}.html", lang.code()),
                format: "html",
                rows: 0,
                bytes: html.into_bytes(),
            });
        }
        files.push(ReportFile {
            relative: format!("report/index.{}.html", lang.code()),
            format: "html",
            rows: 0,
            bytes: pages::index_page(input, lang)?.into_bytes(),
        });
    }
    files.push(ReportFile {
        relative: format!("report/{}.xlsx", input.pipeline),
        format: "xlsx",
        rows: 0,
        bytes: workbook::workbook(input, &data)?,
    });
    if let Some(profile) = table("region_profile") {
        files.push(ReportFile {
            relative: "report/region_profile.fi.csv".to_owned(),
            format: "csv",
            rows: profile.height(),
            bytes: people::region_profile_csv(profile, &data, input.registry)?,
        });
    }
    Ok(files)
}

/// A region's name in `lang` (its code when the registry does not know it).
pub(crate) fn region_name(registry: &Registry, code: &str, lang: Lang) -> String {
    registry.get(code).map_or_else(
        || code.to_owned(),
        |r| {
            match lang {
                Lang::Fi => &r.name_fi,
                Lang::Sv => &r.name_sv,
                Lang::En => &r.name_en,
            }
            .clone()
        },
    )
}

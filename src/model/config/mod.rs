//! Pipeline files: TOML, parsed with serde and `deny_unknown_fields`.
//!
//! A pipeline names its sources, its regions of interest, its years, its indicator definitions
//! and its outputs. Every error names the file, line and column: syntax and unknown keys through
//! the TOML parser's span, semantic problems (an unknown source id, a dataset no source provides)
//! through the span of the offending value, which is why references are kept as
//! [`toml::Spanned`].
//!
//! Relative paths inside a pipeline file are resolved against the pipeline file's own folder, so
//! a pipeline runs the same from any working directory.

pub mod checks;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::error::ConfigError;

/// A parsed and checked pipeline file.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// Where it was read from.
    pub path: PathBuf,
    /// sha256 of the file's bytes, recorded in the run manifest.
    pub sha256: String,
    /// The parsed content.
    pub file: PipelineFile,
    /// The file's text, kept to point at spans in later errors.
    pub text: String,
    /// The indicator catalogue the pipeline names, when it names one.
    pub catalogue: Option<Catalogue>,
}

/// A loaded indicator catalogue.
#[derive(Debug, Clone)]
pub struct Catalogue {
    /// The file.
    pub path: PathBuf,
    /// sha256 of its bytes.
    pub sha256: String,
    /// Its `version`.
    pub version: String,
    /// Every indicator it defines.
    pub entries: Vec<IndicatorConfig>,
    /// Ids of the entries this pipeline derives (appended to the pipeline's indicators).
    pub used: Vec<String>,
    /// Entries not derived, with the reason (a dataset no source provides).
    pub skipped: Vec<(String, String)>,
}

/// The content of a catalogue file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    version: String,
    #[serde(default)]
    #[allow(dead_code)] // documentation for readers of the file
    description: Option<String>,
    #[serde(default)]
    indicators: Vec<IndicatorConfig>,
}

/// `[catalogue]` of a pipeline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueRef {
    /// The catalogue file, relative to the pipeline file.
    pub path: PathBuf,
    /// Ids to derive; default: every entry whose datasets the pipeline's sources provide.
    #[serde(default, rename = "use")]
    pub use_ids: Option<Spanned<Vec<String>>>,
}

/// Whether a higher value of an indicator is better, worse, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Higher is better (e.g. share living at home).
    Better,
    /// Higher is worse (e.g. waiting times, mortality).
    Worse,
    /// Context, not a judgement (e.g. population).
    Neutral,
}

impl Direction {
    /// The value written to outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Better => "better",
            Direction::Worse => "worse",
            Direction::Neutral => "neutral",
        }
    }
}

/// The content of a pipeline file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    /// Name, reference year and years.
    pub pipeline: PipelineMeta,
    /// Regions of interest.
    pub regions: RegionsConfig,
    /// Where the data comes from.
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    /// Indicator definitions.
    #[serde(default)]
    pub indicators: Vec<IndicatorConfig>,
    /// Population structure from population by single year of age.
    #[serde(default)]
    pub population: Option<PopulationConfig>,
    /// Cross-source checks: a figure computed from municipalities against a published one.
    #[serde(default)]
    pub crosschecks: Vec<CrossCheckConfig>,
    /// Data-quality checks on the finished tables (see [`crate::stages::check`]).
    #[serde(default)]
    pub checks: Vec<crate::model::config::checks::CheckConfig>,
    /// An indicator catalogue whose indicators the pipeline derives too.
    #[serde(default)]
    pub catalogue: Option<CatalogueRef>,
    /// Cost per client (KPA) settings.
    #[serde(default)]
    pub kpa: Option<KpaConfig>,
    /// The peer group the focus regions are compared with.
    #[serde(default)]
    pub comparison: Option<ComparisonConfig>,
    /// Knowledge-management maturity survey exports, one per region and round.
    #[serde(default)]
    pub surveys: Vec<SurveyConfig>,
    /// Roadmaps, one per region.
    #[serde(default)]
    pub roadmaps: Vec<RoadmapConfig>,
    /// Output settings.
    #[serde(default)]
    pub output: OutputConfig,
    /// HTTP settings of live sources.
    #[serde(default)]
    pub http: crate::http::HttpSettings,
    /// The web APIs live sources fetch from, by name (`[apis.<name>]`).
    #[serde(default)]
    pub apis: BTreeMap<String, ApiConfig>,
}

/// The kinds of web API mittari fetches from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApiKind {
    /// THL Sotkanet REST 1.1 (`https://sotkanet.fi/rest/1.1`).
    Sotkanet,
    /// PxWeb API v1 (Statistics Finland StatFin: `https://pxdata.stat.fi/PXWeb/api/v1/fi/StatFin`).
    PxwebV1,
    /// PxWebApi 2 (SCB `https://statistikdatabasen.scb.se/api/v2`, SSB).
    PxwebV2,
}

/// `[apis.<name>]`: one web API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Which API it is.
    pub kind: ApiKind,
    /// Base URL: Sotkanet's `/rest/1.1`, a PxWeb v1 database (`.../api/v1/fi/StatFin`) or a
    /// PxWebApi 2 root (`.../api/v2`).
    pub url: String,
    /// Where the API's limits are read (PxWeb only). Default: v1 `<url>/../?config`, v2
    /// `<url>/config`.
    #[serde(default)]
    pub config_url: Option<String>,
}

/// `fetch = { ... }` of a source: what to request from its API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchConfig {
    /// Name of an `[apis.<name>]` entry.
    pub api: Spanned<String>,
    /// Sotkanet: the indicator id.
    #[serde(default)]
    pub indicator: Option<u32>,
    /// Sotkanet: years to request (default: the pipeline's `years`).
    #[serde(default)]
    pub years: Option<Vec<i16>>,
    /// Sotkanet: `total`, `male`, `female` (default: `total`).
    #[serde(default)]
    pub genders: Option<Vec<String>>,
    /// Sotkanet: most years in one request (default 10); more are split over several requests.
    #[serde(default)]
    pub years_per_request: Option<usize>,
    /// PxWeb: the table id (v1: the file name, e.g. `statfin_vaerak_pxt_11re.px` or since June
    /// 2026 `11re.px`, with any folder path before it; v2: e.g. `TAB6471`).
    #[serde(default)]
    pub table: Option<String>,
    /// PxWeb: variable code -> value codes; `["*"]` selects every value.
    #[serde(default)]
    pub query: Option<BTreeMap<String, Vec<String>>>,
    /// PxWeb: the time variable (default: the one the metadata marks as time).
    #[serde(default)]
    pub time_variable: Option<String>,
    /// PxWeb: the content variable (default: the metadata's `metric` role, else `Tiedot`,
    /// `tiedot` or `ContentsCode`).
    #[serde(default)]
    pub content_variable: Option<String>,
}

/// `[pipeline]`: identity and time frame.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineMeta {
    /// Short name, written to every output's `mittari.pipeline` metadata.
    pub name: String,
    /// What the pipeline is for.
    #[serde(default)]
    pub description: Option<String>,
    /// The year whose regional division (municipalities, counties) all data is conformed to.
    pub reference_year: Spanned<i16>,
    /// Years for which indicators are derived.
    pub years: Spanned<Vec<i16>>,
}

/// `[regions]`: the regions the pipeline is about.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionsConfig {
    /// Canonical codes of the regions of interest (e.g. `HVA12`); each must be in the registry.
    pub focus: Vec<Spanned<String>>,
}

/// The payload formats a source can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceFormat {
    /// THL Sotkanet `/rest/1.1/json` data rows.
    SotkanetJson,
    /// THL Sotkanet `/rest/1.1/csv` data rows.
    SotkanetCsv,
    /// THL Sotkanet `/rest/1.1/regions`: resolves Sotkanet region ids for other sources.
    SotkanetRegions,
    /// A JSON-stat 2.0 dataset (Statistics Finland PxWeb, THL cubes, ...).
    Jsonstat,
    /// A region's own cost and client file (KPA), `;`-separated with Finnish headers.
    KpaCsv,
    /// The same as an Excel workbook (first sheet).
    KpaXlsx,
}

impl SourceFormat {
    /// The name used in pipeline files and messages.
    pub fn name(self) -> &'static str {
        match self {
            SourceFormat::SotkanetJson => "sotkanet-json",
            SourceFormat::SotkanetCsv => "sotkanet-csv",
            SourceFormat::SotkanetRegions => "sotkanet-regions",
            SourceFormat::Jsonstat => "jsonstat",
            SourceFormat::KpaCsv => "kpa-csv",
            SourceFormat::KpaXlsx => "kpa-xlsx",
        }
    }

    /// Whether the source yields observations (as opposed to reference data).
    pub fn has_observations(self) -> bool {
        !matches!(self, SourceFormat::SotkanetRegions) && !self.is_kpa()
    }

    /// Whether the source is a region's cost and client file.
    pub fn is_kpa(self) -> bool {
        matches!(self, SourceFormat::KpaCsv | SourceFormat::KpaXlsx)
    }
}

/// `[[sources]]`: one input payload.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique id within the pipeline.
    pub id: Spanned<String>,
    /// Payload format.
    pub format: SourceFormat,
    /// The file, relative to the pipeline file (or `fetch`, for a live source).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// What to fetch from a web API (or `path`, for a file).
    #[serde(default)]
    pub fetch: Option<FetchConfig>,
    /// Dataset id written to `observations.dataset`, e.g. `sotkanet:171` or `statfin:11s5`.
    /// Required for sources with observations.
    #[serde(default)]
    pub dataset: Option<Spanned<String>>,
    /// Unit written to `observations.unit` where the payload does not carry one.
    #[serde(default)]
    pub unit: Option<String>,
    /// Sotkanet data: id of a `sotkanet-regions` source through which region ids are resolved.
    /// Without it, ids are resolved through the built-in region registry.
    #[serde(default)]
    pub regions: Option<Spanned<String>>,
    /// JSON-stat: which dimension is which. Unnamed dimensions go to `breakdown`.
    #[serde(default)]
    pub dimensions: Option<DimensionMap>,
    /// JSON-stat: category id of the sex dimension -> `total`, `male` or `female`.
    /// Default: Statistics Finland's `SSS`, `1`, `2`.
    #[serde(default)]
    pub sex_codes: Option<BTreeMap<String, String>>,
    /// Marks a source whose data is synthetic (recorded in the run manifest).
    #[serde(default)]
    pub synthetic: bool,
    /// KPA: the region (county) the file's figures are for, e.g. `HVA12`.
    #[serde(default)]
    pub region: Option<Spanned<String>>,
    /// KPA: what the costs include.
    #[serde(default)]
    pub cost_basis: Option<Spanned<CostBasis>>,
    /// KPA: how the file's bytes are decoded (default: UTF-8 if valid, else Windows-1252).
    #[serde(default)]
    pub encoding: crate::io::tabular::Encoding,
}

/// What a region's reported costs include. Figures on different bases are not compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostBasis {
    /// Net (income deducted) or gross costs.
    pub costs: CostKind,
    /// Whether overheads (administration, premises ...) are allocated to the service classes.
    pub overheads: Overheads,
}

/// Net or gross.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostKind {
    /// Costs less operating income.
    Net,
    /// All costs.
    Gross,
}

/// Overheads allocated or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overheads {
    /// Allocated to the service classes.
    Allocated,
    /// Not allocated.
    NotAllocated,
}

impl CostBasis {
    /// E.g. `net costs, overheads allocated`.
    pub fn describe(self) -> String {
        format!(
            "{} costs, overheads {}",
            match self.costs {
                CostKind::Net => "net",
                CostKind::Gross => "gross",
            },
            match self.overheads {
                Overheads::Allocated => "allocated",
                Overheads::NotAllocated => "not allocated",
            }
        )
    }
}

/// `[[surveys]]`: one region's respondent-level export of one assessment round.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveyConfig {
    /// Unique id.
    pub id: Spanned<String>,
    /// The region assessed, e.g. `HVA12`.
    pub region: Spanned<String>,
    /// The assessment round, e.g. `2020`.
    pub round: String,
    /// The export: `.xlsx` (first sheet) or `;`-separated CSV, relative to the pipeline file.
    pub path: PathBuf,
    /// The question map (`;` CSV), relative to the pipeline file.
    pub question_map: PathBuf,
    /// Header rows: 1, or 2 when a group-title row stands over the statements.
    #[serde(default = "one_row")]
    pub header_rows: usize,
    /// `respondent` (one row per respondent) or `aggregated` (question × option counts).
    #[serde(default)]
    pub granularity: Granularity,
    /// How a CSV's bytes are decoded.
    #[serde(default)]
    pub encoding: crate::io::tabular::Encoding,
    /// Marks synthetic data (recorded in the manifest).
    #[serde(default)]
    pub synthetic: bool,
}

fn one_row() -> usize {
    1
}

/// What one row of a survey export is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// A respondent.
    #[default]
    Respondent,
    /// A question × option with its count.
    Aggregated,
}

/// `[[roadmaps]]`: a region's roadmap, an `.xlsx` workbook (sheets `Toimenpiteet` and
/// `Virstanpylväät`) or two `;` CSV files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoadmapConfig {
    /// Unique id.
    pub id: Spanned<String>,
    /// The region, e.g. `HVA12`.
    pub region: Spanned<String>,
    /// The workbook, relative to the pipeline file.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Or: the actions CSV ...
    #[serde(default)]
    pub actions: Option<PathBuf>,
    /// ... and the milestones CSV.
    #[serde(default)]
    pub milestones: Option<PathBuf>,
    /// How CSV bytes are decoded.
    #[serde(default)]
    pub encoding: crate::io::tabular::Encoding,
    /// Marks synthetic data.
    #[serde(default)]
    pub synthetic: bool,
}

/// `[comparison]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparisonConfig {
    /// Peer regions (canonical codes; default: the focus regions).
    pub peers: Vec<Spanned<String>>,
    /// An indicator that is a need or morbidity index (country = 100), e.g.
    /// `morbidity_index_thl_age_standardised`: cost-per-capita indicators are also shown divided
    /// by it (`needs_adjusted_value`).
    #[serde(default)]
    pub need_indicator: Option<Spanned<String>>,
}

/// `[kpa]`: how cost-per-client figures are put in proportion.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpaConfig {
    /// Population by single year of age (as `[population]`), for clients per 1 000 and cost per
    /// capita.
    #[serde(default)]
    pub population: Option<PopulationRef>,
    /// Service class -> the ages it serves, `[from, to]` or `[from]` (default: everyone).
    #[serde(default)]
    pub target_groups: BTreeMap<String, Vec<u16>>,
    /// Deflate costs to a base year with a price index.
    #[serde(default)]
    pub price_index: Option<PriceIndexConfig>,
    /// A need or morbidity index (country = 100), e.g. Sotkanet 243, for needs-adjusted cost per
    /// capita.
    #[serde(default)]
    pub need_index: Option<MeasureRef>,
    /// The national service classes (for maturity signal S8, classification conformance).
    #[serde(default)]
    pub national_classes: Option<Vec<String>>,
}

/// A population-by-age dataset.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationRef {
    /// Dataset.
    pub dataset: Spanned<String>,
    /// Measure.
    pub measure: String,
    /// Sex (default total).
    #[serde(default = "total")]
    pub sex: String,
}

/// `kpa.price_index`: a `;` CSV `Vuosi;Indeksi` (decimal comma).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceIndexConfig {
    /// The file, relative to the pipeline file.
    pub path: PathBuf,
    /// Costs are expressed in this year's prices.
    pub base_year: i16,
    /// What the index is, for the method text (e.g. "public expenditure price index, social and health care").
    pub name: String,
}

/// Which JSON-stat dimension holds what.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DimensionMap {
    /// Region dimension (default: the single `geo` role dimension).
    #[serde(default)]
    pub region: Option<String>,
    /// Region code of every cell of a dataset without a region dimension (e.g. `SSS`).
    #[serde(default)]
    pub region_code: Option<String>,
    /// Time dimension (default: the single `time` role dimension).
    #[serde(default)]
    pub time: Option<String>,
    /// Measure dimension (default: the single `metric` role dimension).
    #[serde(default)]
    pub measure: Option<String>,
    /// Sex dimension.
    #[serde(default)]
    pub sex: Option<String>,
    /// Age dimension.
    #[serde(default)]
    pub age: Option<String>,
}

/// How an indicator is aggregated from municipalities to counties and the country.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Sum of the municipal values.
    Count,
    /// Sum of numerators over sum of denominators, times the scale.
    Ratio,
    /// Mean weighted by a `weight` measure: sum(value × weight) / sum(weight).
    Mean,
    /// Not aggregated: the values published at each level (municipality, county, country,
    /// hospital district ...) are taken as they are. Indices (standardised, relative to a base)
    /// cannot be summed or averaged into a county figure.
    Index,
}

/// Which value column of `observations` a measure reference reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueField {
    /// `value`: the primary value as published.
    #[default]
    Value,
    /// `abs_value`: Sotkanet's absolute value (e.g. the count behind a percentage).
    AbsValue,
}

impl ValueField {
    /// The `observations` column name.
    pub fn column(self) -> &'static str {
        match self {
            ValueField::Value => "value",
            ValueField::AbsValue => "abs_value",
        }
    }
}

/// A reference to a measure in `observations`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasureRef {
    /// Dataset id, e.g. `sotkanet:171`.
    pub dataset: Spanned<String>,
    /// Measure id inside the dataset, e.g. `171` or `vaesto_kuukausi`.
    pub measure: String,
    /// Which value column to read.
    #[serde(default)]
    pub field: ValueField,
    /// Sex filter.
    #[serde(default = "total")]
    pub sex: String,
    /// Age filter.
    #[serde(default = "total")]
    pub age: String,
}

fn total() -> String {
    "total".to_owned()
}

/// `[population]`: population structure per region and year.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationConfig {
    /// Population by single year of age (and sex), e.g. `statfin:11re`.
    pub dataset: Spanned<String>,
    /// Its population measure, e.g. `vaesto`.
    pub measure: String,
    /// Sex to use (default `total`).
    #[serde(default = "total")]
    pub sex: String,
    /// Age bands as `[from, to]` (inclusive) or `[from]` (and over), ascending, not overlapping.
    #[serde(default = "default_bands")]
    pub bands: Spanned<Vec<Vec<u16>>>,
    /// Changes over this many years (default 1, 5 and 10).
    #[serde(default = "default_changes")]
    pub changes: Vec<u16>,
    /// A population projection by single year of age, computed the same way for its own years.
    #[serde(default)]
    pub projection: Option<ProjectionConfig>,
}

/// `population.projection`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectionConfig {
    /// Dataset, e.g. `statfin:14wx`.
    pub dataset: Spanned<String>,
    /// Measure, e.g. `vaesto_e24`.
    pub measure: String,
}

fn default_bands() -> Spanned<Vec<Vec<u16>>> {
    Spanned::new(
        0..0,
        vec![
            vec![0, 6],
            vec![7, 17],
            vec![18, 64],
            vec![65, 74],
            vec![75, 84],
            vec![85],
        ],
    )
}

fn default_changes() -> Vec<u16> {
    vec![1, 5, 10]
}

/// `[[crosschecks]]`: a county and country figure computed from municipalities compared with the
/// same figure published directly.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossCheckConfig {
    /// Name, used in the manifest and in the failure message.
    pub name: Spanned<String>,
    /// Summed from municipalities of the reference division.
    pub computed: MeasureRef,
    /// Published at county and country level.
    pub published: MeasureRef,
    /// Largest accepted absolute difference (default 0: exact, for counts).
    #[serde(default)]
    pub tolerance: f64,
}

/// `[[indicators]]`: a derived indicator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicatorConfig {
    /// Unique id, written to `indicators.indicator`.
    pub id: Spanned<String>,
    /// Finnish title.
    pub title_fi: String,
    /// English title.
    pub title_en: String,
    /// Swedish title.
    #[serde(default)]
    pub title_sv: Option<String>,
    /// Unit of the derived value, e.g. `%` or `persons`.
    pub unit: String,
    /// Aggregation rule.
    pub aggregation: Spanned<Aggregation>,
    /// The numerator (for `count`, the value itself).
    pub numerator: MeasureRef,
    /// The denominator, required for `ratio`.
    #[serde(default)]
    pub denominator: Option<MeasureRef>,
    /// The weight, required for `mean` (e.g. the population of the same region and year).
    #[serde(default)]
    pub weight: Option<MeasureRef>,
    /// Multiplier applied to numerator / denominator (100 for %, 1000 for per 1 000).
    #[serde(default = "one")]
    pub scale: f64,
    /// Theme, e.g. `service_use`, `costs`, `population`.
    #[serde(default)]
    pub group: Option<String>,
    /// Whether a higher value is better, worse or neither.
    #[serde(default)]
    pub higher_is: Option<Direction>,
}

fn one() -> f64 {
    1.0
}

/// `[output]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Default output folder, relative to the pipeline file.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Whether to write CSV twins under `csv/`.
    #[serde(default = "yes")]
    pub csv: bool,
    /// How the CSV twins are written.
    #[serde(default)]
    pub csv_dialect: CsvDialect,
}

/// CSV dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CsvDialect {
    /// UTF-8, `,`, decimal point (for programs).
    #[default]
    Standard,
    /// For Finnish Excel: `;`, decimal comma, UTF-8 with a byte-order mark (so that Excel reads
    /// ä and ö correctly when the file is opened with a double click).
    ExcelFi,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            dir: None,
            csv_dialect: CsvDialect::Standard,
            csv: true,
        }
    }
}

fn yes() -> bool {
    true
}

const SEXES: [&str; 3] = ["total", "male", "female"];

/// KPA sources name their region and cost basis; other sources take neither.
fn check_kpa_source(
    s: &SourceConfig,
    at: &dyn Fn(std::ops::Range<usize>, String) -> ConfigError,
) -> Result<(), ConfigError> {
    let id = s.id.get_ref();
    if !s.format.is_kpa() {
        if s.region.is_some() || s.cost_basis.is_some() {
            return Err(at(
                s.id.span(),
                format!(
                    "source `{id}`: `region` and `cost_basis` apply to `kpa-csv` and `kpa-xlsx` only"
                ),
            ));
        }
        return Ok(());
    }
    let Some(region) = &s.region else {
        return Err(at(
            s.id.span(),
            format!(
                "source `{id}` (kpa-csv) needs `region`, the county its figures are for, e.g. `HVA12`"
            ),
        ));
    };
    if crate::model::regions::Level::of_code(region.get_ref()).is_none() {
        return Err(at(
            region.span(),
            format!(
                "source `{id}`: `{}` is not a region code (e.g. `HVA12`)",
                region.get_ref()
            ),
        ));
    }
    if s.cost_basis.is_none() {
        return Err(at(
            s.id.span(),
            format!(
                "source `{id}` (kpa-csv) needs `cost_basis`, e.g. {{ costs = \"net\", overheads = \"allocated\" }}: \
                 figures are compared only on the same basis"
            ),
        ));
    }
    Ok(())
}

/// A source has a file or a `fetch`, and a `fetch` fits its API and format.
fn check_fetch(
    s: &SourceConfig,
    f: &PipelineFile,
    at: &dyn Fn(std::ops::Range<usize>, String) -> ConfigError,
) -> Result<(), ConfigError> {
    let id = s.id.get_ref();
    let fetch = match (&s.path, &s.fetch) {
        (Some(_), None) => return Ok(()),
        (Some(_), Some(_)) | (None, None) => {
            return Err(at(
                s.id.span(),
                format!(
                    "source `{id}` needs exactly one of `path` (a file) and `fetch` (a web API)"
                ),
            ));
        }
        (None, Some(fetch)) => fetch,
    };
    let name = fetch.api.get_ref();
    let Some(api) = f.apis.get(name) else {
        let known: Vec<&str> = f.apis.keys().map(String::as_str).collect();
        return Err(at(
            fetch.api.span(),
            format!(
                "source `{id}`: no `[apis.{name}]` in this pipeline (it has: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        ));
    };
    let fail = |message: String| Err(at(fetch.api.span(), format!("source `{id}`: {message}")));
    let sotkanet_keys = fetch.indicator.is_some()
        || fetch.years.is_some()
        || fetch.genders.is_some()
        || fetch.years_per_request.is_some();
    let pxweb_keys = fetch.table.is_some()
        || fetch.query.is_some()
        || fetch.time_variable.is_some()
        || fetch.content_variable.is_some();
    match api.kind {
        ApiKind::Sotkanet => {
            if pxweb_keys {
                return fail(format!(
                    "`table`, `query`, `time_variable` and `content_variable` are for PxWeb; `{name}` is Sotkanet"
                ));
            }
            match s.format {
                SourceFormat::SotkanetRegions if sotkanet_keys => {
                    return fail(
                        "a `sotkanet-regions` fetch takes no indicator, years or genders".into(),
                    );
                }
                SourceFormat::SotkanetJson if fetch.indicator.is_none() => {
                    return fail("a Sotkanet data fetch needs `indicator`".into());
                }
                SourceFormat::SotkanetRegions | SourceFormat::SotkanetJson => {}
                other => {
                    return fail(format!(
                        "Sotkanet is fetched as `sotkanet-json` or `sotkanet-regions`, not `{}`",
                        other.name()
                    ));
                }
            }
            if let Some(g) = fetch
                .genders
                .iter()
                .flatten()
                .find(|g| !SEXES.contains(&g.as_str()))
            {
                return fail(format!("gender `{g}`: use total, male or female"));
            }
            if fetch.years_per_request == Some(0) || fetch.years.as_ref().is_some_and(Vec::is_empty)
            {
                return fail("`years` and `years_per_request` must not be empty or 0".into());
            }
        }
        ApiKind::PxwebV1 | ApiKind::PxwebV2 => {
            if sotkanet_keys {
                return fail(format!(
                    "`indicator`, `years`, `genders` and `years_per_request` are for Sotkanet; `{name}` is PxWeb"
                ));
            }
            if s.format != SourceFormat::Jsonstat {
                return fail(format!(
                    "PxWeb answers JSON-stat: use `format = \"jsonstat\"`, not `{}`",
                    s.format.name()
                ));
            }
            let (Some(_), Some(query)) = (&fetch.table, &fetch.query) else {
                return fail("a PxWeb fetch needs `table` and `query`".into());
            };
            if let Some((code, _)) = query.iter().find(|(_, v)| v.is_empty()) {
                return fail(format!(
                    "`query.{code}` selects no values (use [\"*\"] for all)"
                ));
            }
        }
    }
    Ok(())
}

impl Pipeline {
    /// Reads, parses and checks a pipeline file.
    pub fn load(path: &Path) -> Result<Pipeline, ConfigError> {
        let text = fs_err::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Pipeline::parse(path, &text)
    }

    /// Parses and checks pipeline text that was read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Pipeline, ConfigError> {
        let file: PipelineFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let (line, column) = line_column(text, offset);
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })?;
        let mut pipeline = Pipeline {
            path: path.to_path_buf(),
            sha256: crate::io::hash::sha256_hex(text.as_bytes()),
            file,
            text: text.to_owned(),
            catalogue: None,
        };
        pipeline.check(text)?;
        pipeline.load_catalogue()?;
        Ok(pipeline)
    }

    /// Reads the catalogue the pipeline names, checks every entry (errors name the catalogue's
    /// file, line and column), and appends the entries to derive to the pipeline's indicators.
    fn load_catalogue(&mut self) -> Result<(), ConfigError> {
        let Some(r) = self.file.catalogue.clone() else {
            return self.check_need_indicator();
        };
        let path = self.resolve(&r.path);
        let text = fs_err::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let at = |span: std::ops::Range<usize>, message: String| {
            let (line, column) = line_column(&text, span.start);
            ConfigError::Parse {
                path: path.clone(),
                line,
                column,
                message,
            }
        };
        let cat: CatalogueFile = toml::from_str(&text)
            .map_err(|e| at(e.span().unwrap_or(0..0), e.message().trim().to_owned()))?;
        let mut ids = BTreeSet::new();
        for e in &cat.indicators {
            if !ids.insert(e.id.get_ref().as_str()) {
                return Err(at(
                    e.id.span(),
                    format!("indicator id `{}` is used twice", e.id.get_ref()),
                ));
            }
            check_indicator(e, None, &at)?;
        }
        let datasets: BTreeSet<&str> = self
            .file
            .sources
            .iter()
            .filter_map(|s| s.dataset.as_ref().map(|d| d.get_ref().as_str()))
            .collect();
        let missing = |e: &IndicatorConfig| {
            std::iter::once(&e.numerator)
                .chain(e.denominator.as_ref())
                .chain(e.weight.as_ref())
                .map(|m| m.dataset.get_ref())
                .find(|d| !datasets.contains(d.as_str()))
                .cloned()
        };
        let own: BTreeSet<&str> = self
            .file
            .indicators
            .iter()
            .map(|i| i.id.get_ref().as_str())
            .collect();
        let mut used = Vec::new();
        let mut skipped = Vec::new();
        let mut append = Vec::new();
        match &r.use_ids {
            Some(list) => {
                for id in list.get_ref() {
                    let Some(e) = cat.indicators.iter().find(|e| e.id.get_ref() == id) else {
                        return Err(self.error_at(
                            list.span(),
                            format!(
                                "`catalogue.use`: `{id}` is not in {} (version {})",
                                path.display(),
                                cat.version
                            ),
                        ));
                    };
                    if let Some(d) = missing(e) {
                        return Err(self.error_at(
                            list.span(),
                            format!("`catalogue.use`: `{id}` needs dataset `{d}`, which no source provides"),
                        ));
                    }
                    used.push(id.clone());
                    append.push(e.clone());
                }
            }
            None => {
                for e in &cat.indicators {
                    if let Some(d) = missing(e) {
                        skipped.push((
                            e.id.get_ref().clone(),
                            format!("no source provides dataset `{d}`"),
                        ));
                    } else {
                        used.push(e.id.get_ref().clone());
                        append.push(e.clone());
                    }
                }
            }
        }
        if let Some(dup) = append
            .iter()
            .find(|e| own.contains(e.id.get_ref().as_str()))
        {
            return Err(self.error_at(
                0..0,
                format!(
                    "indicator `{}` is defined both in this pipeline and in the catalogue {}; rename one",
                    dup.id.get_ref(),
                    path.display()
                ),
            ));
        }
        self.file.indicators.extend(append);
        self.check_need_indicator()?;
        self.catalogue = Some(Catalogue {
            sha256: crate::io::hash::sha256_hex(text.as_bytes()),
            path,
            version: cat.version,
            entries: cat.indicators,
            used,
            skipped,
        });
        Ok(())
    }

    /// `comparison.need_indicator` names an indicator of the run.
    fn check_need_indicator(&self) -> Result<(), ConfigError> {
        let Some(n) = self
            .file
            .comparison
            .as_ref()
            .and_then(|c| c.need_indicator.as_ref())
        else {
            return Ok(());
        };
        if self
            .file
            .indicators
            .iter()
            .any(|i| i.id.get_ref() == n.get_ref())
        {
            Ok(())
        } else {
            Err(self.error_at(
                n.span(),
                format!("`comparison.need_indicator`: `{}` is not an indicator of this pipeline or its catalogue", n.get_ref()),
            ))
        }
    }

    /// A configuration error pointing at a span of the pipeline file.
    pub fn error_at(&self, span: std::ops::Range<usize>, message: String) -> ConfigError {
        let (line, column) = line_column(&self.text, span.start);
        ConfigError::Parse {
            path: self.path.clone(),
            line,
            column,
            message,
        }
    }

    /// The folder relative paths are resolved against.
    pub fn base_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Resolves a path written in the pipeline file (lexically: `pipelines/../x` is `x`).
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            normalize_lexically(&self.base_dir().join(path))
        }
    }

    /// The source with this id.
    pub fn source(&self, id: &str) -> Option<&SourceConfig> {
        self.file.sources.iter().find(|s| s.id.get_ref() == id)
    }

    /// Checks what serde cannot: references between sections, required fields per format.
    fn check(&self, text: &str) -> Result<(), ConfigError> {
        let at = |span: std::ops::Range<usize>, message: String| {
            let (line, column) = line_column(text, span.start);
            ConfigError::Parse {
                path: self.path.clone(),
                line,
                column,
                message,
            }
        };
        let f = &self.file;
        let years = f.pipeline.years.get_ref();
        if years.is_empty() {
            return Err(at(
                f.pipeline.years.span(),
                "`pipeline.years` is empty: name at least one year".to_owned(),
            ));
        }
        if let Some(y) = years.iter().find(|y| !(1900..=2100).contains(*y)) {
            return Err(at(
                f.pipeline.years.span(),
                format!("`pipeline.years` has {y}, outside 1900..=2100"),
            ));
        }

        let mut ids = BTreeSet::new();
        let mut datasets = BTreeSet::new();
        for s in &f.sources {
            let id = s.id.get_ref();
            if !ids.insert(id.as_str()) {
                return Err(at(s.id.span(), format!("source id `{id}` is used twice")));
            }
            if s.format.has_observations() {
                match &s.dataset {
                    Some(d) => {
                        datasets.insert(d.get_ref().as_str());
                    }
                    None => {
                        return Err(at(
                            s.id.span(),
                            format!(
                                "source `{id}` ({}) needs a `dataset`, e.g. `sotkanet:171`",
                                s.format.name()
                            ),
                        ));
                    }
                }
            }
            if let Some(r) = &s.regions {
                let ok = matches!(
                    s.format,
                    SourceFormat::SotkanetJson | SourceFormat::SotkanetCsv
                ) && f.sources.iter().any(|o| {
                    o.id.get_ref() == r.get_ref() && o.format == SourceFormat::SotkanetRegions
                });
                if !ok {
                    return Err(at(
                        r.span(),
                        format!(
                            "source `{id}`: `regions` must name a `sotkanet-regions` source, \
                             and only Sotkanet data sources take it; `{}` is not one",
                            r.get_ref()
                        ),
                    ));
                }
            }
            check_fetch(s, f, &at)?;
            check_kpa_source(s, &at)?;
            if (s.dimensions.is_some() || s.sex_codes.is_some())
                && s.format != SourceFormat::Jsonstat
            {
                return Err(at(
                    s.id.span(),
                    format!("source `{id}`: `dimensions` and `sex_codes` apply to `jsonstat` only"),
                ));
            }
            if let Some(codes) = &s.sex_codes
                && let Some((k, v)) = codes.iter().find(|(_, v)| !SEXES.contains(&v.as_str()))
            {
                return Err(at(
                    s.id.span(),
                    format!("source `{id}`: `sex_codes.{k}` is `{v}`; use total, male or female"),
                ));
            }
        }

        // KPA figures of different cost bases cannot be compared: refuse the mix.
        let mut first_basis: Option<(&str, CostBasis)> = None;
        for s in f.sources.iter().filter(|s| s.format.is_kpa()) {
            let Some(basis) = &s.cost_basis else { continue };
            match first_basis {
                None => first_basis = Some((s.id.get_ref(), *basis.get_ref())),
                Some((other, b)) if b != *basis.get_ref() => {
                    return Err(at(
                        basis.span(),
                        format!(
                            "source `{}` reports {}, but source `{other}` reports {}: cost-per-client \
                             figures on different cost bases cannot be compared",
                            s.id.get_ref(),
                            basis.get_ref().describe(),
                            b.describe()
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        if let Some(kpa) = &f.kpa {
            if let Some(p) = &kpa.population
                && !datasets.contains(p.dataset.get_ref().as_str())
            {
                return Err(at(
                    p.dataset.span(),
                    format!(
                        "`kpa.population`: no source provides dataset `{}`",
                        p.dataset.get_ref()
                    ),
                ));
            }
            if let Some(n) = &kpa.need_index
                && !datasets.contains(n.dataset.get_ref().as_str())
            {
                return Err(at(
                    n.dataset.span(),
                    format!(
                        "`kpa.need_index`: no source provides dataset `{}`",
                        n.dataset.get_ref()
                    ),
                ));
            }
            if let Some((class, ages)) = kpa.target_groups.iter().find(|(_, a)| {
                !matches!(a.as_slice(), [_] | [_, _]) || (a.len() == 2 && a[1] < a[0])
            }) {
                return Err(at(
                    0..0,
                    format!("`kpa.target_groups.{class}` is {ages:?}: use [from, to] or [from]"),
                ));
            }
        }
        let mut survey_ids = BTreeSet::new();
        for sv in &f.surveys {
            let id = sv.id.get_ref();
            if !survey_ids.insert(id.as_str()) {
                return Err(at(sv.id.span(), format!("survey id `{id}` is used twice")));
            }
            if crate::model::regions::Level::of_code(sv.region.get_ref()).is_none() {
                return Err(at(
                    sv.region.span(),
                    format!(
                        "survey `{id}`: `{}` is not a region code (e.g. `HVA12`)",
                        sv.region.get_ref()
                    ),
                ));
            }
            if !(1..=2).contains(&sv.header_rows) {
                return Err(at(
                    sv.id.span(),
                    format!("survey `{id}`: `header_rows` is 1 or 2"),
                ));
            }
        }
        for r in &f.roadmaps {
            let id = r.id.get_ref();
            let ok = matches!(
                (&r.path, &r.actions, &r.milestones),
                (Some(_), None, None) | (None, Some(_), Some(_))
            );
            if !ok {
                return Err(at(
                    r.id.span(),
                    format!(
                        "roadmap `{id}` needs `path` (an .xlsx workbook) or both `actions` and `milestones` (CSV)"
                    ),
                ));
            }
            if crate::model::regions::Level::of_code(r.region.get_ref()).is_none() {
                return Err(at(
                    r.region.span(),
                    format!(
                        "roadmap `{id}`: `{}` is not a region code",
                        r.region.get_ref()
                    ),
                ));
            }
        }
        let mut indicator_ids = BTreeSet::new();
        for ind in &f.indicators {
            let id = ind.id.get_ref();
            if !indicator_ids.insert(id.as_str()) {
                return Err(at(
                    ind.id.span(),
                    format!("indicator id `{id}` is used twice"),
                ));
            }
            check_indicator(ind, Some(&datasets), &at)?;
        }
        if let Some(pop) = &f.population {
            check_population(pop, &datasets, &at)?;
        }
        let mut names = BTreeSet::new();
        for c in &f.crosschecks {
            let name = c.name.get_ref();
            if !names.insert(name.as_str()) {
                return Err(at(
                    c.name.span(),
                    format!("cross-check `{name}` is defined twice"),
                ));
            }
            for r in [&c.computed, &c.published] {
                if !datasets.contains(r.dataset.get_ref().as_str()) {
                    return Err(at(
                        r.dataset.span(),
                        format!(
                            "cross-check `{name}`: no source provides dataset `{}`",
                            r.dataset.get_ref()
                        ),
                    ));
                }
            }
            if !c.tolerance.is_finite() || c.tolerance < 0.0 {
                return Err(at(
                    c.name.span(),
                    format!("cross-check `{name}`: `tolerance` must be 0 or more"),
                ));
            }
        }
        let source_ids: BTreeSet<&str> =
            f.sources.iter().map(|s| s.id.get_ref().as_str()).collect();
        let mut check_names = BTreeSet::new();
        for c in &f.checks {
            let name = c.name.get_ref();
            if !check_names.insert(name.as_str()) {
                return Err(at(
                    c.name.span(),
                    format!("check `{name}` is defined twice"),
                ));
            }
            c.validate(&source_ids).map_err(|(span, m)| at(span, m))?;
        }
        Ok(())
    }
}

/// An indicator's own rules: datasets provided (when `datasets` is given), sexes, the
/// aggregation rule's measures, a positive scale.
fn check_indicator(
    ind: &IndicatorConfig,
    datasets: Option<&BTreeSet<&str>>,
    at: &dyn Fn(std::ops::Range<usize>, String) -> ConfigError,
) -> Result<(), ConfigError> {
    let id = ind.id.get_ref();
    let refs = std::iter::once(&ind.numerator)
        .chain(ind.denominator.as_ref())
        .chain(ind.weight.as_ref());
    for r in refs {
        let ds = r.dataset.get_ref();
        if datasets.is_some_and(|d| !d.contains(ds.as_str())) {
            return Err(at(
                r.dataset.span(),
                format!("indicator `{id}`: no source provides dataset `{ds}`"),
            ));
        }
        if !SEXES.contains(&r.sex.as_str()) {
            return Err(at(
                r.dataset.span(),
                format!(
                    "indicator `{id}`: sex `{}` is not total, male or female",
                    r.sex
                ),
            ));
        }
    }
    let rule = match (
        ind.aggregation.get_ref(),
        ind.denominator.is_some(),
        ind.weight.is_some(),
    ) {
        (Aggregation::Count | Aggregation::Index, false, false)
        | (Aggregation::Ratio, true, false)
        | (Aggregation::Mean, false, true) => None,
        (Aggregation::Ratio, false, _) => Some(
            "aggregation `ratio` needs a `denominator` (a measure, or the numerator's \
             `abs_value` over a population): it is never an average of ratios",
        ),
        (Aggregation::Mean, _, false) => Some(
            "aggregation `mean` needs a `weight` measure: an unweighted mean of \
             municipal values is not a county value",
        ),
        (Aggregation::Index, _, _) => Some(
            "an `index` is not aggregated (its published values are used at each level), \
             so it takes no `denominator` or `weight`",
        ),
        (Aggregation::Count, _, _) => {
            Some("aggregation `count` takes no `denominator` or `weight`; use `ratio` or `mean`")
        }
        (Aggregation::Ratio, true, true) => Some("aggregation `ratio` takes no `weight`"),
        (Aggregation::Mean, true, true) => Some("aggregation `mean` takes no `denominator`"),
    };
    if let Some(message) = rule {
        return Err(at(
            ind.aggregation.span(),
            format!("indicator `{id}`: {message}"),
        ));
    }
    if !ind.scale.is_finite() || ind.scale <= 0.0 {
        return Err(at(
            ind.id.span(),
            format!("indicator `{id}`: `scale` must be a positive number"),
        ));
    }
    Ok(())
}

/// `[population]`: its datasets exist, its bands ascend without overlapping.
fn check_population(
    pop: &PopulationConfig,
    datasets: &BTreeSet<&str>,
    at: &dyn Fn(std::ops::Range<usize>, String) -> ConfigError,
) -> Result<(), ConfigError> {
    for d in std::iter::once(&pop.dataset).chain(pop.projection.as_ref().map(|p| &p.dataset)) {
        if !datasets.contains(d.get_ref().as_str()) {
            return Err(at(
                d.span(),
                format!("`population`: no source provides dataset `{}`", d.get_ref()),
            ));
        }
    }
    if !SEXES.contains(&pop.sex.as_str()) {
        return Err(at(
            pop.dataset.span(),
            format!(
                "`population.sex` is `{}`; use total, male or female",
                pop.sex
            ),
        ));
    }
    let bands = pop.bands.get_ref();
    let span = || {
        if pop.bands.span().is_empty() {
            pop.dataset.span()
        } else {
            pop.bands.span()
        }
    };
    let mut next = 0u16;
    for (i, b) in bands.iter().enumerate() {
        let ok = match b.as_slice() {
            [from, to] => *from >= next && to >= from,
            [from] => *from >= next && i + 1 == bands.len(),
            _ => false,
        };
        if !ok {
            return Err(at(
                span(),
                format!(
                    "`population.bands`: band {} ({b:?}) must be `[from, to]` or, last, `[from]`, \
                     ascending and not overlapping the previous one",
                    i + 1
                ),
            ));
        }
        next = b.last().copied().unwrap_or_default().saturating_add(1);
    }
    if bands.is_empty() {
        return Err(at(span(), "`population.bands` is empty".to_owned()));
    }
    Ok(())
}

/// Removes `.` and `name/..` pairs without touching the file system (a leading `..` stays).
pub fn normalize_lexically(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

/// 1-based line and column of a byte offset (columns count characters, as editors do).
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[pipeline]
name = "t"
reference_year = 2025
years = [2024]

[regions]
focus = ["HVA12"]

[[sources]]
id = "pop"
format = "jsonstat"
path = "pop.json"
dataset = "statfin:11s5"

[[indicators]]
id = "population"
title_fi = "Väestö"
title_en = "Population"
unit = "persons"
aggregation = "count"
numerator = { dataset = "statfin:11s5", measure = "vaesto" }
"#;

    fn parse_error(text: &str) -> (usize, usize, String) {
        match Pipeline::parse(Path::new("p.toml"), text) {
            Err(ConfigError::Parse {
                line,
                column,
                message,
                ..
            }) => (line, column, message),
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn minimal_pipeline_parses() {
        let p = Pipeline::parse(Path::new("x/p.toml"), MINIMAL).unwrap();
        assert_eq!(p.file.pipeline.name, "t");
        assert_eq!(*p.file.pipeline.reference_year.get_ref(), 2025);
        assert_eq!(p.resolve(Path::new("a.json")), Path::new("x/a.json"));
        assert_eq!(p.resolve(Path::new("../out/s")), Path::new("out/s"));
        assert_eq!(
            normalize_lexically(Path::new("../a/./b/../c")),
            Path::new("../a/c")
        );
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let text = MINIMAL.replace("unit = \"persons\"", "unit = \"persons\"\ncolour = \"red\"");
        let (line, column, message) = parse_error(&text);
        assert_eq!((line, column), (21, 1), "{message}");
        assert!(message.contains("colour"), "{message}");
    }

    #[test]
    fn dataset_without_source_is_pointed_at() {
        let text = MINIMAL.replace(
            "numerator = { dataset = \"statfin:11s5\"",
            "numerator = { dataset = \"statfin:99zz\"",
        );
        let (line, column, message) = parse_error(&text);
        assert_eq!(line, 22);
        assert_eq!(column, 25);
        assert!(message.contains("statfin:99zz"), "{message}");
    }

    #[test]
    fn ratio_needs_denominator() {
        let text = MINIMAL.replace("\"count\"", "\"ratio\"");
        let err = Pipeline::parse(Path::new("p.toml"), &text).unwrap_err();
        assert!(err.to_string().contains("needs a `denominator`"), "{err}");
    }

    #[test]
    fn line_column_counts_characters() {
        let text = "ä = 1\nöö = x";
        assert_eq!(line_column(text, text.find('x').unwrap()), (2, 6));
    }
}

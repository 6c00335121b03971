//! Pipeline files: TOML, parsed with serde and `deny_unknown_fields`.
//!
//! A pipeline names its sources, its regions of interest, its years, its indicator definitions
//! and its outputs. Every error names the file, line and column: syntax and unknown keys through
//! the TOML parser's span, semantic problems (an unknown source id, a dataset no source provides)
//! through the key path of the offending value, which the `spans` module turns into a line and
//! column.
//! The types here are plain values: no TOML span leaves this layer.
//!
//! Relative paths inside a pipeline file are resolved against the pipeline file's own folder, so
//! a pipeline runs the same from any working directory.

pub mod checks;
mod load;
mod spans;
#[cfg(test)]
mod tests;

pub use load::{line_column, normalize_lexically};

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

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
    /// The declared checks, validated, as the check stage runs them.
    pub checks: Vec<checks::Check>,
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
    /// The catalogue's need index (`need_indicator`), the pipeline's unless its `[comparison]`
    /// names another.
    pub need_indicator: Option<String>,
}

/// The content of a catalogue file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    version: String,
    #[serde(default)]
    #[allow(dead_code)] // documentation for readers of the file
    description: Option<String>,
    /// The entry that is the need index of cost comparisons (e.g. the National Health Index).
    #[serde(default)]
    need_indicator: Option<String>,
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
    pub use_ids: Option<Vec<String>>,
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
    /// Where the run's Open Lineage events go, when present.
    #[serde(default)]
    pub lineage: Option<LineageConfig>,
    /// The report for decision makers (pages per focus region and a workbook), when present.
    #[serde(default)]
    pub report: Option<ReportConfig>,
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
    /// THL's statistical cubes (`https://sampo.thl.fi/pivot/prod/fi`): JSON-stat answers of a
    /// cube, its dimensions read from `.dimensions.json`.
    ThlCube,
}

impl ApiKind {
    /// The name used in pipeline files.
    pub fn name(self) -> &'static str {
        match self {
            ApiKind::Sotkanet => "sotkanet",
            ApiKind::PxwebV1 => "pxweb-v1",
            ApiKind::PxwebV2 => "pxweb-v2",
            ApiKind::ThlCube => "thl-cube",
        }
    }
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
    pub api: String,
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
    /// PxWeb: role (`region`, `time`, `sex`, `age`, `measure`) or a variable's code or label ->
    /// value codes, resolved against the table's metadata at each run (the way to keep working
    /// when StatFin renames its variables).
    #[serde(default)]
    pub select: Option<BTreeMap<String, Vec<String>>>,
    /// PxWeb: the time variable (default: the one the metadata marks as time).
    #[serde(default)]
    pub time_variable: Option<String>,
    /// PxWeb: the content variable (default: the metadata's `metric` role, else `Tiedot`,
    /// `tiedot` or `ContentsCode`).
    #[serde(default)]
    pub content_variable: Option<String>,
    /// THL cube: the cube's path under the API's URL, without extension, e.g.
    /// `epirapo/covid19case/fact_epirapo_covid19case`.
    #[serde(default)]
    pub cube: Option<String>,
    /// THL cube: the measure id written to `observations.measure` for each selected node of the
    /// measure dimension, by the node's label, code or id (default: the node's id).
    #[serde(default)]
    pub measures: Option<BTreeMap<String, String>>,
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
    pub reference_year: i16,
    /// Years for which indicators are derived.
    pub years: Vec<i16>,
}

/// `[regions]`: the regions the pipeline is about.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionsConfig {
    /// Canonical codes of the regions of interest (e.g. `HVA12`); each must be in the registry.
    pub focus: Vec<String>,
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
    pub id: String,
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
    pub dataset: Option<String>,
    /// Unit written to `observations.unit` where the payload does not carry one.
    #[serde(default)]
    pub unit: Option<String>,
    /// Sotkanet data: id of a `sotkanet-regions` source through which region ids are resolved.
    /// Without it, ids are resolved through the built-in region registry.
    #[serde(default)]
    pub regions: Option<String>,
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
    pub region: Option<String>,
    /// KPA: what the costs include.
    #[serde(default)]
    pub cost_basis: Option<CostBasis>,
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
    pub id: String,
    /// The region assessed, e.g. `HVA12`.
    pub region: String,
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
    pub id: String,
    /// The region, e.g. `HVA12`.
    pub region: String,
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
    pub peers: Vec<String>,
    /// An indicator that is a need or morbidity index (country = 100), e.g.
    /// `morbidity_index_thl_age_standardised`: cost-per-capita indicators are also shown divided
    /// by it (`needs_adjusted_value`).
    #[serde(default)]
    pub need_indicator: Option<String>,
}

impl Pipeline {
    /// The need index of the comparisons: `[comparison] need_indicator`, or else the
    /// catalogue's when the pipeline derives it.
    pub fn need_indicator(&self) -> Option<&str> {
        let own = self
            .file
            .comparison
            .as_ref()
            .and_then(|c| c.need_indicator.as_deref());
        own.or_else(|| {
            let cat = self.catalogue.as_ref()?;
            cat.need_indicator
                .as_deref()
                .filter(|n| cat.used.iter().any(|u| u == n))
        })
    }
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
    pub dataset: String,
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
    pub dataset: String,
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
    pub dataset: String,
    /// Its population measure, e.g. `vaesto`.
    pub measure: String,
    /// Sex to use (default `total`).
    #[serde(default = "total")]
    pub sex: String,
    /// Age bands as `[from, to]` (inclusive) or `[from]` (and over), ascending, not overlapping.
    #[serde(default = "default_bands")]
    pub bands: Vec<Vec<u16>>,
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
    pub dataset: String,
    /// Measure, e.g. `vaesto_e24`.
    pub measure: String,
}

fn default_bands() -> Vec<Vec<u16>> {
    vec![
        vec![0, 6],
        vec![7, 17],
        vec![18, 64],
        vec![65, 74],
        vec![75, 84],
        vec![85],
    ]
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
    pub name: String,
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
    pub id: String,
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
    pub aggregation: Aggregation,
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
    /// The publisher's own figure of the indicator, used wherever it is published (default
    /// `"auto"`, see [`Published`]).
    #[serde(default)]
    pub published: Published,
    /// How the published and recomputed values are reconciled.
    #[serde(default)]
    pub reconcile: ReconcileConfig,
    /// Values in the prices of one year: deflated by a price index (`count`, `ratio`, `mean`).
    #[serde(default)]
    pub real_terms: Option<RealTerms>,
}

/// `[[indicators]] real_terms`: a price index (a measure whose country row, `SSS`, is the index
/// of each year) and the year whose prices the values are given in:
/// `value × index(base_year) / index(year)`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealTerms {
    /// Dataset of the price index, e.g. `statfin:jmhi`.
    pub dataset: String,
    /// Its measure.
    pub measure: String,
    /// The year whose prices the values are in.
    pub base_year: i16,
    /// Which value column to read.
    #[serde(default)]
    pub field: ValueField,
}

impl RealTerms {
    /// The price index as a measure reference (whole country, both sexes, all ages).
    pub fn index(&self) -> MeasureRef {
        MeasureRef {
            dataset: self.dataset.clone(),
            measure: self.measure.clone(),
            field: self.field,
            sex: total(),
            age: total(),
        }
    }
}

/// `[[indicators]] published`: which published figure stands for an indicator where its publisher
/// publishes one (the rules are in the module doc of `stages::derive::official`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Published {
    /// `"auto"` (default) or `"none"`.
    Rule(PublishedRule),
    /// An explicit measure, read as it is in the indicator's unit.
    Measure(MeasureRef),
}

impl Default for Published {
    fn default() -> Self {
        Published::Rule(PublishedRule::Auto)
    }
}

/// The named rules of [`Published`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublishedRule {
    /// `count` and `mean`: the numerator measure's own rows; `ratio` of an `abs_value`: the same
    /// measure's `value`, when its unit is the indicator's; `index`: always published.
    Auto,
    /// Always recomputed from municipalities.
    None,
}

/// `[[indicators]] reconcile`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileConfig {
    /// Largest accepted absolute difference between the recomputed and the published value
    /// beyond the published value's rounding (default 0).
    #[serde(default)]
    pub tolerance: f64,
    /// A known reason for differences beyond rounding (e.g. the publisher divides by the
    /// mid-year population, the pipeline by the year-end one).
    #[serde(default)]
    pub reason: Option<String>,
}

fn one() -> f64 {
    1.0
}

/// `[lineage]`: where Open Lineage run events go (`MITTARI_LINEAGE` overrides it).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineageConfig {
    /// A file the events are appended to, a JSON object per line (relative to the pipeline file).
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// An HTTP endpoint the events are posted to (e.g. Marquez's `/api/v1/lineage`).
    #[serde(default)]
    pub url: Option<String>,
}

/// `[report]`: what the report is written in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// Languages of the pages: `fi` (default), `sv`, `en`; the first is the index's.
    #[serde(default = "finnish")]
    pub languages: Vec<String>,
}

fn finnish() -> Vec<String> {
    vec!["fi".to_owned()]
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

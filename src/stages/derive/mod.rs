//! The derive stage: indicators per region and year, aggregated from municipalities.
//!
//! Every indicator is computed from municipal observations, at three levels:
//!
//! 1. **municipality** of the reference year's division: the parts of a merged municipality
//!    (e.g. Juankoski in Kuopio) are summed. A published null in any part makes the value null
//!    (flag `missing in source`); a part that is simply absent is taken as already included in
//!    its successor, as StatFin and Sotkanet publish history in the current division.
//! 2. **wellbeing county**: sums over the county's municipalities of the reference year.
//! 3. **country**: sums over all municipalities.
//!
//! A `ratio` indicator is `sum(numerator) / sum(denominator) × scale` at every level — never an
//! average of municipal ratios. A county or the country gets a value only when every one of its
//! municipalities has one; otherwise the value is null and `flags` says how many were present
//! (`numerator incomplete: 10 of 11 municipalities`). Sums never turn missing into 0.
//!
//! `index_country` is the value relative to the country (= 100) in the same year;
//! `yoy_change_pct` the change from the previous year's value of the same region.

pub mod compare;
mod compose;
pub mod kpa;
pub mod official;
mod prices;

pub mod population;

use crate::stages::conform as levels;
pub(crate) use levels::levels;
use levels::{Expected, MeasureLevels};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use polars::prelude::*;

use crate::error::{InternalError, PolarsContext};
use crate::model::config::{Aggregation, IndicatorConfig, MeasureRef};
use crate::model::quarantine::QuarantineEntry;
use crate::model::regions::{Crosswalk, Level};

/// Inputs of the derive stage.
pub struct DeriveInput<'a> {
    /// The `observations` table.
    pub observations: &'a DataFrame,
    /// Crosswalk to the reference year.
    pub crosswalk: &'a Crosswalk,
    /// Indicator definitions.
    pub indicators: &'a [IndicatorConfig],
    /// Years to derive.
    pub years: &'a [i16],
    /// Pipeline source id of each payload (by sha256), to name quarantined rows' sources.
    pub source_of: &'a HashMap<String, String>,
    /// Population structure, when the pipeline asks for it.
    pub population: Option<&'a crate::model::config::PopulationConfig>,
    /// Cross-source checks.
    pub crosschecks: &'a [crate::model::config::CrossCheckConfig],
    /// Observations already selected, by dataset and by measure (many indicators share a
    /// dataset, e.g. the population as denominator): each selection is made once.
    pub memo: Memo<'a>,
}

/// Selections of `observations` made once per run (see [`DeriveInput::memo`]).
///
/// Indicators are derived in parallel: a selection two of them need at once may be made twice,
/// with the same result, and one of the two is kept.
#[derive(Default)]
pub struct Memo<'c> {
    by_dataset: Mutex<HashMap<String, DataFrame>>,
    by_measure: Mutex<HashMap<String, DataFrame>>,
    /// A measure's levels, by measure and field (regions borrowed from the crosswalk).
    levels: Mutex<HashMap<String, Arc<MeasureLevels<'c>>>>,
    /// Planned uses left of each entry of `levels` (see [`Memo::plan_levels`]).
    levels_uses: Mutex<HashMap<String, usize>>,
}

impl<'c> Memo<'c> {
    /// Counts the uses of each measure's levels the indicators and cross-source checks will
    /// make, so that an entry leaves the memo after its last one: a numerator's levels serve a
    /// single indicator, a population's many, and at national scale holding every numerator's
    /// levels to the end of the stage took hundreds of megabytes. Levels asked for without a
    /// plan are kept; a count that fell short would only mean a selection made again.
    fn plan_levels(
        &self,
        indicators: &[IndicatorConfig],
        checks: &[crate::model::config::CrossCheckConfig],
    ) {
        let mut uses = locked(&self.levels_uses);
        for ind in indicators {
            let refs = match (ind.aggregation, &ind.denominator) {
                (Aggregation::Ratio, Some(den)) => vec![&ind.numerator, den],
                (Aggregation::Count, None) => vec![&ind.numerator],
                _ => Vec::new(),
            };
            for r in refs {
                *uses.entry(levels_key(r)).or_default() += 1;
            }
        }
        for c in checks {
            *uses.entry(levels_key(&c.computed)).or_default() += 1;
        }
    }

    /// One use of the levels under `key` made: kept for the next planned one, or let go after
    /// the last.
    fn spend_levels(&self, key: &str, df: &Arc<MeasureLevels<'c>>) {
        let mut uses = locked(&self.levels_uses);
        let mut levels = locked(&self.levels);
        match uses.get_mut(key) {
            Some(left) if *left > 1 => {
                *left -= 1;
                levels.entry(key.to_owned()).or_insert_with(|| df.clone());
            }
            Some(left) => {
                *left = 0;
                levels.remove(key);
            }
            None => {
                levels.entry(key.to_owned()).or_insert_with(|| df.clone());
            }
        }
    }
}

/// The map behind a memo's lock (a panic while it was held cannot leave a selection half made:
/// entries are inserted whole).
fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One comparison of a cross-source check: a county's or the country's figure summed from
/// municipalities against the published one.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CrossCheckResult {
    /// The check's name.
    pub check: String,
    /// County or country.
    pub region: String,
    /// Year.
    pub year: i16,
    /// Summed from the reference division's municipalities (null when incomplete).
    pub computed: Option<f64>,
    /// As published.
    pub published: Option<f64>,
    /// `computed - published`.
    pub difference: Option<f64>,
    /// `match`, `mismatch` (beyond the tolerance) or `not_comparable` (a side is missing).
    pub status: &'static str,
}

/// Outputs of the derive stage.
pub struct Derived {
    /// The `indicators` table.
    pub indicators: DataFrame,
    /// Every comparison of every cross-source check.
    pub crosschecks: Vec<CrossCheckResult>,
    /// Published against recomputed values: the `reconciliation` table.
    pub reconciliation: DataFrame,
    /// Municipal observations that could not be placed in the reference year's division.
    pub quarantine: Vec<QuarantineEntry>,
}

/// Computes every indicator.
///
/// Each indicator's rows are a block of their own, computed in parallel; so are the comparisons
/// (country value, index, change from the previous year), which never look outside an
/// indicator's rows. The blocks are then put in indicator order: the table comes out sorted by
/// indicator, region level, region and year without a sort of the whole table.
pub fn derive(input: &DeriveInput<'_>) -> Result<Derived, InternalError> {
    let crosswalk = crosswalk_frame(input.crosswalk)?;
    let expected = Expected::of(input.crosswalk);
    let mut quarantine = unplaced_municipalities(input, &crosswalk)?;
    input.memo.plan_levels(input.indicators, input.crosschecks);
    // Every block is computed, then the first error in pipeline order is the one reported.
    let computed = crate::io::parallel::map(input.indicators.iter().collect(), |ind| {
        let block = indicator_block(ind, input, &expected)?;
        officially(block, ind, input)
    });
    let mut blocks = Vec::with_capacity(computed.len());
    let mut reconciled = Vec::new();
    for block in computed {
        let (block, rows) = block?;
        if let Some(rows) = rows {
            reconciled.push(rows);
        }
        blocks.push(block);
    }
    let reconciliation = official::concatenated(reconciled)?;
    for ind in input
        .indicators
        .iter()
        .filter(|i| i.aggregation == Aggregation::Index)
    {
        quarantine.extend(index_not_combined(ind, input)?);
    }
    if let Some(pop) = input.population {
        let (f, q) = population::population_frames(pop, input, &crosswalk, &expected)?;
        let computed = crate::io::parallel::map(f, |lf| {
            let rows = lf.collect().context("deriving the population structure")?;
            Ok(Block::Frame {
                id: single_id(&rows)?,
                rows,
            })
        });
        blocks.extend(computed.into_iter().collect::<Result<Vec<_>, _>>()?);
        quarantine.extend(q);
    }
    let indicators = compared_in_order(blocks)?;
    let mut crosschecks = Vec::new();
    for c in input.crosschecks {
        crosschecks.extend(crosscheck(c, input, &expected)?);
    }
    Ok(Derived {
        indicators,
        crosschecks,
        reconciliation,
        quarantine,
    })
}

/// A computed block with its publisher's values in place ([`official`]) and in the prices of
/// one year where the indicator asks ([`prices`]), and the reconciliation rows.
fn officially<'a>(
    block: Block<'a>,
    ind: &'a IndicatorConfig,
    input: &DeriveInput<'a>,
) -> Result<(Block<'a>, Option<(String, DataFrame)>), InternalError> {
    let Block::Computed(mut computed) = block else {
        return Ok((block, None));
    };
    let mut rows = None;
    if let Some((published, method)) = official::published_of(ind, input)? {
        let mut reconciler =
            official::Reconciler::new(&ind.id, &ind.reconcile, input.crosswalk, method);
        computed.take_published(published, &mut reconciler);
        rows = Some((ind.id.clone(), reconciler.frame()?));
    }
    // Reconciled in current prices (as published), then deflated.
    if let Some(real) = &ind.real_terms {
        computed.deflate(&prices::deflator(real, input)?);
    }
    Ok((Block::Computed(computed), rows))
}

/// One indicator's rows, before the comparisons.
enum Block<'a> {
    /// `count`, `ratio` and `mean`: computed from the measures' levels, still columns.
    Computed(Box<compose::Computed<'a>>),
    /// `index` indicators and the population structure, computed in polars.
    Frame {
        /// The indicator, when every row is of the same one (`None` also for a block without
        /// rows).
        id: Option<String>,
        rows: DataFrame,
    },
}

impl Block<'_> {
    fn id(&self) -> Option<&str> {
        match self {
            Block::Computed(c) => Some(&c.ind.id),
            Block::Frame { id, .. } => id.as_deref(),
        }
    }

    fn height(&self) -> usize {
        match self {
            Block::Computed(c) => c.len(),
            Block::Frame { rows, .. } => rows.height(),
        }
    }

    /// The rows with their comparisons.
    fn compared(self) -> Result<DataFrame, InternalError> {
        match self {
            Block::Computed(c) => (*c).compared(),
            Block::Frame { rows, .. } => compose::with_comparisons(&rows),
        }
    }

    /// The rows without comparisons, as a frame.
    fn into_frame(self) -> Result<DataFrame, InternalError> {
        match self {
            Block::Computed(c) => (*c).into_frame(),
            Block::Frame { rows, .. } => Ok(rows),
        }
    }
}

/// The indicator of every row of a block, if it is one and the same.
fn single_id(rows: &DataFrame) -> Result<Option<String>, InternalError> {
    let what = "reading a block's indicator";
    let ids = rows
        .column("indicator")
        .context(what)?
        .str()
        .context(what)?;
    let first = if ids.is_empty() { None } else { ids.get(0) };
    Ok(first
        .filter(|f| ids.iter().all(|id| id == Some(*f)))
        .map(str::to_owned))
}

/// The blocks with their comparisons, in indicator order, as one table.
fn compared_in_order(blocks: Vec<Block<'_>>) -> Result<DataFrame, InternalError> {
    let what = "combining indicators";
    let mut blocks: Vec<Block<'_>> = blocks.into_iter().filter(|b| b.height() > 0).collect();
    let mut ids = std::collections::HashSet::new();
    let one_block_each = blocks
        .iter()
        .all(|b| b.id().is_some_and(|id| ids.insert(id.to_owned())));
    if !one_block_each {
        // An indicator in several blocks (a population indicator named as one of the pipeline's
        // own): the comparisons over the whole table at once.
        let frames = blocks
            .into_iter()
            .map(|b| Ok(b.into_frame()?.lazy()))
            .collect::<Result<Vec<LazyFrame>, InternalError>>()?;
        let mut all = concat(frames, UnionArgs::default())
            .context(what)?
            .collect()
            .context(what)?;
        all.rechunk_mut_par();
        return compose::with_comparisons(&all);
    }
    // Byte order of the ids, as the comparisons order indicators.
    blocks.sort_unstable_by(|a, b| a.id().cmp(&b.id()));
    let compared = crate::io::parallel::map(blocks, Block::compared);
    let mut out: Option<DataFrame> = None;
    for block in compared {
        let block = block?;
        match out.as_mut() {
            None => out = Some(block),
            Some(all) => {
                all.vstack_mut_owned(block).context(what)?;
            }
        }
    }
    // Left in one chunk per indicator: the Parquet writer gathers chunks into row groups one
    // row group at a time, where a rechunk here would copy the whole table while the blocks
    // are still held.
    match out {
        Some(all) => Ok(all),
        None => compose::with_comparisons(&empty_indicators()?),
    }
}

/// Municipal rows of an `index` indicator published under a code that is not a municipality of
/// the reference division: an index cannot be combined into the successor, so they are
/// quarantined rather than dropped.
fn index_not_combined(
    ind: &IndicatorConfig,
    input: &DeriveInput<'_>,
) -> Result<Vec<QuarantineEntry>, InternalError> {
    let rows = measure_rows(&ind.numerator, input)
        .filter(col("region_level").eq(lit(Level::Municipality.as_str())))
        .select([
            col("region").cast(DataType::String),
            col("period").cast(DataType::String),
            col("raw_sha256").cast(DataType::String),
        ])
        .collect()
        .context("reading index rows")?;
    let text = |name: &str| -> Result<Vec<String>, InternalError> {
        Ok(rows
            .column(name)
            .context("reading index rows")?
            .str()
            .context("reading index rows")?
            .iter()
            .map(|v| v.unwrap_or_default().to_owned())
            .collect())
    };
    let (region, period, sha) = (text("region")?, text("period")?, text("raw_sha256")?);
    let cw = input.crosswalk;
    let (dataset, measure) = (&ind.numerator.dataset, &ind.numerator.measure);
    Ok((0..rows.height())
        .filter(|i| cw.successor(&region[*i]) != Some(region[*i].as_str()))
        .map(|i| QuarantineEntry {
            stage: "derive",
            source: input
                .source_of
                .get(&sha[i])
                .cloned()
                .unwrap_or_else(|| dataset.clone()),
            raw_sha256: sha[i].clone(),
            location: format!("observations: {dataset} {measure} {} {}", region[i], period[i]),
            rule: "index_not_combined",
            reason: format!(
                "indicator `{}` is an index: the value of {}, which is not a municipality of the {} division, cannot be combined into {}",
                ind.id,
                region[i],
                cw.reference_year,
                cw.successor(&region[i]).unwrap_or("any municipality")
            ),
            record: format!("dataset={dataset};measure={measure};region={};period={}", region[i], period[i]),
        })
        .collect())
}

/// A cross-check's computed and published value of one region and year.
type Sides = (Option<f64>, Option<f64>);

/// Compares a measure summed from municipalities with its published county and country values,
/// for every (region, year) either side has, ordered by region and year.
fn crosscheck(
    c: &crate::model::config::CrossCheckConfig,
    input: &DeriveInput<'_>,
    expected: &Expected<'_>,
) -> Result<Vec<CrossCheckResult>, InternalError> {
    let what = "reading a cross-check";
    let upper =
        |level: &str| level == Level::WellbeingCounty.as_str() || level == Level::Country.as_str();
    let levels = measure_levels(&c.computed, input, expected)?;
    let published = measure_rows(&c.published, input)
        .filter(
            col("region_level")
                .eq(lit(Level::WellbeingCounty.as_str()))
                .or(col("region_level").eq(lit(Level::Country.as_str()))),
        )
        .select([
            col("region").cast(DataType::String),
            col("year"),
            col(c.published.field.column()).alias("published"),
        ])
        .collect()
        .context("comparing a cross-source check")?;
    let (region, year, value) = (
        levels::text(&published, "region", what)?,
        levels::years(&published, what)?,
        levels::floats(&published, "published", what)?,
    );
    // (region, year) -> (computed, published); the first row of a key on each side.
    let mut pairs: std::collections::BTreeMap<(&str, i16), Sides> =
        std::collections::BTreeMap::new();
    for i in (0..levels.len()).filter(|&i| upper(levels.level[i])) {
        if let (Some(r), Some(y)) = (levels.region[i], levels.year[i]) {
            pairs.entry((r, y)).or_insert((levels.x[i], None));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for i in 0..published.height() {
        if let (Some(r), Some(y)) = (region[i], year[i])
            && seen.insert((r, y))
        {
            pairs.entry((r, y)).or_insert((None, None)).1 = value[i];
        }
    }
    Ok(pairs
        .into_iter()
        .map(|((region, year), (computed, published))| {
            let difference = computed.zip(published).map(|(x, y)| x - y);
            CrossCheckResult {
                check: c.name.clone(),
                region: region.to_owned(),
                year,
                computed,
                published,
                difference,
                status: match difference {
                    None => "not_comparable",
                    Some(d) if d.abs() <= c.tolerance => "match",
                    Some(_) => "mismatch",
                },
            }
        })
        .collect())
}

/// `code` (any year) -> `muni` (reference year) -> `county`.
fn crosswalk_frame(cw: &Crosswalk) -> Result<DataFrame, InternalError> {
    let (mut code, mut muni, mut county) = (Vec::new(), Vec::new(), Vec::new());
    for (c, m, k) in cw.rows() {
        code.push(c);
        muni.push(m);
        county.push(k);
    }
    df!("code" => code, "muni" => muni, "county" => county).context("building the crosswalk")
}

/// Municipal observations of the derived years whose code has no municipality in the reference
/// year (they cannot be aggregated, so they are quarantined rather than dropped).
fn unplaced_municipalities(
    input: &DeriveInput<'_>,
    crosswalk: &DataFrame,
) -> Result<Vec<QuarantineEntry>, InternalError> {
    let municipal = input.observations.clone().lazy().filter(
        col("region_level")
            .eq(lit(Level::Municipality.as_str()))
            .and(year_filter(input.years)),
    );
    // The distinct codes first (a few hundred, read as dictionary codes): most runs have no
    // unplaced code, and then no row needs to be read as text.
    let codes = municipal
        .clone()
        .select([col("region")])
        .unique(None, UniqueKeepStrategy::Any)
        .select([col("region").cast(DataType::String)])
        .collect()
        .context("finding municipalities outside the reference division")?;
    let unplaced_codes: Vec<&str> = codes
        .column("region")
        .context("reading unplaced rows")?
        .str()
        .context("reading unplaced rows")?
        .iter()
        .flatten()
        .filter(|code| {
            input
                .crosswalk
                .successor(code)
                .and_then(|m| input.crosswalk.county_of(m))
                .is_none()
        })
        .collect();
    if unplaced_codes.is_empty() {
        return Ok(Vec::new());
    }
    let unplaced = municipal
        .with_columns(key_columns_as_text())
        .join(
            crosswalk.clone().lazy(),
            [col("region")],
            [col("code")],
            JoinArgs::new(JoinType::Anti),
        )
        .select([
            col("dataset").cast(DataType::String),
            col("measure").cast(DataType::String),
            col("region"),
            col("period"),
            col("raw_sha256"),
        ])
        .collect()
        .context("finding municipalities outside the reference division")?;
    let s = |name: &str| -> Result<Vec<String>, InternalError> {
        let c = unplaced.column(name).context("reading unplaced rows")?;
        Ok(c.str()
            .context("reading unplaced rows")?
            .iter()
            .map(|v| v.unwrap_or_default().to_owned())
            .collect())
    };
    let (dataset, measure, region, period, sha) = (
        s("dataset")?,
        s("measure")?,
        s("region")?,
        s("period")?,
        s("raw_sha256")?,
    );
    Ok((0..unplaced.height())
        .map(|i| QuarantineEntry {
            stage: "conform",
            source: input
                .source_of
                .get(&sha[i])
                .cloned()
                .unwrap_or_else(|| dataset[i].clone()),
            raw_sha256: sha[i].clone(),
            location: format!(
                "observations: {} {} {} {}",
                dataset[i], measure[i], region[i], period[i]
            ),
            rule: "not_in_reference_division",
            reason: format!(
                "municipality {} has no successor in the {} division; left out of county and \
                 country aggregates",
                region[i], input.crosswalk.reference_year
            ),
            record: format!(
                "dataset={};measure={};region={};period={}",
                dataset[i], measure[i], region[i], period[i]
            ),
        })
        .collect())
}

fn year_filter(years: &[i16]) -> Expr {
    years
        .iter()
        .map(|y| col("year").eq(lit(*y)))
        .reduce(Expr::or)
        .unwrap_or_else(|| lit(false))
}

/// What identifies a measure's observations (not the field read).
fn measure_key(r: &MeasureRef) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}",
        r.dataset, r.measure, r.sex, r.age
    )
}

/// A measure's observations of the derived years at every level, selected once per run.
fn measure_rows(r: &MeasureRef, input: &DeriveInput<'_>) -> LazyFrame {
    let key = measure_key(r);
    if let Some(df) = locked(&input.memo.by_measure).get(&key) {
        return df.clone().lazy();
    }
    let selected = selection(r, input);
    match selected.clone().collect() {
        Ok(df) => {
            locked(&input.memo.by_measure).insert(key, df.clone());
            df.lazy()
        }
        // Not memoised: the error surfaces where the frame is used.
        Err(_) => selected,
    }
}

/// A measure's observations of the derived years at every level (not memoised: see
/// [`measure_rows`]).
fn selection(r: &MeasureRef, input: &DeriveInput<'_>) -> LazyFrame {
    let years = Series::new("years".into(), input.years);
    dataset_rows(&r.dataset, input)
        .filter(col("year").is_in(lit(years).implode(false), false))
        .filter(
            col("measure")
                .eq(lit(r.measure.as_str()))
                .and(col("sex").eq(lit(r.sex.as_str())))
                .and(col("age").eq(lit(r.age.as_str())))
                .and(col("breakdown").eq(lit(""))),
        )
        // What the indicators read of a measure; the memo keeps only these columns.
        .select([
            col("region"),
            col("region_level"),
            col("year"),
            col("period"),
            col("raw_sha256"),
            col("value"),
            col("abs_value"),
        ])
        // The codes the levels read as text; `period` and `raw_sha256` stay dictionary keys
        // (`measure_rows` keeps its selections for the run), cast where a quarantine entry
        // names them.
        .with_columns(["region", "region_level"].map(|c| col(c).cast(DataType::String)))
}

/// A dataset's observations, every column (the split by dataset made once per run).
fn dataset_rows(dataset: &str, input: &DeriveInput<'_>) -> LazyFrame {
    let memoised = {
        let mut by_dataset = locked(&input.memo.by_dataset);
        if by_dataset.is_empty() {
            // One pass over the observations: row numbers per dataset, then one gather each
            // (made under the lock: every indicator waits for it rather than making it again).
            if let Ok(parts) = split_by_dataset(input.observations) {
                *by_dataset = parts;
            }
        }
        by_dataset.get(dataset).cloned()
    };
    match memoised {
        Some(df) => df.lazy(),
        // A dataset without rows, or the split failed (its error then surfaces here).
        None => input
            .observations
            .clone()
            .lazy()
            .filter(col("dataset").eq(lit(dataset))),
    }
}

/// `observations` keeps its text columns dictionary-encoded (polars `Categorical`); a measure's
/// selected rows get the ones derive joins on or reports as plain text.
pub(crate) fn key_columns_as_text() -> [Expr; 4] {
    ["region", "region_level", "period", "raw_sha256"].map(|c| col(c).cast(DataType::String))
}

/// The observations of each dataset, by dataset id. `observations` is sorted by dataset, so
/// each dataset is a run of rows and its frame a zero-copy slice; rows of a dataset that are
/// not contiguous (a frame built otherwise) are gathered instead.
fn split_by_dataset(obs: &DataFrame) -> Result<HashMap<String, DataFrame>, InternalError> {
    let column = obs.column("dataset").context("reading `dataset`")?;
    // Read in place when dictionary-encoded (as the pipeline builds it), cast otherwise.
    let cast;
    let ids: Box<dyn Iterator<Item = Option<&str>>> =
        if matches!(column.dtype(), DataType::Categorical(..)) {
            Box::new(column.cat32().context("reading `dataset`")?.iter_str())
        } else {
            cast = column
                .cast(&DataType::String)
                .context("reading `dataset`")?;
            Box::new(cast.str().context("reading `dataset`")?.iter())
        };
    // Runs of equal ids: (id, first row, length).
    let mut runs: Vec<(&str, usize, usize)> = Vec::new();
    for (i, id) in ids.enumerate() {
        match (runs.last_mut(), id) {
            (Some((last, _, len)), Some(id)) if *last == id => *len += 1,
            (_, Some(id)) => runs.push((id, i, 1)),
            (_, None) => {}
        }
    }
    let mut rows: HashMap<&str, Vec<(usize, usize)>> = HashMap::new();
    for (id, start, len) in runs {
        rows.entry(id).or_default().push((start, len));
    }
    rows.into_iter()
        .map(|(id, runs)| {
            let frame = if let [(start, len)] = runs[..] {
                let offset = i64::try_from(start).unwrap_or(i64::MAX);
                obs.slice(offset, len)
            } else {
                let idx: Vec<IdxSize> = runs
                    .iter()
                    .flat_map(|&(start, len)| start..start + len)
                    .map(|i| IdxSize::try_from(i).unwrap_or(IdxSize::MAX))
                    .collect();
                obs.take(&IdxCa::from_vec("idx".into(), idx))
                    .context("selecting a dataset")?
            };
            Ok((id.to_owned(), frame))
        })
        .collect()
}

/// What identifies a measure's levels: the measure and the field read.
fn levels_key(r: &MeasureRef) -> String {
    format!("{}\u{1f}{}", measure_key(r), r.field.column())
}

/// One measure at the three levels: `region`, `region_level`, `year`, `x`, `x_flag`; computed once
/// per run (a population is the denominator of many ratios) and kept until its last planned use
/// ([`Memo::plan_levels`]). The selection under it is not memoised: the levels are.
fn measure_levels<'a>(
    r: &MeasureRef,
    input: &DeriveInput<'a>,
    expected: &Expected<'_>,
) -> Result<Arc<MeasureLevels<'a>>, InternalError> {
    let key = levels_key(r);
    let cached = locked(&input.memo.levels).get(&key).cloned();
    let levels = if let Some(levels) = cached {
        levels
    } else {
        let rows = selection(r, input)
            .collect()
            .context("selecting a measure")?;
        Arc::new(levels::of_measure(
            &rows,
            r.field.column(),
            input.crosswalk,
            expected,
        )?)
    };
    input.memo.spend_levels(&key, &levels);
    Ok(levels)
}

/// ` × scale`, or nothing for a scale of 1.
fn scaled(scale: f64) -> String {
    if (scale - 1.0).abs() > f64::EPSILON {
        format!(" × {scale}")
    } else {
        String::new()
    }
}

fn describe(r: &MeasureRef) -> String {
    format!("{}/{}.{}", r.dataset, r.measure, r.field.column())
}

/// One indicator's rows, before the comparisons.
fn indicator_block<'a>(
    ind: &IndicatorConfig,
    input: &DeriveInput<'a>,
    expected: &Expected<'_>,
) -> Result<Block<'a>, InternalError> {
    let id = ind.id.as_str();
    let ref_year = input.crosswalk.reference_year;
    match (ind.aggregation, &ind.denominator) {
        (Aggregation::Ratio, Some(den_ref)) => {
            let method = format!(
                "ratio: sum({}) / sum({}) × {} over municipalities of the {ref_year} division",
                describe(&ind.numerator),
                describe(den_ref),
                ind.scale
            );
            let num = measure_levels(&ind.numerator, input, expected)?;
            let den = measure_levels(den_ref, input, expected)?;
            let ind = composed(ind, method);
            Ok(Block::Computed(Box::new(compose::quotient(
                ind,
                &compose::RATIO,
                &num,
                &den,
            ))))
        }
        (Aggregation::Mean, None) => {
            let Some(w_ref) = &ind.weight else {
                return Err(InternalError::Invariant(format!(
                    "indicator `{id}`: `mean` without a weight (checked at load)"
                )));
            };
            // sum(x × w) and sum(w) through the same levels: a county's mean is weighted by its
            // municipalities' weights, never a plain average of municipal values.
            let rows = |r: &MeasureRef| {
                measure_rows(r, input)
                    .collect()
                    .context("selecting a measure")
            };
            let (x, w) = (rows(&ind.numerator)?, rows(w_ref)?);
            let (xw, w) = levels::weighted(
                (&x, ind.numerator.field.column()),
                (&w, w_ref.field.column()),
                input.crosswalk,
                expected,
            )?;
            let method = format!(
                "mean: sum({} × {}) / sum({}){} over municipalities of the {ref_year} division",
                describe(&ind.numerator),
                describe(w_ref),
                describe(w_ref),
                scaled(ind.scale)
            );
            let ind = composed(ind, method);
            Ok(Block::Computed(Box::new(compose::quotient(
                ind,
                &compose::MEAN,
                &xw,
                &w,
            ))))
        }
        (Aggregation::Index, None) => {
            // Published values at every level, as they are; municipalities only where the
            // published code is a municipality of the reference division.
            let munis: Vec<&str> = {
                let mut m: Vec<&str> = input.crosswalk.rows().map(|(_, m, _)| m).collect();
                m.sort_unstable();
                m.dedup();
                m
            };
            let rows = measure_rows(&ind.numerator, input)
                .filter(
                    col("region_level")
                        .neq(lit(Level::Municipality.as_str()))
                        .or(col("region").is_in(
                            lit(Series::new("munis".into(), munis)).implode(false),
                            false,
                        )),
                )
                .select([
                    col("region"),
                    col("region_level"),
                    col("year"),
                    col(ind.numerator.field.column()).alias("x"),
                    when(col(ind.numerator.field.column()).is_null())
                        .then(lit("missing in source"))
                        .otherwise(lit(NULL).cast(DataType::String))
                        .alias("x_flag"),
                ]);
            let method = format!(
                "index: {} as published at each level, not aggregated{}",
                describe(&ind.numerator),
                scaled(ind.scale)
            );
            let rows = finish(
                rows,
                id,
                ind,
                col("x") * lit(ind.scale),
                lit(NULL).cast(DataType::Float64),
                col("x_flag"),
                method,
            )
            .collect()
            .context("deriving an index indicator")?;
            Ok(Block::Frame {
                id: Some(id.to_owned()),
                rows,
            })
        }
        (Aggregation::Count, None) => {
            let method = format!(
                "count: sum({}){} over municipalities of the {ref_year} division",
                describe(&ind.numerator),
                scaled(ind.scale)
            );
            let num = measure_levels(&ind.numerator, input, expected)?;
            Ok(Block::Computed(Box::new(compose::count(
                composed(ind, method),
                &num,
            ))))
        }
        _ => Err(InternalError::Invariant(format!(
            "indicator `{id}`: aggregation, denominator and weight disagree (checked at load)"
        ))),
    }
}

/// What every row of an indicator repeats.
fn composed(ind: &IndicatorConfig, method: String) -> compose::Indicator {
    compose::Indicator {
        id: ind.id.clone(),
        unit: ind.unit.clone(),
        method,
        scale: ind.scale,
    }
}

/// Adds a text prefix to a nullable string expression (null stays null).
trait PrefixExt {
    fn map_alias_prefix(self, prefix: &str) -> Expr;
}

impl PrefixExt for Expr {
    fn map_alias_prefix(self, prefix: &str) -> Expr {
        when(self.clone().is_null())
            .then(lit(NULL).cast(DataType::String))
            .otherwise(concat_str([lit(prefix.to_owned()), self], "", false))
    }
}

fn finish(
    lf: LazyFrame,
    id: &str,
    ind: &IndicatorConfig,
    value: Expr,
    denominator: Expr,
    flags: Expr,
    method: String,
) -> LazyFrame {
    lf.select([
        lit(id.to_owned()).alias("indicator"),
        col("region"),
        col("region_level"),
        col("year"),
        value.alias("value"),
        col("x").alias("numerator"),
        denominator.alias("denominator"),
        lit(ind.unit.clone()).alias("unit"),
        lit(method).alias("method"),
        // Only `index` indicators come through here: their values are the published ones.
        lit(compose::PUBLISHED).alias("basis"),
        flags.alias("flags"),
    ])
    .with_column(
        // `concat_str` with ignore_nulls gives "" when every part is null: no flag is null.
        when(col("flags").eq(lit("")))
            .then(lit(NULL).cast(DataType::String))
            .otherwise(col("flags"))
            .alias("flags"),
    )
}

fn empty_indicators() -> Result<DataFrame, InternalError> {
    let s = |n: &str| Column::new_empty(n.into(), &DataType::String);
    let f = |n: &str| Column::new_empty(n.into(), &DataType::Float64);
    DataFrame::new(
        0,
        vec![
            s("indicator"),
            s("region"),
            s("region_level"),
            Column::new_empty("year".into(), &DataType::Int16),
            f("value"),
            f("numerator"),
            f("denominator"),
            s("unit"),
            s("method"),
            s("basis"),
            s("flags"),
        ],
    )
    .context("building an empty indicators table")
}

#[cfg(test)]
mod tests;

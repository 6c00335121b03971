//! JSON-stat (<https://json-stat.org/full/>) -> observations, in two streaming passes.
//!
//! 1. [`model`]: the document's metadata, with `value` only counted. Forms: 2.0 `dataset`,
//!    2.0 `collection` (every embedded dataset), 1.x bundle and 1.x single dataset.
//! 2. [`mod@validate`]: the JSON-stat validator's rules; an error names its rule and JSON pointer.
//! 3. [`stream`]: the cells, one at a time, each mapped to an observation from its position.
//!
//! Cells are in row-major order over `id` (the last dimension varies fastest), so coordinates
//! come from the position: `i_k = (pos / stride_k) % size_k`. Dimension order is `id`'s, never the
//! key order of `dimension`. A `null` value stays missing, its status (a PX symbol such as `..`,
//! or a numeric code) goes to `status`, and `extension.missingValueDescriptions` (or the PX
//! default symbol names) to `status_label`. A sparse `value` yields the cells it lists plus cells
//! that only have a status. The measure's category `unit` (label and decimals) goes to `unit`;
//! dataset, dimension and category notes are returned with the dataset's metadata.
//!
//! Neither pass builds a `serde_json::Value`; from a file, neither holds the file in memory.

pub mod columns;
pub mod de;
pub mod model;
pub mod stream;
pub mod validate;

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

use serde::Serialize;

use super::{DecodeContext, QuarantineEntry, RawObservation, RegionId, Sex};
use crate::error::SourceError;
use crate::model::observation::year_of_period;
use model::{Document, Form};
use stream::{Cell, CellSink};
use validate::{Finding, Resolved};

/// Which dimension is which. `None` falls back to the dataset's `role`.
#[derive(Debug, Clone, Default)]
pub struct DimensionRoles {
    /// Region dimension.
    pub region: Option<String>,
    /// The region of every cell, for a dataset without a region dimension (e.g. `SSS` for a
    /// national table). Never inferred: a dataset without either is an error.
    pub region_code: Option<String>,
    /// Time dimension.
    pub time: Option<String>,
    /// Measure dimension.
    pub measure: Option<String>,
    /// Sex dimension.
    pub sex: Option<String>,
    /// Age dimension.
    pub age: Option<String>,
    /// Sex category id -> sex; `None` uses Statistics Finland's `SSS`/`1`/`2` and the plain
    /// words `total`/`male`/`female`.
    pub sex_codes: Option<BTreeMap<String, String>>,
}

/// Where a document is read from.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// Bytes in memory.
    Bytes(&'a [u8]),
    /// A file, streamed.
    File(&'a Path),
}

/// What a dataset says about itself (kept in the run manifest).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DatasetInfo {
    /// JSON pointer of the dataset in its document (empty for a top-level dataset).
    pub pointer: String,
    /// Dataset id given to its observations.
    pub dataset: String,
    /// `label`.
    pub label: Option<String>,
    /// `source`.
    pub source: Option<String>,
    /// `updated`, verbatim.
    pub updated: Option<String>,
    /// Notes of the dataset, its dimensions and categories.
    pub notes: Vec<String>,
    /// Validation warnings (rule: message at pointer).
    pub warnings: Vec<String>,
}

/// A file to read unbuffered: both passes read it in large blocks of their own.
fn open(path: &Path, file: &str) -> Result<std::fs::File, SourceError> {
    crate::io::open_regular(path).map_err(|e| SourceError::Missing {
        source_id: file.to_owned(),
        path: path.to_path_buf(),
        source: e,
    })
}

/// A reading error of either pass, at its line and column.
fn read_error(file: &str, e: &stream::StreamError, what: &str) -> SourceError {
    SourceError::Malformed {
        path: file.into(),
        location: format!("line {}, column {}", e.line, e.column),
        message: format!("{what}: {}", e.message),
    }
}

/// Pass 1: the document's metadata, with `value` only counted.
fn read_document<R: std::io::Read>(src: R, file: &str) -> Result<Option<Document>, SourceError> {
    let mut de = de::Deserializer::new(src);
    let doc = Document::read(&mut de).and_then(|d| de.end().map(|()| d));
    doc.map_err(|e| read_error(file, &e, "not a JSON-stat document"))
}

/// Pass 1 and validation: the document's datasets, or every finding when there are errors.
pub fn validate(
    input: Input<'_>,
    file: &str,
) -> Result<(Form, Vec<Resolved>, Vec<Finding>), SourceError> {
    // One reader for both, so that a payload in memory and a file are judged alike.
    let doc = match input {
        Input::Bytes(b) => read_document(b, file)?,
        Input::File(p) => read_document(open(p, file)?, file)?,
    };
    let mut doc = doc.ok_or_else(|| SourceError::Malformed {
        path: file.into(),
        location: "/".to_owned(),
        message: "not a JSON-stat document: no dataset, collection or bundle at the top level"
            .to_owned(),
    })?;
    if doc.datasets.is_empty() {
        return Err(SourceError::Malformed {
            path: file.into(),
            location: "/link/item".to_owned(),
            message: "the collection embeds no dataset (its items only link to datasets by \
                      `href`); fetch the linked datasets instead"
                .to_owned(),
        });
    }
    let mut findings = validate::check_document(doc.form, doc.version.as_deref());
    let mut resolved = Vec::new();
    for (pointer, ds) in &mut doc.datasets {
        let (r, f) = validate::check(pointer, ds);
        findings.extend(f);
        resolved.extend(r);
    }
    Ok((doc.form, resolved, findings))
}

/// The error for a document with error findings: the first, and how many more.
fn invalid(file: &str, findings: &[Finding]) -> Option<SourceError> {
    let errors: Vec<&Finding> = findings.iter().filter(|f| f.error).collect();
    let first = errors.first()?;
    let more = match errors.len() - 1 {
        0 => String::new(),
        n => format!(
            " (and {n} more: {})",
            errors[1..]
                .iter()
                .map(|f| format!("{} at {}", f.code, f.pointer))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Some(SourceError::Malformed {
        path: file.into(),
        location: first.pointer.clone(),
        message: format!(
            "invalid JSON-stat ({}): {}{more}",
            first.code, first.message
        ),
    })
}

/// Hashes cell positions with one multiplication (Fibonacci hashing). Positions are looked up
/// once per cell of a dataset with sparse statuses, where the default `SipHash` showed in profiles.
#[derive(Default, Clone, Copy)]
struct PositionHasher(u64);

impl Hasher for PositionHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A map keyed by cell position.
type PositionMap<V> = HashMap<usize, V, BuildHasherDefault<PositionHasher>>;

/// The statuses of a dataset's cells, in the form they are looked up by position.
enum CellStatus {
    None,
    /// Every cell.
    All(String),
    /// By position (a status array).
    PerCell(Vec<model::StatusItem>),
    /// Listed positions (a status object).
    Sparse(SparseStatus),
}

impl CellStatus {
    /// Takes the statuses of a dataset (keys that are no position were rejected by validation).
    fn new(status: Option<model::Status>) -> CellStatus {
        match status {
            None => CellStatus::None,
            Some(model::Status::All(s)) => CellStatus::All(s),
            Some(model::Status::Array(mut items)) if items.len() == 1 => match items.remove(0).0 {
                Some(s) => CellStatus::All(s),
                None => CellStatus::None,
            },
            Some(model::Status::Array(items)) => CellStatus::PerCell(items),
            Some(model::Status::Sparse(items)) => CellStatus::Sparse(SparseStatus::new(items)),
        }
    }

    /// The status of the cell at `pos`; of a status object, that of `entry`, the cell's entry
    /// ([`DatasetMapper::status_entry`]).
    fn at(&self, pos: usize, entry: Option<usize>) -> Option<&str> {
        match self {
            CellStatus::None => None,
            CellStatus::All(s) => Some(s),
            CellStatus::PerCell(items) => items.get(pos).and_then(|s| s.0.as_deref()),
            CellStatus::Sparse(sparse) => sparse
                .symbol_of(entry?)
                .and_then(|i| sparse.symbols.get(i))
                .map(String::as_str),
        }
    }
}

/// The statuses of a status object: its positions, sorted, each with the place of its status
/// among the object's distinct statuses. (A map of position to string took about 70 bytes a
/// status; this takes 16, and the distinct statuses are few.)
struct SparseStatus {
    /// (position, index into `symbols`), one per position.
    entries: Vec<(usize, u32)>,
    symbols: Vec<String>,
}

impl SparseStatus {
    fn new(items: Vec<(String, model::StatusItem)>) -> SparseStatus {
        let mut symbols: Vec<String> = Vec::new();
        let mut index: HashMap<String, u32> = HashMap::new();
        let mut entries: Vec<(usize, u32)> = Vec::with_capacity(items.len());
        for (key, item) in items {
            let (Ok(pos), Some(symbol)) = (key.parse::<usize>(), item.0) else {
                continue;
            };
            let at = if let Some(at) = index.get(&symbol) {
                *at
            } else {
                let at = u32::try_from(symbols.len()).unwrap_or(u32::MAX);
                index.insert(symbol.clone(), at);
                symbols.push(symbol);
                at
            };
            entries.push((pos, at));
        }
        // Stable: of a position given twice, the last status counts, as in a map.
        entries.sort_by_key(|e| e.0);
        entries.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                earlier.1 = later.1;
            }
            same
        });
        SparseStatus { entries, symbols }
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The index into `symbols` of entry `at`'s status.
    fn symbol_of(&self, at: usize) -> Option<usize> {
        self.entries.get(at).map(|e| e.1 as usize)
    }

    /// The entry of `pos`, if listed; `cursor` is where the last lookup ended: cells mostly come
    /// in order, so a lookup is usually one comparison.
    fn find(&self, pos: usize, cursor: &mut usize) -> Option<usize> {
        let behind = *cursor > 0 && self.entries[*cursor - 1].0 >= pos;
        if behind || self.entries.get(*cursor).is_some_and(|e| e.0 < pos) {
            *cursor = self.entries.partition_point(|e| e.0 < pos);
        }
        match self.entries.get(*cursor) {
            Some(e) if e.0 == pos => Some(*cursor),
            _ => None,
        }
    }
}

/// Maps the cells of one dataset to observations, one cell at a time: what the column path
/// ([`columns`]) does for the cells its fast path does not take, and what the tests' oracle does
/// for every cell.
pub struct DatasetMapper {
    dataset: String,
    dims: Vec<validate::ResolvedDimension>,
    strides: Vec<usize>,
    region: Option<usize>,
    region_code: Option<String>,
    time: usize,
    measure: Option<usize>,
    sex: Option<usize>,
    age: Option<usize>,
    others: Vec<usize>,
    status: CellStatus,
    descriptions: BTreeMap<String, String>,
    sex_codes: Option<BTreeMap<String, String>>,
    /// Per entry of a sparse status, whether `value` listed its cell (to add status-only cells
    /// afterwards); `None` when there can be no status-only cells.
    seen: Option<Vec<bool>>,
    /// Where the last lookup among a sparse status's entries ended.
    status_cursor: usize,
    /// JSON pointer prefix of this dataset's cells (empty for a top-level dataset).
    prefix: String,
    /// Unit text per measure category (label, and decimals where given; else the source's
    /// `unit`), computed once; one entry when there is no measure dimension.
    units: Vec<Option<String>>,
}

impl DatasetMapper {
    /// The mapper of a validated dataset, its roles resolved (an error names the dataset's
    /// `role` when a dimension cannot be told).
    pub fn new(
        r: &mut Resolved,
        roles: &DimensionRoles,
        dataset: String,
        ctx: &DecodeContext,
    ) -> Result<DatasetMapper, SourceError> {
        let file = ctx.file.as_str();
        let malformed = |message: String| SourceError::Malformed {
            path: file.into(),
            location: format!("{}/role", r.pointer),
            message,
        };
        let ids: Vec<&str> = r.dims.iter().map(|d| d.id.as_str()).collect();
        let pick = |explicit: &Option<String>,
                    role: &str,
                    what: &str|
         -> Result<Option<usize>, SourceError> {
            let from_role = r.role.get(role);
            let name = match explicit {
                Some(n) => Some(n.clone()),
                None if from_role.len() == 1 => Some(from_role[0].clone()),
                None => None,
            };
            name.map(|n| {
                ids.iter().position(|d| *d == n).ok_or_else(|| {
                    malformed(format!(
                        "the {what} dimension `{n}` is not in this dataset (dimensions: {})",
                        ids.join(", ")
                    ))
                })
            })
            .transpose()
        };
        let region = pick(&roles.region, "geo", "region")?;
        if region.is_none() && roles.region_code.is_none() {
            return Err(malformed(
                "no region dimension: name one (`dimensions.region`), give the dataset a `geo` role, \
                 or set the region of a national table (`dimensions.region_code = \"SSS\"`)"
                    .to_owned(),
            ));
        }
        let time = pick(&roles.time, "time", "time")?.ok_or_else(|| {
            malformed(
                "no time dimension: name one (`dimensions.time`) or give the dataset a `time` role"
                    .to_owned(),
            )
        })?;
        let measure = pick(&roles.measure, "metric", "measure")?;
        let sex = pick(&roles.sex, "", "sex")?;
        let age = pick(&roles.age, "", "age")?;
        let mut strides = vec![1usize; r.dims.len()];
        for k in (0..r.dims.len().saturating_sub(1)).rev() {
            strides[k] = strides[k + 1] * r.dims[k + 1].categories.len();
        }
        let named = [region, Some(time), measure, sex, age];
        let others = (0..r.dims.len())
            .filter(|k| !named.contains(&Some(*k)))
            .collect();
        let status = CellStatus::new(r.status.take());
        let seen = match &status {
            CellStatus::Sparse(sparse) if r.sparse && !sparse.is_empty() => {
                Some(vec![false; sparse.entries.len()])
            }
            _ => None,
        };
        // By measure category; the source's `unit` where the payload gives none.
        let units = measure.map_or_else(
            || vec![ctx.unit.clone()],
            |k| {
                r.dims[k]
                    .categories
                    .iter()
                    .map(|c| {
                        let text = r.dims[k].units.get(c).and_then(|u| {
                            let label = u.label.clone()?;
                            Some(match u.decimals {
                                Some(d) => format!("{label} (decimals: {d})"),
                                None => label,
                            })
                        });
                        text.or_else(|| ctx.unit.clone())
                    })
                    .collect()
            },
        );
        Ok(DatasetMapper {
            // `file:x#/link/item/0` has cells at `/link/item/0/value/..`; a whole document at `/value/..`.
            prefix: if dataset.contains('#') {
                r.pointer.clone()
            } else {
                String::new()
            },
            units,
            dataset,
            dims: r.dims.clone(),
            strides,
            region,
            region_code: roles.region_code.clone(),
            time,
            measure,
            sex,
            age,
            others,
            status,
            descriptions: r.descriptions.clone(),
            sex_codes: roles.sex_codes.clone(),
            seen,
            status_cursor: 0,
        })
    }

    /// The entry of the cell at `pos` in the dataset's status object, if it has one that lists
    /// the cell; the entry is remembered as seen where status-only cells are tracked (only cells
    /// with a status matter for finding those, so memory stays bounded by the statuses). Every
    /// cell is looked up here once, both paths, as it comes.
    fn status_entry(&mut self, pos: usize) -> Option<usize> {
        let CellStatus::Sparse(statuses) = &self.status else {
            return None;
        };
        let at = statuses.find(pos, &mut self.status_cursor)?;
        if let Some(seen) = &mut self.seen {
            seen[at] = true;
        }
        Some(at)
    }

    /// The sex of a category of the sex dimension (see `sex_codes`).
    fn sex_of(&self, code: &str) -> Option<Sex> {
        match &self.sex_codes {
            Some(map) => map.get(code).and_then(|s| Sex::parse(s)),
            None => match code {
                "SSS" | "total" => Some(Sex::Total),
                "1" | "male" => Some(Sex::Male),
                "2" | "female" => Some(Sex::Female),
                _ => None,
            },
        }
    }

    /// Position of the cell's category in dimension `k`.
    fn index(&self, k: usize, pos: usize) -> usize {
        (pos / self.strides[k]) % self.dims[k].categories.len()
    }

    fn coord(&self, k: usize, pos: usize) -> &str {
        &self.dims[k].categories[self.index(k, pos)]
    }

    /// The unit of the cell's measure.
    fn unit(&self, pos: usize) -> Option<&String> {
        self.units[self.measure.map_or(0, |k| self.index(k, pos))].as_ref()
    }

    /// What a status means: the dataset's `missingValueDescriptions`, else the PX symbol's name.
    fn status_label(&self, status: &str) -> Option<String> {
        self.descriptions
            .get(status)
            .cloned()
            .or_else(|| px_symbol_label(status))
    }

    fn record(&self, pos: usize, cell: &Cell) -> String {
        let coords: Vec<String> = (0..self.dims.len())
            .map(|k| format!("{}={}", self.dims[k].id, self.coord(k, pos)))
            .collect();
        format!("{} value={cell:?}", coords.join(";"))
    }

    /// The observation of the cell at `pos`, or its quarantine entry (located by JSON pointer).
    pub fn map(
        &mut self,
        pos: usize,
        cell: &Cell,
        ctx: &DecodeContext,
    ) -> Result<RawObservation, QuarantineEntry> {
        let entry = self.status_entry(pos);
        let location = format!("{}#{}/value/{pos}", ctx.file, self.prefix);
        let quarantine = |rule, reason: String| {
            ctx.quarantine(location.clone(), rule, reason, self.record(pos, cell))
        };
        let period = self.coord(self.time, pos);
        let Some(year) = year_of_period(period) else {
            return Err(quarantine(
                "bad_period",
                format!(
                    "period `{period}` of dimension `{}` has no year",
                    self.dims[self.time].id
                ),
            ));
        };
        let sex = match self.sex {
            None => Sex::Total,
            Some(k) => {
                let code = self.coord(k, pos);
                let Some(s) = self.sex_of(code) else {
                    return Err(quarantine(
                        "unknown_code",
                        format!("sex category `{code}` is not mapped (see `sex_codes`)"),
                    ));
                };
                s
            }
        };
        let mut status = self.status.at(pos, entry).map(str::to_owned);
        let not_finite = |written: &str| {
            quarantine(
                "not_finite",
                format!("cell value {written} is not a finite number"),
            )
        };
        let value = match cell {
            Cell::Number(v) if v.is_finite() => Some(*v),
            Cell::Number(v) => return Err(not_finite(&v.to_string())),
            Cell::Null => None,
            Cell::Text(t) => {
                if let Ok(v) = t.trim().parse::<f64>() {
                    // Rust reads `NaN`, `inf` and `-infinity` as numbers; no publisher means them.
                    if !v.is_finite() {
                        return Err(not_finite(&format!("{t:?}")));
                    }
                    Some(v)
                } else if px_symbol_label(t).is_some() {
                    // Some producers put the PX symbol in `value` itself.
                    status.get_or_insert_with(|| t.clone());
                    None
                } else {
                    return Err(quarantine(
                        "wrong_type",
                        format!("cell value {t:?} is neither a number nor a missing-value symbol"),
                    ));
                }
            }
        };
        let status_label = status.as_deref().and_then(|s| self.status_label(s));
        let unit = self.unit(pos).cloned();
        let breakdown = self
            .others
            .iter()
            .map(|k| format!("{}={}", self.dims[*k].id, self.coord(*k, pos)))
            .collect::<Vec<_>>()
            .join(";");
        Ok(RawObservation {
            dataset: self.dataset.clone(),
            measure: self
                .measure
                .map_or("value", |k| self.coord(k, pos))
                .to_owned(),
            region: RegionId::Code(match self.region {
                Some(k) => self.coord(k, pos).to_owned(),
                None => self.region_code.clone().unwrap_or_default(),
            }),
            period: period.to_owned(),
            year,
            sex,
            age: self
                .age
                .map_or("total", |k| age_of(self.coord(k, pos)))
                .to_owned(),
            breakdown,
            value,
            abs_value: None,
            status,
            status_label,
            unit,
            location,
        })
    }

    /// Status-only cells of a sparse dataset that `value` did not list (known once every cell
    /// has been mapped).
    pub fn status_only(&self) -> Vec<usize> {
        let (Some(seen), CellStatus::Sparse(statuses)) = (&self.seen, &self.status) else {
            return Vec::new();
        };
        statuses
            .entries
            .iter()
            .zip(seen)
            .filter(|(_, seen)| !**seen)
            .map(|(e, _)| e.0)
            .collect()
    }
}

/// Age as written to `observations.age`: Statistics Finland's total `SSS` becomes `total`.
fn age_of(code: &str) -> &str {
    if code == "SSS" { "total" } else { code }
}

/// A validated document, ready for pass 2.
struct Plan {
    form: Form,
    resolved: Vec<Resolved>,
    findings: Vec<Finding>,
    mappers: Vec<DatasetMapper>,
    pointers: Vec<String>,
}

/// Pass 1, validation, and a mapper per dataset.
fn plan(
    input: Input<'_>,
    roles: &DimensionRoles,
    ctx: &DecodeContext,
) -> Result<Plan, SourceError> {
    let (form, mut resolved, findings) = validate(input, &ctx.file)?;
    if let Some(err) = invalid(&ctx.file, &findings) {
        return Err(err);
    }
    let single = resolved.len() == 1;
    let dataset_id = |r: &Resolved| {
        if single {
            ctx.dataset.clone()
        } else {
            format!("{}#{}", ctx.dataset, r.pointer)
        }
    };
    let mappers = resolved
        .iter_mut()
        .map(|r| {
            let id = dataset_id(r);
            DatasetMapper::new(r, roles, id, ctx)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let pointers = resolved.iter().map(|r| r.pointer.clone()).collect();
    Ok(Plan {
        form,
        resolved,
        findings,
        mappers,
        pointers,
    })
}

/// A sink that keeps the plan's mappers (which remember the positions of sparse cells).
trait PlanSink: CellSink {
    fn mappers(&self) -> &[DatasetMapper];
}

/// Pass 2: every cell to the sink, then the cells of sparse datasets that only have a status.
fn pass2<S: PlanSink>(
    input: Input<'_>,
    form: Form,
    pointers: &[String],
    ctx: &DecodeContext,
    sink: &mut S,
) -> Result<(), SourceError> {
    let result = match input {
        Input::Bytes(b) => stream::stream(b, form, pointers, sink),
        Input::File(p) => stream::stream(open(p, &ctx.file)?, form, pointers, sink),
    };
    result.map_err(|e| read_error(&ctx.file, &e, "reading cells"))?;
    let status_only: Vec<(usize, usize)> = sink
        .mappers()
        .iter()
        .enumerate()
        .flat_map(|(d, m)| m.status_only().into_iter().map(move |p| (d, p)))
        .collect();
    for (d, pos) in status_only {
        sink.cell(d, pos, Cell::Null)
            .map_err(|e| SourceError::Malformed {
                path: ctx.file.clone().into(),
                location: "/status".into(),
                message: e,
            })?;
    }
    Ok(())
}

impl Plan {
    /// What each dataset says about itself, with its validation warnings.
    fn infos(&self) -> Vec<DatasetInfo> {
        self.resolved
            .iter()
            .zip(&self.mappers)
            .map(|(r, m)| DatasetInfo {
                pointer: r.pointer.clone(),
                dataset: m.dataset.clone(),
                label: r.label.clone(),
                source: r.source.clone(),
                updated: r.updated.clone(),
                notes: r.notes.clone(),
                warnings: self
                    .findings
                    .iter()
                    .filter(|f| !f.error && (f.pointer.starts_with(&r.pointer) || f.pointer == "/"))
                    .map(|f| format!("{}: {} at {}", f.code, f.message, f.pointer))
                    .collect(),
            })
            .collect()
    }
}

/// The PX format's default missing-value symbols (`DATASYMBOL1`..`6`, `DATASYMBOLNIL`).
/// Their meaning is table-specific, so the label names the symbol rather than guessing a meaning.
fn px_symbol_label(code: &str) -> Option<String> {
    let name = match code {
        "." => "DATASYMBOL1",
        ".." => "DATASYMBOL2",
        "..." => "DATASYMBOL3",
        "...." => "DATASYMBOL4",
        "....." => "DATASYMBOL5",
        "......" => "DATASYMBOL6",
        "-" => "DATASYMBOLNIL (magnitude nil)",
        _ => return None,
    };
    Some(format!("PX missing-value symbol {name}"))
}

/// Validation findings of a document, for `validate`-style reporting and tests.
pub fn findings(bytes: &[u8], file: &str) -> Result<Vec<Finding>, SourceError> {
    validate(Input::Bytes(bytes), file).map(|(_, _, f)| f)
}

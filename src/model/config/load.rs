//! Loading a pipeline file: parsing it (every error with its file, line and column), resolving
//! its paths against the file's folder, reading its catalogue, and validating every entry
//! against the region registry, the table contracts and each other, so that what the stages get
//! has already been checked.

use crate::error::ConfigError;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{
    Aggregation, ApiKind, Catalogue, CatalogueFile, CostBasis, IndicatorConfig, Pipeline,
    PipelineFile, PopulationConfig, SEXES, SourceConfig, SourceFormat,
};

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
            checks: Vec::new(),
        };
        pipeline.check(text)?;
        pipeline.checks = pipeline.file.checks.iter().map(Into::into).collect();
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

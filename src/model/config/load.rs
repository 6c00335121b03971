//! Loading a pipeline file: parsing it (every error with its file, line and column), resolving
//! its paths against the file's folder, reading its catalogue, and validating every entry
//! against the region registry, the table contracts and each other, so that what the stages get
//! has already been checked.

use super::spans::span_of;
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
    key: &str,
    at: &dyn Fn(String, String) -> ConfigError,
) -> Result<(), ConfigError> {
    let id = &s.id;
    if !s.format.is_kpa() {
        if s.region.is_some() || s.cost_basis.is_some() {
            return Err(at(
                format!("{key}.id"),
                format!(
                    "source `{id}`: `region` and `cost_basis` apply to `kpa-csv` and `kpa-xlsx` only"
                ),
            ));
        }
        return Ok(());
    }
    let Some(region) = &s.region else {
        return Err(at(
            format!("{key}.id"),
            format!(
                "source `{id}` (kpa-csv) needs `region`, the county its figures are for, e.g. `HVA12`"
            ),
        ));
    };
    if crate::model::regions::Level::of_code(region).is_none() {
        return Err(at(
            format!("{key}.region"),
            format!("source `{id}`: `{region}` is not a region code (e.g. `HVA12`)"),
        ));
    }
    if s.cost_basis.is_none() {
        return Err(at(
            format!("{key}.id"),
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
    key: &str,
    f: &PipelineFile,
    at: &dyn Fn(String, String) -> ConfigError,
) -> Result<(), ConfigError> {
    let id = &s.id;
    let fetch = match (&s.path, &s.fetch) {
        (Some(_), None) => return Ok(()),
        (Some(_), Some(_)) | (None, None) => {
            return Err(at(
                format!("{key}.id"),
                format!(
                    "source `{id}` needs exactly one of `path` (a file) and `fetch` (a web API)"
                ),
            ));
        }
        (None, Some(fetch)) => fetch,
    };
    let name = &fetch.api;
    let Some(api) = f.apis.get(name) else {
        let known: Vec<&str> = f.apis.keys().map(String::as_str).collect();
        return Err(at(
            format!("{key}.fetch.api"),
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
    let fail = |message: String| {
        Err(at(
            format!("{key}.fetch.api"),
            format!("source `{id}`: {message}"),
        ))
    };
    let sotkanet_keys = fetch.indicator.is_some()
        || fetch.years.is_some()
        || fetch.genders.is_some()
        || fetch.years_per_request.is_some();
    let pxweb_keys = fetch.table.is_some()
        || fetch.query.is_some()
        || fetch.select.is_some()
        || fetch.time_variable.is_some()
        || fetch.content_variable.is_some();
    let cube_keys = fetch.cube.is_some() || fetch.measures.is_some();
    if cube_keys && api.kind != ApiKind::ThlCube {
        return fail(format!(
            "`cube` and `measures` are for THL cubes; `{name}` is {}",
            api.kind.name()
        ));
    }
    match api.kind {
        ApiKind::ThlCube => {
            if sotkanet_keys
                || fetch.table.is_some()
                || fetch.query.is_some()
                || fetch.time_variable.is_some()
                || fetch.content_variable.is_some()
            {
                return fail("a THL cube fetch takes `cube`, `select` and `measures` only".into());
            }
            if s.format != SourceFormat::Jsonstat {
                return fail(format!(
                    "THL cubes answer JSON-stat: use `format = \"jsonstat\"`, not `{}`",
                    s.format.name()
                ));
            }
            let (Some(cube), Some(select)) = (&fetch.cube, &fetch.select) else {
                return fail(
                    "a THL cube fetch needs `cube` (its path, e.g. \"epirapo/covid19case/fact_epirapo_covid19case\") \
                     and `select` (by role or dimension id, e.g. { region = [\"wellbeing_county\"], time = [\"2023\"] })"
                        .into(),
                );
            };
            if cube.is_empty()
                || cube.contains(['?', '#', ' '])
                || Path::new(cube)
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("json"))
            {
                return fail(format!(
                    "`cube` is the cube's path without extension or query, not `{cube}`"
                ));
            }
            if let Some((key, _)) = select.iter().find(|(_, v)| v.is_empty()) {
                return fail(format!("`select.{key}` selects no values"));
            }
        }
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
            let query = match (&fetch.table, &fetch.query, &fetch.select) {
                (Some(_), Some(q), None) | (Some(_), None, Some(q)) => q,
                (Some(_), Some(_), Some(_)) => {
                    return fail(
                        "a PxWeb fetch takes `select` (by role) or `query` (by variable code), not both"
                            .into(),
                    );
                }
                _ => {
                    return fail(
                        "a PxWeb fetch needs `table` and `select` (by role, e.g. { region = [\"*\"], \
                         time = [\"2024\"] }) or `query` (by variable code)"
                            .into(),
                    );
                }
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
        let text = read_text(path).map_err(|source| ConfigError::Read {
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
        let text = read_text(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let error = |span: std::ops::Range<usize>, message: String| {
            let (line, column) = line_column(&text, span.start);
            ConfigError::Parse {
                path: path.clone(),
                line,
                column,
                message,
            }
        };
        let at = |key: String, message: String| error(span_of(&text, &key), message);
        let cat: CatalogueFile = toml::from_str(&text)
            .map_err(|e| error(e.span().unwrap_or(0..0), e.message().trim().to_owned()))?;
        let mut ids = BTreeSet::new();
        for (i, e) in cat.indicators.iter().enumerate() {
            if !ids.insert(e.id.as_str()) {
                return Err(at(
                    format!("indicators.{i}.id"),
                    format!("indicator id `{}` is used twice", e.id),
                ));
            }
            check_indicator(e, &format!("indicators.{i}"), None, &at)?;
        }
        if let Some(n) = &cat.need_indicator
            && !ids.contains(n.as_str())
        {
            return Err(at(
                "need_indicator".into(),
                format!("`need_indicator`: `{n}` is not an indicator of this catalogue"),
            ));
        }
        let datasets: BTreeSet<&str> = self
            .file
            .sources
            .iter()
            .filter_map(|s| s.dataset.as_deref())
            .collect();
        let missing = |e: &IndicatorConfig| {
            let published = match &e.published {
                crate::model::config::Published::Measure(r) => Some(r),
                crate::model::config::Published::Rule(_) => None,
            };
            let price_index = e
                .real_terms
                .as_ref()
                .map(crate::model::config::RealTerms::index);
            std::iter::once(&e.numerator)
                .chain(e.denominator.as_ref())
                .chain(e.weight.as_ref())
                .chain(published)
                .chain(price_index.as_ref())
                .map(|m| &m.dataset)
                .find(|d| !datasets.contains(d.as_str()))
                .cloned()
        };
        let own: BTreeSet<&str> = self.file.indicators.iter().map(|i| i.id.as_str()).collect();
        let mut used = Vec::new();
        let mut skipped = Vec::new();
        let mut append = Vec::new();
        match &r.use_ids {
            Some(list) => {
                for id in list {
                    let Some(e) = cat.indicators.iter().find(|e| &e.id == id) else {
                        return Err(self.error_at_key(
                            "catalogue.use",
                            format!(
                                "`catalogue.use`: `{id}` is not in {} (version {})",
                                path.display(),
                                cat.version
                            ),
                        ));
                    };
                    if let Some(d) = missing(e) {
                        return Err(self.error_at_key(
                            "catalogue.use",
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
                        skipped.push((e.id.clone(), format!("no source provides dataset `{d}`")));
                    } else {
                        used.push(e.id.clone());
                        append.push(e.clone());
                    }
                }
            }
        }
        if let Some(dup) = append.iter().find(|e| own.contains(e.id.as_str())) {
            return Err(self.error_at_key(
                "catalogue",
                format!(
                    "indicator `{}` is defined both in this pipeline and in the catalogue {}; rename one",
                    dup.id,
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
            need_indicator: cat.need_indicator,
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
        if self.file.indicators.iter().any(|i| &i.id == n) {
            Ok(())
        } else {
            Err(self.error_at_key(
                "comparison.need_indicator",
                format!("`comparison.need_indicator`: `{n}` is not an indicator of this pipeline or its catalogue"),
            ))
        }
    }

    /// A configuration error pointing at the value with this key path in the pipeline file
    /// (`regions.focus.1`, `sources.0.dataset`).
    pub fn error_at_key(&self, key: &str, message: String) -> ConfigError {
        let (line, column) = line_column(&self.text, span_of(&self.text, key).start);
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
        self.file.sources.iter().find(|s| s.id == id)
    }

    /// Checks what serde cannot: references between sections, required fields per format.
    fn check(&self, text: &str) -> Result<(), ConfigError> {
        let at = |key: String, message: String| {
            let (line, column) = line_column(text, span_of(text, &key).start);
            ConfigError::Parse {
                path: self.path.clone(),
                line,
                column,
                message,
            }
        };
        let f = &self.file;
        let years = &f.pipeline.years;
        if years.is_empty() {
            return Err(at(
                "pipeline.years".into(),
                "`pipeline.years` is empty: name at least one year".to_owned(),
            ));
        }
        if let Some(y) = years.iter().find(|y| !(1900..=2100).contains(*y)) {
            return Err(at(
                "pipeline.years".into(),
                format!("`pipeline.years` has {y}, outside 1900..=2100"),
            ));
        }

        let mut ids = BTreeSet::new();
        let mut datasets = BTreeSet::new();
        for (i, s) in f.sources.iter().enumerate() {
            let key = format!("sources.{i}");
            let id = &s.id;
            if !ids.insert(id.as_str()) {
                return Err(at(
                    format!("{key}.id"),
                    format!("source id `{id}` is used twice"),
                ));
            }
            if s.format.has_observations() {
                match &s.dataset {
                    Some(d) => {
                        datasets.insert(d.as_str());
                    }
                    None => {
                        return Err(at(
                            format!("{key}.id"),
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
                ) && f
                    .sources
                    .iter()
                    .any(|o| &o.id == r && o.format == SourceFormat::SotkanetRegions);
                if !ok {
                    return Err(at(
                        format!("{key}.regions"),
                        format!(
                            "source `{id}`: `regions` must name a `sotkanet-regions` source, \
                             and only Sotkanet data sources take it; `{r}` is not one"
                        ),
                    ));
                }
            }
            check_fetch(s, &key, f, &at)?;
            check_kpa_source(s, &key, &at)?;
            if (s.dimensions.is_some() || s.sex_codes.is_some())
                && s.format != SourceFormat::Jsonstat
            {
                return Err(at(
                    format!("{key}.id"),
                    format!("source `{id}`: `dimensions` and `sex_codes` apply to `jsonstat` only"),
                ));
            }
            if let Some(codes) = &s.sex_codes
                && let Some((k, v)) = codes.iter().find(|(_, v)| !SEXES.contains(&v.as_str()))
            {
                return Err(at(
                    format!("{key}.sex_codes"),
                    format!("source `{id}`: `sex_codes.{k}` is `{v}`; use total, male or female"),
                ));
            }
        }

        // KPA figures of different cost bases cannot be compared: refuse the mix.
        let mut first_basis: Option<(&str, CostBasis)> = None;
        for (i, s) in f
            .sources
            .iter()
            .enumerate()
            .filter(|(_, s)| s.format.is_kpa())
        {
            let Some(basis) = s.cost_basis else { continue };
            match first_basis {
                None => first_basis = Some((&s.id, basis)),
                Some((other, b)) if b != basis => {
                    return Err(at(
                        format!("sources.{i}.cost_basis"),
                        format!(
                            "source `{}` reports {}, but source `{other}` reports {}: cost-per-client \
                             figures on different cost bases cannot be compared",
                            s.id,
                            basis.describe(),
                            b.describe()
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        if let Some(kpa) = &f.kpa {
            if let Some(p) = &kpa.population
                && !datasets.contains(p.dataset.as_str())
            {
                return Err(at(
                    "kpa.population.dataset".into(),
                    format!(
                        "`kpa.population`: no source provides dataset `{}`",
                        p.dataset
                    ),
                ));
            }
            if let Some(n) = &kpa.need_index
                && !datasets.contains(n.dataset.as_str())
            {
                return Err(at(
                    "kpa.need_index.dataset".into(),
                    format!(
                        "`kpa.need_index`: no source provides dataset `{}`",
                        n.dataset
                    ),
                ));
            }
            if let Some((class, ages)) = kpa.target_groups.iter().find(|(_, a)| {
                !matches!(a.as_slice(), [_] | [_, _]) || (a.len() == 2 && a[1] < a[0])
            }) {
                return Err(at(
                    format!("kpa.target_groups.{class}"),
                    format!("`kpa.target_groups.{class}` is {ages:?}: use [from, to] or [from]"),
                ));
            }
        }
        let mut survey_ids = BTreeSet::new();
        for (i, sv) in f.surveys.iter().enumerate() {
            let id = &sv.id;
            if !survey_ids.insert(id.as_str()) {
                return Err(at(
                    format!("surveys.{i}.id"),
                    format!("survey id `{id}` is used twice"),
                ));
            }
            if crate::model::regions::Level::of_code(&sv.region).is_none() {
                return Err(at(
                    format!("surveys.{i}.region"),
                    format!(
                        "survey `{id}`: `{}` is not a region code (e.g. `HVA12`)",
                        sv.region
                    ),
                ));
            }
            if let Some(other) = f.surveys[..i]
                .iter()
                .find(|o| o.region == sv.region && o.round == sv.round)
            {
                return Err(at(
                    format!("surveys.{i}.round"),
                    format!(
                        "survey `{id}` is a second survey of {} in round {} (survey `{}` is the \
                         first): one file per region and round, or its respondents would count twice",
                        sv.region, sv.round, other.id
                    ),
                ));
            }
            if !(1..=2).contains(&sv.header_rows) {
                return Err(at(
                    format!("surveys.{i}.header_rows"),
                    format!("survey `{id}`: `header_rows` is 1 or 2"),
                ));
            }
        }
        for (i, r) in f.roadmaps.iter().enumerate() {
            let id = &r.id;
            let ok = matches!(
                (&r.path, &r.actions, &r.milestones),
                (Some(_), None, None) | (None, Some(_), Some(_))
            );
            if !ok {
                return Err(at(
                    format!("roadmaps.{i}.id"),
                    format!(
                        "roadmap `{id}` needs `path` (an .xlsx workbook) or both `actions` and `milestones` (CSV)"
                    ),
                ));
            }
            if crate::model::regions::Level::of_code(&r.region).is_none() {
                return Err(at(
                    format!("roadmaps.{i}.region"),
                    format!("roadmap `{id}`: `{}` is not a region code", r.region),
                ));
            }
        }
        let mut indicator_ids = BTreeSet::new();
        for (i, ind) in f.indicators.iter().enumerate() {
            let id = &ind.id;
            if !indicator_ids.insert(id.as_str()) {
                return Err(at(
                    format!("indicators.{i}.id"),
                    format!("indicator id `{id}` is used twice"),
                ));
            }
            check_indicator(ind, &format!("indicators.{i}"), Some(&datasets), &at)?;
        }
        if let Some(pop) = &f.population {
            check_population(pop, &datasets, &at)?;
        }
        let mut names = BTreeSet::new();
        for (i, c) in f.crosschecks.iter().enumerate() {
            let name = &c.name;
            if !names.insert(name.as_str()) {
                return Err(at(
                    format!("crosschecks.{i}.name"),
                    format!("cross-check `{name}` is defined twice"),
                ));
            }
            for (side, r) in [("computed", &c.computed), ("published", &c.published)] {
                if !datasets.contains(r.dataset.as_str()) {
                    return Err(at(
                        format!("crosschecks.{i}.{side}.dataset"),
                        format!(
                            "cross-check `{name}`: no source provides dataset `{}`",
                            r.dataset
                        ),
                    ));
                }
            }
            if !c.tolerance.is_finite() || c.tolerance < 0.0 {
                return Err(at(
                    format!("crosschecks.{i}.tolerance"),
                    format!("cross-check `{name}`: `tolerance` must be 0 or more"),
                ));
            }
        }
        let source_ids: BTreeSet<&str> = f.sources.iter().map(|s| s.id.as_str()).collect();
        if let Some(l) = &f.lineage
            && l.file.is_some() == l.url.is_some()
        {
            return Err(at(
                "lineage".into(),
                "`[lineage]` takes `file` (a path for the events, a line each) or `url` (an endpoint to post them to), one of the two".into(),
            ));
        }
        if let Some(r) = &f.report {
            if r.languages.is_empty() {
                return Err(at(
                    "report.languages".into(),
                    "`report.languages` is empty: name at least one of fi, sv, en".into(),
                ));
            }
            for (i, lang) in r.languages.iter().enumerate() {
                if !["fi", "sv", "en"].contains(&lang.as_str()) {
                    return Err(at(
                        format!("report.languages.{i}"),
                        format!("report language `{lang}`: use fi, sv or en"),
                    ));
                }
            }
        }
        let mut check_names = BTreeSet::new();
        for (i, c) in f.checks.iter().enumerate() {
            let name = &c.name;
            if !check_names.insert(name.as_str()) {
                return Err(at(
                    format!("checks.{i}.name"),
                    format!("check `{name}` is defined twice"),
                ));
            }
            c.validate(&source_ids)
                .map_err(|(field, m)| at(format!("checks.{i}.{field}"), m))?;
        }
        Ok(())
    }
}

/// An indicator's own rules: datasets provided (when `datasets` is given), sexes, the
/// aggregation rule's measures, a positive scale.
fn check_indicator(
    ind: &IndicatorConfig,
    key: &str,
    datasets: Option<&BTreeSet<&str>>,
    at: &dyn Fn(String, String) -> ConfigError,
) -> Result<(), ConfigError> {
    let id = &ind.id;
    let published = match &ind.published {
        crate::model::config::Published::Measure(r) => Some(r),
        crate::model::config::Published::Rule(_) => None,
    };
    let price_index = ind
        .real_terms
        .as_ref()
        .map(crate::model::config::RealTerms::index);
    let refs = [
        ("numerator", Some(&ind.numerator)),
        ("denominator", ind.denominator.as_ref()),
        ("weight", ind.weight.as_ref()),
        ("published", published),
        ("real_terms", price_index.as_ref()),
    ];
    if ind.real_terms.is_some() && ind.aggregation == Aggregation::Index {
        return Err(at(
            format!("{key}.real_terms"),
            format!(
                "indicator `{id}`: an `index` is not money; `real_terms` is for count, ratio and mean"
            ),
        ));
    }
    let tolerance = ind.reconcile.tolerance;
    if !(tolerance.is_finite() && tolerance >= 0.0) {
        return Err(at(
            format!("{key}.reconcile.tolerance"),
            format!(
                "indicator `{id}`: a tolerance is a finite number of 0 or more, not {tolerance}"
            ),
        ));
    }
    for (role, r) in refs.into_iter().filter_map(|(role, r)| Some((role, r?))) {
        let ds = &r.dataset;
        if datasets.is_some_and(|d| !d.contains(ds.as_str())) {
            return Err(at(
                format!("{key}.{role}.dataset"),
                format!("indicator `{id}`: no source provides dataset `{ds}`"),
            ));
        }
        if !SEXES.contains(&r.sex.as_str()) {
            return Err(at(
                format!("{key}.{role}.sex"),
                format!(
                    "indicator `{id}`: sex `{}` is not total, male or female",
                    r.sex
                ),
            ));
        }
    }
    let rule = match (
        ind.aggregation,
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
            format!("{key}.aggregation"),
            format!("indicator `{id}`: {message}"),
        ));
    }
    if !ind.scale.is_finite() || ind.scale <= 0.0 {
        return Err(at(
            format!("{key}.scale"),
            format!("indicator `{id}`: `scale` must be a positive number"),
        ));
    }
    Ok(())
}

/// `[population]`: its datasets exist, its bands ascend without overlapping.
fn check_population(
    pop: &PopulationConfig,
    datasets: &BTreeSet<&str>,
    at: &dyn Fn(String, String) -> ConfigError,
) -> Result<(), ConfigError> {
    let datasets_named = std::iter::once(("population.dataset", &pop.dataset)).chain(
        pop.projection
            .as_ref()
            .map(|p| ("population.projection.dataset", &p.dataset)),
    );
    for (key, d) in datasets_named {
        if !datasets.contains(d.as_str()) {
            return Err(at(
                key.into(),
                format!("`population`: no source provides dataset `{d}`"),
            ));
        }
    }
    if !SEXES.contains(&pop.sex.as_str()) {
        return Err(at(
            "population.sex".into(),
            format!(
                "`population.sex` is `{}`; use total, male or female",
                pop.sex
            ),
        ));
    }
    let bands = &pop.bands;
    let mut next = 0u16;
    for (i, b) in bands.iter().enumerate() {
        let ok = match b.as_slice() {
            [from, to] => *from >= next && to >= from,
            [from] => *from >= next && i + 1 == bands.len(),
            _ => false,
        };
        if !ok {
            return Err(at(
                format!("population.bands.{i}"),
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
        return Err(at(
            "population.bands".into(),
            "`population.bands` is empty".to_owned(),
        ));
    }
    Ok(())
}

/// A pipeline or catalogue file's text (a regular file only, see [`crate::io::open_regular`]).
fn read_text(path: &Path) -> std::io::Result<String> {
    String::from_utf8(crate::io::read_regular(path)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
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

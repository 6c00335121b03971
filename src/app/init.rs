//! `mittari init --county CODE [--peers CODES] [DIR]`: a starting pipeline for one wellbeing
//! services county, so that an analyst does not begin by editing 470 lines by hand.
//!
//! The sources are those of the maintained live pipeline `pipelines/etela-savo.toml` (Sotkanet's
//! indicators of the catalogue and StatFin's 11re selected by role, as both answer today),
//! compiled into the binary with the catalogue. What differs per county is rendered from a small
//! template with minijinja (a template engine already in the build for the report, with no
//! build step): the header, the focus and peers, checks that suit an unattended run (population
//! present for the county, coverage of the focus regions, a recent latest year) and CSV twins in
//! the `excel-fi` dialect. The file is checked as `validate` checks it before it is written.

use std::path::PathBuf;

use crate::error::{ConfigError, Error, InternalError};
use crate::model::regions::{Level, Registry};

/// The maintained live pipeline the sources come from.
const LIVE: &str = include_str!("../../pipelines/etela-savo.toml");
/// The indicator catalogue it derives.
const CATALOGUE: &str = include_str!("../../pipelines/catalogue.toml");

/// The parts of the pipeline that depend on the county.
const TEMPLATE: &str = r#"#:schema ./pipeline.schema.json
# {{ name }} ({{ county }}){% if peers %} compared with {{ peer_names }}{% endif %} and with the whole country
#
# Written by `mittari init --county {{ county }}{% if peers %} --peers {{ peers | join(",") }}{% endif %}`. Live pipeline: fetches from THL
# Sotkanet and Statistics Finland StatFin. `mittari validate` checks it and prints every request
# without touching the network; `mittari run` fetches (archiving every payload); `mittari run
# --offline` replays the archive. Set `http.contact` (or MITTARI_CONTACT) before the first run.

[pipeline]
name = "{{ slug }}"
description = "{{ name }}{% if peers %} compared with {{ peer_names }}{% endif %} and with the whole country: service use, costs and population structure"
reference_year = {{ reference_year }}
years = [{{ years | join(", ") }}]

[regions]
focus = [{% for c in focus %}"{{ c }}"{% if not loop.last %}, {% endif %}{% endfor %}]
{{ sources }}
[comparison]
peers = [{% for c in focus %}"{{ c }}"{% if not loop.last %}, {% endif %}{% endfor %}]
need_indicator = "national_health_index"

# Checks for an unattended run: the county's population is there, every focus region has the
# population figure of the latest year, and the newest year is recent.
[[checks]]
name = "population_present"
kind = "not_null"
table = "indicators"
columns = ["value"]
where = { indicator = "population_31_12", region = "{{ county }}" }

[[checks]]
name = "population_covers_focus_regions"
kind = "coverage"
table = "indicators"
where = { indicator = "population_31_12" }
regions = "focus"
years = [{{ latest_year }}]
severity = "warn"

[[checks]]
name = "latest_year_recent"
kind = "freshness"
table = "indicators"
column = "year"
max_age_years = 3
severity = "warn"

# The report for decision makers: a profile page of the county (report/{{ county }}.fi.html) and
# a workbook.
[report]
languages = ["fi"]

[output]
dir = "out"
csv = true
csv_dialect = "excel-fi"
"#;

/// What to write.
#[derive(Debug, Clone)]
pub struct InitRequest {
    /// The county (`HVA12`).
    pub county: String,
    /// Counties to compare it with.
    pub peers: Vec<String>,
    /// The folder to write into.
    pub dir: PathBuf,
    /// Overwrite a pipeline file already there.
    pub force: bool,
}

/// Writes the pipeline (and the catalogue beside it, unless one is there) and returns the
/// pipeline's path.
pub fn init(req: &InitRequest) -> Result<PathBuf, Error> {
    let registry = Registry::builtin()?;
    let county_name = |code: &str| -> Result<String, Error> {
        match registry.get(code) {
            Some(r) if r.level == Level::WellbeingCounty => Ok(r.name_fi.clone()),
            _ => Err(usage(format!(
                "`{code}` is not a wellbeing services county of the registry (codes look like \
                 `HVA12`; `HVA90` is Helsinki)"
            ))),
        }
    };
    let name = county_name(&req.county)?;
    let peer_names = req
        .peers
        .iter()
        .map(|p| county_name(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut focus = vec![req.county.clone()];
    focus.extend(req.peers.iter().filter(|p| **p != req.county).cloned());
    let text = render(&req.county, &name, &focus, &req.peers, &peer_names)?;

    let slug = slug(&name);
    let path = req.dir.join(format!("{slug}.toml"));
    if path.exists() && !req.force {
        return Err(usage(format!(
            "`{}` exists; give --force to overwrite it",
            path.display()
        )));
    }
    crate::io::atomic::create_dir(&req.dir, false)?;
    let catalogue = req.dir.join("catalogue.toml");
    if !catalogue.exists() {
        crate::io::atomic::write_atomic(&catalogue, CATALOGUE.as_bytes())?;
    }
    // The JSON Schema the pipeline's first line names, for editors (`mittari schema` prints it).
    let schema = serde_json::to_vec_pretty(&crate::model::config::json_schema())
        .map_err(|e| InternalError::Invariant(format!("the pipeline schema: {e}")))?;
    crate::io::atomic::write_atomic(&req.dir.join("pipeline.schema.json"), &schema)?;
    // Checked as `validate` checks a pipeline, before it is written where a scheduler may read it.
    let checked = crate::model::config::Pipeline::parse(&path, &text);
    if let Err(e) = checked {
        return Err(
            InternalError::Invariant(format!("the written pipeline does not load: {e}")).into(),
        );
    }
    crate::io::atomic::write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// A usage error (exit 2).
fn usage(message: String) -> Error {
    ConfigError::Usage { message }.into()
}

/// The pipeline's text for `county`.
fn render(
    county: &str,
    name: &str,
    focus: &[String],
    peers: &[String],
    peer_names: &[String],
) -> Result<String, Error> {
    // The live pipeline's years and reference year (its catalogue is not on disk here).
    let live: toml::Table = toml::from_str(LIVE)
        .map_err(|e| InternalError::Invariant(format!("the built-in live pipeline: {e}")))?;
    let meta = &live["pipeline"];
    let years: Vec<i64> = meta["years"]
        .as_array()
        .map(|y| y.iter().filter_map(toml::Value::as_integer).collect())
        .unwrap_or_default();
    let reference_year = meta["reference_year"].as_integer().unwrap_or_default();
    let sources = sources_section(LIVE)?;
    let mut env = minijinja::Environment::new();
    env.add_template("pipeline", TEMPLATE)
        .map_err(|e| InternalError::Invariant(format!("the init template: {e}")))?;
    let peer_names = match peer_names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    };
    let text = env
        .get_template("pipeline")
        .and_then(|t| {
            t.render(minijinja::context! {
                county,
                name,
                slug => slug(name),
                focus => focus.to_vec(),
                peers => peers.to_vec(),
                peer_names,
                reference_year,
                latest_year => years.iter().max().copied().unwrap_or_default(),
                years,
                sources,
            })
        })
        .map_err(|e| InternalError::Invariant(format!("rendering the init template: {e}")))?;
    Ok(text)
}

/// The live pipeline from `[http]` up to its `[comparison]`: the APIs, every source, the
/// catalogue, the population structure and the cross-check.
fn sources_section(live: &str) -> Result<String, Error> {
    let start = live.find("\n[http]");
    let end = live.find("\n# Peers and the need index");
    match (start, end) {
        (Some(s), Some(e)) if s < e => Ok(live[s..e].to_owned()),
        _ => Err(InternalError::Invariant(
            "the built-in live pipeline has no `[http]` ... `[comparison]` section".into(),
        )
        .into()),
    }
}

/// A file name from a county's name: `Etelä-Savon hyvinvointialue` -> `etela-savo`.
fn slug(name: &str) -> String {
    let base = name
        .trim_end_matches(" hyvinvointialue")
        .trim_end_matches('n')
        .to_lowercase();
    let mut out = String::new();
    for c in base.chars() {
        match c {
            'ä' | 'å' => out.push('a'),
            'ö' => out.push('o'),
            c if c.is_ascii_alphanumeric() => out.push(c),
            _ if !out.ends_with('-') => out.push('-'),
            _ => {}
        }
    }
    out.trim_matches('-').to_owned()
}

//! Who produced the figures a run publishes, and through whom they came: the attribution each
//! output names (Parquet key `mittari.attribution`, the manifest's `attribution`).
//!
//! The producer of a source is, in order: the organisation Sotkanet's indicator metadata names
//! (THL distributes many indicators produced by others — Statistics Finland, Kela — and its terms
//! ask for an agreement with the producer for some uses of them), the `source` a JSON-stat
//! dataset states, or the API it came from (THL for Sotkanet and THL's cubes, Statistics Finland
//! for `stat.fi`). A local file without such a statement is credited to the pipeline's file. The
//! tables of indicators (`indicators`, `reconciliation`, `comparisons`, `region_profile`,
//! `indicator_catalogue`) name the producers of the datasets their indicators read;
//! `observations` names every producer.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::app::manifest::{Credit, InputRecord};
use crate::model::config::{ApiKind, Pipeline, Published, SourceConfig};

/// The credits of a run's inputs, one per producer and channel.
pub(crate) fn credits(p: &Pipeline, inputs: &[InputRecord]) -> Vec<Credit> {
    let mut by: BTreeMap<(String, String, bool), BTreeSet<String>> = BTreeMap::new();
    for input in inputs {
        let Some(dataset) = &input.dataset else {
            continue;
        };
        let source = p.file.sources.iter().find(|s| s.id == input.source);
        let (producer, via, third_party) = producer_of(p, source, input);
        by.entry((producer, via, third_party))
            .or_default()
            .insert(dataset.clone());
    }
    by.into_iter()
        .map(|((producer, via, third_party), datasets)| Credit {
            note: third_party.then(|| crate::app::indicators::PRODUCER_NOTE.to_owned()),
            producer,
            via,
            datasets: datasets.into_iter().collect(),
            third_party,
        })
        .collect()
}

/// (producer, via, third party) of one input.
fn producer_of(
    p: &Pipeline,
    source: Option<&SourceConfig>,
    input: &InputRecord,
) -> (String, String, bool) {
    let api = source
        .and_then(|s| s.fetch.as_ref())
        .and_then(|f| p.file.apis.get(&f.api));
    let sotkanet =
        api.is_some_and(|a| a.kind == ApiKind::Sotkanet) || input.format.starts_with("sotkanet");
    let via = match api {
        Some(a) if a.kind == ApiKind::Sotkanet => format!("THL Sotkanet ({})", host(&a.url)),
        Some(a) if a.kind == ApiKind::ThlCube => {
            format!("THL statistical cubes ({})", host(&a.url))
        }
        Some(a) => host(&a.url),
        None if sotkanet => "THL Sotkanet (https://sotkanet.fi), from a file".to_owned(),
        None => format!("the pipeline's file ({})", input.source),
    };
    if let Some((name, thl)) = organisation(input) {
        return (name, via, sotkanet && !thl);
    }
    if let Some(stated) = input.datasets.iter().find_map(|d| d.source.clone()) {
        return (stated, via, false);
    }
    let producer = match api {
        _ if sotkanet => "THL".to_owned(),
        Some(a) if a.kind == ApiKind::ThlCube => "THL".to_owned(),
        Some(a) if a.url.contains("stat.fi") => "Statistics Finland".to_owned(),
        Some(a) => host(&a.url),
        None => format!("the pipeline's file ({})", input.source),
    };
    (producer, via, false)
}

/// The organisation Sotkanet's indicator metadata names as the producer (Finnish name, else
/// English), and whether it is THL.
pub(crate) fn organisation(input: &InputRecord) -> Option<(String, bool)> {
    let title = &input.metadata.as_ref()?["organization"]["title"];
    let name = title["fi"]
        .as_str()
        .or_else(|| title["en"].as_str())
        .filter(|n| !n.is_empty())?
        .to_owned();
    let thl = title
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, t)| t.as_str())
        .any(crate::app::indicators::names_thl);
    Some((name, thl))
}

/// `scheme://host` of a URL.
fn host(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let host = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{host}")
}

/// The datasets a run's indicators read (every measure of every indicator, and the population
/// structure's).
fn indicator_datasets(p: &Pipeline) -> BTreeSet<&str> {
    let mut out = BTreeSet::new();
    for ind in &p.file.indicators {
        out.insert(ind.numerator.dataset.as_str());
        out.extend(ind.denominator.iter().map(|m| m.dataset.as_str()));
        out.extend(ind.weight.iter().map(|m| m.dataset.as_str()));
        if let Published::Measure(m) = &ind.published {
            out.insert(m.dataset.as_str());
        }
        out.extend(ind.real_terms.iter().map(|r| r.dataset.as_str()));
    }
    out.extend(p.file.population.iter().map(|pop| pop.dataset.as_str()));
    out
}

/// One line naming the credits.
pub fn text(credits: &[&Credit]) -> String {
    credits
        .iter()
        .map(|c| {
            let mut line = format!("{}, via {}: {}", c.producer, c.via, c.datasets.join(", "));
            if let Some(note) = &c.note {
                let _ = write!(line, " ({note})");
            }
            line
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The attribution of each table that carries figures of the run's sources, by table.
pub(crate) fn by_table(p: &Pipeline, credits: &[Credit]) -> BTreeMap<String, String> {
    let used = indicator_datasets(p);
    let of_indicators: Vec<&Credit> = credits
        .iter()
        .filter(|c| c.datasets.iter().any(|d| used.contains(d.as_str())))
        .collect();
    let all: Vec<&Credit> = credits.iter().collect();
    let mut out = BTreeMap::new();
    if !all.is_empty() {
        out.insert("observations".to_owned(), text(&all));
    }
    if !of_indicators.is_empty() {
        for table in [
            "indicators",
            "reconciliation",
            "comparisons",
            "region_profile",
            "indicator_catalogue",
        ] {
            out.insert(table.to_owned(), text(&of_indicators));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_text() {
        assert_eq!(host("https://sotkanet.fi/rest/1.1"), "https://sotkanet.fi");
        assert_eq!(host("http://127.0.0.1:8080/x"), "http://127.0.0.1:8080");
        let c = Credit {
            producer: "Tilastokeskus".into(),
            via: "THL Sotkanet (https://sotkanet.fi)".into(),
            datasets: vec!["sotkanet:127".into(), "sotkanet:171".into()],
            third_party: true,
            note: Some("n".into()),
        };
        assert_eq!(
            text(&[&c]),
            "Tilastokeskus, via THL Sotkanet (https://sotkanet.fi): sotkanet:127, sotkanet:171 (n)"
        );
    }
}

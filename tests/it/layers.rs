//! The architecture, held by a test: the top-level modules of `src/` are layers and every
//! `crate::` path points down or sideways within its layer, never up; the stages import only the
//! stages before them; no two modules of one layer (or two submodules of `app`) import each other
//! through any chain.
//!
//! The test reads the sources as text: every `use crate::...` (with its braces expanded) and
//! every other `crate::...` path outside comments and string literals counts as an import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::common::repo;

/// The layers, from the top. A module may import its own layer and the layers below it.
const LAYERS: [&[&str]; 8] = [
    &["cli"],
    &["app"],
    &["stages"],
    &["model"],
    &["http"],
    &["archive"],
    &["io"],
    &["error", "env_vars"],
];

/// The stages in the order data flows through them.
const STAGES: [&str; 7] = [
    "extract",
    "normalize",
    "conform",
    "derive",
    "assess",
    "check",
    "publish",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a source file (`src/stages/derive/kpa.rs` -> `stages::derive::kpa`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The text without comments and string literals (their contents could name any path).
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'r' && matches!(b.get(i + 1), Some(b'"' | b'#')) && !ident_before(b, i) {
            // A raw string: r"...", r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) == Some(&b'"') {
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                j += 1;
                while j < b.len() && !b[j..].starts_with(&close) {
                    j += 1;
                }
                i = j + close.len();
                out.push_str("\"\"");
            } else {
                out.push('r');
                i += 1;
            }
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && b.get(i + 2) == Some(&b'\'') {
            // A character literal such as '"' (lifetimes have no closing quote).
            i += 3;
        } else if b[i] == b'\'' && b.get(i + 1) == Some(&b'\\') {
            i += 2;
            while i < b.len() && b[i] != b'\'' {
                i += 1;
            }
            i += 1;
        } else {
            let len = text[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&text[i..i + len]);
            i += len;
        }
    }
    out
}

fn ident_before(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

/// Every path a `use crate::{...}` tree names, braces expanded.
fn expand(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if tree.is_empty() {
        return;
    }
    if let Some(inner) = tree.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        let (mut depth, mut start) = (0, 0);
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(prefix, &inner[start..i], out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(prefix, &inner[start..], out);
        return;
    }
    if let Some(at) = tree.find("::{") {
        let mut p = prefix.to_vec();
        p.extend(tree[..at].split("::").map(|s| s.trim().to_owned()));
        expand(&p, &tree[at + 2..], out);
        return;
    }
    let path = tree.split(" as ").next().unwrap_or(tree);
    let mut p = prefix.to_vec();
    p.extend(path.split("::").map(|s| s.trim().to_owned()));
    out.push(p);
}

/// Every `crate::` path of a file.
fn imports(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let use_tree = regex::Regex::new(r"\buse\s+crate::([^;]*);").unwrap();
    for m in use_tree.captures_iter(code) {
        expand(&[], &m[1], &mut out);
    }
    let rest = use_tree.replace_all(code, "");
    let path = regex::Regex::new(r"\bcrate::([A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)")
        .unwrap();
    for m in path.captures_iter(&rest) {
        out.push(m[1].split("::").map(str::to_owned).collect());
    }
    out
}

fn layer_of(top: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&top))
}

/// Edges between modules, at the depth given: `(from, to) -> a file that has it`.
type Edges = BTreeMap<(String, String), String>;

fn edges(depth: usize) -> Edges {
    let src = repo().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut out = Edges::new();
    for file in files {
        let module = module_of(&src, &file);
        if module.first().is_some_and(|m| m == "lib" || m == "main") {
            continue;
        }
        let code = code_only(&std::fs::read_to_string(&file).unwrap());
        for target in imports(&code) {
            if target.len() < depth || module.len() < depth {
                continue;
            }
            let (from, to) = (module[..depth].join("::"), target[..depth].join("::"));
            if from != to {
                out.entry((from, to))
                    .or_insert_with(|| file.strip_prefix(&src).unwrap().display().to_string());
            }
        }
    }
    out
}

/// A cycle among `nodes` through `edges`, if there is one.
fn cycle(edges: &Edges, nodes: &BTreeSet<String>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &Edges,
        nodes: &BTreeSet<String>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|s| s == n) {
            let mut c = stack[at..].to_vec();
            c.push(n.to_owned());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_owned());
        for (from, to) in edges.keys() {
            if from == n
                && nodes.contains(to)
                && let Some(c) = visit(to, edges, nodes, stack, done)
            {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    nodes
        .iter()
        .find_map(|n| visit(n, edges, nodes, &mut Vec::new(), &mut done))
}

#[test]
fn every_top_level_module_is_in_a_layer() {
    let mut tops = BTreeSet::new();
    for entry in std::fs::read_dir(repo().join("src")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let name = name.strip_suffix(".rs").unwrap_or(&name).to_owned();
        if name != "lib" && name != "main" {
            tops.insert(name);
        }
    }
    let unplaced: Vec<&String> = tops.iter().filter(|t| layer_of(t).is_none()).collect();
    assert!(unplaced.is_empty(), "modules in no layer: {unplaced:?}");
}

#[test]
fn imports_point_down_the_layers() {
    let violations: Vec<String> = edges(1)
        .iter()
        .filter(|((from, to), _)| match (layer_of(from), layer_of(to)) {
            (Some(f), Some(t)) => t < f,
            _ => true,
        })
        .map(|((from, to), file)| format!("{from} -> {to} (in src/{file})"))
        .collect();
    assert!(
        violations.is_empty(),
        "imports pointing up: {violations:#?}"
    );
}

#[test]
fn no_cycle_between_top_level_modules() {
    let all = edges(1);
    let nodes: BTreeSet<String> = all
        .keys()
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();
    assert_eq!(cycle(&all, &nodes), None);
}

#[test]
fn stages_import_only_earlier_stages() {
    let stage = |m: &str| {
        m.strip_prefix("stages::")
            .and_then(|s| STAGES.iter().position(|x| *x == s))
    };
    let violations: Vec<String> = edges(2)
        .iter()
        .filter(|((from, to), _)| {
            let Some(f) = stage(from) else {
                return false;
            };
            to.starts_with("app") || to.starts_with("cli") || stage(to).is_some_and(|t| t > f)
        })
        .map(|((from, to), file)| format!("{from} -> {to} (in src/{file})"))
        .collect();
    assert!(
        violations.is_empty(),
        "a stage imports a later one: {violations:#?}"
    );
}

#[test]
fn no_cycle_between_modules_of_a_layer() {
    let all = edges(2);
    for top in ["app", "stages", "model", "http", "io"] {
        let nodes: BTreeSet<String> = all
            .keys()
            .flat_map(|(a, b)| [a.clone(), b.clone()])
            .filter(|n| n.starts_with(&format!("{top}::")))
            .collect();
        assert_eq!(cycle(&all, &nodes), None, "a cycle inside `{top}`");
    }
}

/// The checker itself: an upward import, a cycle and a later stage are found in made-up code.
#[test]
fn the_checker_finds_what_it_looks_for() {
    let code = code_only(
        "// use crate::app::run;\nuse crate::{model::config::{self, Pipeline}, io::hash as h};\n\
         let s = \"crate::cli::x\"; fn f() { crate::stages::publish::go() }",
    );
    let found = imports(&code);
    assert_eq!(
        found,
        vec![
            vec!["model", "config", "self"],
            vec!["model", "config", "Pipeline"],
            vec!["io", "hash"],
            vec!["stages", "publish", "go"],
        ]
    );
    assert!(layer_of("model") > layer_of("stages"));
    let mut e = Edges::new();
    e.insert(("app::a".into(), "app::b".into()), String::new());
    e.insert(("app::b".into(), "app::a".into()), String::new());
    let nodes = ["app::a".to_owned(), "app::b".to_owned()].into();
    assert!(cycle(&e, &nodes).is_some());
}

/// No source file is over 1,000 lines: a file that grows past that holds more than one idea.
#[test]
fn no_source_file_over_a_thousand_lines() {
    let mut files = Vec::new();
    rust_files(&repo().join("src"), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > 1000).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "{long:?}");
}

/// TOML spans stay in the configuration layer: it turns the file into plain, validated types,
/// and no other module (stage, application or edge) sees a `Spanned` value; an error about a
/// value found after loading names it by key path through `Pipeline::error_at_key`.
#[test]
fn toml_spans_stay_in_the_configuration_layer() {
    let src = repo().join("src");
    let config = src.join("model").join("config");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let offending: Vec<String> = files
        .iter()
        .filter(|f| !f.starts_with(&config))
        .filter(|f| {
            let code = code_only(&std::fs::read_to_string(f).unwrap());
            code.contains("Spanned") || code.contains(".get_ref()") || code.contains(".span()")
        })
        .map(|f| f.strip_prefix(&src).unwrap().display().to_string())
        .collect();
    assert!(
        offending.is_empty(),
        "modules reading TOML spans outside model/config: {offending:?}"
    );
}

/// One path per input format: every decoder of observations writes into an `ObservationSink`
/// (the `/regions` decoder reads a lookup table, not observations), and nothing in the
/// normalize stage hands rows back as a vector of row structs.
#[test]
fn decoders_write_into_one_sink() {
    let dir = repo().join("src/stages/normalize");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let mut decoders = 0;
    for f in &files {
        let code = code_only(&std::fs::read_to_string(f).unwrap());
        let code = code.split("#[cfg(test)]").next().unwrap_or_default();
        for (at, _) in code.match_indices("pub fn decode") {
            let signature = &code[at..at + code[at..].find('{').unwrap()];
            if signature.starts_with("pub fn decode_regions") {
                continue;
            }
            decoders += 1;
            assert!(
                signature.contains("ObservationSink"),
                "{}: {signature}",
                f.display()
            );
        }
        assert!(
            !code.contains("Vec<RawObservation>"),
            "{}: rows handed back as row structs",
            f.display()
        );
    }
    assert!(decoders >= 5, "found {decoders} decoders");
}

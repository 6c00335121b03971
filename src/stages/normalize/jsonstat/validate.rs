//! JSON-stat validation, with the rule codes of the JSON-stat validator (jsonstat/validator,
//! `rules-manifest.json`): every finding names its rule and a JSON pointer.
//!
//! Error rules make a dataset unusable; warning rules (`METRIC_UNIT_MISSING`,
//! `BUNDLE_DEPRECATED`) are reported and decoding goes on. A dataset without errors comes out
//! [`Resolved`]: its dimensions in `id` order with category ids by position, ready for cells.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{Category, Form, Index, RawDataset, Role, Status, Unit, ValueSummary, escape};

/// One validation finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Rule code, e.g. `VALUE_LEN_MISMATCH`.
    pub code: &'static str,
    /// Whether it makes the dataset unusable.
    pub error: bool,
    /// JSON pointer of the offending part.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

/// A dimension ready for decoding.
#[derive(Debug, Clone)]
pub struct ResolvedDimension {
    /// Dimension id.
    pub id: String,
    /// Category ids by position.
    pub categories: Vec<String>,
    /// Units by category id.
    pub units: BTreeMap<String, Unit>,
}

/// A dataset that passed validation.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Where it is in the document.
    pub pointer: String,
    /// Dimensions in `id` order.
    pub dims: Vec<ResolvedDimension>,
    /// Number of cells (product of sizes).
    pub total: usize,
    /// `role`.
    pub role: Role,
    /// `status`.
    pub status: Option<Status>,
    /// Whether `value` is sparse.
    pub sparse: bool,
    /// Status code -> meaning.
    pub descriptions: BTreeMap<String, String>,
    /// `label`.
    pub label: Option<String>,
    /// `source`.
    pub source: Option<String>,
    /// `updated`, verbatim.
    pub updated: Option<String>,
    /// Dataset, dimension and category notes, prefixed with where they belong.
    pub notes: Vec<String>,
}

struct Checker {
    findings: Vec<Finding>,
}

impl Checker {
    fn error(&mut self, code: &'static str, pointer: String, message: String) {
        self.findings.push(Finding {
            code,
            error: true,
            pointer,
            message,
        });
    }

    fn warn(&mut self, code: &'static str, pointer: String, message: String) {
        self.findings.push(Finding {
            code,
            error: false,
            pointer,
            message,
        });
    }
}

/// Checks the document form itself (rules that are not about one dataset).
pub fn check_document(form: Form, version: Option<&str>) -> Vec<Finding> {
    let mut c = Checker {
        findings: Vec::new(),
    };
    if form == Form::Bundle && version.is_some_and(|v| v.starts_with('2')) {
        c.warn(
            "BUNDLE_DEPRECATED",
            "/".to_owned(),
            "a bundle of named datasets is deprecated in JSON-stat 2.0; use a collection"
                .to_owned(),
        );
    }
    c.findings
}

/// Validates one dataset; returns it resolved when it has no error findings. The resolved dataset
/// takes the status out of `ds` (a status object can list a status for most of millions of cells:
/// it is held once).
#[allow(clippy::too_many_lines)] // One rule after another, in the validator's order.
pub fn check(pointer: &str, ds: &mut RawDataset) -> (Option<Resolved>, Vec<Finding>) {
    let mut c = Checker {
        findings: Vec::new(),
    };
    let p = pointer;
    let dims_obj = ds.dimension.clone().unwrap_or_default();
    // 2.0 keeps id/size/role at the dataset level; 1.x inside `dimension`.
    let id = match (&ds.id, &dims_obj.id) {
        (Some(id), _) | (None, Some(id)) => id.clone(),
        (None, None) => {
            c.error(
                "ID_MISSING",
                format!("{p}/id"),
                "`id` is missing".to_owned(),
            );
            Vec::new()
        }
    };
    let (size, size_ptr) = match (&ds.size, &dims_obj.size) {
        (Some(s), _) => (s.clone(), format!("{p}/size")),
        (None, Some(s)) => (s.clone(), format!("{p}/dimension/size")),
        (None, None) => {
            c.error(
                "SIZE_MISSING",
                format!("{p}/size"),
                "`size` is missing".to_owned(),
            );
            (Vec::new(), format!("{p}/size"))
        }
    };
    let role = ds
        .role
        .clone()
        .or_else(|| dims_obj.role.clone())
        .unwrap_or_default();
    let mut sizes = Vec::with_capacity(size.len());
    for (i, s) in size.iter().enumerate() {
        match s.0 {
            Some(n) => sizes.push(n),
            None => c.error(
                "SIZE_INVALID",
                format!("{size_ptr}/{i}"),
                "a size must be a non-negative integer".to_owned(),
            ),
        }
    }
    let lengths_agree = id.len() == size.len();
    if !lengths_agree {
        c.error(
            "ID_SIZE_LEN_MISMATCH",
            size_ptr.clone(),
            format!(
                "`id` has {} dimensions but `size` has {}",
                id.len(),
                size.len()
            ),
        );
    }
    let dim_keys: BTreeSet<&str> = dims_obj.dims.iter().map(|(k, _)| k.as_str()).collect();
    let id_keys: BTreeSet<&str> = id.iter().map(String::as_str).collect();
    if dim_keys != id_keys {
        let missing: Vec<_> = id_keys.difference(&dim_keys).copied().collect();
        let extra: Vec<_> = dim_keys.difference(&id_keys).copied().collect();
        c.error(
            "DIM_KEY_ID_MISMATCH",
            format!("{p}/dimension"),
            format!(
                "the keys of `dimension` differ from `id` (missing: [{}]; not in `id`: [{}])",
                missing.join(", "),
                extra.join(", ")
            ),
        );
    }
    for (r, ids) in &role.0 {
        for (i, d) in ids.iter().enumerate() {
            if !id_keys.contains(d.as_str()) {
                c.error(
                    "ROLE_ID_UNKNOWN",
                    format!("{p}/role/{r}/{i}"),
                    format!("role `{r}` names `{d}`, which is not in `id`"),
                );
            }
        }
    }

    let mut dims = Vec::with_capacity(id.len());
    for (k, dim_id) in id.iter().enumerate() {
        let Some((_, dim)) = dims_obj.dims.iter().find(|(key, _)| key == dim_id) else {
            continue;
        };
        let dp = format!("{p}/dimension/{}/category", escape(dim_id));
        let Some(cat) = &dim.category else {
            c.error(
                "CATEGORY_MISSING",
                dp,
                format!("dimension `{dim_id}` has no `category`"),
            );
            continue;
        };
        let size_k = if lengths_agree {
            sizes.get(k).copied()
        } else {
            None
        };
        let categories = category_ids(&mut c, &dp, cat, size_k);
        let known: BTreeSet<&str> = categories.iter().map(String::as_str).collect();
        let keys_known = |c: &mut Checker,
                          code: &'static str,
                          what: &str,
                          keys: &mut dyn Iterator<Item = &String>| {
            for key in keys {
                if !known.contains(key.as_str()) {
                    c.error(
                        code,
                        format!("{dp}/{what}/{}", escape(key)),
                        format!("`{what}` names category `{key}`, which is not in the index"),
                    );
                }
            }
        };
        if let Some(l) = &cat.label {
            keys_known(&mut c, "LABEL_KEY_UNKNOWN", "label", &mut l.keys());
        }
        if let Some(u) = &cat.unit {
            keys_known(&mut c, "UNIT_KEY_UNKNOWN", "unit", &mut u.keys());
        }
        if let Some(n) = &cat.note {
            keys_known(&mut c, "NOTE_KEY_UNKNOWN", "note", &mut n.keys());
        }
        if let Some(co) = &cat.coordinates {
            keys_known(&mut c, "COORD_KEY_UNKNOWN", "coordinates", &mut co.keys());
        }
        if let Some(child) = &cat.child {
            for (parent, kids) in child {
                for (i, kid) in std::iter::once(parent).chain(kids).enumerate() {
                    if !known.contains(kid.as_str()) {
                        let at = if i == 0 {
                            format!("{dp}/child/{}", escape(parent))
                        } else {
                            format!("{dp}/child/{}/{}", escape(parent), i - 1)
                        };
                        c.error(
                            "CHILD_ID_UNKNOWN",
                            at,
                            format!("`child` names category `{kid}`, which is not in the index"),
                        );
                    }
                }
            }
            if let Some(node) = cycle(child) {
                c.error(
                    "CHILD_CYCLE",
                    format!("{dp}/child/{}", escape(&node)),
                    format!("the hierarchy in `child` has a cycle through `{node}`"),
                );
            }
        }
        if role.get("metric").contains(dim_id) {
            let units = cat.unit.as_ref();
            for cat_id in &categories {
                if !units.is_some_and(|u| u.contains_key(cat_id)) {
                    c.warn(
                        "METRIC_UNIT_MISSING",
                        format!("{dp}/unit"),
                        format!("metric category `{cat_id}` has no `unit`"),
                    );
                }
            }
        }
        dims.push(ResolvedDimension {
            id: dim_id.clone(),
            categories,
            units: cat.unit.clone().unwrap_or_default(),
        });
    }

    let total = if lengths_agree && sizes.len() == size.len() {
        sizes.iter().try_fold(1usize, |a, s| a.checked_mul(*s))
    } else {
        None
    };
    if lengths_agree && sizes.len() == size.len() && total.is_none() {
        c.error(
            "SIZE_OVERFLOW",
            size_ptr,
            "the product of `size` is too large".to_owned(),
        );
    }
    match (&ds.value, total) {
        (None, _) => c.error(
            "VALUE_MISSING",
            format!("{p}/value"),
            "`value` is missing".to_owned(),
        ),
        (Some(ValueSummary::Dense(n)), Some(t)) if *n != t => c.error(
            "VALUE_LEN_MISMATCH",
            format!("{p}/value"),
            format!("`value` has {n} cells but the product of `size` is {t}"),
        ),
        (
            Some(ValueSummary::Sparse {
                bad_key: Some(k), ..
            }),
            _,
        ) => c.error(
            "SPARSE_KEY_INVALID",
            format!("{p}/value/{}", escape(k)),
            format!("sparse key {k:?} is not a cell position"),
        ),
        (Some(ValueSummary::Sparse { max: Some(m), .. }), Some(t)) if *m >= t => c.error(
            "SPARSE_KEY_OUT_OF_RANGE",
            format!("{p}/value/{m}"),
            format!("cell position {m} is outside 0..{t}"),
        ),
        _ => {}
    }
    if let (Some(status), Some(t)) = (&ds.status, total) {
        match status {
            Status::Array(items) if items.len() != 1 && items.len() != t => c.error(
                "STATUS_LEN_MISMATCH",
                format!("{p}/status"),
                format!("`status` has {} items; expected 1 or {t}", items.len()),
            ),
            Status::Sparse(items) => {
                for (key, _) in items {
                    if key.parse::<usize>().map_or(true, |pos| pos >= t) {
                        c.error(
                            "STATUS_KEY_OUT_OF_RANGE",
                            format!("{p}/status/{}", escape(key)),
                            format!("status key {key:?} is not a position in 0..{t}"),
                        );
                    }
                }
            }
            _ => {}
        }
    }

    let has_errors = c.findings.iter().any(|f| f.error);
    let resolved = (!has_errors).then(|| Resolved {
        pointer: pointer.to_owned(),
        total: total.unwrap_or_default(),
        dims,
        role,
        status: ds.status.take(),
        sparse: matches!(ds.value, Some(ValueSummary::Sparse { .. })),
        descriptions: ds
            .extension
            .as_ref()
            .and_then(|e| e.missing_value_descriptions.clone())
            .unwrap_or_default(),
        label: ds.label.clone(),
        source: ds.source.clone(),
        updated: ds.updated.clone(),
        notes: notes(ds),
    });
    (resolved, c.findings)
}

/// Category ids by position, reporting index problems.
fn category_ids(c: &mut Checker, dp: &str, cat: &Category, size: Option<usize>) -> Vec<String> {
    let ids: Vec<String> = match &cat.index {
        Some(Index::Array(ids)) => ids.clone(),
        Some(Index::Object(pairs)) => {
            let mut slots: Vec<Option<String>> = vec![None; pairs.len()];
            let mut ok = true;
            for (id, pos) in pairs {
                match pos.0.and_then(|p| slots.get_mut(p)) {
                    Some(slot @ None) => *slot = Some(id.clone()),
                    _ => ok = false,
                }
            }
            if !ok {
                c.error(
                    "INDEX_POSITIONS_INVALID",
                    format!("{dp}/index"),
                    format!(
                        "`index` positions are not a permutation of 0..{}",
                        pairs.len()
                    ),
                );
                return pairs.iter().map(|(id, _)| id.clone()).collect();
            }
            slots.into_iter().flatten().collect()
        }
        None => {
            match &cat.label {
                // A one-category dimension may give only a label.
                Some(l) if l.len() == 1 => l.keys().cloned().collect(),
                _ => {
                    c.error("INDEX_MISSING", format!("{dp}/index"), "`index` may be left out only for a dimension with one category and a `label`".to_owned());
                    return Vec::new();
                }
            }
        }
    };
    if let Some(n) = size
        && ids.len() != n
    {
        c.error(
            "INDEX_COUNT_MISMATCH",
            format!("{dp}/index"),
            format!("`index` has {} categories but `size` says {n}", ids.len()),
        );
    }
    ids
}

/// A node on a cycle of the `child` hierarchy, if there is one.
fn cycle(child: &BTreeMap<String, Vec<String>>) -> Option<String> {
    // Iterative depth-first search with three colours (0 new, 1 on the path, 2 done).
    let mut colour: BTreeMap<&str, u8> = BTreeMap::new();
    for start in child.keys() {
        if colour.get(start.as_str()).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut stack: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
        colour.insert(start, 1);
        while let Some((node, next)) = stack.pop() {
            let kids = child.get(node).map_or(&[][..], Vec::as_slice);
            if let Some(kid) = kids.get(next) {
                stack.push((node, next + 1));
                match colour.get(kid.as_str()).copied().unwrap_or(0) {
                    1 => return Some(kid.clone()),
                    0 => {
                        colour.insert(kid, 1);
                        stack.push((kid.as_str(), 0));
                    }
                    _ => {}
                }
            } else {
                colour.insert(node, 2);
            }
        }
    }
    None
}

fn notes(ds: &RawDataset) -> Vec<String> {
    let mut out: Vec<String> = ds.note.iter().flat_map(|n| n.0.clone()).collect();
    for (id, dim) in ds.dimension.iter().flat_map(|d| &d.dims) {
        out.extend(
            dim.note
                .iter()
                .flat_map(|n| n.0.iter().map(|t| format!("{id}: {t}"))),
        );
        for (cat, n) in dim.category.iter().flat_map(|c| c.note.iter().flatten()) {
            out.extend(n.0.iter().map(|t| format!("{id}={cat}: {t}")));
        }
    }
    out
}

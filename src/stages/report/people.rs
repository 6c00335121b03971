//! `region_profile` for people: `report/region_profile.fi.csv` in the dialect of Finnish Excel
//! (`;`, decimal comma, UTF-8 with a byte-order mark, CRLF), with the region's name beside its
//! code, each indicator's Finnish title and unit as its header, and values rounded to the
//! decimals of their unit.

use polars::prelude::DataFrame;

use super::model::{Indicators, nums, strs};
use super::numbers::decimals_for;
use super::{Lang, region_name};
use crate::error::InternalError;
use crate::model::regions::Registry;

/// The CSV's bytes.
pub(super) fn region_profile_csv(
    df: &DataFrame,
    data: &Indicators,
    registry: &Registry,
) -> Result<Vec<u8>, InternalError> {
    let fail = |e: &dyn std::fmt::Display| {
        InternalError::Invariant(format!("writing region_profile.fi.csv: {e}"))
    };
    let mut w = crate::io::tabular::excel_fi_writer();
    let ids: Vec<String> = df
        .get_column_names()
        .iter()
        .skip(2)
        .map(ToString::to_string)
        .collect();
    let mut header = vec![
        "Alue".to_owned(),
        "Aluekoodi".to_owned(),
        "Vuosi".to_owned(),
    ];
    header.extend(ids.iter().map(|id| data.header_fi(id)));
    w.write_record(&header).map_err(|e| fail(&e))?;
    let (regions, years) = (strs(df, "region")?, nums(df, "year")?);
    let values: Vec<(Vec<Option<f64>>, usize)> = ids
        .iter()
        .map(|id| Ok((nums(df, id)?, decimals_for(data.unit_of(id)))))
        .collect::<Result<_, InternalError>>()?;
    for i in 0..df.height() {
        let code = regions[i].clone().unwrap_or_default();
        let mut row = vec![
            region_name(registry, &code, Lang::Fi),
            code,
            years[i].map(|y| format!("{y:.0}")).unwrap_or_default(),
        ];
        for (v, d) in &values {
            row.push(
                v[i].map(|x| format!("{x:.*}", *d).replace('.', ","))
                    .unwrap_or_default(),
            );
        }
        w.write_record(&row).map_err(|e| fail(&e))?;
    }
    w.into_inner().map_err(|e| fail(&e))
}

//! Values in the prices of one year (`[[indicators]] real_terms`): each year's value times the
//! price index of the base year over the index of its own year, the index being the whole
//! country's row (`SSS`) of the measure the pipeline names (e.g. Statistics Finland's price index
//! of public expenditure). A year without an index (or with an index of 0) leaves the value
//! missing with the flag `no price index for <year>`; it is never left in current prices under
//! a real-terms title.

use std::collections::HashMap;

use polars::prelude::*;

use super::DeriveInput;
use crate::error::{InternalError, PolarsContext};
use crate::model::config::RealTerms;
use crate::model::regions::COUNTRY;
use crate::stages::conform::{floats, years};

/// The price index of each year, and how the `method` column describes the deflation.
pub(crate) struct Deflator {
    index: HashMap<i16, f64>,
    base_year: i16,
    /// Appended to the indicator's `method`.
    pub(crate) method: String,
}

impl Deflator {
    /// `index(base_year) / index(year)`, or the flag of a missing index.
    pub(crate) fn factor(&self, year: i16) -> Result<f64, String> {
        let of = |y: i16| {
            self.index
                .get(&y)
                .copied()
                .filter(|v| *v > 0.0 && v.is_finite())
        };
        let base = of(self.base_year)
            .ok_or_else(|| format!("no price index for {} (the base year)", self.base_year))?;
        let own = of(year).ok_or_else(|| format!("no price index for {year}"))?;
        Ok(base / own)
    }
}

/// The deflator of an indicator's `real_terms`.
pub(crate) fn deflator(
    cfg: &RealTerms,
    input: &DeriveInput<'_>,
) -> Result<Deflator, InternalError> {
    let what = "reading a price index";
    let r = cfg.index();
    let rows = super::dataset_rows(&r.dataset, input)
        .filter(
            col("measure")
                .eq(lit(r.measure.as_str()))
                .and(col("region").cast(DataType::String).eq(lit(COUNTRY)))
                .and(col("sex").eq(lit(r.sex.as_str())))
                .and(col("age").eq(lit(r.age.as_str())))
                .and(col("breakdown").eq(lit(""))),
        )
        .select([col("year"), col(r.field.column()).alias("index")])
        .collect()
        .context(what)?;
    let (year, value) = (years(&rows, what)?, floats(&rows, "index", what)?);
    let mut index = HashMap::new();
    for (y, v) in year.into_iter().zip(value) {
        if let (Some(y), Some(v)) = (y, v) {
            index.entry(y).or_insert(v);
        }
    }
    Ok(Deflator {
        index,
        base_year: cfg.base_year,
        method: format!(
            "in {} prices: × index({}) / index(year) of {}/{}.{} (whole country)",
            cfg.base_year,
            cfg.base_year,
            r.dataset,
            r.measure,
            r.field.column()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_and_missing_years() {
        let d = Deflator {
            index: HashMap::from([(2023, 110.0), (2024, 115.5), (2022, 0.0)]),
            base_year: 2024,
            method: String::new(),
        };
        assert!((d.factor(2023).unwrap() - 1.05).abs() < 1e-12);
        assert_eq!(d.factor(2024), Ok(1.0));
        assert_eq!(d.factor(2021), Err("no price index for 2021".to_owned()));
        assert_eq!(d.factor(2022), Err("no price index for 2022".to_owned()));
        let no_base = Deflator {
            base_year: 2025,
            ..d
        };
        assert_eq!(
            no_base.factor(2023),
            Err("no price index for 2025 (the base year)".to_owned())
        );
    }
}

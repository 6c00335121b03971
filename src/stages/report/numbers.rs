//! Numbers as the page's language writes them: Finnish and Swedish `129 376`, `62,4`, `1 234 €`
//! (a no-break space groups thousands, a comma marks decimals), English `129,376`, `62.4`,
//! `€1,234`. Decimals follow the unit, never more than the data supports: counts and euros whole,
//! shares and rates one decimal, indices whole.

use serde::Serialize;

/// A language of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Finnish (the default).
    Fi,
    /// Swedish.
    Sv,
    /// English.
    En,
}

impl Lang {
    /// The language of a code (`fi`, `sv`, `en`).
    pub fn of(code: &str) -> Option<Lang> {
        match code {
            "fi" => Some(Lang::Fi),
            "sv" => Some(Lang::Sv),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Its code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fi => "fi",
            Lang::Sv => "sv",
            Lang::En => "en",
        }
    }
}

/// The no-break space that groups thousands in Finnish and Swedish.
const NBSP: char = '\u{a0}';

/// `value` with `decimals` decimals in `lang`'s way (a minus sign `−` for negatives).
pub fn number(value: f64, decimals: usize, lang: Lang) -> String {
    let text = format!("{:.*}", decimals, value.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let (group, point) = match lang {
        Lang::Fi | Lang::Sv => (NBSP, ','),
        Lang::En => (',', '.'),
    };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(group);
        }
        grouped.push(c);
    }
    let negative = value < 0.0 && text.bytes().any(|b| b.is_ascii_digit() && b != b'0');
    let mut out = String::new();
    if negative {
        out.push('−');
    }
    out.push_str(&grouped);
    if !frac.is_empty() {
        out.push(point);
        out.push_str(frac);
    }
    out
}

/// How many decimals a value of `unit` is shown with.
pub fn decimals_for(unit: &str) -> usize {
    let u = unit.to_lowercase();
    let whole = u.starts_with("eur") || u == "persons" || u.starts_with("index") || u == "count";
    usize::from(!whole)
}

/// A value of `unit` as the page shows it, with the unit's sign where it has one (`%`, `€`).
pub fn value(v: f64, unit: &str, lang: Lang) -> String {
    let n = number(v, decimals_for(unit), lang);
    let u = unit.to_lowercase();
    if u.starts_with("eur") {
        match lang {
            Lang::En => format!("€{n}"),
            _ => format!("{n}{NBSP}€"),
        }
    } else if u == "%" {
        match lang {
            Lang::En => format!("{n}%"),
            _ => format!("{n}{NBSP}%"),
        }
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finnish_swedish_and_english_numbers() {
        assert_eq!(number(129_376.0, 0, Lang::Fi), "129\u{a0}376");
        assert_eq!(number(62.416_561, 1, Lang::Fi), "62,4");
        assert_eq!(number(5911.0, 0, Lang::Fi), "5\u{a0}911");
        assert_eq!(number(1_234_567.891, 2, Lang::En), "1,234,567.89");
        assert_eq!(number(-3.26, 1, Lang::Sv), "−3,3");
        assert_eq!(number(-0.01, 1, Lang::Fi), "0,0");
        assert_eq!(number(999.5, 0, Lang::Fi), "1\u{a0}000");
        assert_eq!(
            value(1234.4, "EUR per capita", Lang::Fi),
            "1\u{a0}234\u{a0}€"
        );
        assert_eq!(value(1234.4, "EUR per capita", Lang::En), "€1,234");
        assert_eq!(value(28.06, "%", Lang::Fi), "28,1\u{a0}%");
        assert_eq!(value(121.4, "index", Lang::Fi), "121");
    }
}

//! Distinct strings numbered in the order they are first met: the dictionaries behind mittari's
//! dictionary-encoded text columns (`regions::conform`'s observation columns, the JSON-stat
//! column path of `convert`).

use std::collections::HashMap;

/// The code of a missing value; never a value's code.
pub const NULL: u32 = u32::MAX;

/// Distinct strings, each with its code: its place in the order they were first met.
#[derive(Debug, Default)]
pub struct Distinct {
    values: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
}

impl Distinct {
    /// The code of `value`, numbering it if it is new.
    ///
    /// # Panics
    /// On the 2^32 - 1st distinct value (a column's values are categories or labels, far fewer).
    pub fn code_of(&mut self, value: &str) -> u32 {
        if let Some(&code) = self.index.get(value) {
            return code;
        }
        let code = u32::try_from(self.values.len())
            .ok()
            .filter(|&c| c != NULL)
            .expect("fewer than 2^32 - 1 distinct values in one column");
        self.values.push(value.into());
        self.index.insert(value.into(), code);
        code
    }

    /// The values, by code.
    pub fn values(&self) -> &[Box<str>] {
        &self.values
    }
}

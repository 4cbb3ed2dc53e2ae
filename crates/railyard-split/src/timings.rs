//! Known test durations, and the estimate for tests never seen.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The estimate for every test when nothing at all is known.
pub const DEFAULT_SECS: f64 = 1.0;

/// Seconds per test id. A test never seen is estimated at the median of the known ones
/// (so a new test counts as a typical one, not as free), or [`DEFAULT_SECS`].
#[derive(Debug, Clone, Default)]
pub struct Timings {
    secs: HashMap<String, f64>,
    median: OnceLock<Option<f64>>,
}

impl Timings {
    /// No timings: every test is estimated at [`DEFAULT_SECS`].
    pub fn new() -> Timings {
        Timings::default()
    }

    /// Records (or replaces) a test's seconds; negative or non-finite values are ignored.
    pub fn insert(&mut self, id: impl Into<String>, secs: f64) {
        if secs.is_finite() && secs >= 0.0 {
            self.secs.insert(id.into(), secs);
            self.median = OnceLock::new();
        }
    }

    /// The recorded seconds of a test.
    pub fn get(&self, id: &str) -> Option<f64> {
        self.secs.get(id).copied()
    }

    /// How many tests have timings.
    pub fn len(&self) -> usize {
        self.secs.len()
    }

    /// Whether no test has timings.
    pub fn is_empty(&self) -> bool {
        self.secs.is_empty()
    }

    /// The median of the known times (the mean of the middle two for an even count).
    pub fn median(&self) -> Option<f64> {
        *self.median.get_or_init(|| {
            let mut v: Vec<f64> = self.secs.values().copied().collect();
            if v.is_empty() {
                return None;
            }
            v.sort_by(f64::total_cmp);
            let n = v.len();
            Some(if n % 2 == 1 {
                v[n / 2]
            } else {
                (v[n / 2 - 1] + v[n / 2]) / 2.0
            })
        })
    }

    /// The known time, else the median, else [`DEFAULT_SECS`].
    pub fn estimate(&self, id: &str) -> f64 {
        self.get(id)
            .or_else(|| self.median())
            .unwrap_or(DEFAULT_SECS)
    }

    /// Iterates over (id, seconds) in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.secs.iter().map(|(k, v)| (k.as_str(), *v))
    }
}

impl FromIterator<(String, f64)> for Timings {
    fn from_iter<I: IntoIterator<Item = (String, f64)>>(iter: I) -> Timings {
        let mut t = Timings::new();
        for (id, secs) in iter {
            t.insert(id, secs);
        }
        t
    }
}

/// From the store's `timings(project)`: id -> (average seconds, samples).
impl From<HashMap<String, (f64, u32)>> for Timings {
    fn from(stored: HashMap<String, (f64, u32)>) -> Timings {
        stored
            .into_iter()
            .map(|(id, (secs, _))| (id, secs))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_none() {
        let mut t = Timings::new();
        assert_eq!(t.median(), None);
        assert_eq!(t.estimate("x"), DEFAULT_SECS);
        t.insert("a", 3.0);
        t.insert("b", 1.0);
        t.insert("c", 10.0);
        assert_eq!(t.median(), Some(3.0));
        t.insert("d", 5.0);
        assert_eq!(
            t.median(),
            Some(4.0),
            "median is recomputed after an insert"
        );
        assert_eq!(t.estimate("new"), 4.0);
        assert_eq!(t.estimate("c"), 10.0);
    }

    #[test]
    fn bad_values_are_ignored() {
        let mut t = Timings::new();
        t.insert("a", f64::NAN);
        t.insert("b", -1.0);
        t.insert("c", f64::INFINITY);
        assert!(t.is_empty());
    }

    #[test]
    fn from_stored_averages() {
        let stored = HashMap::from([("a".to_string(), (2.5, 3u32))]);
        let t = Timings::from(stored);
        assert_eq!(t.get("a"), Some(2.5));
    }
}

//! Reporters: what the user sees (live terminal display or JSON lines) and what the store
//! keeps, both fed from the runner's event stream.

pub mod json;
pub mod recorder;
pub mod terminal;

/// `1.23s`, `3m04s`, `1h05m`: the one formatter of the CLI (rounded before it is split into
/// units, so 119.999 s is `2m00s`).
pub fn duration(ms: u64) -> String {
    railyard_split::duration(ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_naturally() {
        assert_eq!(super::duration(1234), "1.23s");
        assert_eq!(super::duration(59_950), "1m00s");
        assert_eq!(super::duration(119_999), "2m00s");
        assert_eq!(super::duration(184_000), "3m04s");
        assert_eq!(super::duration(3_900_000), "1h05m");
    }
}

//! Reporters: what the user sees (live terminal display or JSON lines) and what the store
//! keeps, both fed from the runner's event stream.

pub mod json;
pub mod recorder;
pub mod terminal;

use std::time::Duration;

/// `1.2s`, `3m04s`.
pub fn duration(ms: u64) -> String {
    let d = Duration::from_millis(ms);
    let secs = d.as_secs();
    if secs < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, secs / 60 % 60)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_naturally() {
        assert_eq!(super::duration(1234), "1.2s");
        assert_eq!(super::duration(184_000), "3m04s");
        assert_eq!(super::duration(3_900_000), "1h05m");
    }
}

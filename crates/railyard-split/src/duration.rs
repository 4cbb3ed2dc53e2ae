//! The one way the CLI shows a length of time: `0.04s`, `12.3s`, `2m05s`, `1h05m`.

/// `1.23s` under ten seconds (a single test's time), `12.3s` under a minute, `2m05s` under
/// an hour, `1h05m` beyond. Rounded to the unit shown *before* it is split into units, so
/// 59.95 s reads `1m00s` and 119.999 s `2m00s`, never `60.0s` or `1m60.0s`. Negative or
/// not-a-number input reads `0.00s`.
pub fn duration(secs: f64) -> String {
    let secs = if secs.is_finite() { secs.max(0.0) } else { 0.0 };
    let hundredths = (secs * 100.0).round();
    if hundredths < 1000.0 {
        return format!("{:.2}s", hundredths / 100.0);
    }
    let tenths = (secs * 10.0).round();
    if tenths < 600.0 {
        return format!("{:.1}s", tenths / 10.0);
    }
    let whole = secs.round() as u64;
    if whole < 3600 {
        return format!("{}m{:02}s", whole / 60, whole % 60);
    }
    let minutes = (secs / 60.0).round() as u64;
    format!("{}h{:02}m", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn each_unit_rounds_before_it_is_split() {
        let cases = [
            (0.0, "0.00s"),
            (0.004, "0.00s"),
            (0.045, "0.05s"),
            (1.234, "1.23s"),
            (9.994, "9.99s"),
            (9.996, "10.0s"),
            (59.94, "59.9s"),
            (59.95, "1m00s"),
            (60.0, "1m00s"),
            (119.4, "1m59s"),
            (119.5, "2m00s"),
            (119.999, "2m00s"),
            (184.0, "3m04s"),
            (3599.4, "59m59s"),
            (3599.5, "1h00m"),
            (3600.0, "1h00m"),
            (3900.0, "1h05m"),
            (90_000.0, "25h00m"),
            (-1.0, "0.00s"),
            (f64::NAN, "0.00s"),
        ];
        for (secs, shown) in cases {
            assert_eq!(duration(secs), shown, "{secs} s");
        }
    }
}

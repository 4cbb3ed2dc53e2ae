//! Durations (`90s`, `20m`, `1h30m`) and sizes (`512m`, `4g`, `1.5G`) as written in the file.

use std::time::Duration;

/// Parses `1h30m`, `90s`, `500ms`, `2d`, parts (and a number and its unit) optionally
/// separated by spaces. A bare number is refused: `20` could mean seconds or minutes.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if text.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "`{text}` has no unit: write `{text}s` or `{text}m`"
        ));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "`{text}` is not a duration like `90s`, `20m` or `1h30m`"
            ));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}` is too large"))?;
        // `5 m` is `5m`, and `5 parsecs` has the unknown unit `parsecs`, not none.
        rest = rest[digits..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "d" => Duration::from_secs(n.saturating_mul(86400)),
            "" => {
                return Err(format!(
                    "`{text}`: a number without a unit (use ms, s, m, h or d)"
                ));
            }
            other => {
                return Err(format!(
                    "`{text}`: unknown unit `{other}` (use ms, s, m, h or d)"
                ));
            }
        };
        total = total.saturating_add(part);
        rest = rest[unit_len..].trim_start();
    }
    Ok(total)
}

/// Parses a memory size: a byte count, or a number (fraction allowed) with a binary unit
/// `k`, `m`, `g` or `t` (case-insensitive, optionally followed by `b` or `ib`): `512m`,
/// `4g`, `1.5G`, `256MiB`.
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim_start();
    let bad = || format!("`{text}` is not a size like `512m`, `4g` or `1.5G`");
    if number.is_empty() {
        return Err(bad());
    }
    let number: f64 = number.parse().map_err(|_| bad())?;
    let lower = unit.to_ascii_lowercase();
    let base = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let shift = match base {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{unit}` (use k, m, g or t)"
            ));
        }
    };
    let bytes = number * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("`{text}` is too large"));
    }
    if shift == 0 && number.fract() != 0.0 {
        return Err(format!("`{text}`: a byte count must be a whole number"));
    }
    Ok(bytes.round() as u64)
}

/// Renders a byte count the way the file would say it (`4g`, `1536m`, `100000`).
pub fn format_memory(bytes: u64) -> String {
    for (shift, unit) in [(40, "t"), (30, "g"), (20, "m"), (10, "k")] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("20m"), Ok(Duration::from_secs(1200)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1h 30m 5s"), Ok(Duration::from_secs(5405)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("20").unwrap_err().contains("no unit"));
        assert!(
            parse_duration("5x")
                .unwrap_err()
                .contains("unknown unit `x`")
        );
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("1.5h").is_err());
    }

    #[test]
    fn memory() {
        assert_eq!(parse_memory("512m"), Ok(512 << 20));
        assert_eq!(parse_memory("4g"), Ok(4 << 30));
        assert_eq!(parse_memory("1.5G"), Ok(3 << 29));
        assert_eq!(parse_memory("256MiB"), Ok(256 << 20));
        assert_eq!(parse_memory("64 kb"), Ok(64 << 10));
        assert_eq!(parse_memory("1048576"), Ok(1 << 20));
        assert!(parse_memory("lots").is_err());
        assert!(parse_memory("4x").unwrap_err().contains("unknown unit"));
        assert_eq!(format_memory(4 << 30), "4g");
        assert_eq!(format_memory(3 << 29), "1536m");
        assert_eq!(format_memory(1000), "1000");
    }
}

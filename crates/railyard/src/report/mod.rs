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

/// `1 layer`, `2 layers`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A job status as people read it: the store's and JSON's `failed_allowed` and `timed_out`
/// are `failed (allowed)` and `timed out`.
pub fn status(status: railyard_types::JobStatus) -> &'static str {
    match status {
        railyard_types::JobStatus::FailedAllowed => "failed (allowed)",
        railyard_types::JobStatus::TimedOut => "timed out",
        other => other.as_str(),
    }
}

/// Adds `rows` to `table` with their last cell cut (ending in `…`) so that the table fits
/// the terminal: a failed job's note names its failing tests and made tables hundreds of
/// columns wide. A last cell of several lines (a build's error with its output) keeps its
/// first. Should the other columns still not fit, comfy-table wraps them. Returns whether a
/// cell was cut. Off a terminal (a pipe, a file) comfy-table knows no width and nothing is
/// cut.
pub fn add_rows_fitted(table: &mut comfy_table::Table, rows: Vec<Vec<String>>) -> bool {
    let Some(width) = table.width() else {
        for row in rows {
            table.add_row(row);
        }
        return false;
    };
    table.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    // The table with the last cells empty: what it leaves of the width is theirs.
    let mut bare = table.clone();
    for row in &rows {
        let mut row = row.clone();
        if let Some(last) = row.last_mut() {
            last.clear();
        }
        bare.add_row(row);
    }
    let used = bare.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    let header = bare
        .column_max_content_widths()
        .last()
        .copied()
        .unwrap_or(0);
    // Never narrower than the column's header, which holds it that wide anyway; below that
    // the other columns are too wide for the terminal and comfy-table wraps them.
    let room = (usize::from(width) + usize::from(header))
        .saturating_sub(used)
        .max(usize::from(header).max(2));
    let mut cut = false;
    for mut row in rows {
        if let Some(last) = row.last_mut() {
            if let Some((first, _)) = last.split_once('\n') {
                *last = format!("{} …", first.trim_end());
                cut = true;
            }
            if last.chars().count() > room {
                *last = crate::cmd::scan::clip(last, room);
                cut = true;
            }
        }
        table.add_row(row);
    }
    cut
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

    #[test]
    fn a_long_last_cell_is_cut_to_the_width() {
        let note =
            "3 test(s) failed: ".to_string() + &"tests/test_x.py::test_long_name, ".repeat(4);
        let mut table = comfy_table::Table::new();
        table.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
        table.set_header(["job", "status", "note"]);
        table.set_width(60);
        let cut = super::add_rows_fitted(
            &mut table,
            vec![
                vec!["test".into(), "failed".into(), note],
                vec!["build".into(), "success".into(), String::new()],
            ],
        );
        assert!(cut);
        let text = table.to_string();
        assert!(text.lines().all(|l| l.chars().count() <= 60), "{text}");
        assert!(
            text.contains("3 test(s) failed: tests/test_x.py::"),
            "{text}"
        );
        assert!(text.contains('…'), "{text}");

        let mut table = comfy_table::Table::new();
        table.set_width(60);
        let rows = vec![vec!["build".to_string(), "short".to_string()]];
        assert!(!super::add_rows_fitted(&mut table, rows));
    }

    /// A build's error holds the failing step's output: the summary keeps its first line.
    /// Columns too wide for what is left are wrapped rather than drawn past the width.
    #[test]
    fn a_cell_of_several_lines_keeps_its_first_and_wide_columns_wrap() {
        let mut table = comfy_table::Table::new();
        table.set_header(["job", "detail"]);
        table.set_width(60);
        let rows = vec![vec![
            "build".to_string(),
            "step 2 failed\noutput of that step:\n  boom".to_string(),
        ]];
        assert!(super::add_rows_fitted(&mut table, rows));
        let text = table.to_string();
        assert!(
            text.contains("step 2 failed …") && !text.contains("boom"),
            "{text}"
        );

        let mut table = comfy_table::Table::new();
        table.set_header(["project", "image", "note"]);
        table.set_width(40);
        let rows = vec![vec!["p".repeat(30), "i".repeat(30), "n".repeat(30)]];
        assert!(super::add_rows_fitted(&mut table, rows));
        let text = table.to_string();
        assert!(text.lines().all(|l| l.chars().count() <= 40), "{text}");
    }

    #[test]
    fn counts_and_statuses_read_as_words() {
        use railyard_types::JobStatus;
        assert_eq!(super::plural(1, "layer", "layers"), "1 layer");
        assert_eq!(super::plural(0, "layer", "layers"), "0 layers");
        assert_eq!(super::status(JobStatus::FailedAllowed), "failed (allowed)");
        assert_eq!(super::status(JobStatus::TimedOut), "timed out");
        assert_eq!(super::status(JobStatus::Success), "success");
    }
}

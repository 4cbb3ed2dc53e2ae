//! `--json`: one JSON object a line on stdout, for scripts.

use railyard_runner::Event;
use std::io::Write;

/// Prints the run's identity first, so scripts can find its logs later.
pub fn run_started(run_id: &str, number: i64, jobs: &[String]) {
    let line = serde_json::json!({
        "event": "run_started", "run_id": run_id, "number": number, "jobs": jobs,
    });
    print_line(&line.to_string());
}

/// Prints one event.
pub fn event(event: &Event) {
    if let Ok(line) = serde_json::to_string(event) {
        print_line(&line);
    }
}

fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) must not kill the run: the store still records it.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

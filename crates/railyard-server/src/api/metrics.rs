//! Prometheus text for scrapers (exposition format 0.0.4).

use axum::extract::State;
use railyard_types::api::Metrics;

use super::{ApiResult, Reply};
use crate::AppState;
use railyard_store::WAIT_BOUNDS_MS;

/// Prometheus text: jobs per project and state, running jobs per project, how long jobs
/// waited in the queue (a histogram per project), agents registered and live. Open, like
/// most exporters; put it behind the network's rules.
pub(super) async fn metrics(State(state): State<AppState>) -> ApiResult<Reply<Metrics>> {
    let stats = state
        .store()
        .queue_stats(state.store().now().await?.minus(state.config().lease))
        .await?;
    let waits = state.store().wait_histograms().await?;
    let mut out = Text::default();
    out.family(
        "railyard_jobs",
        "gauge",
        "Jobs of unfinished runs by project and queue state.",
    );
    for (project, st, n) in &stats.jobs {
        out.sample("railyard_jobs", &[("project", project), ("state", st)], n);
    }
    out.family(
        "railyard_running_jobs",
        "gauge",
        "Jobs an agent holds a lease on, by project.",
    );
    for (project, _, n) in stats.jobs.iter().filter(|(_, st, _)| st == "leased") {
        out.sample("railyard_running_jobs", &[("project", project)], n);
    }
    out.family(
        "railyard_queue_wait_seconds",
        "histogram",
        "Time from a job entering the queue to its claim, by project (each claim counts).",
    );
    for h in &waits {
        let p = ("project", h.project.as_str());
        for (bound_ms, n) in WAIT_BOUNDS_MS.iter().zip(&h.cumulative) {
            let le = (*bound_ms as f64 / 1000.0).to_string();
            out.sample("railyard_queue_wait_seconds_bucket", &[p, ("le", &le)], n);
        }
        out.sample(
            "railyard_queue_wait_seconds_bucket",
            &[p, ("le", "+Inf")],
            h.count,
        );
        out.sample(
            "railyard_queue_wait_seconds_sum",
            &[p],
            h.sum_ms as f64 / 1000.0,
        );
        out.sample("railyard_queue_wait_seconds_count", &[p], h.count);
    }
    out.family(
        "railyard_agents",
        "gauge",
        "Registered agents (those unseen for a day are forgotten).",
    );
    out.sample("railyard_agents", &[], stats.agents);
    out.family(
        "railyard_agents_live",
        "gauge",
        "Agents seen within one lease.",
    );
    out.sample("railyard_agents_live", &[], stats.agents_seen);
    Ok(Reply::new(out.0).content_type("text/plain; version=0.0.4"))
}

/// The exposition text being written.
#[derive(Default)]
struct Text(String);

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        self.0.push_str(&format!(
            "# HELP {name} {}\n# TYPE {name} {kind}\n",
            help.replace('\\', "\\\\").replace('\n', "\\n")
        ));
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            let inner: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                .collect();
            self.0.push_str(&format!("{{{}}}", inner.join(",")));
        }
        self.0.push_str(&format!(" {value}\n"));
    }
}

/// A label value as the format wants it: `\`, `"` and newlines escaped.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut t = Text::default();
        t.sample("m", &[("project", "a\"b\\c\nd")], 1);
        assert_eq!(t.0, "m{project=\"a\\\"b\\\\c\\nd\"} 1\n");
    }
}

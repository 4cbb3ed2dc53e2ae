//! Prometheus text for scrapers.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::ApiResult;
use crate::{AppState, now_ms};

/// Prometheus text: jobs per project and state, agents registered and live. Open, like most
/// exporters; put it behind the network's rules.
pub(super) async fn metrics(State(state): State<AppState>) -> ApiResult<Response> {
    let lease_ms = state.config().lease.as_millis() as i64;
    let stats = state.store().queue_stats(now_ms() - lease_ms).await?;
    let mut out = String::new();
    out.push_str("# HELP railyard_jobs Jobs of unfinished runs by project and queue state.\n");
    out.push_str("# TYPE railyard_jobs gauge\n");
    for (project, st, n) in &stats.jobs {
        let project = project.replace('\\', "\\\\").replace('"', "\\\"");
        out.push_str(&format!(
            "railyard_jobs{{project=\"{project}\",state=\"{st}\"}} {n}\n"
        ));
    }
    out.push_str("# HELP railyard_agents Registered agents.\n# TYPE railyard_agents gauge\n");
    out.push_str(&format!("railyard_agents {}\n", stats.agents));
    out.push_str("# HELP railyard_agents_live Agents seen within one lease.\n# TYPE railyard_agents_live gauge\n");
    out.push_str(&format!("railyard_agents_live {}\n", stats.agents_seen));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}

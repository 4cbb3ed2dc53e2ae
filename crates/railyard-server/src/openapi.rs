//! `GET /api/v1/openapi.json`: an OpenAPI 3.1 document of every route, built from one table.
//!
//! Written by hand rather than derived (utoipa) because the bodies are the shared protocol
//! types of `railyard-types`, which stay free of web-framework derives; the table below says
//! per route who may call it, what it takes and what it answers, and a test holds it equal
//! to the router's routes both ways.

use axum::Json;
use serde_json::{Value, json};

/// Who may call a route.
#[derive(Clone, Copy)]
pub(crate) enum Auth {
    /// An admin token.
    Admin,
    /// An agent token.
    Agent,
    /// Nobody needs a token (scrapers, this document).
    Open,
    /// The project's webhook secret (signature or token header).
    Webhook,
}

/// One operation: method, path, auth, summary, request body (if any), success status, and
/// the errors particular to it (every operation may answer 400, 401 and 404).
pub(crate) struct Op {
    pub method: &'static str,
    pub path: &'static str,
    auth: Auth,
    summary: &'static str,
    body: Option<&'static str>,
    ok: (u16, &'static str),
    errors: &'static [(u16, &'static str)],
}

const fn op(
    method: &'static str,
    path: &'static str,
    auth: Auth,
    summary: &'static str,
    body: Option<&'static str>,
    ok: (u16, &'static str),
) -> Op {
    Op {
        method,
        path,
        auth,
        summary,
        body,
        ok,
        errors: &[],
    }
}

impl Op {
    /// The same operation with errors of its own documented.
    const fn errors(self, errors: &'static [(u16, &'static str)]) -> Op {
        Op { errors, ..self }
    }
}

use Auth::*;

/// Every route the server serves.
pub(crate) const OPS: &[Op] = &[
    op(
        "post",
        "/api/v1/projects",
        Admin,
        "Add a project; its repository is checked with `git ls-remote` first",
        Some("`{name, repo, webhook_secret?, weight?, max_running?}`"),
        (201, "the project"),
    )
    .errors(&[
        (409, "a project of that name exists"),
        (
            422,
            "`git`: the server cannot read the repository (what git said, credentials masked)",
        ),
    ]),
    op(
        "get",
        "/api/v1/projects",
        Admin,
        "List the projects",
        None,
        (200, "`[project]`"),
    ),
    op(
        "patch",
        "/api/v1/projects/{name}",
        Admin,
        "Set a project's share (weight, max running)",
        Some("`{weight?, max_running?}`"),
        (200, "the project"),
    ),
    op(
        "post",
        "/api/v1/projects/{name}/trigger",
        Admin,
        "Start a run of a ref",
        Some("`{ref?}`"),
        (
            201,
            "`{run, jobs}` (the run's `ref`: the branch or tag named, in full)",
        ),
    )
    .errors(&[(
        422,
        "`pipeline`: the file is invalid, or expands to more jobs than the server's --max-jobs",
    )]),
    op(
        "post",
        "/api/v1/projects/{name}/remove",
        Admin,
        "Remove a project with its runs, logs, artifacts and timings",
        Some("`{force?}` (may be left out)"),
        (200, "`{name, runs, unfinished}`"),
    )
    .errors(&[(
        409,
        "runs of it are unfinished (named): wait, cancel them, or send `{force: true}`",
    )]),
    op(
        "post",
        "/api/v1/projects/{name}/webhook",
        Webhook,
        "A forge's push webhook (GitHub, GitLab, Gitea)",
        Some("the forge's push payload"),
        (
            201,
            "`{run}`; 200 `{ignored}` for pings and deleted branches",
        ),
    ),
    op(
        "get",
        "/api/v1/runs",
        Admin,
        "List runs, newest first (`?project=&limit=`)",
        None,
        (200, "`[run]`"),
    ),
    op(
        "get",
        "/api/v1/runs/{id}",
        Admin,
        "A run with its jobs (id, id prefix or number)",
        None,
        (200, "`{run, jobs}`"),
    ),
    op(
        "post",
        "/api/v1/runs/{id}/cancel",
        Admin,
        "Cancel a run",
        None,
        (202, "`{run, jobs}`; 409 if it ended"),
    ),
    op(
        "get",
        "/api/v1/runs/{id}/logs/{job}",
        Admin,
        "A job's log",
        None,
        (200, "the log, text/plain"),
    ),
    op(
        "get",
        "/api/v1/runs/{id}/logs/{job}/follow",
        Admin,
        "Follow a job's log (server-sent events)",
        None,
        (
            200,
            "`data:` per line, then `event: end` with the job's status",
        ),
    ),
    op(
        "get",
        "/api/v1/agents",
        Admin,
        "List the agents",
        None,
        (200, "`[{id, name, slots, running, last_seen}]`"),
    ),
    op(
        "post",
        "/api/v1/agents/register",
        Agent,
        "Register an agent",
        Some("`{name, slots, labels?}`"),
        (200, "`{agent_id, lease_ms}`"),
    ),
    op(
        "post",
        "/api/v1/agents/claim",
        Agent,
        "Long-poll for a job",
        Some("`{agent_id, wait_ms?}`"),
        (
            200,
            "the claim (`ref`: the branch or tag of its run, for RAILYARD_REF); 204 after the wait",
        ),
    ),
    op(
        "post",
        "/api/v1/jobs/{id}/heartbeat",
        Agent,
        "Renew a job's lease",
        Some("`{agent_id, attempt}`"),
        (200, "`{lease_until, cancel}`; 410 if the lease was lost"),
    ),
    op(
        "post",
        "/api/v1/jobs/{id}/logs",
        Agent,
        "Send a numbered log chunk",
        Some("`{agent_id, attempt, seq, text}`"),
        (
            200,
            "`{acked}` (a chunk after chunks the database lost is kept after a line naming them); 410 if the lease was lost",
        ),
    ),
    op(
        "post",
        "/api/v1/jobs/{id}/complete",
        Agent,
        "Report a job's result, its step records and its tests' timings",
        Some("`{agent_id, attempt, status, error?, steps?, timings?}`"),
        (204, "recorded"),
    )
    .errors(&[(413, "over 16 MiB: report the job failed without its timings")]),
    op(
        "post",
        "/api/v1/jobs/{id}/tests",
        Agent,
        "A shard posts the test ids it listed: the first opens the job's test queue, the others must agree (409)",
        Some("`{agent_id, attempt, tests}`"),
        (200, "`{timings}`: what every shard splits by"),
    )
    .errors(&[(413, "over 16 MiB")]),
    op(
        "post",
        "/api/v1/jobs/{id}/tests/next",
        Agent,
        "Queue mode: complete the shard's last batch and take its next",
        Some("`{agent_id, attempt, shard, done?: {batch, elapsed_secs, tests_secs}}`"),
        (
            200,
            "`{batch?: {id, tests, predicted_secs}, wait_ms?}`; neither once drained",
        ),
    ),
    op(
        "post",
        "/api/v1/jobs/{id}/tests/give-back",
        Agent,
        "Queue mode: a stopping shard gives its unfinished batches back",
        Some("`{agent_id, attempt, shard}`"),
        (204, "given back"),
    ),
    op(
        "put",
        "/api/v1/jobs/{id}/artifacts/{path}",
        Agent,
        "Upload one artifact file under the job's lease (`?agent_id=&attempt=`); 413 over 256 MiB",
        Some("the file's bytes"),
        (204, "stored"),
    ),
    op(
        "get",
        "/api/v1/runs/{id}/artifacts/{job}",
        Admin,
        "List a job's artifacts",
        None,
        (200, "`[{path, size}]`"),
    ),
    op(
        "get",
        "/api/v1/runs/{id}/artifacts/{job}/{path}",
        Admin,
        "Download one artifact file",
        None,
        (200, "the file's bytes"),
    ),
    op(
        "post",
        "/api/v1/tokens",
        Admin,
        "Create a stored token (shown once)",
        Some("`{name, role}` with role `admin` or `agent`"),
        (201, "`{name, role, token}`"),
    ),
    op(
        "get",
        "/api/v1/tokens",
        Admin,
        "List stored tokens (never the tokens)",
        None,
        (200, "`[{name, role, created_at, revoked_at}]`"),
    ),
    op(
        "post",
        "/api/v1/tokens/{name}/revoke",
        Admin,
        "Revoke a stored token",
        None,
        (204, "revoked; 404 if no live token has that name"),
    ),
    op(
        "get",
        "/api/v1/openapi.json",
        Open,
        "This document",
        None,
        (200, "OpenAPI 3.1 JSON"),
    ),
    op(
        "get",
        "/healthz",
        Open,
        "Liveness: the process answers",
        None,
        (200, "`{status: \"ok\"}`"),
    ),
    op(
        "get",
        "/readyz",
        Open,
        "Readiness: the database answers (within 5 s) and holds every migration",
        None,
        (200, "`{status: \"ok\"}`"),
    )
    .errors(&[(503, "`unavailable`: what is not ready")]),
    op(
        "get",
        "/metrics",
        Open,
        "Prometheus metrics",
        None,
        (200, "Prometheus text format 0.0.4"),
    ),
];

/// The document, built once per request (it is small).
pub(crate) async fn document() -> Json<Value> {
    Json(build())
}

fn build() -> Value {
    let mut paths = serde_json::Map::new();
    for o in OPS {
        let params: Vec<Value> = o
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let error = json!({"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        let mut responses = json!({
            o.ok.0.to_string(): {"description": o.ok.1},
            "400": error.clone(),
            "401": error.clone(),
            "404": error.clone(),
        });
        for (status, description) in o.errors {
            let mut e = error.clone();
            e["description"] = json!(description);
            responses[status.to_string()] = e;
        }
        // A JSON body is described by its shape in backticks (an upload's or a webhook's is
        // read as it comes).
        if o.body.is_some_and(|b| b.starts_with('`')) {
            let mut e = error.clone();
            e["description"] = json!(
                "`unsupported_media_type`: a body sent without `Content-Type: application/json`"
            );
            responses["415"] = e;
        }
        let mut operation = json!({
            "operationId": format!("{} {}", o.method, o.path),
            "summary": o.summary,
            "parameters": params,
            "responses": responses,
        });
        match o.auth {
            Admin => operation["security"] = json!([{"admin": []}]),
            Agent => operation["security"] = json!([{"agent": []}]),
            Open => operation["security"] = json!([]),
            Webhook => {
                operation["security"] = json!([]);
                operation["description"] = json!(
                    "Signed with the project's secret: `X-Hub-Signature-256`, `X-Gitea-Signature` or `X-Gitlab-Token`."
                );
            }
        }
        if let Some(body) = o.body {
            operation["requestBody"] = json!({
                "required": true,
                "description": body,
                "content": {"application/json": {"schema": {"type": "object"}}},
            });
        }
        let item = paths.entry(o.path.to_string()).or_insert_with(|| json!({}));
        item[o.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Railyard server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Projects, runs, logs and the agent protocol. Every error, the framework's own included (an unknown route, a method a route does not take, a body or path that does not parse), is `{\"error\": {\"code\", \"message\"}}`.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "admin": {"type": "http", "scheme": "bearer", "description": "an admin token"},
                "agent": {"type": "http", "scheme": "bearer", "description": "an agent token"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                        "code": {"type": "string", "enum": ["unauthorized", "bad_request", "not_found", "method_not_allowed", "conflict", "lease_lost", "too_large", "unsupported_media_type", "git", "pipeline", "internal", "unavailable"]},
                        "message": {"type": "string"},
                    }}},
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The (method, path) pairs of every `.route(…)` call in the router's source: the
    /// router is written in one place, so reading it catches a route added without a line
    /// in [`super::OPS`]. The test binary proves the reverse against a running server.
    fn routed() -> BTreeSet<(String, String)> {
        let source = include_str!("api/mod.rs");
        let mut out = BTreeSet::new();
        for call in source.split(".route(").skip(1) {
            let mut depth = 1;
            let end = call
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map(|(i, _)| i)
                .expect("a closed .route( call");
            let call = &call[..end];
            // A catch-all `{*path}` is the plain parameter `{path}` in OpenAPI.
            let path = call
                .split('"')
                .nth(1)
                .expect("a path literal")
                .replace("{*", "{");
            for method in ["get", "post", "patch", "put", "delete"] {
                // `post(handler)` or `.get(handler)`, not `foo_post(` nor `module::post(`.
                let called = call.match_indices(&format!("{method}(")).any(|(i, _)| {
                    !call[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
                });
                if called {
                    out.insert((method.to_string(), path.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn every_route_is_documented_and_every_documented_route_is_routed() {
        let documented: BTreeSet<(String, String)> = super::OPS
            .iter()
            .map(|o| (o.method.to_string(), o.path.to_string()))
            .collect();
        let routed = routed();
        assert!(routed.len() > 10, "the router's source reads: {routed:?}");
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty() && unrouted.is_empty(),
            "routes missing from openapi.rs: {undocumented:?}; documented but not routed: {unrouted:?}"
        );
    }

    #[test]
    fn the_document_has_every_operation() {
        let doc = super::build();
        let n: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum();
        assert_eq!(n, super::OPS.len());
        assert_eq!(
            doc["paths"]["/api/v1/runs/{id}/logs/{job}"]["get"]["parameters"][1]["name"],
            "job"
        );
    }
}

//! `GET /api/v1/openapi.json`: an OpenAPI 3.1 document generated from the endpoints'
//! declarations in [`railyard_types::api`] (method, path, auth, summary, statuses) and the
//! schemas utoipa derives for their bodies, so it cannot drift from what is served.

use railyard_types::api::{self, Auth, Endpoint, Media, Visit};
use serde_json::{Map, Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{PartialSchema, ToSchema};

/// The document, built once per request (it is small). Raw: it is declared as JSON with no
/// schema of its own (`()`), which a value of the document's type would change.
pub(crate) async fn document() -> crate::api::ApiResult<crate::api::Raw<api::OpenApi>> {
    Ok(crate::api::Raw::new(axum::Json(build())))
}

/// Collects each endpoint's operation and the schemas its bodies refer to.
#[derive(Default)]
struct Builder {
    paths: Map<String, Value>,
    schemas: Vec<(String, RefOr<Schema>)>,
}

impl Visit for Builder {
    fn visit<E: Endpoint>(&mut self) {
        // A catch-all `{*path}` is the plain parameter `{path}` in OpenAPI.
        let path = E::PATH.replace("{*", "{");
        let mut params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(query_params(&self.schema_of::<E::Query>()));
        let error = json!({"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        let mut responses = json!({
            "400": error.clone(),
            "401": error.clone(),
            "404": error.clone(),
        });
        let (status, description) = E::OK;
        let mut ok = json!({ "description": description });
        if let Some(content) = self.content::<E::Response>(E::RESPONSE) {
            ok["content"] = content;
        }
        responses[status.to_string()] = ok;
        for (status, description) in E::ERRORS {
            let mut e = error.clone();
            e["description"] = json!(description);
            responses[status.to_string()] = e;
        }
        if matches!(E::REQUEST, Media::Json | Media::OptionalJson) {
            let mut e = error.clone();
            e["description"] = json!(
                "`unsupported_media_type`: a body sent without `Content-Type: application/json`"
            );
            responses["415"] = e;
        }
        let method = E::METHOD.as_str().to_ascii_lowercase();
        let mut operation = json!({
            "operationId": format!("{method} {path}"),
            "summary": E::SUMMARY,
            "parameters": params,
            "responses": responses,
        });
        match E::AUTH {
            Auth::Admin => operation["security"] = json!([{"admin": []}]),
            Auth::Agent => operation["security"] = json!([{"agent": []}]),
            Auth::Signed | Auth::Viewer | Auth::Developer | Auth::Maintainer => {
                operation["security"] = json!([{"admin": []}, {"person": []}]);
                let need = match E::AUTH {
                    Auth::Viewer => "at least the `viewer` role in the project",
                    Auth::Developer => "at least the `developer` role in the project",
                    Auth::Maintainer => "the `maintainer` role in the project",
                    _ => "any signed-in person; each sees only the projects they have a role in",
                };
                operation["description"] =
                    json!(format!("An admin token or a person's token with {need}."));
            }
            Auth::Open => operation["security"] = json!([]),
            Auth::Webhook => {
                operation["security"] = json!([]);
                operation["description"] = json!(
                    "Signed with the project's secret: `X-Hub-Signature-256`, `X-Gitea-Signature` or `X-Gitlab-Token`."
                );
            }
        }
        if let Some(content) = self.content::<E::Request>(E::REQUEST) {
            operation["requestBody"] = json!({
                "required": E::REQUEST != Media::OptionalJson,
                "content": content,
            });
        }
        let item = self.paths.entry(path).or_insert_with(|| json!({}));
        item[method] = operation;
    }
}

impl Builder {
    /// `T`'s schema as JSON, the schemas it refers to kept for the components.
    fn schema_of<T: ToSchema>(&mut self) -> Value {
        T::schemas(&mut self.schemas);
        serde_json::to_value(<T as PartialSchema>::schema()).unwrap_or_default()
    }

    /// The `content` of a body that travels as `media`, of type `T` when it is JSON.
    fn content<T: ToSchema>(&mut self, media: Media) -> Option<Value> {
        let schema = match media {
            Media::None => return None,
            Media::Json | Media::OptionalJson => self.schema_of::<T>(),
            Media::Payload => json!({"type": "object"}),
            Media::Text | Media::Events => json!({"type": "string"}),
            Media::Bytes => json!({"type": "string", "format": "binary"}),
        };
        Some(json!({ media.content_type()?: {"schema": schema} }))
    }
}

/// The properties of a query type's schema as `in: query` parameters.
fn query_params(schema: &Value) -> Vec<Value> {
    let required: Vec<&Value> = schema["required"]
        .as_array()
        .map(|r| r.iter().collect())
        .unwrap_or_default();
    schema["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, property)| {
            json!({
                "name": name,
                "in": "query",
                "required": required.contains(&&json!(name)),
                "schema": property,
            })
        })
        .collect()
}

fn build() -> Value {
    let mut builder = Builder::default();
    api::for_each(&mut builder);
    let mut schemas = Map::new();
    for (name, schema) in builder.schemas {
        schemas.insert(name, serde_json::to_value(schema).unwrap_or_default());
    }
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string", "enum": ["unauthorized", "bad_request", "not_found", "method_not_allowed", "conflict", "lease_lost", "pruned", "too_large", "unsupported_media_type", "git", "pipeline", "internal", "unavailable"]},
                "message": {"type": "string"},
            }}},
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Railyard server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Projects, runs, logs and the agent protocol. Every error, the framework's own included (an unknown route, a method a route does not take, a body or path that does not parse), is `{\"error\": {\"code\", \"message\"}}`.",
        },
        "paths": builder.paths,
        "components": {
            "securitySchemes": {
                "admin": {"type": "http", "scheme": "bearer", "description": "an admin token"},
                "person": {"type": "http", "scheme": "bearer", "description": "a person's token (`POST /api/v1/login`), with their roles"},
                "agent": {"type": "http", "scheme": "bearer", "description": "an agent token"},
            },
            "schemas": schemas,
        },
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use railyard_types::api::{self, Endpoint, Visit};

    /// Every declared endpoint, as (method, path).
    fn declared() -> BTreeSet<(String, String)> {
        struct Collect(BTreeSet<(String, String)>);
        impl Visit for Collect {
            fn visit<E: Endpoint>(&mut self) {
                self.0
                    .insert((E::METHOD.as_str().to_string(), E::PATH.to_string()));
            }
        }
        let mut all = Collect(BTreeSet::new());
        api::for_each(&mut all);
        all.0
    }

    #[test]
    fn every_declared_endpoint_is_routed_and_documented_and_nothing_else_is_routed() {
        let declared = declared();
        assert!(declared.len() >= 29, "{declared:?}");
        let routes = crate::api::routes();
        let served: Vec<(String, String)> = routes
            .served
            .iter()
            .map(|(m, p)| (m.as_str().to_string(), p.to_string()))
            .collect();
        let served_set: BTreeSet<_> = served.iter().cloned().collect();
        assert_eq!(served.len(), served_set.len(), "an endpoint routed twice");
        assert_eq!(served_set, declared, "routed vs declared");
        let doc = super::build();
        let documented: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(|m| (m.to_uppercase(), path.clone()))
            })
            .collect();
        let declared_doc: BTreeSet<_> = declared
            .iter()
            .map(|(m, p)| (m.clone(), p.replace("{*", "{")))
            .collect();
        assert_eq!(documented, declared_doc, "documented vs declared");
    }

    #[test]
    fn the_document_describes_parameters_and_bodies() {
        let doc = super::build();
        assert_eq!(
            doc["paths"]["/api/v1/runs/{id}/logs/{job}"]["get"]["parameters"][1]["name"],
            "job"
        );
        let runs = &doc["paths"]["/api/v1/runs"]["get"]["parameters"];
        let mut names: Vec<&str> = runs
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["limit", "project"]);
        let register = &doc["paths"]["/api/v1/agents/register"]["post"];
        let body = &register["requestBody"]["content"]["application/json"]["schema"];
        assert!(body["properties"]["slots"].is_object(), "{body}");
        assert!(register["responses"]["415"].is_object());
        let created = &doc["paths"]["/api/v1/projects"]["post"]["responses"]["201"];
        assert!(
            created["content"]["application/json"]["schema"]["properties"]["repo_url"].is_object(),
            "{created}"
        );
        // A trigger's body may be left out; a nested type is a component.
        let trigger = &doc["paths"]["/api/v1/projects/{name}/trigger"]["post"];
        assert_eq!(trigger["requestBody"]["required"], false);
        assert!(doc["components"]["schemas"]["RunRecord"].is_object());
    }
}

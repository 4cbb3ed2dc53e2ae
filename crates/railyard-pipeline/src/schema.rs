//! A JSON Schema of the pipeline file, for editors (YAML language servers read JSON
//! Schema): completion and hover for every key. The parser stays the authority; a test
//! keeps the schema's keys equal to the parser's.

use serde_json::{Value, json};

/// The JSON Schema (draft 2020-12) of `.railyard.yml`.
pub fn json_schema() -> Value {
    let duration = json!({
        "type": "string",
        "pattern": "^\\s*([0-9]+\\s*(ms|s|m|h|d)\\s*)+$",
        "examples": ["90s", "20m", "1h30m"]
    });
    let scalar = json!({ "type": ["string", "number", "boolean"] });
    let variable_name = json!({
        "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
        "not": { "enum": crate::shards::RESERVED_VARIABLES }
    });
    let variables = json!({
        "type": ["object", "null"],
        "description": "Environment variables: names are letters, digits and `_`; values are kept as written. RAILYARD_SHARD, RAILYARD_SHARDS and RAILYARD_TESTS_FILE are set by Railyard.",
        "propertyNames": variable_name,
        "additionalProperties": scalar
    });
    let strings = |description: &str| {
        json!({
            "description": description,
            "oneOf": [
                { "type": "string" },
                { "type": "array", "items": { "type": ["string", "number", "boolean"] } }
            ]
        })
    };
    let env = json!({
        "type": "object",
        "description": "Where the image comes from: `dockerfile` (built) or `image` (ready), not both.",
        "additionalProperties": false,
        "properties": {
            "dockerfile": { "type": "string", "description": "The Dockerfile, relative to the repository root." },
            "context": { "type": "string", "description": "The build context; default: the Dockerfile's folder." },
            "args": { "type": ["object", "null"], "description": "Build arguments.", "additionalProperties": scalar },
            "target": { "type": "string", "description": "The stage to build." },
            "image": { "type": "string", "description": "A ready image, e.g. `debian:bookworm-slim`." },
            "scan": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "fail_on": {
                        "enum": ["low", "medium", "high", "critical"],
                        "description": "Fail the run when a vulnerability this severe or worse affects the image."
                    }
                }
            }
        },
        "oneOf": [ { "required": ["dockerfile"] }, { "required": ["image"] } ]
    });
    let image_build = json!({
        "type": "object",
        "description": "An image built from the workspace after the steps (never by the job itself), scanned, and pushed under the project's name when `push` is set.",
        "additionalProperties": false,
        "required": ["dockerfile", "tags"],
        "properties": {
            "dockerfile": { "type": "string", "description": "The Dockerfile, relative to the repository root." },
            "context": env["properties"]["context"],
            "args": env["properties"]["args"],
            "target": env["properties"]["target"],
            "tags": {
                "description": "`PATH[:TAG]` under the project (no registry host); `{commit}`, `{short_commit}`, `{run}` and `{ref}` are replaced in the tag.",
                "oneOf": [
                    { "type": "string" },
                    { "type": "array", "minItems": 1, "items": { "type": "string" } }
                ],
                "examples": ["app:{commit}", "app:{ref}"]
            },
            "push": { "type": "boolean", "description": "Push the tags to the server's registry once the scan passes (default `false`)." },
            "scan": env["properties"]["scan"]
        }
    });
    let service = json!({
        "oneOf": [
            { "type": "string", "description": "The image (short form)." },
            {
                "type": "object",
                "additionalProperties": false,
                "required": ["image"],
                "properties": {
                    "image": { "type": "string", "description": "The image to run." },
                    "variables": variables,
                    "command": strings("The command: a string runs through `sh -c`, a list is the exact arguments."),
                    "ready": { "type": "string", "description": "A command run inside the service until it exits 0." },
                    "ready_timeout": duration
                }
            }
        ]
    });
    let tools: Vec<&str> = crate::shards::TEST_TOOLS
        .iter()
        .copied()
        .chain(["auto"])
        .collect();
    let tests = json!({
        "type": "object",
        "description": "The tests to split across the shards.",
        "additionalProperties": false,
        "required": ["run", "junit"],
        "oneOf": [ { "required": ["list"] }, { "required": ["files"] } ],
        "properties": {
            "list": { "type": "string", "description": "A command run once in the env that prints one test id a line." },
            "files": { "type": "string", "description": "A glob of test files, relative to the repository root (`tests/**/test_*.py`); each file is a test id." },
            "run": {
                "type": "string",
                "description": "The command that runs a batch: `{tests}` stands for its ids, shell-quoted; the file `$RAILYARD_TESTS_FILE` holds them one a line.",
                "anyOf": [ { "pattern": "\\{tests\\}" }, { "pattern": "RAILYARD_TESTS_FILE" } ]
            },
            "junit": strings("The JUnit XML reports `run` writes: paths or globs relative to the workspace."),
            "mode": { "enum": ["static", "queue"], "description": "`static` (default): split by measured times before the shards start; `queue`: shards pull batches from a shared queue." },
            "format": {
                "type": "string",
                "description": "How a listed id maps to a JUnit case: `auto` (default), a tool, or a template of {name}, {classname}, {file}, {suite}.",
                "examples": tools
            }
        }
    });
    let deploy_name = json!({
        "type": "string",
        "minLength": 1,
        "maxLength": crate::deploy::MAX_DEPLOY_NAME_LEN,
        "pattern": "^[^\\s\\p{Cc}]([^\\p{Cc}]*[^\\s\\p{Cc}])?$",
        "examples": ["production", "staging"]
    });
    let need = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["job"],
        "properties": {
            "job": { "type": "string", "description": "The job (a matrix job, or one of its jobs by its full name)." },
            "artifacts": { "type": "boolean", "description": "Take its artifacts (default `true`)." }
        }
    });
    let cache = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "key", "paths"],
        "properties": {
            "name": {
                "type": "string",
                "pattern": "^[a-z0-9][a-z0-9._-]*$",
                "maxLength": crate::cache::MAX_CACHE_NAME_LEN,
                "description": "Unique in the job, e.g. `pip`."
            },
            "key": {
                "description": "A string (`pip-v1`), or `{ files, prefix }`: the prefix then a hash of the files' contents; a new key starts from the newest cache of the same prefix.",
                "oneOf": [
                    { "type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]*$", "maxLength": crate::cache::MAX_CACHE_KEY_LEN },
                    {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["files"],
                        "properties": {
                            "files": strings("Repository files whose contents make the key."),
                            "prefix": { "type": "string", "description": "Put before the hash (default empty)." }
                        }
                    }
                ]
            },
            "paths": strings("Folders relative to the workspace, each mounted from the cache.")
        }
    });
    let job = json!({
        "type": "object",
        "additionalProperties": false,
        "anyOf": [ { "required": ["script"] }, { "required": ["tests"] } ],
        "properties": {
            "script": strings("The steps, each run with `sh -c`; one string is one step. With `tests`, they run before the tests in each shard."),
            "needs": {
                "description": "Jobs that must succeed before this one starts, whose artifacts it takes unless `{ job: NAME, artifacts: false }`.",
                "oneOf": [
                    need,
                    { "type": "string" },
                    { "type": "array", "items": { "oneOf": [ { "type": ["string", "number", "boolean"] }, need ] } }
                ]
            },
            "env": env,
            "variables": variables,
            "services": {
                "type": ["object", "null"],
                "description": "Sidecar containers, reachable by their name.",
                "propertyNames": { "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$" },
                "additionalProperties": service
            },
            "timeout": duration,
            "allow_failure": { "type": "boolean", "description": "A failure does not fail the run." },
            "manual": { "type": "boolean", "description": "The job waits for a person's approval (`railyard approve RUN JOB`; locally `railyard run --approve JOB`); jobs that need it wait with it." },
            "artifacts": {
                "description": "Paths copied out after the steps and placed at the same paths in the jobs that need this one: a path, a list of paths, or `{ paths, when }`.",
                "oneOf": [
                    {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["paths"],
                        "properties": {
                            "paths": strings("Paths relative to the workspace (files or folders)."),
                            "when": {
                                "enum": crate::handover::WHEN,
                                "description": "When they are kept: `on_success` (default), `on_failure` or `always`."
                            }
                        }
                    },
                    { "type": "string" },
                    { "type": "array", "items": { "type": ["string", "number", "boolean"] } }
                ]
            },
            "cache": {
                "description": "Named dependency caches: folders of the workspace kept between runs by key, each a volume on the engine.",
                "oneOf": [
                    { "type": "array", "items": cache },
                    cache
                ]
            },
            "runs_on": strings("Labels an agent must all have to take the job."),
            "when": crate::when::schema(),
            "resources": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "cpus": { "type": ["number", "string"], "description": "CPUs, fractions allowed." },
                    "memory": {
                        "type": ["integer", "string"],
                        "description": "Bytes, or a size like `512m`, `4g`, `1.5G`."
                    }
                }
            },
            "parallel": {
                "type": "integer",
                "minimum": 1,
                "maximum": crate::shards::MAX_PARALLEL,
                "description": "Shards of the job, each in its own container with its own services (default 1)."
            },
            "tests": tests,
            "image_build": image_build,
            "concurrency": {
                "description": "A named lock across the server's runs and projects: jobs of the same group never run at once.",
                "oneOf": [
                    {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["group"],
                        "properties": {
                            "group": deploy_name,
                            "cancel_pending": { "type": "boolean", "description": "A newer waiting job drops an older one still waiting (default `false`)." }
                        }
                    },
                    deploy_name
                ]
            },
            "environment": {
                "description": "The environment the job deploys to: its runs are recorded as deployments of it.",
                "oneOf": [
                    {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["name"],
                        "properties": { "name": deploy_name }
                    },
                    deploy_name
                ]
            },
            "retry_failed": {
                "type": "integer",
                "minimum": 0,
                "maximum": crate::shards::MAX_RETRY_FAILED,
                "description": "Reruns of failing tests (needs `tests`); a test passing on a rerun is flaky."
            },
            "matrix": {
                "type": "object",
                "minProperties": 1,
                "description": "One job per combination of values, named `job (A=x, B=y)`, each value set as a variable; at most 256 jobs.",
                "propertyNames": variable_name,
                "additionalProperties": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": true,
                    "items": scalar
                }
            }
        }
    });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Railyard pipeline (.railyard.yml)",
        "type": "object",
        "additionalProperties": false,
        "patternProperties": { "^\\.": {} },
        "required": ["jobs"],
        "properties": {
            "env": env,
            "variables": variables,
            "secrets": strings("Names of environment variables read from Railyard's own environment when the run starts, given to every job and masked in every log line; never passed to image builds."),
            "jobs": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": job
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::json_schema;
    use crate::decode::{ENV_KEYS, TOP_KEYS};
    use crate::deploy::{CONCURRENCY_KEYS, ENVIRONMENT_KEYS};
    use crate::handover::{ARTIFACTS_KEYS, NEED_KEYS};
    use crate::image::IMAGE_BUILD_KEYS;
    use crate::job::{JOB_KEYS, SERVICE_KEYS};
    use crate::shards::TESTS_KEYS;
    use serde_json::Value;

    fn keys(object: &Value) -> Vec<String> {
        object["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    fn sorted(list: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn the_schema_knows_the_keys_the_parser_knows() {
        let schema = json_schema();
        let mut top = keys(&schema);
        top.sort();
        assert_eq!(top, sorted(TOP_KEYS));
        let job = &schema["properties"]["jobs"]["additionalProperties"];
        let mut job_keys = keys(job);
        job_keys.sort();
        assert_eq!(job_keys, sorted(JOB_KEYS));
        let mut env = keys(&schema["properties"]["env"]);
        env.sort();
        assert_eq!(env, sorted(ENV_KEYS));
        let service = &job["properties"]["services"]["additionalProperties"]["oneOf"][1];
        let mut service_keys = keys(service);
        service_keys.sort();
        assert_eq!(service_keys, sorted(SERVICE_KEYS));
        let mut tests_keys = keys(&job["properties"]["tests"]);
        tests_keys.sort();
        assert_eq!(tests_keys, sorted(TESTS_KEYS));
        let mut artifacts_keys = keys(&job["properties"]["artifacts"]["oneOf"][0]);
        artifacts_keys.sort();
        assert_eq!(artifacts_keys, sorted(ARTIFACTS_KEYS));
        let mut need_keys = keys(&job["properties"]["needs"]["oneOf"][0]);
        need_keys.sort();
        assert_eq!(need_keys, sorted(NEED_KEYS));
        let mut image_keys = keys(&job["properties"]["image_build"]);
        image_keys.sort();
        assert_eq!(image_keys, sorted(IMAGE_BUILD_KEYS));
        let mut concurrency_keys = keys(&job["properties"]["concurrency"]["oneOf"][0]);
        concurrency_keys.sort();
        assert_eq!(concurrency_keys, sorted(CONCURRENCY_KEYS));
        let environment_keys = keys(&job["properties"]["environment"]["oneOf"][0]);
        assert_eq!(environment_keys, sorted(ENVIRONMENT_KEYS));
        let cache = &job["properties"]["cache"]["oneOf"][1];
        let mut cache_keys = keys(cache);
        cache_keys.sort();
        assert_eq!(cache_keys, sorted(crate::cache::CACHE_KEYS));
        let mut cache_key_keys = keys(&cache["properties"]["key"]["oneOf"][1]);
        cache_key_keys.sort();
        assert_eq!(cache_key_keys, sorted(crate::cache::CACHE_KEY_KEYS));
        let mut when_keys = keys(&job["properties"]["when"]);
        when_keys.sort();
        assert_eq!(when_keys, sorted(crate::when::WHEN_KEYS));
    }
}

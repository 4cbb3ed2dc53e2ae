//! Env images through a registry, as the API carries them: the build lease an agent asks for
//! before building an env key (`POST /api/v1/jobs/{id}/env-lease`), the digest it reports
//! once pushed, and the server's list of keys for garbage collection.
//!
//! The project of a lease is never in a body: the server takes it from the job whose lease
//! the call is made under, so an agent can build, wait for or report only its own jobs'
//! projects' keys (the request types refuse unknown fields, a `project` among them).

use serde::{Deserialize, Serialize};

use crate::{AgentId, Millis, ProjectName};

/// How a job's env image came to be on its engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EnvOrigin {
    /// The engine had it: nothing built or pulled.
    Local,
    /// Built here (and pushed, when a registry is configured and took it).
    Built,
    /// Pulled from the registry (an env key another machine built, or a ready `image`).
    Pulled,
}

/// `POST /api/v1/jobs/{id}/env-lease`: ask for (or renew) the build lease of an env key of
/// the leased job's project.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnvLeaseRequest {
    /// The agent holding the job's lease.
    pub agent_id: AgentId,
    /// The job's attempt.
    pub attempt: i64,
    /// The env cache key: 64 lower-case hex digits.
    pub key: String,
}

/// The server's answer to an [`EnvLeaseRequest`] (and to an [`EnvBuiltRequest`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum EnvLeaseAnswer {
    /// Build it: the lease is the caller's until `lease_ms` from now; ask again before then
    /// to keep it, and report the digest once pushed.
    Build {
        /// How long the lease lasts unless renewed.
        lease_ms: u64,
    },
    /// Another job holds the lease and builds it: ask again after a while.
    Wait {
        /// Who builds it (`agent/job#attempt`).
        holder: String,
    },
    /// Built and pushed: pull it.
    Ready {
        /// The manifest digest the builder pushed (`sha256:…`).
        digest: String,
    },
}

/// `POST /api/v1/jobs/{id}/env-lease/built`: the key's image is pushed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnvBuiltRequest {
    /// The agent holding the job's lease.
    pub agent_id: AgentId,
    /// The job's attempt.
    pub attempt: i64,
    /// The env cache key.
    pub key: String,
    /// Where it was pushed (`host:port/prefix/env/project:key`).
    pub reference: String,
    /// The manifest digest the registry stored (`sha256:` and 64 hex digits).
    pub digest: String,
}

/// An env key the server knows, as `GET /api/v1/env-images` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnvImageInfo {
    /// The project.
    pub project: ProjectName,
    /// The env cache key.
    pub key: String,
    /// Where it was pushed, once built.
    pub reference: Option<String>,
    /// Its manifest digest, once built.
    pub digest: Option<String>,
    /// Who built it (`agent/job#attempt`).
    pub built_by: Option<String>,
    /// When it was reported pushed.
    pub built_at: Option<Millis>,
    /// When a job last recorded running on it.
    pub last_used_at: Option<Millis>,
    /// Who holds its build lease, while one is building it.
    pub lease_holder: Option<String>,
    /// Until when.
    pub lease_until: Option<Millis>,
}

/// `GET /api/v1/env-images?unused_days=N`: only the keys no job used for N days.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnvImagesQuery {
    /// Keep only keys whose last use (or build, if never used) is older than this many days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unused_days: Option<u32>,
}

/// `POST /api/v1/env-images/{project}/{key}/remove`: the digest whose manifest was deleted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RemoveEnvImage {
    /// The manifest digest deleted from the registry.
    pub digest: String,
}

/// True for an env cache key: 64 lower-case hex digits (a blake3 hash).
pub fn is_env_key(key: &str) -> bool {
    key.len() == 64
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// True for a manifest digest: `sha256:` and 64 lower-case hex digits.
pub fn is_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(is_env_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_digests_are_hex_of_the_right_length() {
        let key = "ab".repeat(32);
        assert!(is_env_key(&key));
        assert!(is_digest(&format!("sha256:{key}")));
        for bad in [
            "",
            "AB",
            &"ab".repeat(31),
            &format!("{}/", "a".repeat(63)),
            "../etc",
        ] {
            assert!(!is_env_key(bad), "{bad}");
        }
        assert!(!is_digest(&key));
    }

    #[test]
    fn a_lease_request_naming_a_project_is_refused() {
        let hostile = r#"{"agent_id":"a","attempt":1,"key":"k","project":"other"}"#;
        assert!(serde_json::from_str::<EnvLeaseRequest>(hostile).is_err());
    }
}

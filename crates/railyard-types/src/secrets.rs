//! Project secrets as the API and the agent protocol carry them: a value type that never
//! prints itself, the bodies of the secret endpoints, and how a repository credential is
//! handed to `git` (an `Authorization` header through `GIT_CONFIG_*` variables: never in a
//! URL, an argument or a file).

use serde::{Deserialize, Serialize};

use crate::Millis;

/// The reserved name of a project's repository credential: not a variable name, so no
/// pipeline can name it in `secrets` and no job is ever given it.
pub const REPO_CREDENTIAL: &str = "@repo";

/// The reserved secret name of a project's forge token: what the server's commit statuses
/// are sent with (see [`crate::statuses`]). Never given to a job.
pub const FORGE_TOKEN: &str = "@forge";

/// A secret's value. Its `Debug` and `Display` print `***`, so a claim or a request logged by
/// mistake shows no value; only [`SecretValue::expose`] gives it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> SecretValue {
        SecretValue(value.into())
    }

    /// The value itself: for the job's environment, the masker and `git`, nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Whether `name` can name a secret: an environment variable name (letters, digits and `_`,
/// not starting with a digit, at most 100 bytes), or [`REPO_CREDENTIAL`] or [`FORGE_TOKEN`].
pub fn valid_name(name: &str) -> bool {
    name == REPO_CREDENTIAL
        || name == FORGE_TOKEN
        || (!name.is_empty()
            && name.len() <= 100
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// Whether a run of `git_ref` (in full, `refs/heads/main`; `None` for a commit) may have a
/// secret limited to `patterns`. No patterns: every run. A pattern matches a branch or tag
/// by its short name (`main`, `release/*`, `v*`) or a ref by its full name (`refs/tags/v*`);
/// `*` matches any run of characters, `/` included.
pub fn ref_allowed(patterns: &[String], git_ref: Option<&str>) -> bool {
    if patterns.is_empty() {
        return true;
    }
    let Some(full) = git_ref else {
        return false;
    };
    let short = full
        .strip_prefix("refs/heads/")
        .or_else(|| full.strip_prefix("refs/tags/"));
    patterns.iter().any(|p| {
        if p.starts_with("refs/") {
            glob(p, full)
        } else {
            short.is_some_and(|s| glob(p, s))
        }
    })
}

/// `*`-only glob over the whole text.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// Checks a protected-ref pattern: not empty, no spaces or commas.
pub fn pattern_problem(pattern: &str) -> Option<String> {
    if pattern.is_empty() {
        Some("an empty protected-ref pattern".into())
    } else if pattern.len() > 200 || pattern.chars().any(|c| c.is_whitespace() || c == ',') {
        Some(format!(
            "protected-ref pattern `{pattern}`: no spaces or commas, at most 200 bytes (e.g. `main`, `release/*`)"
        ))
    } else {
        None
    }
}

/// `PUT /api/v1/projects/{name}/secrets/{secret}`: sets (or replaces) a secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetSecret {
    /// The value; never sent back by any endpoint.
    pub value: SecretValue,
    /// Only runs of these refs get it (`main`, `release/*`); empty: every run.
    #[serde(default)]
    pub protected_refs: Vec<String>,
}

/// A secret as listed: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecretInfo {
    /// Its name (an environment variable, or `@repo` for the repository credential).
    pub name: String,
    /// When it was first set.
    pub created_at: Millis,
    /// When it was last set.
    pub updated_at: Millis,
    /// The refs whose runs get it; empty: every run.
    pub protected_refs: Vec<String>,
}

/// A repository credential (`USER:PASSWORD`, or a bare token, sent as the password of user
/// `x-access-token`) as the `GIT_CONFIG_*` variables that make `git` send it as an
/// `Authorization: Basic` header over HTTP(S). Variables, not `-c`: arguments show in `ps`.
pub fn git_auth_env(credential: &SecretValue) -> Vec<(String, String)> {
    let value = credential.expose();
    let pair = if value.contains(':') {
        value.to_owned()
    } else {
        format!("x-access-token:{value}")
    };
    vec![
        ("GIT_CONFIG_COUNT".into(), "1".into()),
        ("GIT_CONFIG_KEY_0".into(), "http.extraHeader".into()),
        (
            "GIT_CONFIG_VALUE_0".into(),
            format!("Authorization: Basic {}", base64(pair.as_bytes())),
        ),
    ]
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Splits `user:password@` (or `token@`) off an `http(s)` URL: the URL without it, and the
/// credential as a repository credential's value (`user:password`; `token:` for a bare user,
/// which git sent with an empty password). `None` when the URL carries none.
pub fn split_url_credential(url: &str) -> Option<(String, SecretValue)> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    let userinfo = &rest[..at];
    let value = if userinfo.contains(':') {
        userinfo.to_owned()
    } else {
        format!("{userinfo}:")
    };
    let value = percent_decode(&value);
    Some((
        format!("{scheme}://{}", &rest[at + 1..]),
        SecretValue(value),
    ))
}

/// `%XX` decoded (URL userinfo is percent-encoded); anything else kept.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(h) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(h, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_never_prints_itself() {
        let v = SecretValue::new("hunter22");
        assert_eq!(format!("{v:?} {v}"), "*** ***");
        assert_eq!(v.expose(), "hunter22");
    }

    #[test]
    fn protected_refs_match_branches_tags_and_full_refs() {
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(ref_allowed(&[], None));
        assert!(ref_allowed(&p(&["main"]), Some("refs/heads/main")));
        assert!(!ref_allowed(&p(&["main"]), Some("refs/heads/feature")));
        assert!(!ref_allowed(&p(&["main"]), None), "a commit run");
        assert!(ref_allowed(
            &p(&["release/*"]),
            Some("refs/heads/release/1.2")
        ));
        assert!(!ref_allowed(
            &p(&["release/*"]),
            Some("refs/heads/releases")
        ));
        assert!(ref_allowed(&p(&["v*"]), Some("refs/tags/v1.0")));
        assert!(ref_allowed(&p(&["refs/tags/*"]), Some("refs/tags/x")));
        assert!(!ref_allowed(&p(&["refs/tags/*"]), Some("refs/heads/x")));
        assert!(!ref_allowed(&p(&["main"]), Some("refs/pull/1/main")));
        assert!(ref_allowed(&p(&["a*b*c"]), Some("refs/heads/axxbyyc")));
        assert!(!ref_allowed(&p(&["a*b*c"]), Some("refs/heads/axxcyyb")));
    }

    #[test]
    fn names_are_variables_or_the_repository_credential() {
        for ok in ["DEPLOY_KEY", "_x", "a1", REPO_CREDENTIAL, FORGE_TOKEN] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "1A", "A-B", "A B", "@other", "../x"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"bob:s3cret"), "Ym9iOnMzY3JldA==");
    }

    #[test]
    fn url_credentials_split_off() {
        let (url, cred) = split_url_credential("https://bob:s%40cret@git.example/a.git").unwrap();
        assert_eq!(url, "https://git.example/a.git");
        assert_eq!(cred.expose(), "bob:s@cret");
        let (url, cred) = split_url_credential("http://ghp_tok@h:8080/r").unwrap();
        assert_eq!(
            (url.as_str(), cred.expose()),
            ("http://h:8080/r", "ghp_tok:")
        );
        assert!(split_url_credential("https://host/p@th.git").is_none());
        assert!(split_url_credential("ssh://git@host/r.git").is_none());
        assert!(split_url_credential("/srv/r.git").is_none());
        let env = git_auth_env(&SecretValue::new("tok"));
        assert_eq!(
            env[2].1,
            format!("Authorization: Basic {}", base64(b"x-access-token:tok"))
        );
    }
}

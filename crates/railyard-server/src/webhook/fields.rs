//! Reading a webhook body as untrusted: each field by its path (`pull_request.head.sha`), and
//! a field that is missing, of another type, or not what it names (a commit id, a branch
//! name, a number) is a 400 naming it: never a panic, never a 500.

use serde_json::Value;

use crate::error::ApiError;

/// A parsed body.
pub(super) struct Fields(Value);

impl Fields {
    /// The body as JSON; `what` names the payload in the error (`pull_request`).
    pub(super) fn parse(body: &[u8], what: &str) -> Result<Fields, ApiError> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("the {what} payload is not JSON: {e}")))?;
        if !value.is_object() {
            return Err(ApiError::BadRequest(format!(
                "the {what} payload is not a JSON object"
            )));
        }
        Ok(Fields(value))
    }

    /// The value at a dotted path, `None` when missing or `null`.
    pub(super) fn get(&self, path: &str) -> Option<&Value> {
        path.split('.')
            .try_fold(&self.0, |v, key| v.get(key))
            .filter(|v| !v.is_null())
    }

    /// A string field.
    pub(super) fn str(&self, path: &str) -> Result<&str, ApiError> {
        self.get(path)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(path, "is missing or not a string"))
    }

    /// A commit id: 7 to 64 hex digits.
    pub(super) fn commit(&self, path: &str) -> Result<String, ApiError> {
        let id = self.str(path)?;
        if id.len() < 7 || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(path, &format!("is not a commit id: `{}`", shown(id))));
        }
        if id.bytes().all(|b| b == b'0') {
            return Err(bad(
                path,
                "is the null commit: a pull request has a head commit",
            ));
        }
        Ok(id.to_owned())
    }

    /// A branch name, as git takes it after `refs/heads/`.
    pub(super) fn branch(&self, path: &str) -> Result<String, ApiError> {
        let name = self.str(path)?;
        if name.is_empty() || !super::is_ref_name(&format!("refs/heads/{name}")) {
            return Err(bad(
                path,
                &format!("is not a branch name: `{}`", shown(name)),
            ));
        }
        Ok(name.to_owned())
    }

    /// A pull request's number: a whole number from 1 (stored as a signed 64-bit integer).
    pub(super) fn number(&self, path: &str) -> Result<u64, ApiError> {
        self.get(path)
            .and_then(Value::as_u64)
            .filter(|n| (1..=i64::MAX as u64).contains(n))
            .ok_or_else(|| bad(path, "is missing or not a pull request number (1 and up)"))
    }

    /// A field that must be there, whatever it holds (a project's id).
    pub(super) fn present(&self, path: &str) -> Result<&Value, ApiError> {
        self.get(path).ok_or_else(|| bad(path, "is missing"))
    }
}

/// The 400 naming the field.
fn bad(path: &str, why: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "the webhook payload's `{path}` {why}: is this a delivery of the event its header names?"
    ))
}

/// At most 80 characters of a value, for an error.
fn shown(value: &str) -> String {
    value
        .chars()
        .take(80)
        .flat_map(char::escape_default)
        .collect()
}

//! Push webhooks: `POST /api/v1/projects/{name}/webhook`, from GitHub (`X-Hub-Signature-256`,
//! HMAC-SHA256 of the body), Gitea (`X-Gitea-Signature`, the same HMAC in bare hex) or GitLab
//! (`X-Gitlab-Token`, the secret itself). The signature is checked in constant time before
//! the body is read: a bad or missing one gets 401, a malformed payload 400, and neither
//! queues anything. A push starts a run for its `after` commit.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use railyard_types::api::Webhook;
use sha2::Sha256;

use crate::api::{Params, Payload, Reply};
use crate::error::ApiError;
use crate::protocol::WebhookAnswer;
use crate::{AppState, TokenHash};

/// Checks the delivery's signature against the project's secret.
fn verify(headers: &HeaderMap, secret: &str, body: &[u8]) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let hmac_ok = |hex_sig: &str| {
        let Ok(sig) = hex::decode(hex_sig.trim()) else {
            return false;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
            return false;
        };
        mac.update(body);
        mac.verify_slice(&sig).is_ok()
    };
    let ok = if let Some(sig) = header("x-hub-signature-256") {
        sig.strip_prefix("sha256=").is_some_and(hmac_ok)
    } else if let Some(sig) = header("x-gitea-signature") {
        hmac_ok(sig)
    } else if let Some(token) = header("x-gitlab-token") {
        TokenHash::of(secret).matches(token)
    } else {
        false
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadSignature(
            "no X-Hub-Signature-256, X-Gitea-Signature or X-Gitlab-Token matching the project's secret".into(),
        ))
    }
}

pub(crate) async fn push(
    State(state): State<AppState>,
    Params(name): Params<Webhook>,
    Payload {
        headers,
        bytes: body,
        ..
    }: Payload<Webhook>,
) -> Result<Reply<Webhook>, ApiError> {
    // Unknown project and project without a secret look the same as a bad signature, so a
    // caller without the secret learns nothing.
    let secret = state.store().webhook_secret(&name).await?;
    let Some(secret) = secret else {
        return Err(ApiError::BadSignature(format!(
            "project `{name}` does not exist or has no webhook secret (`railyard project add --webhook-secret`)"
        )));
    };
    verify(&headers, &secret, &body)?;
    let event = headers
        .get("x-github-event")
        .or_else(|| headers.get("x-gitea-event"))
        .or_else(|| headers.get("x-gitlab-event"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("push");
    if event == "ping" {
        return Ok(ignored("ping"));
    }
    if !matches!(event, "push" | "Push Hook") {
        return Ok(ignored(&format!("event `{event}` starts no run")));
    }
    let Some(Pushed { after, pushed_ref }) = read_push(&body)? else {
        return Ok(ignored("a deleted branch"));
    };
    let triggered = crate::api::start_run(&state, &name, &after, pushed_ref.as_deref()).await?;
    Ok(Reply::new(WebhookAnswer {
        run: Some(triggered.run),
        ignored: None,
    }))
}

/// What a push webhook's body asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Pushed {
    /// The commit pushed.
    pub after: String,
    /// The ref pushed (`refs/heads/main`), given to the jobs as RAILYARD_REF; one that does
    /// not look like a ref name is left out rather than passed on.
    pub pushed_ref: Option<String>,
}

/// Reads a push body (GitHub, Gitea and GitLab agree on `after` and `ref`): the commit and
/// ref, `None` for a deleted branch, or why it is refused. The body is not trusted: anything
/// but a JSON object with a commit id is a clear error.
pub(crate) fn read_push(body: &[u8]) -> Result<Option<Pushed>, ApiError> {
    let payload: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the push payload is not JSON: {e}")))?;
    let after = payload
        .get("after")
        .and_then(|v| v.as_str())
        .ok_or_else(|| ApiError::BadRequest("the push payload has no `after` commit".into()))?;
    if after.len() < 7 || after.len() > 64 || !after.bytes().all(|b| b.is_ascii_hexdigit()) {
        let shown: String = after.chars().take(80).collect();
        return Err(ApiError::BadRequest(format!(
            "`after` is not a commit id: `{shown}`"
        )));
    }
    if after.bytes().all(|b| b == b'0') {
        return Ok(None);
    }
    let pushed_ref = payload
        .get("ref")
        .and_then(|v| v.as_str())
        .filter(|r| is_ref_name(r))
        .map(str::to_string);
    Ok(Some(Pushed {
        after: after.to_string(),
        pushed_ref,
    }))
}

/// `refs/…` of at most 1,024 characters, without spaces or control characters (which git
/// refuses in ref names too).
fn is_ref_name(name: &str) -> bool {
    name.starts_with("refs/")
        && name.len() <= 1024
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn ignored(why: &str) -> Reply<Webhook> {
    Reply::with_status(
        StatusCode::OK,
        WebhookAnswer {
            run: None,
            ignored: Some(why.into()),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn github_signature_from_its_documentation() {
        // The example of GitHub's "Validating webhook deliveries" page.
        let secret = "It's a Secret to Everybody";
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let h = headers("x-hub-signature-256", sig);
        assert!(verify(&h, secret, b"Hello, World!").is_ok());
        assert!(verify(&h, secret, b"Hello, World?").is_err());
        assert!(verify(&h, "another secret", b"Hello, World!").is_err());
        let bare = headers("x-hub-signature-256", sig.trim_start_matches("sha256="));
        assert!(
            verify(&bare, secret, b"Hello, World!").is_err(),
            "the prefix is required"
        );
        let gitea = headers("x-gitea-signature", sig.trim_start_matches("sha256="));
        assert!(verify(&gitea, secret, b"Hello, World!").is_ok());
        assert!(verify(&headers("x-gitea-signature", "zz"), secret, b"").is_err());
    }

    #[test]
    fn only_ref_names_are_passed_on() {
        assert!(is_ref_name("refs/heads/main"));
        assert!(is_ref_name("refs/tags/v1.2"));
        for bad in [
            "main",
            "refs/heads/a b",
            "refs/heads/x\nEVIL=1",
            "refs/\u{7}",
        ] {
            assert!(!is_ref_name(bad), "{bad:?}");
        }
        assert!(!is_ref_name(&format!("refs/heads/{}", "x".repeat(1100))));
    }

    #[test]
    fn gitlab_token_and_nothing() {
        assert!(verify(&headers("x-gitlab-token", "s3cret"), "s3cret", b"{}").is_ok());
        assert!(verify(&headers("x-gitlab-token", "s3cre"), "s3cret", b"{}").is_err());
        assert!(verify(&HeaderMap::new(), "s3cret", b"{}").is_err());
    }

    proptest::proptest! {
        #![proptest_config(railyard_test_support::fuzz_config())]

        /// Any body: a push read whole, a deleted branch, or an error; never a panic, and
        /// what is read is a commit id and a ref name.
        #[test]
        fn any_body_is_a_push_or_a_clear_error(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            check_push(&body);
        }

        /// JSON shaped like a push with hostile values.
        #[test]
        fn push_shaped_bodies_are_read_or_refused(
            after in "[0-9a-fA-Fz \\n\"]{0,80}",
            pushed in "(refs/)?[a-z/ \\t\\u{7}.-]{0,40}",
            extra in proptest::collection::vec(("[a-z]{1,8}", "[ -~]{0,16}"), 0..4),
        ) {
            let mut body = serde_json::json!({ "after": after, "ref": pushed });
            for (k, v) in extra {
                body[k] = serde_json::Value::String(v);
            }
            check_push(body.to_string().as_bytes());
        }

        /// A signature header of any value never panics and never passes without the secret.
        #[test]
        fn forged_signatures_never_pass(value in "[ -~]{0,80}", body in "[ -~]{0,64}") {
            for name in ["x-hub-signature-256", "x-gitea-signature", "x-gitlab-token"] {
                let h = headers(name, &value);
                let passed = verify(&h, "the real secret", body.as_bytes()).is_ok();
                proptest::prop_assert!(!passed || (name == "x-gitlab-token" && value == "the real secret"));
            }
        }
    }

    fn check_push(body: &[u8]) {
        if let Ok(Some(Pushed { after, pushed_ref })) = read_push(body) {
            assert!(
                (7..=64).contains(&after.len()) && after.bytes().all(|b| b.is_ascii_hexdigit())
            );
            assert!(!after.bytes().all(|b| b == b'0'));
            if let Some(r) = pushed_ref {
                assert!(is_ref_name(&r), "{r:?}");
            }
        }
    }
}

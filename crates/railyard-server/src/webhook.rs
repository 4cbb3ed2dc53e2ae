//! Webhooks: `POST /api/v1/projects/{name}/webhook`, from GitHub (`X-Hub-Signature-256`,
//! HMAC-SHA256 of the body), Gitea (`X-Gitea-Signature`, the same HMAC in bare hex) or GitLab
//! (`X-Gitlab-Token`, the secret itself). A push of a branch or a tag starts a run for its
//! `after` commit; a pull (merge) request opened, pushed to or reopened starts a run of its
//! head commit (each forge's body read in its own module: [`github`] for GitHub and Gitea,
//! [`gitlab`]); any other event or action is answered 200 with why it starts nothing.
//!
//! What a caller without the secret can reach, in order:
//! - one indexed read of the project's secret (`projects.webhook_secret`: the key lives in
//!   the database, so this read cannot come after the check). Nothing else of the database
//!   is read or written before the signature is checked;
//! - GitLab's token and a missing or malformed signature are checked from the headers alone,
//!   before a byte of the body is read;
//! - an HMAC needs the body: it is read as it comes into the MAC, capped at
//!   [`WEBHOOK_BODY_LIMIT`] (413 past it, the rest never read), then checked.
//!
//! An unknown project, a project without a secret and a bad signature get one and the same
//! 401 (status and body), so the answer tells no one which projects exist; an HMAC delivery
//! to an unknown project reads its body under a throwaway key, as one to a real project
//! does, so that the 413 of a large body tells nothing either.
//!
//! Replays: a verified push naming its delivery id (`X-GitHub-Delivery`, `X-Gitea-Delivery`,
//! `X-Gitlab-Event-UUID`) is recorded with its run (see the store's `deliveries`), and the
//! same id again within a day answers 200 `{ignored}` and starts nothing. A delivery without
//! an id cannot be told from a replay and starts a run each time.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use futures_util::StreamExt;
use hmac::{Hmac, KeyInit, Mac};
use railyard_types::api::Webhook;
use sha2::Sha256;

use railyard_types::context::{PullRequest, RunEvent};

use crate::api::{Params, Payload, Reply};
use crate::error::ApiError;
use crate::protocol::WebhookAnswer;
use crate::{AppState, TokenHash};

mod fields;
mod github;
mod gitlab;
#[cfg(test)]
mod tests_events;

/// The most a webhook body may hold: GitHub caps its payloads at 25 MB, but a push of a
/// branch is a few kB and a push of hundreds of commits well under this.
pub(crate) const WEBHOOK_BODY_LIMIT: usize = 1 << 20;

/// The headers that carry a delivery's id, by forge.
const DELIVERY_HEADERS: [&str; 3] = [
    "x-github-delivery",
    "x-gitea-delivery",
    "x-gitlab-event-uuid",
];

/// The one answer to a delivery that is not proven to come from the project's forge.
fn refused() -> ApiError {
    ApiError::BadSignature(
        "unknown project, project without a webhook secret, or no X-Hub-Signature-256, \
         X-Gitea-Signature or X-Gitlab-Token matching its secret: check the project's name in \
         the URL and the secret given to `railyard project add --webhook-secret`"
            .into(),
    )
}

/// What a delivery offers as proof, from its headers.
enum Proof {
    /// An HMAC-SHA256 of the body (GitHub, Gitea).
    Hmac(Vec<u8>),
    /// The secret itself (GitLab).
    Token(String),
}

/// The delivery's proof; `None` for none, or a signature that is not hex.
fn proof(headers: &HeaderMap) -> Option<Proof> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(sig) = header("x-hub-signature-256") {
        let hex_sig = sig.strip_prefix("sha256=")?;
        hex::decode(hex_sig.trim()).ok().map(Proof::Hmac)
    } else if let Some(sig) = header("x-gitea-signature") {
        hex::decode(sig.trim()).ok().map(Proof::Hmac)
    } else {
        header("x-gitlab-token").map(|t| Proof::Token(t.to_owned()))
    }
}

/// The MAC of a project's secret, or of a throwaway key when there is none.
fn mac_of(secret: Option<&str>) -> Hmac<Sha256> {
    let key = secret.map_or(&b"no secret: nothing matches"[..], str::as_bytes);
    Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length")
}

/// Reads `body` whole, at most [`WEBHOOK_BODY_LIMIT`] bytes, feeding `mac` as it comes: a
/// body declared or found larger is refused (413) without reading the rest.
async fn read_capped(
    headers: &HeaderMap,
    body: axum::body::Body,
    mut mac: Option<&mut Hmac<Sha256>>,
) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::TooLarge(format!(
            "the webhook body is over the server's limit of {} MiB: a push payload is far \
             smaller; check what the forge sends",
            WEBHOOK_BODY_LIMIT >> 20
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > WEBHOOK_BODY_LIMIT as u64) {
        return Err(too_large());
    }
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("reading the webhook body: {e}")))?;
        if bytes.len() + chunk.len() > WEBHOOK_BODY_LIMIT {
            return Err(too_large());
        }
        if let Some(mac) = mac.as_deref_mut() {
            mac.update(&chunk);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The delivery's id, if its forge sent one; a value that is not a short printable id is
/// refused (it is stored).
fn delivery_id(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some((name, value)) = DELIVERY_HEADERS
        .iter()
        .find_map(|name| headers.get(*name).map(|v| (*name, v)))
    else {
        return Ok(None);
    };
    let id = value.to_str().map(str::trim).unwrap_or("\u{1}");
    if id.is_empty() {
        return Ok(None);
    }
    if id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::BadRequest(format!(
            "`{name}` is not a delivery id: send at most 128 printable ASCII characters, or \
             leave the header out"
        )));
    }
    Ok(Some(id.to_owned()))
}

pub(crate) async fn push(
    State(state): State<AppState>,
    Params(name): Params<Webhook>,
    Payload { headers, body, .. }: Payload<Webhook>,
) -> Result<Reply<Webhook>, ApiError> {
    // The one database read before the check: the key.
    let secret = state.store().webhook_secret(&name).await?;
    let secret = secret.as_deref().filter(|s| !s.is_empty());
    let body = match proof(&headers).ok_or_else(refused)? {
        Proof::Token(token) => {
            if !secret.is_some_and(|s| TokenHash::of(s).matches(&token)) {
                return Err(refused());
            }
            read_capped(&headers, body, None).await?
        }
        Proof::Hmac(sig) => {
            let mut mac = mac_of(secret);
            let body = read_capped(&headers, body, Some(&mut mac)).await?;
            if secret.is_none() || mac.verify_slice(&sig).is_err() {
                return Err(refused());
            }
            body
        }
    };
    let forge = Forge::of(&headers);
    let event = forge.event(&headers);
    let (git_ref, pushed_ref, kind, pull_request) = match read_event(forge, event, &body)? {
        Asked::Nothing(why) => return Ok(ignored(&why)),
        Asked::Push(Pushed { after, pushed_ref }) => (after, pushed_ref, None, None),
        Asked::PullRequest(Opened {
            head,
            pr_ref,
            pull_request,
        }) => (
            head,
            Some(pr_ref),
            Some(RunEvent::PullRequest),
            Some(pull_request),
        ),
    };
    let delivery = delivery_id(&headers)?;
    if let Some(id) = &delivery
        && state.store().delivery_handled(&name, id).await?
    {
        return Ok(replayed(id));
    }
    let started_by = format!("webhook:{}", forge.name());
    let asked = crate::api::RunRequest {
        git_ref: &git_ref,
        pushed_ref: pushed_ref.as_deref(),
        event: kind,
        pull_request,
        started_by: started_by.clone(),
        delivery: delivery.as_deref(),
    };
    let started = crate::api::start_run(&state, &name, asked).await?;
    match (started, delivery) {
        (Some(triggered), delivery) => {
            let what = pushed_ref.unwrap_or(git_ref);
            crate::api::audit(
                &state,
                started_by,
                "run.trigger",
                Some(&name),
                Some(format!("#{} {}", triggered.run.number, triggered.run.id)),
                Some(match &delivery {
                    Some(id) => format!("{what} (delivery {id})"),
                    None => what,
                }),
            )
            .await?;
            Ok(Reply::new(WebhookAnswer {
                run: Some(triggered.run),
                ignored: None,
            }))
        }
        // Two copies at once: the other one queued the run.
        (None, id) => Ok(replayed(id.as_deref().unwrap_or_default())),
    }
}

/// The forge a delivery comes from, told by its event header (Gitea sends GitHub's too,
/// so its own is looked at first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forge {
    GitHub,
    GitLab,
    Gitea,
}

impl Forge {
    fn of(headers: &HeaderMap) -> Forge {
        if headers.contains_key("x-gitlab-event") {
            Forge::GitLab
        } else if headers.contains_key("x-gitea-event") {
            Forge::Gitea
        } else {
            Forge::GitHub
        }
    }

    /// The name in `started_by` and the audit trail (`webhook:github`).
    fn name(self) -> &'static str {
        match self {
            Forge::GitHub => "github",
            Forge::GitLab => "gitlab",
            Forge::Gitea => "gitea",
        }
    }

    /// The event the delivery names; a delivery without one is taken for a push, as before
    /// events other than pushes were read.
    fn event(self, headers: &HeaderMap) -> &str {
        let header = match self {
            Forge::GitHub => "x-github-event",
            Forge::GitLab => "x-gitlab-event",
            Forge::Gitea => "x-gitea-event",
        };
        headers
            .get(header)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("push")
    }
}

/// What a verified delivery asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Asked {
    /// A run of a pushed branch or tag.
    Push(Pushed),
    /// A run of a pull request's head commit.
    PullRequest(Opened),
    /// Nothing, and why (a ping, a closed pull request, a deleted branch, another event).
    Nothing(String),
}

/// A pull (merge) request opened, pushed to or reopened.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Opened {
    /// Its head commit, which the run checks out.
    pub head: String,
    /// The forge's ref of its head (`refs/pull/7/head`, `refs/merge-requests/7/head`): its
    /// commit may be reachable from this ref alone (a fork's branch), so the mirror and the
    /// agents fetch it.
    pub pr_ref: String,
    /// Its number, branches and whether it comes from a fork.
    pub pull_request: PullRequest,
}

/// Reads a verified delivery's body by its forge and event.
pub(crate) fn read_event(forge: Forge, event: &str, body: &[u8]) -> Result<Asked, ApiError> {
    match (forge, event) {
        (_, "ping") => Ok(Asked::Nothing("ping".into())),
        (_, "push" | "Push Hook" | "Tag Push Hook") => Ok(match read_push(body)? {
            Some(pushed) => Asked::Push(pushed),
            None => Asked::Nothing("a deleted branch or tag".into()),
        }),
        (Forge::GitHub, "pull_request") => github::pull_request(body, &github::GITHUB_ACTIONS),
        (Forge::Gitea, "pull_request") => github::pull_request(body, &github::GITEA_ACTIONS),
        (Forge::GitLab, "Merge Request Hook") => gitlab::merge_request(body),
        (_, other) => Ok(Asked::Nothing(format!(
            "event `{}` starts no run (push, tag push and pull request events do)",
            other.chars().take(60).collect::<String>()
        ))),
    }
}

/// The answer to a delivery handled before.
fn replayed(id: &str) -> Reply<Webhook> {
    ignored(&format!(
        "delivery `{id}` already handled: a forge's redelivery or a replay starts no second run"
    ))
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

    /// The handler's check, on a body in hand.
    fn verify(headers: &HeaderMap, secret: &str, body: &[u8]) -> Result<(), ()> {
        let ok = match proof(headers) {
            None => false,
            Some(Proof::Token(token)) => TokenHash::of(secret).matches(&token),
            Some(Proof::Hmac(sig)) => {
                let mut mac = mac_of(Some(secret));
                mac.update(body);
                mac.verify_slice(&sig).is_ok()
            }
        };
        if ok { Ok(()) } else { Err(()) }
    }

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

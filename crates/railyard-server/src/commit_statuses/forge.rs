//! What each forge is told: its state for a Railyard status, the description, and the
//! request (address, token header, body). Pure, so each forge's rules are tested here.

use railyard_types::statuses::{Forge, ForgeKind};

/// The longest description the forges take (GitHub's limit; the others take as much).
pub(crate) const MAX_DESCRIPTION: usize = 140;

/// A status as one forge takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForgeStatus {
    /// The forge's state name.
    pub state: &'static str,
    /// At most [`MAX_DESCRIPTION`] characters.
    pub description: String,
}

/// The forge's state and description for Railyard's `status` (a job's or a run's), with
/// `why` (a skip's reason, a job's error) when the change gave one. GitHub and Gitea have no
/// running state: pending, described "running". A skipped job reads as a success described
/// "skipped: …" (a skip must not block a merge the rules meant to allow); a cancel is an
/// error (GitHub, Gitea) or canceled (GitLab); an allowed failure a success (Gitea: warning).
pub(crate) fn forge_status(kind: ForgeKind, status: &str, why: Option<&str>) -> ForgeStatus {
    use ForgeKind::{Gitea, Gitlab};
    // The reasons the run model writes already begin with the word (`skipped: …`).
    let with_why = |text: &str| match why.filter(|w| !w.is_empty()) {
        Some(w) if w.starts_with(text) => w.to_owned(),
        Some(w) => format!("{text}: {w}"),
        None => text.to_owned(),
    };
    let (state, description) = match (kind, status) {
        (_, "queued" | "pending") => ("pending", "queued".to_owned()),
        (Gitlab, "running") => ("running", "running".to_owned()),
        (_, "running") => ("pending", "running".to_owned()),
        (_, "success") => ("success", "passed".to_owned()),
        (Gitea, "failed_allowed") => ("warning", "failed (allowed to fail)".to_owned()),
        (_, "failed_allowed") => ("success", "failed (allowed to fail)".to_owned()),
        (_, "skipped") => ("success", with_why("skipped")),
        (Gitlab, "failed" | "timed_out") => ("failed", with_why(status_word(status))),
        (_, "failed" | "timed_out") => ("failure", with_why(status_word(status))),
        (Gitlab, "cancelled" | "abandoned") => ("canceled", status.to_owned()),
        (_, "cancelled" | "abandoned") => ("error", status.to_owned()),
        (Gitlab, _) => ("failed", format!("unknown status `{status}`")),
        (_, _) => ("error", format!("unknown status `{status}`")),
    };
    ForgeStatus {
        state,
        description: cap(&description),
    }
}

fn status_word(status: &str) -> &'static str {
    if status == "timed_out" {
        "timed out"
    } else {
        "failed"
    }
}

/// `text` cut to [`MAX_DESCRIPTION`] characters (an ellipsis ending a cut one), on one line.
fn cap(text: &str) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if line.chars().count() <= MAX_DESCRIPTION {
        return line;
    }
    let mut cut: String = line.chars().take(MAX_DESCRIPTION - 1).collect();
    cut.push('…');
    cut
}

/// One request to a forge: where, which header carries the token (and how), and the body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Request {
    pub url: String,
    pub header: &'static str,
    /// The header's value before the token (`Bearer `, `token `, or nothing).
    pub token_prefix: &'static str,
    pub body: serde_json::Value,
}

/// The request that sets `context`'s status on commit `sha` (checked as hex by the caller).
pub(crate) fn request(
    forge: &Forge,
    sha: &str,
    context: &str,
    status: &ForgeStatus,
    target_url: &str,
) -> Request {
    let api = &forge.api_url;
    match forge.kind {
        ForgeKind::Github | ForgeKind::Gitea => Request {
            url: format!("{api}/repos/{}/statuses/{sha}", forge.repo),
            header: "authorization",
            token_prefix: if forge.kind == ForgeKind::Github {
                "Bearer "
            } else {
                "token "
            },
            body: serde_json::json!({
                "state": status.state,
                "target_url": target_url,
                "description": status.description,
                "context": context,
            }),
        },
        ForgeKind::Gitlab => Request {
            url: format!(
                "{api}/projects/{}/statuses/{sha}",
                forge.repo.replace('/', "%2F")
            ),
            header: "private-token",
            token_prefix: "",
            body: serde_json::json!({
                "state": status.state,
                "target_url": target_url,
                "description": status.description,
                "name": context,
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ForgeKind::{Gitea, Github, Gitlab};

    #[test]
    fn each_forge_gets_its_own_states() {
        let state = |k, s| forge_status(k, s, None).state;
        assert_eq!(state(Github, "running"), "pending");
        assert_eq!(state(Gitea, "running"), "pending");
        assert_eq!(state(Gitlab, "running"), "running");
        assert_eq!(state(Github, "failed"), "failure");
        assert_eq!(state(Gitlab, "failed"), "failed");
        assert_eq!(state(Github, "cancelled"), "error");
        assert_eq!(state(Gitlab, "cancelled"), "canceled");
        assert_eq!(state(Gitea, "failed_allowed"), "warning");
        assert_eq!(forge_status(Github, "running", None).description, "running");
        let skipped = forge_status(Gitlab, "skipped", Some("needs `build`, which failed"));
        assert_eq!(skipped.state, "success");
        assert_eq!(skipped.description, "skipped: needs `build`, which failed");
        let ruled_out = forge_status(Gitea, "skipped", Some("skipped: `when` wants event `push`"));
        assert_eq!(ruled_out.description, "skipped: `when` wants event `push`");
    }

    #[test]
    fn descriptions_are_capped_to_one_line_of_140() {
        let long = "x".repeat(500) + "\nmore";
        let d = forge_status(Github, "failed", Some(&long)).description;
        assert_eq!(d.chars().count(), MAX_DESCRIPTION);
        assert!(d.ends_with('…') && !d.contains('\n'));
    }

    #[test]
    fn gitlab_paths_are_encoded_and_tokens_go_in_each_forges_header() {
        let forge = Forge {
            kind: Gitlab,
            api_url: "https://gl.example/api/v4".into(),
            repo: "group/app".into(),
        };
        let s = forge_status(Gitlab, "success", None);
        let r = request(&forge, "abc", "railyard/test [1/2]", &s, "https://ci/x");
        assert_eq!(
            r.url,
            "https://gl.example/api/v4/projects/group%2Fapp/statuses/abc"
        );
        assert_eq!((r.header, r.token_prefix), ("private-token", ""));
        assert_eq!(r.body["name"], "railyard/test [1/2]");
        let github = Forge {
            kind: Github,
            repo: "acme/app".into(),
            api_url: "https://api.github.com".into(),
        };
        let r = request(&github, "abc", "railyard", &s, "https://ci/x");
        assert_eq!(r.url, "https://api.github.com/repos/acme/app/statuses/abc");
        assert_eq!(r.token_prefix, "Bearer ");
        assert_eq!(r.body["context"], "railyard");
    }
}

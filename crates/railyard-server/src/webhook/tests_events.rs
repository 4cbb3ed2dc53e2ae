//! Pull request and tag events of each forge, read from bodies shaped like their documented
//! payloads; hostile bodies refused naming the field, never a panic.

use serde_json::{Value, json};

use super::*;

const HEAD: &str = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c";

fn github(action: &str, head_repo: Value) -> Value {
    json!({
        "action": action,
        "number": 7,
        "pull_request": {
            "number": 7,
            "state": "open",
            "head": { "sha": HEAD, "ref": "feature/x", "repo": head_repo },
            "base": { "sha": "1111111", "ref": "main", "repo": { "full_name": "org/app" } },
        },
        "repository": { "full_name": "org/app" },
    })
}

fn gitlab(action: &str, oldrev: Option<&str>, source_project: i64) -> Value {
    let mut attrs = json!({
        "iid": 3,
        "action": action,
        "state": "opened",
        "source_branch": "feature/x",
        "target_branch": "main",
        "source_project_id": source_project,
        "target_project_id": 12,
        "last_commit": { "id": HEAD, "message": "fix" },
    });
    if let Some(old) = oldrev {
        attrs["oldrev"] = json!(old);
    }
    json!({ "object_kind": "merge_request", "project": { "id": 12 }, "object_attributes": attrs })
}

fn read(forge: Forge, event: &str, body: &Value) -> Result<Asked, ApiError> {
    read_event(forge, event, body.to_string().as_bytes())
}

fn opened(asked: Asked) -> Opened {
    match asked {
        Asked::PullRequest(o) => o,
        other => panic!("not a pull request: {other:?}"),
    }
}

#[test]
fn github_and_gitea_pull_requests_run_their_head() {
    let same = json!({ "full_name": "org/app" });
    for (forge, actions) in [
        (Forge::GitHub, ["opened", "synchronize", "reopened"]),
        (Forge::Gitea, ["opened", "synchronized", "reopened"]),
    ] {
        for action in actions {
            let o = opened(read(forge, "pull_request", &github(action, same.clone())).unwrap());
            assert_eq!(o.head, HEAD);
            assert_eq!(o.pr_ref, "refs/pull/7/head");
            assert_eq!(o.pull_request.number, 7);
            assert_eq!(o.pull_request.source_branch, "feature/x");
            assert_eq!(o.pull_request.target_branch, "main");
            assert!(!o.pull_request.from_fork);
        }
    }
    let fork = json!({ "full_name": "someone/app" });
    let o = opened(read(Forge::GitHub, "pull_request", &github("opened", fork)).unwrap());
    assert!(o.pull_request.from_fork);
    // A fork whose repository was deleted.
    let o = opened(
        read(
            Forge::GitHub,
            "pull_request",
            &github("opened", Value::Null),
        )
        .unwrap(),
    );
    assert!(o.pull_request.from_fork);
}

#[test]
fn gitlab_merge_requests_run_when_opened_or_given_commits() {
    for (action, oldrev) in [("open", None), ("reopen", None), ("update", Some(HEAD))] {
        let o = opened(
            read(
                Forge::GitLab,
                "Merge Request Hook",
                &gitlab(action, oldrev, 12),
            )
            .unwrap(),
        );
        assert_eq!(o.head, HEAD);
        assert_eq!(o.pr_ref, "refs/merge-requests/3/head");
        assert_eq!(o.pull_request.number, 3);
        assert_eq!(
            (
                o.pull_request.source_branch.as_str(),
                o.pull_request.target_branch.as_str()
            ),
            ("feature/x", "main")
        );
        assert!(!o.pull_request.from_fork);
    }
    let o = opened(
        read(
            Forge::GitLab,
            "Merge Request Hook",
            &gitlab("open", None, 99),
        )
        .unwrap(),
    );
    assert!(o.pull_request.from_fork, "another source project is a fork");
}

#[test]
fn other_actions_start_nothing_and_say_why() {
    let same = json!({ "full_name": "org/app" });
    for action in ["closed", "labeled", "edited", "synchronized"] {
        let Asked::Nothing(why) =
            read(Forge::GitHub, "pull_request", &github(action, same.clone())).unwrap()
        else {
            panic!("{action} started a run");
        };
        assert!(why.contains(action), "{why}");
    }
    for (action, oldrev) in [
        ("close", None),
        ("merge", None),
        ("update", None),
        ("approved", None),
    ] {
        let asked = read(
            Forge::GitLab,
            "Merge Request Hook",
            &gitlab(action, oldrev, 12),
        )
        .unwrap();
        assert!(matches!(asked, Asked::Nothing(_)), "{action}: {asked:?}");
    }
    // Nothing else of the body is read for an action that starts nothing.
    let closed = json!({ "action": "closed" });
    assert!(matches!(
        read(Forge::Gitea, "pull_request", &closed).unwrap(),
        Asked::Nothing(_)
    ));
    let issue = read(Forge::GitHub, "issues", &json!({})).unwrap();
    assert!(
        matches!(issue, Asked::Nothing(ref why) if why.contains("issues")),
        "{issue:?}"
    );
}

#[test]
fn tag_pushes_are_pushes_of_their_tag() {
    let body = json!({ "ref": "refs/tags/v1.2", "after": HEAD, "checkout_sha": HEAD });
    for (forge, event) in [
        (Forge::GitHub, "push"),
        (Forge::Gitea, "push"),
        (Forge::GitLab, "Tag Push Hook"),
    ] {
        let Asked::Push(p) = read(forge, event, &body).unwrap() else {
            panic!("{event}")
        };
        assert_eq!(p.pushed_ref.as_deref(), Some("refs/tags/v1.2"));
        assert_eq!(RunEvent::of_ref(p.pushed_ref.as_deref()), RunEvent::Tag);
    }
    let deleted = json!({ "ref": "refs/tags/v1.2", "after": "0".repeat(40) });
    assert!(matches!(
        read(Forge::GitLab, "Tag Push Hook", &deleted).unwrap(),
        Asked::Nothing(_)
    ));
}

/// Each field of a pull request body, missing or odd: a 400 naming it.
#[test]
fn hostile_pull_requests_name_the_field() {
    let same = json!({ "full_name": "org/app" });
    let cases: Vec<(&str, Value)> = vec![
        ("action", json!(null)),
        ("number", json!(null)),
        ("number", json!(-1)),
        ("number", json!(0)),
        ("number", json!("7")),
        ("pull_request.head.sha", json!("not a sha")),
        (
            "pull_request.head.sha",
            json!("0000000000000000000000000000000000000000"),
        ),
        ("pull_request.head.ref", json!("a b")),
        ("pull_request.head.ref", json!("")),
        ("pull_request.base.ref", json!(7)),
        ("pull_request.base.repo.full_name", json!(null)),
        ("pull_request.head.repo.full_name", json!([1])),
    ];
    for (field, value) in cases {
        let mut body = github("opened", same.clone());
        let mut at = &mut body;
        let parts: Vec<&str> = field.split('.').collect();
        for key in &parts[..parts.len() - 1] {
            at = &mut at[*key];
        }
        at[parts[parts.len() - 1]] = value.clone();
        match read(Forge::GitHub, "pull_request", &body) {
            Err(ApiError::BadRequest(m)) => {
                assert!(m.contains(&format!("`{field}`")), "{field}: {m}")
            }
            other => panic!("{field} = {value}: {other:?}"),
        }
    }
    for field in [
        "iid",
        "last_commit",
        "source_branch",
        "target_branch",
        "source_project_id",
    ] {
        let mut body = gitlab("open", None, 12);
        body["object_attributes"]
            .as_object_mut()
            .unwrap()
            .remove(field);
        match read(Forge::GitLab, "Merge Request Hook", &body) {
            Err(ApiError::BadRequest(m)) => assert!(m.contains(field), "{field}: {m}"),
            other => panic!("{field} missing: {other:?}"),
        }
    }
    for body in [&b"[]"[..], b"\"x\"", b"{", b""] {
        for (forge, event) in [
            (Forge::GitHub, "pull_request"),
            (Forge::GitLab, "Merge Request Hook"),
        ] {
            assert!(matches!(
                read_event(forge, event, body),
                Err(ApiError::BadRequest(_))
            ));
        }
    }
}

/// What a pull request read holds is safe to pass on: a commit id, ref names.
fn check_pull_request(forge: Forge, event: &str, body: &[u8]) {
    match read_event(forge, event, body) {
        Ok(Asked::PullRequest(o)) => {
            assert!(
                (7..=64).contains(&o.head.len()) && o.head.bytes().all(|b| b.is_ascii_hexdigit())
            );
            assert!(is_ref_name(&o.pr_ref), "{:?}", o.pr_ref);
            for b in [&o.pull_request.source_branch, &o.pull_request.target_branch] {
                assert!(is_ref_name(&format!("refs/heads/{b}")), "{b:?}");
            }
            assert!(o.pull_request.number >= 1 && o.pull_request.number <= i64::MAX as u64);
        }
        Ok(_) | Err(ApiError::BadRequest(_)) => {}
        Err(other) => panic!("not a 400: {other:?}"),
    }
}

proptest::proptest! {
    #![proptest_config(railyard_test_support::fuzz_config())]

    /// Any bytes as a pull request of any forge: read, ignored or a 400.
    #[test]
    fn any_body_is_a_pull_request_or_a_clear_error(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        check_pull_request(Forge::GitHub, "pull_request", &body);
        check_pull_request(Forge::Gitea, "pull_request", &body);
        check_pull_request(Forge::GitLab, "Merge Request Hook", &body);
    }

    /// Bodies shaped like pull requests with hostile values.
    #[test]
    fn pull_request_shaped_bodies_are_read_or_refused(
        action in "(opened|synchronize|reopened|open|update|closed)",
        number in proptest::prelude::any::<i64>(),
        sha in "[0-9a-fz \\n]{0,70}",
        branch in "[a-z/ \\t\\u{7}.:-]{0,30}",
        null_repo in proptest::prelude::any::<bool>(),
    ) {
        let repo = if null_repo { Value::Null } else { json!({ "full_name": branch }) };
        let body = json!({
            "action": action, "number": number,
            "pull_request": { "head": { "sha": sha, "ref": branch, "repo": repo },
                              "base": { "ref": branch, "repo": { "full_name": "o/r" } } },
            "object_attributes": { "action": action, "iid": number, "oldrev": sha,
                "last_commit": { "id": sha }, "source_branch": branch, "target_branch": branch,
                "source_project_id": 1, "target_project_id": number },
        });
        let body = body.to_string();
        check_pull_request(Forge::GitHub, "pull_request", body.as_bytes());
        check_pull_request(Forge::Gitea, "pull_request", body.as_bytes());
        check_pull_request(Forge::GitLab, "Merge Request Hook", body.as_bytes());
    }
}

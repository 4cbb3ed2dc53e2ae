//! Secrets reach the steps but never the log: masked even when split across chunks, line by
//! line when they span lines, and in error messages.

use crate::common::{Repo, run_with_secrets};
use railyard_runner::Event;

#[tokio::test]
async fn secrets_are_set_in_the_job_and_masked_in_every_line() {
    let repo = Repo::new(
        r#"
env: { image: busybox }
secrets: [API_TOKEN, DEPLOY_KEY]
jobs:
  deploy:
    script:
      - "printf 's3cr3t'; sleep 0.3; printf -- '-value-42 is the token\n'"
      - echo "$DEPLOY_KEY"
      - test "$API_TOKEN" = s3cr3t-value-42 && echo "the step sees the real value"
      - echo "failing with $API_TOKEN" >&2; exit 3
  listing:
    parallel: 2
    tests:
      list: echo "cannot list with $API_TOKEN" >&2; exit 1
      run: echo {tests}
      junit: report.xml
"#,
    );
    let secrets = vec![
        ("API_TOKEN".to_string(), "s3cr3t-value-42".to_string()),
        (
            "DEPLOY_KEY".to_string(),
            "-----BEGIN-----\nkey-body-xyz\n-----END-----".to_string(),
        ),
    ];
    let ran = run_with_secrets(&repo, &[], None, secrets).await;
    let mut out = ran.output("deploy");
    out.retain(|l| !l.starts_with("step "));
    assert_eq!(
        out,
        [
            "*** is the token",
            "***",
            "***",
            "***",
            "the step sees the real value",
            "failing with ***",
        ]
    );
    for event in &ran.events {
        let text = format!("{event:?}");
        assert!(
            !text.contains("s3cr3t-value-42") && !text.contains("key-body-xyz"),
            "leaked: {text}"
        );
    }
    assert!(
        ran.events
            .iter()
            .any(|e| matches!(e, Event::JobFinished { .. }))
    );
}

/// A job printing its secret base64-encoded (as `echo`, without the newline, and inside a
/// `Basic` header's text) or URL-encoded shows `***` in each place.
#[tokio::test]
async fn encoded_forms_of_a_secret_are_masked() {
    let repo = Repo::new(
        r#"
env: { image: busybox }
secrets: [API_TOKEN]
jobs:
  encode:
    script:
      - echo "$API_TOKEN" | base64
      - printf '%s' "$API_TOKEN" | base64
      - printf 'bot:%s' "$API_TOKEN" | base64
      - echo "q=s3cr3t%2Fvalue%2B42"
"#,
    );
    let secrets = vec![("API_TOKEN".to_string(), "s3cr3t/value+42".to_string())];
    let ran = run_with_secrets(&repo, &[], None, secrets).await;
    let mut out = ran.output("encode");
    out.retain(|l| !l.starts_with("step "));
    assert_eq!(out.len(), 4, "{out:?}");
    assert_eq!(out[0], "***");
    assert_eq!(out[1], "***");
    assert!(
        out[2].contains("***") && !out[2].contains("MzY3JldC"),
        "{out:?}"
    );
    assert_eq!(out[3], "q=***");
}

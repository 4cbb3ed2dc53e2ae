//! `when:` rules on a fleet: a trigger of `main` runs only the jobs whose rules match a
//! `trigger` event of `main`; the others, a sharded one's every shard and the jobs that
//! need them, are recorded skipped with the reason, never claimed, and the run succeeds.

use crate::fleet::{Fleet, assert_nothing_left, trigger};

const PIPELINE: &str = r#"env: { image: busybox }
jobs:
  always:
    script: [echo always ran]
  on-trigger:
    when: { event: [trigger, push], branch: [main, "release/*"] }
    script: ['echo "event=$RAILYARD_EVENT"']
  on-push:
    when: { event: push }
    script: [echo on-push ran]
  after-push:
    needs: [on-push]
    script: [echo after-push ran]
  release:
    when: { tag: "v*" }
    parallel: 2
    script: [echo release ran]
"#;

#[test]
fn a_trigger_runs_only_the_jobs_whose_rules_match() {
    let mut fleet = Fleet::start(PIPELINE);
    fleet.agent("one");
    let run = trigger(&fleet);
    let detail = fleet.wait_success(&run, 180);
    let jobs = detail["jobs"].as_array().unwrap();
    let job = |name: &str| {
        let j = (jobs.iter().find(|j| j["name"] == name))
            .unwrap_or_else(|| panic!("no job {name}: {detail}"));
        (
            j["status"].as_str().unwrap().to_owned(),
            j["error"].as_str().unwrap_or_default().to_owned(),
        )
    };
    assert_eq!(job("always").0, "success", "{detail}");
    assert_eq!(job("on-trigger").0, "success", "{detail}");
    let skipped = |why: &str| ("skipped".to_owned(), why.to_owned());
    assert_eq!(
        job("on-push"),
        skipped("skipped: `when` wants event `push`; this run's is `trigger`")
    );
    assert_eq!(
        job("after-push"),
        skipped("skipped: `on-push` did not succeed")
    );
    let not_a_tag = "skipped: `when` wants tag `v*`; this run is for branch `main`";
    assert_eq!(job("release [1/2]"), skipped(not_a_tag));
    assert_eq!(job("release [2/2]"), skipped(not_a_tag));
    assert!(fleet.log(&run, "always").contains("always ran"));
    assert_nothing_left(&run);
}

//! `manual: true`: a job that waits for a person's approval.

use crate::{check, ok};

#[test]
fn manual_is_read_and_defaults_to_false() {
    let p = ok(
        "env: { image: busybox }\njobs:\n  build: { script: [make] }\n  deploy:\n    script: [ship]\n    needs: [build]\n    manual: true\n",
    );
    assert!(!p.jobs["build"].manual);
    assert!(p.jobs["deploy"].manual);
}

#[test]
fn manual_must_be_a_bool_and_names_the_place() {
    check(
        "env: { image: busybox }\njobs:\n  a:\n    script: [x]\n    manual: yes\n",
        ".railyard.yml:5:13: `manual` in job `a` must be `true` or `false`, found a string",
        "yes",
    );
    check(
        "env: { image: busybox }\njobs:\n  a:\n    script: [x]\n    manual: [deploy]\n",
        ".railyard.yml:5:13: `manual` in job `a` must be `true` or `false`, found a list",
        "[",
    );
}

//! `secrets`: names of environment variables, checked where they are written.

use crate::{check, ok};

#[test]
fn secrets_are_names_kept_in_order_without_repeats() {
    let p = ok(
        "env: { image: busybox }\nsecrets: [API_TOKEN, DEPLOY_KEY, API_TOKEN]\njobs:\n  j: { script: [echo] }\n",
    );
    assert_eq!(p.secrets, ["API_TOKEN", "DEPLOY_KEY"]);
    let one = ok("env: { image: busybox }\nsecrets: API_TOKEN\njobs:\n  j: { script: [echo] }\n");
    assert_eq!(one.secrets, ["API_TOKEN"]);
}

#[test]
fn a_secret_that_is_not_a_variable_name_is_refused_where_written() {
    check(
        "env: { image: busybox }\nsecrets: [OK_NAME, 9lives]\njobs:\n  j: { script: [echo] }\n",
        ".railyard.yml:2:20: invalid `9lives` in `secrets` at the top level: not a variable name",
        "9lives",
    );
}

#[test]
fn a_secret_also_set_in_variables_is_refused() {
    let p = check(
        "env: { image: busybox }\nvariables: { TOKEN: x }\nsecrets: [TOKEN]\njobs:\n  j: { script: [echo] }\n",
        ".railyard.yml:3:11: invalid `TOKEN` in `secrets` at the top level: also set in `variables`",
        "TOKEN",
    );
    assert!(
        p.help.as_deref().unwrap().contains("never from the file"),
        "{:?}",
        p.help
    );
}

//! A job's output reaches a person's terminal with its colours and nothing else: an OSC 52
//! sequence would write the viewer's clipboard, `ESC [2J` clear their screen.

use crate::common::Project;

const HOSTILE: &str = r#"env: { image: busybox }
jobs:
  noisy:
    script:
      - printf 'clip\033]52;c;cHduZWQ=\007 \033[31mred\033[0m\033[2J done\n'
"#;

#[test]
fn logs_on_a_terminal_keep_colours_and_drop_other_escapes() {
    let p = Project::new(HOSTILE);
    let out = p.run(&["run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = p.on_terminal(&["logs", "1", "noisy"], 100);
    assert!(
        shown.contains("clip \u{1b}[31mred\u{1b}[0m done"),
        "{shown:?}"
    );
    assert!(!shown.contains("\u{1b}]52"), "{shown:?}");
    assert!(!shown.contains("\u{1b}[2J"), "{shown:?}");
    // Into a file or a pipe, the log's bytes as stored.
    let piped = p.run(&["logs", "1", "noisy"]);
    assert!(String::from_utf8_lossy(&piped.stdout).contains("\u{1b}]52"));
}

#[test]
fn a_run_on_a_terminal_shows_the_jobs_colours_and_nothing_else() {
    let p = Project::new(HOSTILE);
    let (shown, _) = p.on_terminal_stdout(&["run"], 100);
    assert!(shown.contains("\u{1b}[31mred\u{1b}[0m done"), "{shown:?}");
    assert!(!shown.contains("\u{1b}]52"), "{shown:?}");
    assert!(!shown.contains("\u{1b}[2J"), "{shown:?}");
}

//! Damaged files never panic the parser, and every problem points inside the file.

use railyard_pipeline::parse;
use std::path::Path;

pub const BASE: &str = "env:\n  dockerfile: ci/Dockerfile\n  args: { V: 1.10 }\nvariables: { A: \"é\" }\n.t: &t { timeout: 5m }\njobs:\n  build:\n    <<: *t\n    script: [make, \"make 🎉\"]\n    artifacts: [out]\n  test:\n    needs: build\n    services:\n      db: { image: postgres, ready: pg_isready, ready_timeout: 1m }\n    script: |\n      make test\n    resources: { cpus: 1.5, memory: 512m }\n";

/// Sharding and matrix keys, with a `needs` on one expansion.
pub const SHARDED: &str = "env: { image: busybox }\njobs:\n  t:\n    matrix: { PY: [\"3.11\", 3.12], DB: [pg] }\n    parallel: 4\n    tests:\n      list: pytest --collect-only -q\n      run: pytest {tests}\n      junit: [r.xml]\n      mode: queue\n      format: \"{classname}.{name}\"\n    retry_failed: 2\n  d:\n    needs: [\"t (PY=3.11, DB=pg)\"]\n    script: x\n";

/// Parses `source`; when it is refused, every problem must point inside it, at the right
/// line and column.
pub fn check(source: &str) {
    if let Err(e) = parse(Path::new(".railyard.yml"), source) {
        places(source, &e);
    }
}

/// Every problem of `e` points inside `source`, at the right line and column.
pub fn places(source: &str, e: &railyard_pipeline::PipelineError) {
    assert!(!e.problems().is_empty());
    for p in e.problems() {
        let start = p.span.offset();
        let end = start + p.span.len();
        assert!(end <= source.len(), "span past the end for {source:?}: {p}");
        assert!(source.is_char_boundary(start) && source.is_char_boundary(end));
        let line = source[..start].matches('\n').count() + 1;
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let column = source[line_start..start].chars().count() + 1;
        assert_eq!((p.line, p.column), (line, column), "{p}");
        assert!(
            p.to_string()
                .starts_with(&format!(".railyard.yml:{line}:{column}: "))
        );
    }
}

#[test]
fn the_base_files_are_valid() {
    parse(Path::new(".railyard.yml"), BASE).unwrap();
    let p = parse(Path::new(".railyard.yml"), SHARDED).unwrap();
    assert_eq!(p.jobs.len(), 3);
}

#[test]
fn every_deletion_and_insertion_is_handled() {
    for base in [BASE, SHARDED] {
        damage(base);
    }
}

fn damage(base: &str) {
    let boundaries: Vec<usize> = base.char_indices().map(|(i, _)| i).collect();
    for (n, &i) in boundaries.iter().enumerate() {
        let next = boundaries.get(n + 1).copied().unwrap_or(base.len());
        check(&format!("{}{}", &base[..i], &base[next..]));
        for insert in [
            ":",
            "[",
            "{",
            "\t",
            "- ",
            "\"",
            "&a",
            "*a",
            "\n  x: 1\n",
            "ü",
        ] {
            check(&format!("{}{insert}{}", &base[..i], &base[i..]));
        }
    }
}

#[test]
fn every_truncation_is_handled() {
    for base in [BASE, SHARDED] {
        for (i, _) in base.char_indices() {
            check(&base[..i]);
        }
    }
}

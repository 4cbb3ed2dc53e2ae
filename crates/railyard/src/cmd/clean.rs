//! `railyard clean`: removes what crashed runs left behind, found by label.

use crate::cli::CleanArgs;
use railyard_runner::cleanup;

pub async fn run(args: CleanArgs) -> anyhow::Result<i32> {
    let docker = super::docker().await?;
    let report = if args.caches {
        cleanup::remove_caches(&docker, args.project.as_deref()).await?
    } else if args.all {
        cleanup::remove_all(&docker).await?
    } else {
        cleanup::reap_dead_owners(&docker).await?
    };
    println!(
        "removed {} container(s), {} network(s), {} volume(s)",
        report.containers, report.networks, report.volumes
    );
    for failure in &report.failures {
        eprintln!("could not remove: {failure}");
    }
    Ok(if report.failures.is_empty() { 0 } else { 1 })
}

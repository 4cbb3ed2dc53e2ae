//! `railyard runs`: this project's recent runs.

use crate::cli::{Global, RunsArgs};
use crate::project;

pub async fn run(g: &Global, args: RunsArgs) -> anyhow::Result<i32> {
    let project = project::find(g.directory.as_deref(), g.file.as_deref())?;
    let store = super::store(g).await?;
    let runs = store.list_runs(Some(&project.key()), args.limit).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(0);
    }
    if runs.is_empty() {
        println!(
            "no runs yet in {}: start one with `railyard run`",
            project.root.display()
        );
        return Ok(0);
    }
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header(["#", "status", "started", "time", "commit", "id"]);
    for r in runs {
        let time = r
            .finished_at
            .map(|f| crate::report::duration((f - r.started_at).max(0) as u64))
            .unwrap_or_default();
        table.add_row([
            r.number.to_string(),
            r.status.to_string(),
            local_time(r.started_at),
            time,
            r.commit
                .as_deref()
                .map(|c| &c[..c.len().min(10)])
                .unwrap_or("")
                .to_string(),
            r.id,
        ]);
    }
    println!("{table}");
    Ok(0)
}

/// `2026-11-28 10:31:02` in the local time zone.
pub fn local_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

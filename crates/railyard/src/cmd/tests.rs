//! `railyard tests`: the project's measured test timings, slowest first.

use crate::cli::{Global, TestsArgs};
use crate::project;

pub async fn run(g: &Global, args: TestsArgs) -> anyhow::Result<i32> {
    let project = project::find(g.directory.as_deref(), g.file.as_deref())?;
    let store = super::store(g).await?;
    let history = store.tests_history(&project.key(), args.limit).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&history)?);
        return Ok(0);
    }
    if history.is_empty() {
        println!("no test timings yet: a job with a `tests` block records them when it runs");
        return Ok(0);
    }
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header(["test", "average", "last", "runs", "measured"]);
    for t in history {
        table.add_row([
            t.test_id,
            railyard_split::duration(t.avg_secs),
            railyard_split::duration(t.last_secs),
            t.samples.to_string(),
            super::runs::local_time(t.updated_at),
        ]);
    }
    println!("{table}");
    Ok(0)
}

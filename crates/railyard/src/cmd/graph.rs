//! `railyard graph`: the jobs as stages of the `needs` graph.

use crate::cli::Global;
use crate::project;

pub async fn run(g: &Global) -> anyhow::Result<i32> {
    let project = project::find(g.directory.as_deref(), g.file.as_deref())?;
    let pipeline = project.load_pipeline()?;
    print!("{}", pipeline.render_graph());
    Ok(0)
}

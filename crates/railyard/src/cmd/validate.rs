//! `railyard validate`: parse and check the pipeline file.

use crate::cli::Global;
use crate::project;

pub async fn run(g: &Global) -> anyhow::Result<i32> {
    let project = project::find(g.directory.as_deref(), g.file.as_deref())?;
    let pipeline = project.load_pipeline()?;
    anstream::println!(
        "{} is valid: {} job{}",
        project.display_file().display(),
        pipeline.jobs.len(),
        if pipeline.jobs.len() == 1 { "" } else { "s" }
    );
    Ok(0)
}

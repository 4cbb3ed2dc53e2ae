//! `railyard runs [RUN]`: this project's recent runs, or with a server (`RAILYARD_SERVER`)
//! the server's; with RUN, that run's jobs (and on a server why a queued job waits).

use super::Expected;
use crate::cli::{Global, RunsArgs};
use crate::project;
use railyard_store::{RunDetail, RunRecord};
use railyard_types::protocol::RunsQuery;
use railyard_types::{Millis, ProjectName, api};

pub async fn run(g: &Global, args: RunsArgs) -> anyhow::Result<i32> {
    if let Some(client) = args.remote.client()? {
        if let Some(run) = &args.run {
            let detail: RunDetail = client
                .call::<api::GetRun>(&run.as_str().into(), &())
                .await?;
            return show(&detail, args.json);
        }
        let query = RunsQuery {
            project: args.project.clone().map(ProjectName::from),
            limit: Some(args.limit),
        };
        let runs: Vec<RunRecord> = client.call_query::<api::ListRuns>(&(), &query, &()).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&runs)?);
        } else if runs.is_empty() {
            println!("no runs on the server yet: start one with `railyard trigger PROJECT`");
        } else {
            println!("{}", table(runs, true));
        }
        return Ok(0);
    }
    let project = project::find(g.directory.as_deref(), g.file.as_deref())?;
    let store = super::store(g).await?;
    if let Some(run) = &args.run {
        let detail = store
            .find_run(Some(&project.key()), run)
            .await?
            .ok_or_else(|| {
                Expected::Input(format!(
                    "no run `{run}` in this project: see `railyard runs`"
                ))
            })?;
        return show(&detail, args.json);
    }
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
    println!("{}", table(runs, false));
    Ok(0)
}

/// One run: a line for the run, then a table of its jobs with their time and what stands out
/// (why a queued job waits, why a job failed).
pub(crate) fn show(detail: &RunDetail, json: bool) -> anyhow::Result<i32> {
    if json {
        println!("{}", serde_json::to_string_pretty(detail)?);
        return Ok(0);
    }
    let r = &detail.run;
    let commit = r.commit.as_deref().map(|c| &c[..c.len().min(10)]);
    println!(
        "run #{} {} {} {}{}, started {}",
        r.number,
        r.id,
        r.project,
        r.status,
        commit.map(|c| format!(" at {c}")).unwrap_or_default(),
        local_time(r.started_at)
    );
    if let Some(line) = super::run_context::line(r) {
        println!("{line}");
    }
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header(["job", "status", "time", "note"]);
    let mut rows = Vec::new();
    for j in &detail.jobs {
        let time = match (j.started_at, j.finished_at) {
            (Some(s), Some(f)) => crate::report::duration(f.since(s).as_millis() as u64),
            _ => String::new(),
        };
        let note = j
            .waiting
            .as_deref()
            .map(|w| format!("waiting: {w}"))
            .or_else(|| j.error.clone())
            .unwrap_or_default();
        let status = if j.awaiting_approval {
            "awaiting approval".to_string()
        } else {
            crate::report::status(j.status).to_string()
        };
        rows.push(vec![j.name.clone(), status, time, note]);
    }
    let cut = crate::report::add_rows_fitted(&mut table, rows);
    println!("{table}");
    // The env image each job ran on, by the registry's digest (`--registry`).
    for j in &detail.jobs {
        if let Some(digest) = &j.env_image_digest {
            println!("env of {}: {digest}", j.name);
        }
    }
    // Built images whole, under the table: a digest is what a deploy copies.
    for j in &detail.jobs {
        if let Some(image) = &j.image {
            match &image.digest {
                Some(digest) => println!("image of {}: {}@{digest}", j.name, image.reference),
                None => println!("image of {}: {} (not pushed)", j.name, image.reference),
            }
        }
    }
    if cut {
        println!(
            "notes cut to fit: whole in `railyard runs {} --json`, a job's output in \
             `railyard logs {} JOB`",
            r.number, r.number
        );
    }
    Ok(0)
}

/// The runs as a table; a server's runs show their project.
fn table(runs: Vec<RunRecord>, with_project: bool) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
    let mut header = vec!["#", "status", "started", "time", "commit", "id"];
    if with_project {
        header.insert(0, "project");
        header.extend(["event", "ref", "by"]);
    }
    table.set_header(header);
    for r in runs {
        let context = super::run_context::cells(&r);
        let time = r
            .finished_at
            .map(|f| crate::report::duration(f.since(r.started_at).as_millis() as u64))
            .unwrap_or_default();
        let mut row = vec![
            r.number.to_string(),
            r.status.to_string(),
            local_time(r.started_at),
            time,
            r.commit
                .as_deref()
                .map(|c| &c[..c.len().min(10)])
                .unwrap_or("")
                .to_string(),
            r.id.into_string(),
        ];
        if with_project {
            row.insert(0, r.project.into_string());
            row.extend(context);
        }
        table.add_row(row);
    }
    table
}

/// `2026-11-28 10:31:02` in the local time zone.
pub fn local_time(at: Millis) -> String {
    jiff::Timestamp::from_millisecond(at.as_i64())
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

//! `railyard advisories import PATH…` and `railyard advisories affected ADVISORY` (also
//! reachable as `railyard inventory affected`), plus the `--fail-on` / `--ignore-file` options
//! that `railyard scan` flattens into its own arguments.

use crate::cli::Global;
use anyhow::Context;
use railyard_advisory::policy::{Outcome, Status};
use railyard_advisory::{Finding, IgnoreFile, Severity};
use std::path::PathBuf;

/// `railyard advisories …`
#[derive(Debug, clap::Args)]
pub struct AdvisoriesArgs {
    #[command(subcommand)]
    pub command: AdvisoriesCommand,
    #[command(flatten)]
    pub data: crate::cli::DataDir,
}

#[derive(Debug, clap::Subcommand)]
pub enum AdvisoriesCommand {
    /// Import OSV advisories (JSON files, folders of them, or OSV's per-ecosystem zip
    /// archives), then match every stored scan again. Unreadable files are skipped with a
    /// warning naming them.
    Import(ImportArgs),
    /// List the stored images hit by an advisory (id or alias such as a CVE id): project,
    /// image, layer, instruction.
    Affected(AffectedArgs),
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// OSV JSON files, folders (read recursively) or zip archives.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// With a server: upload the files to it (an admin's token), where every project's
    /// images are matched again.
    #[command(flatten)]
    pub remote: super::project::MaybeRemote,
}

#[derive(Debug, clap::Args)]
pub struct AffectedArgs {
    /// Advisory id (`DSA-5678-1`, `GHSA-…`) or alias (`CVE-2024-1234`).
    pub advisory: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// With a server: the images of every project the token may see.
    #[command(flatten)]
    pub remote: super::project::MaybeRemote,
}

/// The policy options of a command that reports findings (`railyard scan`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PolicyArgs {
    /// Exit with status 1 when a finding at or above SEVERITY is not ignored: unknown (any
    /// finding), low, medium, high, critical.
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
    /// Advisories to accept until a date (YAML: `ignore: [{ id, reason, expires: YYYY-MM-DD }]`)
    /// [default: .railyard-ignore.yml in the current folder, when present].
    #[arg(long, value_name = "FILE")]
    pub ignore_file: Option<PathBuf>,
}

/// The default ignore file, looked for in the current folder.
pub const DEFAULT_IGNORE_FILE: &str = ".railyard-ignore.yml";

impl PolicyArgs {
    /// Loads the ignore file (the given one, or the default when it exists). A malformed file
    /// is an input error naming file and line.
    pub fn ignore(&self) -> anyhow::Result<Option<IgnoreFile>> {
        let path = match &self.ignore_file {
            Some(p) => p.clone(),
            None => {
                let p = PathBuf::from(DEFAULT_IGNORE_FILE);
                if !p.exists() {
                    return Ok(None);
                }
                p
            }
        };
        IgnoreFile::load(&path)
            .map(Some)
            .map_err(|e| super::Expected::Invalid(e.into()).into())
    }

    /// Applies `--fail-on` and the ignore file to findings, as of today.
    pub fn evaluate(&self, findings: Vec<Finding>) -> anyhow::Result<Outcome> {
        let ignore = self.ignore()?;
        let today = jiff::Zoned::now().date();
        Ok(railyard_advisory::evaluate(
            findings,
            self.fail_on,
            ignore.as_ref(),
            today,
        ))
    }
}

/// Prints findings as a table with their policy status, then the notes (expired ignore
/// entries) and the verdict on stderr.
pub fn print_outcome(outcome: &Outcome, fail_on: Option<Severity>) {
    if outcome.findings.is_empty() {
        println!("no known vulnerabilities");
    } else {
        let mut table = comfy_table::Table::new();
        table.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
        table.set_header([
            "severity", "advisory", "package", "version", "fixed in", "layer", "status",
        ]);
        for j in &outcome.findings {
            let f = &j.finding;
            let status = match &j.status {
                Status::Active if j.fails => "fails".to_string(),
                Status::Active => String::new(),
                Status::Ignored { expires, .. } => format!("ignored until {expires}"),
                Status::IgnoreExpired { expired } => format!("ignore expired {expired}"),
            };
            table.add_row([
                f.severity.to_string(),
                f.advisory_id.clone(),
                format!("{} ({})", f.package, f.ecosystem),
                f.version.clone(),
                f.fixed.clone().unwrap_or_default(),
                format!(
                    "{} {}",
                    f.layer_index,
                    super::scan::clip(f.instruction.as_deref().unwrap_or(""), 50)
                ),
                status,
            ]);
        }
        println!("{table}");
    }
    for note in &outcome.notes {
        anstream::eprintln!("note: {note}");
    }
    if let Some(level) = fail_on
        && outcome.failing > 0
    {
        anstream::eprintln!(
            "{} finding(s) at or above {level} are not ignored: failing",
            outcome.failing
        );
    }
}

pub async fn run(g: &Global, args: AdvisoriesArgs) -> anyhow::Result<i32> {
    match args.command {
        AdvisoriesCommand::Import(a) => import(g, a).await,
        AdvisoriesCommand::Affected(a) => affected(g, a).await,
    }
}

/// `railyard advisories import PATH…`
pub async fn import(g: &Global, args: ImportArgs) -> anyhow::Result<i32> {
    if let Some(client) = args.remote.client()? {
        return super::advisories_remote::import(&client, &args).await;
    }
    let mut advisories = Vec::new();
    let mut warnings = 0usize;
    let mut documents = 0usize;
    for path in &args.paths {
        let p = path.clone();
        let read = tokio::task::spawn_blocking(move || railyard_advisory::read_path(&p))
            .await
            .context("reading advisories")?
            .map_err(|e| super::Expected::Invalid(e.into()))?;
        for w in &read.warnings {
            anstream::eprintln!("warning: {w} (skipped)");
        }
        warnings += read.warnings.len();
        documents += read.documents;
        advisories.extend(read.advisories);
    }
    if advisories.is_empty() && warnings > 0 {
        return Err(super::Expected::Input(format!(
            "no advisory could be read: {warnings} file(s) skipped (warnings above); nothing was changed"
        ))
        .into());
    }
    let store = super::store(g).await?;
    let counts = store.import_advisories(&advisories).await?;
    let rematch = store.rematch_all().await?;
    if args.json {
        let out = serde_json::json!({
            "documents": documents,
            "read": advisories.len(),
            "skipped": warnings,
            "stored": counts,
            "rematched": rematch,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "read {} advisories from {documents} document{} ({warnings} skipped); {} added, {} updated, {} unchanged",
            advisories.len(),
            if documents == 1 { "" } else { "s" },
            counts.added,
            counts.updated,
            counts.unchanged
        );
        print_rematched(&rematch);
    }
    Ok(0)
}

/// What matching every stored scan again found, and the projects it newly hit.
pub(super) fn print_rematched(rematch: &railyard_types::inventory::Rematched) {
    println!(
        "matched {} stored scans again: {} findings ({} new, {} gone)",
        rematch.scans, rematch.findings, rematch.new_findings, rematch.gone_findings
    );
    for hit in &rematch.newly_affected {
        let project = if hit.project.is_empty() {
            "images outside a project"
        } else {
            &hit.project
        };
        println!(
            "newly affected: {project} by {} in {}",
            hit.advisories.join(", "),
            hit.images.join(", ")
        );
    }
}

/// `railyard advisories affected ADVISORY` / `railyard inventory affected ADVISORY`
pub async fn affected(g: &Global, args: AffectedArgs) -> anyhow::Result<i32> {
    if let Some(client) = args.remote.client()? {
        let rows = super::advisories_remote::affected(&client, &args.advisory).await?;
        return show_affected(&args, rows);
    }
    let store = super::store(g).await?;
    let rows = match store.affected_by(&args.advisory).await {
        Ok(rows) => rows,
        // The store's own words ("no advisory with id or alias X is not in …") said it twice.
        Err(railyard_store::StoreError::NotFound { location, .. }) => {
            return Err(super::Expected::Input(format!(
                "no advisory with id or alias `{}` in {location}: import it first with \
                 `railyard advisories import PATH`",
                args.advisory
            ))
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    show_affected(&args, rows)
}

/// The images an advisory hits, as a table under a line, or JSON.
fn show_affected(
    args: &AffectedArgs,
    rows: Vec<railyard_store::AffectedImage>,
) -> anyhow::Result<i32> {
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    if rows.is_empty() {
        println!("no stored image is hit by {}", args.advisory);
        return Ok(0);
    }
    // One advisory (the usual case, an alias included) is said once above the table rather
    // than on every row: the table then fits a terminal.
    use crate::report::plural;
    let mut advisories: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.advisory_id.as_str(), r.severity.as_str()))
        .collect();
    advisories.sort();
    advisories.dedup();
    let (hits, by_project) = super::inventory::summary(
        rows.iter()
            .map(|r| (r.project.as_str(), r.image_id.as_str())),
    );
    let one = match advisories.as_slice() {
        [(id, severity)] => Some(format!("{id} ({severity}) hits {hits}")),
        _ => None,
    };
    let heading = match &one {
        Some(line) if args.advisory == advisories[0].0 => line.clone(),
        Some(line) => format!("{}: {line}", args.advisory),
        None => format!(
            "{}: {} hit {hits}",
            args.advisory,
            plural(advisories.len(), "advisory", "advisories")
        ),
    };
    println!("{heading}");
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
    let mut header = vec!["image", "package", "version", "fixed in", "layer"];
    if one.is_none() {
        header.insert(4, "advisory");
    }
    if by_project {
        header.insert(0, "project");
    }
    table.set_header(header);
    let rows = rows
        .iter()
        .map(|r| {
            let mut row = vec![
                super::inventory::image_cell(&r.image, &r.image_id),
                format!("{} ({})", r.package, r.ecosystem),
                r.version.clone(),
                r.fixed.clone().unwrap_or_default(),
                super::inventory::layer_cell(r.layer_index, r.instruction.as_deref()),
            ];
            if one.is_none() {
                row.insert(4, format!("{} ({})", r.advisory_id, r.severity));
            }
            if by_project {
                row.insert(0, super::inventory::project_cell(&r.project));
            }
            row
        })
        .collect();
    let cut = crate::report::add_rows_fitted(&mut table, rows);
    println!("{table}");
    if cut {
        println!("instructions cut to fit: whole with --json");
    }
    Ok(0)
}

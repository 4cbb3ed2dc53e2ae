//! `railyard scan IMAGE`: the image's packages, the layer and Dockerfile instruction that put
//! each one there, as a table, JSON, CycloneDX 1.5 or SPDX 2.3. Layer results are cached in
//! the data folder's store, and the scan is kept there for `railyard inventory`.

use anyhow::{Context, Result};
use railyard_scan::{ImageInventory, LayerCache, NoCache};
use railyard_types::Millis;
use railyard_types::exit_codes;
use std::io::Write;
use std::path::PathBuf;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// The inventory as JSON (Railyard's own shape).
    Json,
    /// CycloneDX 1.5 JSON.
    Cyclonedx,
    /// SPDX 2.3 JSON.
    Spdx,
}

/// `railyard scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// A local image: `name:tag` or ID. With a server: a stored scan's image (its
    /// reference, ID or ID prefix) or the scan's id.
    #[arg(required_unless_present_any = ["archive", "list"])]
    pub image: Option<String>,
    /// With a server: list its stored scans (of IMAGE when given) instead of showing one.
    #[arg(long, conflicts_with = "archive")]
    pub list: bool,
    /// Scan a `docker save` archive file instead of an image of the engine.
    #[arg(long, value_name = "FILE", conflicts_with = "image")]
    pub archive: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the output to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Neither use nor fill the layer cache: read every layer.
    #[arg(long)]
    pub no_cache: bool,
    /// Do not keep the scan for `railyard inventory`.
    #[arg(long)]
    pub no_store: bool,
    /// The project to file the scan under in the inventory [default: none].
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    /// Also list language packages that an OS package installed (hidden from the table by
    /// default, always in JSON and SBOMs).
    #[arg(long)]
    pub all: bool,
    /// `--fail-on` and the ignore file, applied to the advisories the store knows.
    #[command(flatten)]
    pub policy: super::advisories::PolicyArgs,
    #[command(flatten)]
    pub data: crate::cli::DataDir,
    /// With a server: show the inventory it keeps of an image its agents scanned (of every
    /// project the token may see) instead of scanning one here.
    #[command(flatten)]
    pub remote: super::project::MaybeRemote,
}

/// Runs `railyard scan`; returns the exit code.
pub async fn run(g: &crate::cli::Global, args: ScanArgs) -> Result<i32> {
    if let Some(client) = args.remote.client()? {
        return super::scan_remote::run(&client, &args).await;
    }
    if args.list {
        return Err(super::Expected::Input(
            "--list lists a server's scans: pass --server (or set RAILYARD_SERVER);              `railyard inventory who-has` asks this machine's"
                .into(),
        )
        .into());
    }
    // Without cache, storing or a policy, the store is only needed for the advisories it
    // knows: opened when it exists (a scan must not say "no known vulnerabilities" because
    // of `--no-store`), never created for nothing.
    let db = crate::project::data_dir(g.data_dir.as_deref()).join(railyard_store::DB_FILE_NAME);
    let store = if args.no_cache && args.no_store && args.policy.fail_on.is_none() && !db.exists() {
        None
    } else {
        Some(super::store(g).await?)
    };
    let cache: &dyn LayerCache = match (&store, args.no_cache) {
        (Some(s), false) => s,
        _ => &NoCache,
    };
    let inv = match (&args.archive, &args.image) {
        (Some(path), _) => railyard_scan::scan_archive(path, cache)
            .await
            .with_context(|| format!("scanning archive {}", path.display()))?,
        (None, Some(image)) => {
            let docker = super::docker().await?;
            match railyard_scan::scan_image(docker.client(), image, cache).await {
                Ok(inv) => inv,
                Err(e @ railyard_scan::ScanError::ImageNotFound { .. }) => {
                    return Err(super::Expected::Input(e.to_string()).into());
                }
                Err(e) => return Err(e).with_context(|| format!("scanning image `{image}`")),
            }
        }
        (None, None) => unreachable!("clap requires IMAGE or --archive"),
    };
    let project = args.project.as_deref().unwrap_or("");
    let findings = match (&store, args.no_store) {
        (Some(store), false) => {
            let id = store
                .save_scan(project, None, &inv, Millis::now())
                .await
                .context("storing the scan")?;
            store
                .record_findings(&id, project, &inv)
                .await
                .context("matching advisories")?
        }
        (Some(store), true) => store
            .match_inventory(&inv)
            .await
            .context("matching advisories")?,
        (None, _) => Vec::new(),
    };
    show(&args, &inv, findings)
}

/// Prints or writes the inventory with its findings judged by the policy; the exit code.
pub(super) fn show(
    args: &ScanArgs,
    inv: &ImageInventory,
    findings: Vec<railyard_advisory::Finding>,
) -> Result<i32> {
    let inv = inv.clone();
    let outcome = args.policy.evaluate(findings)?;
    let fit = args.output.is_none();
    let text = render(&inv, args.format, args.all, fit, &outcome.findings)?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => {
            let mut out = std::io::stdout().lock();
            // A reader that stops early (`| head`) is not an error.
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(exit_codes::OK),
                other => other?,
            }
        }
    }
    for w in &inv.warnings {
        anstream::eprintln!("warning: {w}");
    }
    if args.format == Format::Table && args.output.is_none() {
        super::advisories::print_outcome(&outcome, args.policy.fail_on);
    } else if outcome.failing > 0 {
        anstream::eprintln!(
            "{} finding(s) fail the policy (`-o table` lists them)",
            outcome.failing
        );
    }
    Ok(if outcome.exit_code != 0 {
        outcome.exit_code
    } else {
        exit_codes::OK
    })
}

/// The inventory in `format`. JSON carries the findings with their policy status too, so a
/// script sees what `--fail-on` judged without a second command. `fit`: a table goes to
/// stdout, cut to the terminal's width when it is one (never in a file).
pub fn render(
    inv: &ImageInventory,
    format: Format,
    all: bool,
    fit: bool,
    findings: &[railyard_advisory::policy::Judged],
) -> Result<String> {
    #[derive(serde::Serialize)]
    struct WithFindings<'a> {
        #[serde(flatten)]
        inventory: &'a ImageInventory,
        findings: &'a [railyard_advisory::policy::Judged],
    }
    let created = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    Ok(match format {
        Format::Table => table(inv, all, fit),
        Format::Json => {
            serde_json::to_string_pretty(&WithFindings {
                inventory: inv,
                findings,
            })? + "\n"
        }
        Format::Cyclonedx => {
            serde_json::to_string_pretty(&railyard_scan::sbom::cyclonedx(inv, &created))? + "\n"
        }
        Format::Spdx => {
            serde_json::to_string_pretty(&railyard_scan::sbom::spdx(inv, &created))? + "\n"
        }
    })
}

fn short(diff_id: &str) -> &str {
    let hex = diff_id.trim_start_matches("sha256:");
    &hex[..hex.len().min(12)]
}

/// `s` cut to `n` characters with an ellipsis (Dockerfile lines can be very long).
pub(crate) fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// The layers, then the packages, as the CLI's other tables: cut to fit a terminal.
fn table(inv: &ImageInventory, all: bool, fit: bool) -> String {
    use crate::report::{add_rows_fitted, plural};
    use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
    let mut out = String::new();
    let distro = inv
        .distro
        .as_ref()
        .map(|d| {
            d.pretty_name
                .clone()
                .unwrap_or_else(|| format!("{} {}", d.id, d.version_id))
        })
        .unwrap_or_else(|| "unknown OS".to_string());
    let shown: Vec<_> = inv
        .packages
        .iter()
        .filter(|p| all || !p.owned_by_os)
        .collect();
    out.push_str(&format!(
        "{} ({})\n{distro}, {}, {}{}\n\n",
        inv.reference,
        short(&inv.image_id),
        plural(inv.layers.len(), "layer", "layers"),
        plural(inv.packages.len(), "package", "packages"),
        if shown.len() < inv.packages.len() {
            format!(
                " ({} installed by OS packages hidden; --all shows them)",
                inv.packages.len() - shown.len()
            )
        } else {
            String::new()
        }
    ));
    let new_table = || {
        let mut t = Table::new();
        t.load_style(UTF8_BORDERS_ONLY);
        if !fit {
            t.force_no_tty();
        }
        t
    };
    let mut layers = new_table();
    layers.set_header(vec!["layer", "diff id", "size", "packages", "instruction"]);
    let rows = inv
        .layers
        .iter()
        .map(|l| {
            let n = shown.iter().filter(|p| p.layer.index == l.index).count();
            vec![
                l.index.to_string(),
                short(&l.diff_id).to_string(),
                human(l.size),
                n.to_string(),
                clip(l.instruction.as_deref().unwrap_or("-"), 70),
            ]
        })
        .collect();
    let mut cut = add_rows_fitted(&mut layers, rows);
    out.push_str(&layers.to_string());
    out.push_str("\n\n");
    let mut t = new_table();
    t.set_header(vec![
        "name", "version", "type", "layer", "location", "license",
    ]);
    let rows = shown
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.version.clone(),
                p.ecosystem.to_string(),
                p.layer.index.to_string(),
                clip(&p.location, 60),
                clip(p.license.as_deref().unwrap_or("-"), 24),
            ]
        })
        .collect();
    cut |= add_rows_fitted(&mut t, rows);
    out.push_str(&t.to_string());
    out.push('\n');
    if cut {
        out.push_str("cut to fit: `-o json` has every instruction and licence whole\n");
    }
    out
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

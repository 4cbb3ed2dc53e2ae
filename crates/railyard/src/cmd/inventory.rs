//! `railyard inventory who-has NAME[@RANGE]`: every stored scan holding a package, with its
//! project, image, layer and Dockerfile instruction. `railyard inventory affected` is the
//! advisory module's.

use anyhow::Result;
use railyard_advisory::VersionScheme;
use railyard_scan::Ecosystem;
use railyard_store::PackageHolder;
use railyard_types::exit_codes;
use std::cmp::Ordering;

/// `railyard inventory`.
#[derive(Debug, clap::Args)]
pub struct InventoryArgs {
    #[command(subcommand)]
    pub command: InventoryCommand,
    #[command(flatten)]
    pub data: crate::cli::DataDir,
}

/// Questions over every stored scan.
#[derive(Debug, clap::Subcommand)]
pub enum InventoryCommand {
    /// Images holding a package: `NAME`, `NAME@VERSION`, or `NAME@RANGE` such as
    /// `openssl@<3.0.12`, `libc6@>=2.36,<2.37` (the package's own version rules: dpkg, PEP 440,
    /// SemVer…). NAME matches binary and source package names, folded as advisories are
    /// matched: `pyyaml` finds `PyYAML` (PEP 503), `serde-json` finds `serde_json`.
    WhoHas(WhoHasArgs),
    /// Images hit by an advisory (same as `railyard advisories affected`).
    Affected(super::advisories::AffectedArgs),
}

/// `railyard inventory who-has`.
#[derive(Debug, clap::Args)]
pub struct WhoHasArgs {
    /// `NAME`, `NAME@VERSION` or `NAME@RANGE`.
    pub package: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when no image holds it (for scripts).
    #[arg(long)]
    pub fail_if_none: bool,
    /// With a server: the images of every project the token may see.
    #[command(flatten)]
    pub remote: super::project::MaybeRemote,
}

/// Runs `railyard inventory …`; returns the exit code.
pub async fn run(g: &crate::cli::Global, args: InventoryArgs) -> Result<i32> {
    match args.command {
        InventoryCommand::WhoHas(a) => who_has(g, a).await,
        InventoryCommand::Affected(a) => super::advisories::affected(g, a).await,
    }
}

async fn who_has(g: &crate::cli::Global, args: WhoHasArgs) -> Result<i32> {
    let (name, constraints) = parse_query(&args.package).map_err(super::Expected::Input)?;
    let stored: Vec<PackageHolder> = match args.remote.client()? {
        Some(client) => {
            let query = railyard_types::inventory::WhoHasQuery { name: name.clone() };
            client
                .call_query::<railyard_types::api::WhoHas>(&(), &query, &())
                .await?
        }
        None => super::store(g).await?.who_has(&name).await?,
    };
    let hits: Vec<PackageHolder> = stored
        .into_iter()
        .filter(|h| constraints.iter().all(|c| c.holds(h)))
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&hits)?);
    } else if hits.is_empty() {
        println!("no stored scan holds {}", args.package);
    } else {
        let (hits_line, by_project) = summary(
            hits.iter()
                .map(|h| (h.project.as_str(), h.image_id.as_str())),
        );
        println!("{}: {hits_line}", args.package);
        let mut t = comfy_table::Table::new();
        t.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
        let mut header = vec!["image", "package", "version", "layer"];
        if by_project {
            header.insert(0, "project");
        }
        t.set_header(header);
        let rows = hits
            .iter()
            .map(|h| {
                let mut row = vec![
                    image_cell(&h.reference, &h.image_id),
                    format!("{} ({})", h.name, h.ecosystem),
                    h.version.clone(),
                    layer_cell(h.layer_index, h.instruction.as_deref()),
                ];
                if by_project {
                    row.insert(0, project_cell(&h.project));
                }
                row
            })
            .collect();
        let cut = crate::report::add_rows_fitted(&mut t, rows);
        println!("{t}");
        if cut {
            println!("instructions cut to fit: whole with --json");
        }
    }
    Ok(if hits.is_empty() && args.fail_if_none {
        exit_codes::JOBS_FAILED
    } else {
        exit_codes::OK
    })
}

/// What `who-has` and `affected` say above their table: how many packages in how many
/// images, and the project when they all belong to one; then the table has no project
/// column (with env images named `railyard-env:<key>`, it did not fit 100 columns). Returns
/// the words and whether the table needs a project column. `rows`: (project, image ID).
pub(crate) fn summary<'a>(rows: impl Iterator<Item = (&'a str, &'a str)>) -> (String, bool) {
    use crate::report::plural;
    let (mut projects, mut images, mut n) = (Vec::new(), Vec::new(), 0);
    for (project, image) in rows {
        projects.push(project);
        images.push(image);
        n += 1;
    }
    projects.sort_unstable();
    projects.dedup();
    images.sort_unstable();
    images.dedup();
    let mut line = format!(
        "{} in {}",
        plural(n, "package", "packages"),
        plural(images.len(), "image", "images")
    );
    match projects.as_slice() {
        [""] => {}
        [one] => line.push_str(&format!(" of {one}")),
        many => line.push_str(&format!(" of {} projects", many.len())),
    }
    (line, projects.len() > 1)
}

/// A stored scan's project, `-` for none.
pub(crate) fn project_cell(project: &str) -> String {
    if project.is_empty() {
        "-".into()
    } else {
        project.into()
    }
}

/// A stored scan's image by its name: the reference scanned, or the short ID of an image
/// scanned by ID (pipelines did so before their scans were named after the env image).
pub(crate) fn image_cell(reference: &str, image_id: &str) -> String {
    if reference.starts_with("sha256:") || reference == image_id || reference.is_empty() {
        let hex = image_id.trim_start_matches("sha256:");
        hex[..hex.len().min(12)].to_string()
    } else {
        reference.to_string()
    }
}

/// The layer that put a package there: its index and Dockerfile instruction.
pub(crate) fn layer_cell(index: i64, instruction: Option<&str>) -> String {
    match instruction {
        Some(i) => format!("{index} {}", super::scan::clip(i, 50)),
        None => index.to_string(),
    }
}

/// `NAME`, `NAME@VERSION` or `NAME@RANGE`: the name and the range's comparisons.
fn parse_query(query: &str) -> Result<(String, Vec<Constraint>), String> {
    let (name, range) = match query.split_once('@') {
        // npm scopes start with `@`: `@types/node@>=1`.
        Some(("", _)) => match query[1..].split_once('@') {
            Some((n, r)) => (format!("@{n}"), Some(r)),
            None => (query.to_string(), None),
        },
        Some((n, r)) => (n.to_string(), Some(r)),
        None => (query.to_string(), None),
    };
    if name.trim().is_empty() || name == "@" {
        return Err(format!(
            "`{query}` names no package: give NAME, NAME@VERSION or NAME@RANGE (`pyyaml@<6`)"
        ));
    }
    let constraints = match range {
        Some(r) => parse_range(r)?,
        None => Vec::new(),
    };
    Ok((name, constraints))
}

/// One comparison of a range.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Constraint {
    op: Op,
    version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// `1.2`, `=1.2`, `<2`, `>=1.0,<2.0`, `!=1.5`.
fn parse_range(r: &str) -> Result<Vec<Constraint>, String> {
    let mut out = Vec::new();
    for part in r.split(',').map(str::trim) {
        let (op, v) = [
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("!=", Op::Ne),
            ("==", Op::Eq),
            (">", Op::Gt),
            ("<", Op::Lt),
            ("=", Op::Eq),
        ]
        .iter()
        .find_map(|(p, op)| part.strip_prefix(p).map(|v| (*op, v.trim())))
        .unwrap_or((Op::Eq, part));
        if v.is_empty() {
            return Err(format!(
                "version range `{r}` has an empty part; write e.g. `>=1.0,<2.0`"
            ));
        }
        out.push(Constraint {
            op,
            version: v.to_string(),
        });
    }
    Ok(out)
}

impl Constraint {
    /// Compares with the package's ecosystem rules; a version that does not parse under them
    /// only matches `=` by text.
    fn holds(&self, h: &PackageHolder) -> bool {
        let ord = Ecosystem::parse(&h.ecosystem)
            .map(VersionScheme::for_ecosystem)
            .and_then(|s| s.compare(&h.version, &self.version).ok());
        match ord {
            Some(o) => match self.op {
                Op::Eq => o == Ordering::Equal,
                Op::Ne => o != Ordering::Equal,
                Op::Lt => o == Ordering::Less,
                Op::Le => o != Ordering::Greater,
                Op::Gt => o == Ordering::Greater,
                Op::Ge => o != Ordering::Less,
            },
            None => match self.op {
                Op::Eq => h.version == self.version,
                Op::Ne => h.version != self.version,
                _ => false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(eco: &str, v: &str) -> PackageHolder {
        PackageHolder {
            project: String::new(),
            reference: "x".into(),
            image_id: "sha256:1".into(),
            scanned_at: railyard_types::Millis(0),
            name: "p".into(),
            version: v.into(),
            ecosystem: eco.into(),
            source_name: None,
            location: "l".into(),
            layer_index: 0,
            diff_id: "d".into(),
            instruction: None,
            owned_by_os: false,
        }
    }

    #[test]
    fn ranges_use_ecosystem_order() {
        let r = parse_range(">=2.36,<2.36-10").unwrap();
        assert!(r.iter().all(|c| c.holds(&holder("deb", "2.36-9+deb12u4"))));
        assert!(!r.iter().all(|c| c.holds(&holder("deb", "2.36-10"))));
        // dpkg: `~` sorts before anything.
        let r = parse_range("<1.0").unwrap();
        assert!(r[0].holds(&holder("deb", "1.0~rc1")));
        // PEP 440: 1.0rc1 < 1.0; exact match normalises.
        assert!(r[0].holds(&holder("pypi", "1.0rc1")));
        assert!(parse_range("1.0").unwrap()[0].holds(&holder("pypi", "1.0.0")));
        assert!(parse_range(">=1,").is_err());
    }

    #[test]
    fn queries_name_a_package() {
        let (name, range) = parse_query("@types/node@>=20").unwrap();
        assert_eq!((name.as_str(), range.len()), ("@types/node", 1));
        assert_eq!(parse_query("PyYAML").unwrap().0, "PyYAML");
        for bad in ["", " ", "@", "@@1"] {
            let err = parse_query(bad).map(|q| q.0).unwrap_err();
            assert!(
                err.starts_with(&format!("`{bad}` names no package")),
                "{err}"
            );
        }
        assert!(parse_query("pyyaml@").unwrap_err().contains("empty part"));
    }
}

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
    let store = super::store(g).await?;
    let hits: Vec<PackageHolder> = store
        .who_has(&name)
        .await?
        .into_iter()
        .filter(|h| constraints.iter().all(|c| c.holds(h)))
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&hits)?);
    } else if hits.is_empty() {
        println!("no stored scan holds {}", args.package);
    } else {
        use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_content_arrangement(ContentArrangement::Dynamic);
        t.set_header(vec![
            "PROJECT",
            "IMAGE",
            "PACKAGE",
            "VERSION",
            "LAYER",
            "INSTRUCTION",
        ]);
        for h in &hits {
            let hex = h.image_id.trim_start_matches("sha256:");
            t.add_row(vec![
                if h.project.is_empty() {
                    "-".to_string()
                } else {
                    h.project.clone()
                },
                format!("{} ({})", h.reference, &hex[..hex.len().min(12)]),
                format!("{} ({})", h.name, h.ecosystem),
                h.version.clone(),
                h.layer_index.to_string(),
                super::scan::clip(h.instruction.as_deref().unwrap_or("-"), 50),
            ]);
        }
        println!("{t}");
    }
    Ok(if hits.is_empty() && args.fail_if_none {
        exit_codes::JOBS_FAILED
    } else {
        exit_codes::OK
    })
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
            scanned_at: 0,
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

//! The TOML configuration file of `railyard server` and `railyard agent` (`--config PATH`).
//!
//! One file holds a `[server]` and an `[agent]` table whose keys are the long flags with `_`
//! for `-` (the same names as the `RAILYARD__SERVER__*` and `RAILYARD__AGENT__*` variables).
//! Layers, lowest first: the file, the environment, the flags. clap already puts the
//! environment under the flags; the file fills only what both left unset. Unknown keys are
//! errors, so a misspelt key never silently falls back to a default.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Expected;

/// The whole file; both tables are optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub server: ServerFile,
    #[serde(default)]
    pub agent: AgentFile,
}

/// `[server]`: the flags of `railyard server`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFile {
    pub listen: Option<String>,
    pub database: Option<String>,
    pub admin_token: Option<String>,
    pub agent_token: Option<String>,
    pub lease_secs: Option<u64>,
    pub max_attempts: Option<i64>,
    pub max_jobs: Option<usize>,
    pub max_artifact_mb: Option<u64>,
    pub min_schedule_secs: Option<u64>,
    pub public_url: Option<String>,
    pub admin_token_file: Option<PathBuf>,
    pub agent_token_file: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The data folder (logs, mirrors, SQLite); `--data-dir` and `RAILYARD_HOME` win.
    pub data_dir: Option<PathBuf>,
}

/// `[agent]`: the flags of `railyard agent`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentFile {
    pub server: Option<String>,
    pub token: Option<String>,
    pub slots: Option<u32>,
    pub name: Option<String>,
    pub labels: Option<Vec<String>>,
    pub clone_depth: Option<u32>,
    pub registry: Option<String>,
    pub registry_auth_file: Option<PathBuf>,
    pub token_file: Option<PathBuf>,
    pub ca_cert: Option<PathBuf>,
}

/// Reads the file named by `--config`, or an empty configuration without one.
pub fn load(path: Option<&Path>) -> anyhow::Result<FileConfig> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        Expected::Input(format!(
            "cannot read the configuration file {}: {e}",
            path.display()
        ))
    })?;
    parse(path, &text).map_err(Into::into)
}

/// Parses `text`; an error names the file, line, column and key.
pub fn parse(path: &Path, text: &str) -> Result<FileConfig, Expected> {
    toml::from_str(text).map_err(|e| {
        let place = match e.span() {
            Some(span) => {
                let (line, column) = line_column(text, span.start);
                let key = key_at(text, span.start)
                    .map(|k| format!(" (key `{k}`)"))
                    .unwrap_or_default();
                format!("{}:{line}:{column}{key}", path.display())
            }
            None => path.display().to_string(),
        };
        Expected::Input(format!(
            "bad configuration file {place}: {}; the keys are the long flags of `railyard \
             server` under [server] and of `railyard agent` under [agent], `_` for `-`",
            e.message().trim_end()
        ))
    })
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, before[line_start..].chars().count() + 1)
}

/// The dotted key of the line holding `offset` (`server.lease_secs`), when it is `key = …`.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = text[line_start..].lines().next().unwrap_or("");
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    if key.is_empty() || key.starts_with('[') {
        return None;
    }
    let table = text[..line_start].lines().rev().find_map(|l| {
        let l = l.trim();
        l.strip_prefix('[')
            .and_then(|l| l.strip_suffix(']'))
            .map(str::trim)
    });
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        parse(Path::new("railyard.toml"), text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_whole_file_reads() {
        let c = parse(
            Path::new("r.toml"),
            "[server]\nlisten = \"0.0.0.0:1\"\nlease_secs = 5\n[agent]\nslots = 2\nlabels = [\"gpu\"]\n",
        )
        .unwrap();
        assert_eq!(c.server.listen.as_deref(), Some("0.0.0.0:1"));
        assert_eq!(c.server.lease_secs, Some(5));
        assert_eq!(c.agent.slots, Some(2));
        assert_eq!(c.agent.labels, Some(vec!["gpu".to_string()]));
    }

    #[test]
    fn an_unknown_key_is_named_with_its_place() {
        let e = error("[server]\nlisten = \"x\"\nlease_sec = 5\n");
        assert!(e.contains("railyard.toml:3:1"), "{e}");
        assert!(e.contains("server.lease_sec"), "{e}");
        assert!(e.contains("unknown field `lease_sec`"), "{e}");
    }

    #[test]
    fn a_wrong_type_is_named_with_its_key() {
        let e = error("[server]\n\nlease_secs = \"soon\"\n");
        assert!(e.contains("railyard.toml:3:14"), "{e}");
        assert!(e.contains("server.lease_secs"), "{e}");
    }

    #[test]
    fn a_syntax_error_has_its_line() {
        let e = error("[agent]\nslots = \n");
        assert!(e.contains("railyard.toml:2:"), "{e}");
    }
}

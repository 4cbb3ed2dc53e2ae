//! The env image check of `railyard run`: every env image a run builds is scanned (through
//! the layer cache, so an unchanged image costs a lookup), stored with the run, matched
//! against the stored advisories, and held to the pipeline's `env.scan.fail_on`.

use railyard_advisory::{IgnoreFile, Severity};
use railyard_pipeline::{EnvSource, EnvSpec};
use railyard_runner::EnvCheckError;
use railyard_store::Store;
use railyard_types::{Millis, RunId};
use std::path::PathBuf;

/// Scans env images for one run.
pub struct EnvScan {
    pub docker: railyard_docker::Docker,
    pub store: Store,
    pub project: String,
    pub run_id: RunId,
    /// `.railyard-ignore.yml` at the repository root, when present.
    pub ignore_file: PathBuf,
}

impl EnvScan {
    /// The name the scan is filed under in the inventory: the image the pipeline names, or a
    /// built env image's tag `railyard-env:<key>` (scanned by ID, it was filed as a bare
    /// `sha256:…` that `who-has` and `affected` then showed).
    async fn image_name(&self, image_id: &str, env: &EnvSpec) -> String {
        match &env.source {
            EnvSource::Image(name) => name.clone(),
            EnvSource::Build(_) => match self.docker.image(image_id).await {
                Ok(Some(info)) => info
                    .labels
                    .get(railyard_types::labels::ENV_KEY)
                    .filter(|key| key.len() >= 24)
                    .map(|key| railyard_runner::env_image::tag_for(key))
                    .unwrap_or_else(|| image_id.to_string()),
                _ => image_id.to_string(),
            },
        }
    }
}

#[async_trait::async_trait]
impl railyard_runner::EnvCheck for EnvScan {
    async fn check(&self, image_id: &str, env: &EnvSpec) -> Result<Vec<String>, EnvCheckError> {
        let fail_on = match env.scan.as_ref().and_then(|s| s.fail_on.as_deref()) {
            Some(level) => Some(
                level
                    .parse::<Severity>()
                    .map_err(|e| EnvCheckError::Invalid {
                        setting: format!("`env.scan.fail_on: {level}`"),
                        source: e.into(),
                    })?,
            ),
            None => None,
        };
        // Ready images are someone else's to inventory unless the pipeline asks for a gate.
        if matches!(env.source, EnvSource::Image(_)) && fail_on.is_none() {
            return Ok(vec![]);
        }
        let mut inv = railyard_scan::scan_image(self.docker.client(), image_id, &self.store)
            .await
            .map_err(|e| failed("scanning the env image", e))?;
        inv.reference = self.image_name(image_id, env).await;
        let scan_id = self
            .store
            .save_scan(&self.project, Some(&self.run_id), &inv, Millis::now())
            .await
            .map_err(|e| failed("storing the env image's scan", e))?;
        let findings = self
            .store
            .record_findings(&scan_id, &self.project, &inv)
            .await
            .map_err(|e| failed("matching advisories", e))?;
        let summary = format!(
            "scanned: {} packages, {} known vulnerabilit{}",
            inv.packages.len(),
            findings.len(),
            if findings.len() == 1 { "y" } else { "ies" }
        );
        let Some(level) = fail_on else {
            return Ok(vec![summary]);
        };
        let ignore = if self.ignore_file.exists() {
            Some(
                IgnoreFile::load(&self.ignore_file)
                    .map_err(|e| failed("reading the ignore file", e))?,
            )
        } else {
            None
        };
        let outcome = railyard_advisory::evaluate(
            findings,
            Some(level),
            ignore.as_ref(),
            jiff::Zoned::now().date(),
        );
        let mut lines = vec![summary];
        lines.extend(outcome.notes.iter().cloned());
        if outcome.failing == 0 {
            return Ok(lines);
        }
        let worst: Vec<String> = outcome
            .findings
            .iter()
            .filter(|j| j.fails)
            .take(5)
            .map(|j| {
                format!(
                    "{} ({} {} {})",
                    j.finding.advisory_id, j.finding.severity, j.finding.package, j.finding.version
                )
            })
            .collect();
        Err(EnvCheckError::Refused(format!(
            "{} known vulnerabilit{} at or above `{level}` (env.scan.fail_on): {}{}; no job was started. \
             Update the image, or accept them in .railyard-ignore.yml with a reason and an expiry",
            outcome.failing,
            if outcome.failing == 1 { "y" } else { "ies" },
            worst.join(", "),
            if outcome.failing > worst.len() {
                ", …"
            } else {
                ""
            }
        )))
    }
}

fn failed(doing: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> EnvCheckError {
    EnvCheckError::Failed {
        doing,
        source: Box::new(e),
    }
}

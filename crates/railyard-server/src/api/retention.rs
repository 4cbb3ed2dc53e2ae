//! What a reader and an uploader are told about a project's retention and quota (see the
//! store's `retention`): a pruned run's logs and artifacts answer 410 saying when and why they
//! went, and an upload that would take a project over its quota is refused (413) before a
//! byte is stored, naming the quota, the usage and what to do.

use railyard_store::RunRecord;
use railyard_types::Millis;

use super::ApiResult;
use crate::AppState;
use crate::error::ApiError;

/// Ok when the run still holds its logs and artifacts; [`ApiError::Pruned`] naming when and
/// by which settings they went, when retention deleted them (`what`: "logs", "artifacts").
pub(super) async fn not_pruned(state: &AppState, run: &RunRecord, what: &str) -> ApiResult<()> {
    let Some(at) = state.store().run_pruned_at(&run.id).await? else {
        return Ok(());
    };
    let settings = match state.store().project(&run.project).await? {
        Some(p) => format!(
            " (keep {} day(s) and the newest {} runs)",
            p.keep_days, p.keep_runs
        ),
        None => String::new(),
    };
    Err(ApiError::Pruned(format!(
        "the {what} of run {} #{} ({}) were deleted on {} by project `{}`'s retention{settings}: \
         they cannot be read any more. To keep later runs longer: `railyard project set {} \
         --keep-days N --keep-runs N`",
        run.project,
        run.number,
        run.id,
        utc(at),
        run.project,
        run.project
    )))
}

/// A project's artifact quota and what its runs hold, read when an upload starts.
pub(super) struct Quota {
    project: railyard_types::ProjectName,
    used: u64,
    quota: u64,
}

impl Quota {
    /// The project's quota, `None` when it has none. `replacing`: bytes of the file the upload
    /// replaces (a resend), which go when it is stored.
    pub(super) async fn of(
        state: &AppState,
        project: &railyard_types::ProjectName,
        replacing: u64,
    ) -> ApiResult<Option<Quota>> {
        let Some(p) = state.store().project(project).await? else {
            return Ok(None);
        };
        if p.quota_bytes <= 0 {
            return Ok(None);
        }
        let used = state.store().project_artifact_bytes(project).await?.max(0) as u64;
        Ok(Some(Quota {
            project: project.clone(),
            used: used.saturating_sub(replacing),
            quota: p.quota_bytes as u64,
        }))
    }

    /// Bytes an upload may still add.
    pub(super) fn room(&self) -> u64 {
        self.quota.saturating_sub(self.used)
    }

    /// Why an upload of `adding` bytes (or more) is refused.
    pub(super) fn refuse(&self, adding: u64) -> ApiError {
        let (project, used, quota) = (&self.project, self.used, self.quota);
        ApiError::TooLarge(format!(
            "project `{project}` is over its storage quota: its artifacts hold {used} bytes ({}) \
             of its {quota} ({}), and this file adds {adding} bytes or more: nothing of it was \
             stored. Raise the quota (`railyard project set {project} --quota-bytes N`), keep \
             fewer runs (`--keep-days`, `--keep-runs`), or leave large files out of `artifacts`",
            mib(used),
            mib(quota),
        ))
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// `YYYY-MM-DD HH:MM UTC` of a time (days to a civil date: Howard Hinnant's algorithm).
fn utc(at: Millis) -> String {
    let secs = at.as_i64().div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(utc(Millis(0)), "1970-01-01 00:00 UTC");
        assert_eq!(utc(Millis(1_709_210_096_000)), "2024-02-29 12:34 UTC");
        assert_eq!(utc(Millis(1_798_761_599_000)), "2026-12-31 23:59 UTC");
    }
}

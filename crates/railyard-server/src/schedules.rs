//! Cron schedules: reading a cron expression (in UTC) under the server's minimum interval,
//! and the scheduler every server process runs.
//!
//! The scheduler asks the database what is due by the database's clock, and claims each due
//! schedule by moving its `next_at` on with a compare-and-set ([`Store::claim_schedule`]):
//! only the server whose update changed the row starts the run, so several servers on one
//! PostgreSQL start each fire time's run once. The next time is the first after *now*, so
//! fire times missed while every server was down fire once, not once each. A start that
//! fails (the ref gone, the pipeline invalid) is recorded as the schedule's last error, and
//! the schedule goes on.
//!
//! [`Store::claim_schedule`]: railyard_store::Store::claim_schedule

use std::str::FromStr;
use std::time::Duration;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use railyard_types::context::RunEvent;
use railyard_types::schedules::ScheduleInfo;
use railyard_types::{Millis, RunId};

use crate::AppState;

/// The longest the scheduler sleeps: schedules added through another server are seen
/// within this.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// The default minimum interval between two fires of one schedule (`--min-schedule-secs`).
pub const DEFAULT_MIN_INTERVAL: Duration = Duration::from_secs(60);

/// The longest cron expression taken.
const MAX_CRON_BYTES: usize = 200;

/// How many fire times from now are looked at for the minimum interval: a day of every
/// minute and more, and the gaps of a cron expression repeat day by day.
const CHECKED_FIRES: usize = 2000;

/// Reads `text` as a cron expression (UTC): five fields (`MIN HOUR DOM MONTH DOW`), or six
/// with seconds first when `min_interval` is under a minute, or an `@daily`-like nickname;
/// refused (with a message naming the field `cron`) when it never fires or fires more often
/// than `min_interval`, looking from `now`.
pub(crate) fn parse(text: &str, min_interval: Duration, now: Millis) -> Result<Cron, String> {
    let shown = text.escape_debug();
    if text.len() > MAX_CRON_BYTES {
        return Err(format!(
            "cron: at most {MAX_CRON_BYTES} bytes (e.g. `0 3 * * *`)"
        ));
    }
    let min_secs = min_interval.as_secs();
    let fields = text.split_whitespace().count();
    let nickname = text.trim_start().starts_with('@');
    if !nickname && fields == 6 && min_secs >= 60 {
        return Err(format!(
            "cron: `{shown}` has a seconds field, and this server's minimum interval between \
             fires is {min_secs} s (--min-schedule-secs): use five fields `MIN HOUR DOM MONTH \
             DOW`, in UTC (e.g. `0 3 * * *`)"
        ));
    }
    if !nickname && fields != 5 && fields != 6 {
        return Err(format!(
            "cron: `{shown}` has {fields} field(s): give five, `MIN HOUR DOM MONTH DOW`, in UTC \
             (e.g. `0 3 * * *` for 03:00 every day)"
        ));
    }
    let cron = parser(min_interval)
        .parse(text)
        .map_err(|e| format!("cron: `{shown}` is not a cron expression: {e} (e.g. `0 3 * * *`)"))?;
    let mut fires = cron.iter_after(utc(now)?).take(CHECKED_FIRES);
    let Some(mut last) = fires.next() else {
        return Err(format!("cron: `{shown}` never fires"));
    };
    for fire in fires {
        let gap = fire.timestamp().as_millisecond() - last.timestamp().as_millisecond();
        if gap < min_interval.as_millis() as i64 {
            return Err(format!(
                "cron: `{shown}` fires {} s apart at {}, more often than this server's minimum \
                 interval of {min_secs} s (--min-schedule-secs)",
                gap as f64 / 1000.0,
                last.timestamp()
            ));
        }
        last = fire;
    }
    Ok(cron)
}

/// The parser for a server with `min_interval`: seconds only under a minute, never years.
fn parser(min_interval: Duration) -> CronParser {
    let seconds = if min_interval < Duration::from_secs(60) {
        Seconds::Optional
    } else {
        Seconds::Disallowed
    };
    CronParser::builder()
        .seconds(seconds)
        .year(Year::Disallowed)
        .build()
}

/// A stored expression, checked when it was added: read as leniently as any server would.
fn stored(text: &str) -> Result<Cron, String> {
    Cron::from_str(text).map_err(|e| format!("the stored cron `{text}` is unreadable: {e}"))
}

fn utc(at: Millis) -> Result<jiff::Zoned, String> {
    let at = jiff::Timestamp::from_millisecond(at.as_i64()).map_err(|e| e.to_string())?;
    Ok(at.to_zoned(jiff::tz::TimeZone::UTC))
}

/// The first fire time of `cron` strictly after `now`.
pub(crate) fn next_after(cron: &Cron, now: Millis) -> Result<Millis, String> {
    let next = cron
        .find_next_occurrence(&utc(now)?, false)
        .map_err(|e| format!("no next fire time: {e}"))?;
    Ok(Millis(next.timestamp().as_millisecond()))
}

/// Fires due schedules, then sleeps until the earliest next one (at most [`MAX_SLEEP`]), or
/// until a schedule is added on this server.
pub(crate) async fn run(state: AppState) {
    loop {
        let wait = match tick(&state).await {
            Ok(wait) => wait,
            Err(e) => {
                tracing::error!("firing schedules: {}", railyard_types::error::Chain(&e));
                MAX_SLEEP
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = state.schedules_changed().notified() => {}
        }
    }
}

/// One look: claims and fires every due schedule; returns how long to sleep.
async fn tick(state: &AppState) -> Result<Duration, railyard_store::StoreError> {
    let store = state.store();
    let now = store.now().await?;
    for due in store.due_schedules(now).await? {
        // An expression no longer read (or with no next time) is parked far ahead, with why.
        let next = stored(&due.cron).and_then(|cron| next_after(&cron, now));
        let parked = Millis(i64::MAX);
        let claimed = store
            .claim_schedule(&due.id, due.next_at, *next.as_ref().unwrap_or(&parked), now)
            .await?;
        if !claimed {
            // Another server fired this time.
            continue;
        }
        match next {
            Ok(_) => {
                let state = state.clone();
                tokio::spawn(async move { fire(&state, due).await });
            }
            Err(why) => {
                tracing::error!(project = %due.project, schedule = %due.name, "{why}");
                store.record_schedule_fire(&due.id, Err(&why)).await?;
            }
        }
    }
    let wait = match store.next_schedule_at().await? {
        Some(at) => Duration::from_millis((at.as_i64() - now.as_i64()).max(20) as u64),
        None => MAX_SLEEP,
    };
    Ok(wait.min(MAX_SLEEP))
}

/// Starts the claimed fire's run, and records the run or why there is none.
async fn fire(state: &AppState, schedule: ScheduleInfo) {
    let asked = crate::api::RunRequest {
        git_ref: &schedule.git_ref,
        pushed_ref: None,
        event: Some(RunEvent::Schedule),
        pull_request: None,
        started_by: format!("schedule:{}", schedule.name),
        delivery: None,
    };
    let started = crate::api::start_run(state, &schedule.project, asked).await;
    let outcome: Result<RunId, String> = match started {
        Ok(Some(triggered)) => Ok(RunId::from(triggered.run.id.as_str())),
        Ok(None) => Err("no run was queued".into()),
        Err(e) => Err(e.to_string()),
    };
    let (project, name) = (&schedule.project, &schedule.name);
    // The fire time (ms) it claimed, so a log read across servers shows each fired once.
    let fire_at = schedule.next_at.as_i64();
    match &outcome {
        Ok(run) => tracing::info!(%project, schedule = %name, fire_at, %run, "schedule fired"),
        Err(why) => tracing::warn!(
            %project, schedule = %name, fire_at, "schedule fired, no run started: {why}"
        ),
    }
    let recorded = match &outcome {
        Ok(run) => {
            state
                .store()
                .record_schedule_fire(&schedule.id, Ok(run))
                .await
        }
        Err(why) => {
            state
                .store()
                .record_schedule_fire(&schedule.id, Err(why))
                .await
        }
    };
    if let Err(e) = recorded {
        tracing::error!(
            "recording the fire of schedule `{name}` of `{project}`: {}",
            railyard_types::error::Chain(&e)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);
    /// 2026-01-01T00:00:00Z.
    const NEW_YEAR: Millis = Millis(1_767_225_600_000);

    #[test]
    fn five_fields_in_utc() {
        let cron = parse("0 3 * * *", MINUTE, NEW_YEAR).unwrap();
        let next = next_after(&cron, NEW_YEAR).unwrap();
        assert_eq!(next.as_i64() - NEW_YEAR.as_i64(), 3 * 3600 * 1000);
        // Strictly after: at the fire time itself, the next is a day on.
        let after = next_after(&cron, next).unwrap();
        assert_eq!(after.as_i64() - next.as_i64(), 24 * 3600 * 1000);
        assert!(parse("@daily", MINUTE, NEW_YEAR).is_ok());
        assert!(parse("*/5 * * * *", MINUTE, NEW_YEAR).is_ok());
    }

    #[test]
    fn hostile_expressions_are_refused_naming_the_field() {
        for bad in [
            "",
            "nonsense",
            "* * *",
            "61 * * * *",
            "0 25 * * *",
            "0 3 * * * * *",
            "0 3 32 * *",
            "0 3 30 2 *",
            "\u{0}",
            &"* ".repeat(200),
        ] {
            let e = parse(bad, MINUTE, NEW_YEAR).unwrap_err();
            assert!(e.starts_with("cron: "), "{bad:?}: {e}");
        }
    }

    #[test]
    fn the_minimum_interval_is_kept_and_said() {
        let e = parse("*/10 * * * * *", MINUTE, NEW_YEAR).unwrap_err();
        assert!(e.contains("seconds field") && e.contains("60 s"), "{e}");
        let hour = Duration::from_secs(3600);
        let e = parse("*/5 * * * *", hour, NEW_YEAR).unwrap_err();
        assert!(e.contains("minimum interval of 3600 s"), "{e}");
        // Two fires a minute apart once a day are found too.
        let e = parse("0,1 3 * * *", hour, NEW_YEAR).unwrap_err();
        assert!(e.contains("60 s apart"), "{e}");
        assert!(parse("0 * * * *", hour, NEW_YEAR).is_ok());
        // Under a minute, a seconds field is taken down to the minimum.
        let second = Duration::from_secs(2);
        assert!(parse("*/2 * * * * *", second, NEW_YEAR).is_ok());
        assert!(parse("* * * * * *", second, NEW_YEAR).is_err());
    }
}

//! The live terminal display: one spinner line per running job (elapsed time, current step)
//! above the scrolling log, job-prefixed log lines when several jobs run, and a summary
//! table at the end. Colors only on a terminal, and never with `NO_COLOR`.

use anstyle::{AnsiColor, Style};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use railyard_runner::{Event, RunOutcome, Stream};
use railyard_types::{JobStatus, RunStatus};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

const JOB_COLORS: [AnsiColor; 6] = [
    AnsiColor::Cyan,
    AnsiColor::Magenta,
    AnsiColor::Blue,
    AnsiColor::Yellow,
    AnsiColor::Green,
    AnsiColor::BrightCyan,
];

/// The human display of a run.
pub struct Terminal {
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    /// Prefix log lines with their job (several jobs selected).
    prefix: bool,
    /// Bars and colors are drawn (stdout and stderr are terminals).
    live: bool,
    color: bool,
    width: usize,
    steps: HashMap<String, usize>,
    durations: HashMap<String, u64>,
    colors: HashMap<String, AnsiColor>,
    /// (job, shard, tests, predicted, actual) of every sharded test run.
    shards: Vec<(String, u32, usize, Option<f64>, f64)>,
    /// Each test that ran, with its longest time (a retried test ran twice and was listed
    /// twice among the slowest).
    slowest: HashMap<String, f64>,
    /// Errors already printed in full, with the first job that had each: the other jobs of
    /// an env that failed to build say so instead of repeating a long message.
    errors: HashMap<String, String>,
    /// The last line each env printed: a refused env image's reason, which every job of the
    /// run then carries as its error.
    env_last: HashMap<String, String>,
    /// Tests that passed only on a retry.
    flaky: Vec<String>,
    /// Whether the project had measured test timings when the run started: without, a
    /// static split's prediction is only a default time per test, and is not shown.
    timings: bool,
}

impl Terminal {
    /// A display for these jobs (shards included) and their step counts; `timings` says
    /// whether the project has measured test timings.
    pub fn new(jobs: &[(String, usize)], timings: bool) -> Self {
        let live = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
        let color =
            anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never;
        let multi = MultiProgress::with_draw_target(if live {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        Self {
            multi,
            bars: HashMap::new(),
            prefix: jobs.len() > 1,
            live,
            color,
            width: jobs.iter().map(|(j, _)| j.len()).max().unwrap_or(0).min(24),
            steps: jobs.iter().cloned().collect(),
            durations: HashMap::new(),
            colors: jobs
                .iter()
                .enumerate()
                .map(|(i, (j, _))| (j.clone(), JOB_COLORS[i % JOB_COLORS.len()]))
                .collect(),
            shards: Vec::new(),
            slowest: HashMap::new(),
            errors: HashMap::new(),
            env_last: HashMap::new(),
            flaky: Vec::new(),
            timings,
        }
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    fn job_tag(&self, job: &str) -> String {
        let color = self.colors.get(job).copied().unwrap_or(AnsiColor::Cyan);
        let tag = format!(
            "{:>width$}",
            short_name(job, self.width),
            width = self.width
        );
        self.paint(Style::new().fg_color(Some(color.into())), &tag)
    }

    fn print(&self, line: String) {
        if self.live {
            let _ = self.multi.println(line);
        } else {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
    }

    fn job_line(&self, job: &str, text: String) {
        if self.prefix {
            self.print(format!("{} │ {text}", self.job_tag(job)));
        } else {
            self.print(text);
        }
    }

    fn bar(&mut self, key: &str, message: String) {
        let style =
            ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {elapsed:>4} {wide_msg}")
                .expect("the template is valid")
                .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ");
        let bar = self.multi.add(ProgressBar::new_spinner().with_style(style));
        bar.set_prefix(key.to_string());
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(100));
        self.bars.insert(key.to_string(), bar);
    }

    fn drop_bar(&mut self, key: &str) {
        if let Some(bar) = self.bars.remove(key) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }

    /// Shows one event.
    pub fn handle(&mut self, event: &Event) {
        let dim = Style::new().dimmed();
        let bold = Style::new().bold();
        let green = Style::new().fg_color(Some(AnsiColor::Green.into()));
        let red = Style::new().fg_color(Some(AnsiColor::Red.into()));
        let yellow = Style::new().fg_color(Some(AnsiColor::Yellow.into()));
        match event {
            Event::EnvPreparing { env, jobs } => {
                self.print(format!(
                    "{} env {env} for {}",
                    self.paint(bold, "◆"),
                    jobs.join(", ")
                ));
                self.bar(&format!("env {env}"), "looking up the env image".into());
            }
            Event::EnvOutput { env, line } => {
                if let Some(bar) = self.bars.get(&format!("env {env}")) {
                    bar.set_message("building");
                }
                let shown = railyard_types::terminal::terminal_safe(line);
                self.print(self.paint(dim, &format!("  {shown}")));
                self.env_last.insert(env.clone(), line.clone());
            }
            Event::EnvReady {
                env,
                image_id,
                cache_key,
                origin,
                reference,
                digest,
                duration_ms,
                ..
            } => {
                use railyard_types::env_images::EnvOrigin;
                self.drop_bar(&format!("env {env}"));
                let short = image_id.trim_start_matches("sha256:");
                let short = &short[..short.len().min(12)];
                let what = match (
                    origin,
                    cache_key.is_some(),
                    reference.as_ref().zip(digest.as_ref()),
                ) {
                    (EnvOrigin::Pulled, _, Some((r, d))) => format!("pulled {r} ({d})"),
                    (EnvOrigin::Built, _, Some((r, d))) => format!("built {r}, pushed ({d})"),
                    (EnvOrigin::Local, true, _) => format!("cached: {short}"),
                    (EnvOrigin::Local, false, _) => format!("found locally: {short}"),
                    (EnvOrigin::Built, _, None) => format!("built: {short}"),
                    (EnvOrigin::Pulled, _, None) => format!("pulled: {short}"),
                };
                self.print(format!(
                    "{} env {env} {what} ({})",
                    self.paint(green, "✓"),
                    super::duration(*duration_ms)
                ));
            }
            Event::JobStarted { job } => {
                self.bar(job, "starting".into());
            }
            Event::JobPhase { job, phase } => {
                if let Some(bar) = self.bars.get(job) {
                    bar.set_message(phase.clone());
                }
            }
            Event::StepStarted {
                job,
                index,
                command,
            } => {
                let total = self.steps.get(job).copied().unwrap_or(0);
                if let Some(bar) = self.bars.get(job) {
                    let of = if total > 0 {
                        format!("/{total}")
                    } else {
                        String::new()
                    };
                    bar.set_message(format!("step {}{of}: {command}", index + 1));
                }
                self.job_line(job, self.paint(bold, &format!("$ {command}")));
            }
            Event::Output {
                job, line, stream, ..
            } => {
                // A job's output is not trusted: only its colours reach the terminal.
                let line = railyard_types::terminal::terminal_safe(line);
                let text = match stream {
                    Stream::Railyard => self.paint(yellow, &format!("railyard: {line}")),
                    _ => line.into_owned(),
                };
                self.job_line(job, text);
            }
            Event::ImageBuilt {
                job, tags, pushed, ..
            } => {
                let line = match pushed.first() {
                    Some((reference, digest)) => {
                        format!("railyard: image pushed: {reference}@{digest}")
                    }
                    None => format!("railyard: image built: {}", tags.join(", ")),
                };
                self.job_line(job, self.paint(green, &line));
            }
            Event::ArtifactSaved {
                job,
                path,
                saved_to,
            } => {
                let line = format!(
                    "railyard: artifact `{path}` saved to {}",
                    saved_to.display()
                );
                self.job_line(job, self.paint(yellow, &line));
            }
            Event::StepFinished {
                job,
                index,
                status,
                exit_code,
                duration_ms,
            } => {
                if *status != railyard_types::StepStatus::Success {
                    let code = exit_code
                        .map(|c| format!(" with code {c}"))
                        .unwrap_or_default();
                    self.job_line(
                        job,
                        self.paint(
                            red,
                            &format!(
                                "✗ step {} {status}{code} after {}",
                                index + 1,
                                super::duration(*duration_ms)
                            ),
                        ),
                    );
                }
            }
            Event::JobFinished {
                job,
                status,
                duration_ms,
                error,
                ..
            } => {
                self.drop_bar(job);
                self.durations.insert(job.clone(), *duration_ms);
                let (mark, style) = status_mark(*status);
                let mut text = format!(
                    "{} {job} {}",
                    self.paint(style, mark),
                    super::status(*status)
                );
                if *duration_ms > 0 {
                    text.push_str(&format!(" in {}", super::duration(*duration_ms)));
                }
                if let Some(e) = error {
                    // A refused env image's reason was its last line; an env that failed to
                    // build fails each of its jobs with the same long message.
                    let refused = self
                        .env_last
                        .iter()
                        .find(|(env, line)| *e == format!("env {env}: {line}"));
                    if let Some((env, _)) = refused {
                        text.push_str(&format!(": env {env} refused, see above"));
                    } else if let Some(first) = self.errors.get(e) {
                        text.push_str(&format!(": the same error as {first}"));
                    } else {
                        text.push_str(&format!(": {e}"));
                        self.errors.insert(e.clone(), job.clone());
                    }
                }
                self.print(text);
            }
            Event::TestsPlanned {
                job,
                tests,
                mode,
                shards,
            } => {
                let mut text = format!(
                    "{} {job}: {tests} tests, split {mode}",
                    self.paint(bold, "◆")
                );
                for s in shards {
                    let predicted = if self.timings {
                        format!("predicted {}", railyard_split::duration(s.predicted_secs))
                    } else {
                        "no timings yet".to_string()
                    };
                    text.push_str(&format!(
                        "\n    shard {}: {} tests, {predicted}",
                        s.shard, s.tests
                    ));
                }
                self.print(text);
            }
            Event::TestResults { timings, .. } => {
                for (id, secs) in timings {
                    let longest = self.slowest.entry(id.clone()).or_insert(*secs);
                    *longest = longest.max(*secs);
                }
            }
            Event::ShardFinished {
                job,
                shard,
                tests,
                predicted_secs,
                actual_secs,
                flaky,
            } => {
                self.shards
                    .push((job.clone(), *shard, *tests, *predicted_secs, *actual_secs));
                for id in flaky {
                    self.flaky.push(format!("{job}: {id}"));
                }
            }
            Event::RunFinished { .. } => {}
        }
    }

    /// A line while cancelling.
    pub fn notice(&self, text: &str) {
        self.print(self.paint(Style::new().fg_color(Some(AnsiColor::Yellow.into())), text));
    }

    /// Clears the bars and prints the summary table.
    pub fn summary(
        &mut self,
        outcome: &RunOutcome,
        number: i64,
        total_ms: u64,
        artifacts: Option<&std::path::Path>,
    ) {
        for key in self.bars.keys().cloned().collect::<Vec<_>>() {
            self.drop_bar(&key);
        }
        let mut table = comfy_table::Table::new();
        table.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
        table.set_header(["job", "status", "time", "detail"]);
        let mut rows = Vec::new();
        for (job, result) in &outcome.jobs {
            let (mark, _) = status_mark(result.status);
            let time = self
                .durations
                .get(job)
                .filter(|d| **d > 0)
                .map(|d| super::duration(*d))
                .unwrap_or_default();
            rows.push(vec![
                job.clone(),
                format!("{mark} {}", super::status(result.status)),
                time,
                result.error.clone().unwrap_or_default(),
            ]);
        }
        let cut = super::add_rows_fitted(&mut table, rows);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{table}");
        if cut {
            let _ = writeln!(
                out,
                "details cut to fit: whole in `railyard runs {number} --json`"
            );
        }
        if !self.shards.is_empty() {
            let mut shards = comfy_table::Table::new();
            shards.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
            shards.set_header(["job", "shard", "tests", "predicted", "actual"]);
            for (job, shard, tests, predicted, actual) in &self.shards {
                shards.add_row([
                    job.clone(),
                    shard.to_string(),
                    tests.to_string(),
                    match predicted {
                        Some(_) if !self.timings => "no timings yet".into(),
                        Some(p) => railyard_split::duration(*p),
                        None => "queue".into(),
                    },
                    railyard_split::duration(*actual),
                ]);
            }
            let _ = writeln!(out, "{shards}");
        }
        if !self.slowest.is_empty() {
            let mut slowest: Vec<(&String, &f64)> = self.slowest.iter().collect();
            slowest.sort_by(|a, b| b.1.total_cmp(a.1).then_with(|| a.0.cmp(b.0)));
            let list: Vec<String> = slowest
                .iter()
                .take(5)
                .map(|(id, secs)| format!("{id} ({})", railyard_split::duration(**secs)))
                .collect();
            let _ = writeln!(out, "slowest tests: {}", list.join(", "));
        }
        if !self.flaky.is_empty() {
            let _ = writeln!(
                out,
                "{} flaky (passed on a retry): {}",
                self.paint(Style::new().fg_color(Some(AnsiColor::Yellow.into())), "!"),
                self.flaky.join(", ")
            );
        }
        let (mark, style) = match outcome.status {
            RunStatus::Success => ("✓", Style::new().fg_color(Some(AnsiColor::Green.into()))),
            RunStatus::Cancelled => ("■", Style::new().fg_color(Some(AnsiColor::Yellow.into()))),
            _ => ("✗", Style::new().fg_color(Some(AnsiColor::Red.into()))),
        };
        let _ = writeln!(
            out,
            "{} run #{number} {} in {} · logs: railyard logs {number} [JOB]",
            self.paint(style, mark),
            outcome.status,
            super::duration(total_ms)
        );
        if let Some(dir) = artifacts.filter(|d| d.exists()) {
            let _ = writeln!(out, "  artifacts: {}", dir.display());
        }
    }
}

/// `name` in at most `width` characters, for the prefix of log lines: a matrix expansion
/// first loses its keys (`test (PY=3.12, OS=bookworm)` is `test (3.12, bookworm)`), then
/// its middle (`test (3.12, …bookworm)`), so that the prefixes of long names stay aligned.
fn short_name(name: &str, width: usize) -> String {
    let len = |s: &str| s.chars().count();
    if len(name) <= width {
        return name.to_string();
    }
    let mut short = name.to_string();
    if let Some((base, rest)) = name.split_once(" (")
        && let Some((combo, tail)) = rest.split_once(')')
    {
        let values: Vec<&str> = combo
            .split(", ")
            .map(|pair| pair.split_once('=').map_or(pair, |(_, v)| v))
            .collect();
        short = format!("{base} ({}){tail}", values.join(", "));
    }
    if len(&short) <= width {
        return short;
    }
    let keep = width.saturating_sub(1);
    let tail = keep / 2;
    let head: String = short.chars().take(keep - tail).collect();
    let end: String = short.chars().skip(len(&short) - tail).collect();
    format!("{head}…{end}")
}

fn status_mark(status: JobStatus) -> (&'static str, Style) {
    let c = |c: AnsiColor| Style::new().fg_color(Some(c.into()));
    match status {
        JobStatus::Success => ("✓", c(AnsiColor::Green)),
        JobStatus::FailedAllowed => ("!", c(AnsiColor::Yellow)),
        JobStatus::Skipped | JobStatus::Pending => ("○", Style::new().dimmed()),
        JobStatus::Cancelled => ("■", c(AnsiColor::Yellow)),
        JobStatus::Running => ("…", Style::new()),
        JobStatus::Failed | JobStatus::TimedOut => ("✗", c(AnsiColor::Red)),
    }
}

#[cfg(test)]
mod tests {
    use super::short_name;

    #[test]
    fn long_names_fit_the_prefix_keeping_what_tells_them_apart() {
        assert_eq!(short_name("unit", 24), "unit");
        let matrix = "test (PYTHON_VERSION=3.11, DEBIAN_RELEASE=bookworm)";
        assert_eq!(short_name(matrix, 24), "test (3.11, bookworm)");
        let shard = "test (PYTHON_VERSION=3.11, DEBIAN_RELEASE=bookworm) [2/4]";
        assert_eq!(short_name(shard, 24), "test (3.11, …worm) [2/4]");
        let long = "integration-tests-against-the-staging-database";
        let short = short_name(long, 24);
        assert_eq!(short.chars().count(), 24, "{short}");
        assert_eq!(short, "integration-…ng-database");
    }
}

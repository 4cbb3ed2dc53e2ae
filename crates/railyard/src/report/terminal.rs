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
    /// (seconds, id) of every test that ran.
    slowest: Vec<(f64, String)>,
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
            slowest: Vec::new(),
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
        let tag = format!("{job:>width$}", width = self.width);
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
                self.print(self.paint(dim, &format!("  {line}")));
            }
            Event::EnvReady {
                env,
                image_id,
                cached,
                cache_key,
                duration_ms,
                ..
            } => {
                self.drop_bar(&format!("env {env}"));
                let short = image_id.trim_start_matches("sha256:");
                let how = match (cache_key.is_some(), *cached) {
                    (true, true) => "cached",
                    (true, false) => "built",
                    (false, true) => "found locally",
                    (false, false) => "pulled",
                };
                self.print(format!(
                    "{} env {env} {how}: {} ({})",
                    self.paint(green, "✓"),
                    &short[..short.len().min(12)],
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
                let text = match stream {
                    Stream::Railyard => self.paint(yellow, &format!("railyard: {line}")),
                    _ => line.clone(),
                };
                self.job_line(job, text);
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
                let mut text = format!("{} {job} {status}", self.paint(style, mark));
                if *duration_ms > 0 {
                    text.push_str(&format!(" in {}", super::duration(*duration_ms)));
                }
                if let Some(e) = error {
                    text.push_str(&format!(": {e}"));
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
                    self.slowest.push((*secs, id.clone()));
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
                format!("{mark} {}", result.status),
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
            let mut slowest = self.slowest.clone();
            slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
            let list: Vec<String> = slowest
                .iter()
                .take(5)
                .map(|(secs, id)| format!("{id} ({})", railyard_split::duration(*secs)))
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

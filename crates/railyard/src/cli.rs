//! The command line, as clap sees it.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Container-native CI: run a repository's pipeline in containers built from its own Dockerfile.
#[derive(Debug, Parser)]
#[command(name = "railyard", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Run as if started in DIR.
    #[arg(short = 'C', long = "directory", global = true, value_name = "DIR")]
    pub directory: Option<PathBuf>,
    /// The pipeline file [default: .railyard.yml in DIR or the nearest parent holding one].
    #[arg(short, long, global = true, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Where run history, logs and artifacts are kept [default: ~/.local/share/railyard].
    #[arg(long, global = true, env = "RAILYARD_HOME", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where each job's own network takes its addresses (`run`, `shell`, `split`, `agent`):
    /// a subnet of /SIZE carved from BASE/PREFIX, or `docker` for the engine's default
    /// pools (about 30 networks at once). Pick a range no network of this machine uses.
    #[arg(
        long,
        global = true,
        env = "RAILYARD_NETWORK_POOL",
        value_name = "BASE/PREFIX:SIZE",
        default_value = railyard_runner::networks::DEFAULT_POOL
    )]
    pub network_pool: railyard_runner::NetworkPool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the pipeline, or the named jobs and what they need.
    Run(RunArgs),
    /// Check the pipeline file and report every problem with its place.
    Validate,
    /// Show the jobs as stages of the `needs` graph.
    Graph,
    /// Open a shell in a job's environment, with its workspace and services up.
    Shell(ShellArgs),
    /// Remove containers, networks and volumes that crashed runs left behind.
    Clean(CleanArgs),
    /// List this project's recent runs, or show one with its jobs.
    Runs(RunsArgs),
    /// Print the logs of a run (all jobs, or one).
    Logs(LogsArgs),
    /// List an image's packages, with the layer and Dockerfile line that added each.
    Scan(crate::cmd::scan::ScanArgs),
    /// Ask every stored scan: which images hold a package.
    Inventory(crate::cmd::inventory::InventoryArgs),
    /// Import known vulnerabilities (OSV) and ask which stored images they hit.
    Advisories(crate::cmd::advisories::AdvisoriesArgs),
    /// Show how a job's tests would be split over its shards, by measured timings.
    Split(SplitArgs),
    /// Show the project's test timings: the slowest tests and how often they were measured.
    Tests(TestsArgs),
    /// Serve the API and the job queue that agents draw from.
    Server(crate::cmd::server::ServerArgs),
    /// Take jobs from a server and run them on this machine's Docker engine.
    Agent(crate::cmd::agent::AgentArgs),
    /// Add or list the server's projects.
    Project(crate::cmd::project::ProjectArgs),
    /// Start a run of a project on the server.
    Trigger(crate::cmd::trigger::TriggerArgs),
    /// Cancel a run on the server.
    Cancel(crate::cmd::cancel::CancelArgs),
    /// List the server's agents.
    Agents(crate::cmd::agents::AgentsArgs),
    /// Create, list or revoke the server's stored tokens.
    Token(crate::cmd::token::TokenArgs),
}

#[derive(Debug, Args)]
pub struct SplitArgs {
    /// The job with a `tests` block.
    pub job: String,
    /// Print the plan: tests per shard and each shard's predicted time (the default).
    #[arg(long)]
    pub explain: bool,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TestsArgs {
    /// How many tests to show, slowest first.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub limit: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Jobs to run (with what they need); all when none is given.
    pub jobs: Vec<String>,
    /// How many jobs may run at once [default: the number of cores].
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub parallel: Option<usize>,
    /// Print events as JSON lines on stdout instead of the live display.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShellArgs {
    /// The job whose environment to enter [default: the first job].
    pub job: Option<String>,
    /// Run this command instead of an interactive shell.
    #[arg(short, long, value_name = "COMMAND")]
    pub command: Option<String>,
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Also remove objects of runs that are still going.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// One run to show with its jobs (its number, ID or ID prefix); with a server, a queued
    /// job also says why it waits.
    pub run: Option<String>,
    /// How many runs to show.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub limit: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// With a server: only this project's runs [default: every project's].
    #[arg(long)]
    pub project: Option<String>,
    #[command(flatten)]
    pub remote: crate::cmd::project::MaybeRemote,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The run: its number (`12`), ID, or ID prefix.
    pub run: String,
    /// One job of the run [default: every job, in order].
    pub job: Option<String>,
    /// Follow the job's log on the server as it grows; exit with the job's status (`-f` is
    /// the global `--file`, so the short form is `-F`).
    #[arg(short = 'F', long)]
    pub follow: bool,
    #[command(flatten)]
    pub remote: crate::cmd::project::MaybeRemote,
}

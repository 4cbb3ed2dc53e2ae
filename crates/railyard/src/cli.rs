//! The command line, as clap sees it.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Container-native CI: run a repository's pipeline in containers built from its own Dockerfile.
#[derive(Debug, Parser)]
#[command(name = "railyard", version, about, propagate_version = true)]
pub struct Cli {
    /// Run as if started in DIR.
    #[arg(short = 'C', long = "directory", global = true, value_name = "DIR")]
    pub directory: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// What a command was given of the options that only some commands take (`--file`,
/// `--data-dir`, `--network-pool`): each command lists only its own in its help, where they
/// were global and `railyard server --help` offered a pipeline file.
#[derive(Debug, Clone)]
pub struct Global {
    pub directory: Option<PathBuf>,
    pub file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub network_pool: railyard_runner::NetworkPool,
}

/// `-f/--file`, for the commands that read the pipeline.
#[derive(Debug, Clone, Default, Args)]
pub struct PipelineFile {
    /// The pipeline file [default: .railyard.yml in DIR or the nearest parent holding one].
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// `--data-dir`, for the commands that read or write the run history and scans. Global so
/// that `railyard inventory who-has X --data-dir D` works as well as before the subcommand.
#[derive(Debug, Clone, Default, Args)]
pub struct DataDir {
    /// Where run history, logs, artifacts and scans are kept [default: ~/.local/share/railyard].
    #[arg(long, global = true, env = "RAILYARD_HOME", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// `--network-pool`, for the commands that start jobs.
#[derive(Debug, Clone, Args)]
pub struct Networks {
    /// Where each job's own network takes its addresses: a subnet of /SIZE carved from
    /// BASE/PREFIX, or `docker` for the engine's default pools (about 30 networks at once).
    /// Pick a range no network of this machine uses.
    #[arg(
        long,
        env = "RAILYARD_NETWORK_POOL",
        value_name = "BASE/PREFIX:SIZE",
        default_value = railyard_runner::networks::DEFAULT_POOL
    )]
    pub network_pool: railyard_runner::NetworkPool,
}

impl Cli {
    /// The options the command was given, those it does not take left unset.
    pub fn global(&self) -> Global {
        let none = PipelineFile::default();
        let (file, data, networks) = match &self.command {
            Command::Run(a) => (&a.pipeline, Some(&a.data), Some(&a.networks)),
            Command::Validate(p) | Command::Graph(p) => (p, None, None),
            Command::Shell(a) => (&a.pipeline, Some(&a.data), Some(&a.networks)),
            Command::Runs(a) => (&a.pipeline, Some(&a.data), None),
            Command::Deployments(a) => (&a.pipeline, Some(&a.data), None),
            Command::Logs(a) => (&a.pipeline, Some(&a.data), None),
            Command::Split(a) => (&a.pipeline, Some(&a.data), Some(&a.networks)),
            Command::Tests(a) => (&a.pipeline, Some(&a.data), None),
            Command::Scan(a) => (&none, Some(&a.data), None),
            Command::Inventory(a) => (&none, Some(&a.data), None),
            Command::Advisories(a) => (&none, Some(&a.data), None),
            Command::Server(a) => (&none, Some(&a.data), None),
            Command::Agent(a) => (&none, Some(&a.data), Some(&a.networks)),
            Command::Clean(_)
            | Command::Project(_)
            | Command::Trigger(_)
            | Command::Cancel(_)
            | Command::Approve(_)
            | Command::Rerun(_)
            | Command::Agents(_)
            | Command::EnvImages(_)
            | Command::Token(_)
            | Command::User(_)
            | Command::Member(_)
            | Command::Login(_)
            | Command::Me(_)
            | Command::Audit(_)
            | Command::Secret(_)
            | Command::Schedule(_) => (&none, None, None),
        };
        Global {
            directory: self.directory.clone(),
            file: file.file.clone(),
            data_dir: data.and_then(|d| d.data_dir.clone()),
            network_pool: networks.map(|n| n.network_pool).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the pipeline, or the named jobs and what they need.
    Run(RunArgs),
    /// Check the pipeline file and report every problem with its place.
    Validate(PipelineFile),
    /// Show the jobs as stages of the `needs` graph.
    Graph(PipelineFile),
    /// Open a shell in a job's environment, with its workspace and services up.
    Shell(ShellArgs),
    /// Remove containers, networks and volumes that crashed runs left behind.
    Clean(CleanArgs),
    /// List this project's recent runs, or show one with its jobs.
    Runs(RunsArgs),
    /// List what was deployed to an environment: when, by which run, with which image.
    Deployments(crate::cmd::deployments::DeploymentsArgs),
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
    /// Approve a manual job awaiting approval on the server.
    Approve(crate::cmd::approve::ApproveArgs),
    /// Run a finished run on the server again (every job, or `--failed` only).
    Rerun(crate::cmd::rerun::RerunArgs),
    /// List the server's agents.
    Agents(crate::cmd::agents::AgentsArgs),
    /// List the env images built through the registry (`--unused-days N`: those to collect).
    EnvImages(crate::cmd::env_images::EnvImagesArgs),
    /// Create, list or revoke the server's stored tokens.
    Token(crate::cmd::token::TokenArgs),
    /// Add, list or remove the server's people (an admin's).
    User(crate::cmd::people::UserArgs),
    /// Give or take a person's role in a project (a maintainer's).
    Member(crate::cmd::people::MemberArgs),
    /// Sign in with your name and password: prints a personal token (valid 30 days).
    Login(crate::cmd::me::LoginArgs),
    /// Who your token speaks for; your own tokens.
    Me(crate::cmd::me::MeArgs),
    /// Who changed what on the server: triggers, cancels, roles, tokens, secrets.
    Audit(crate::cmd::me::AuditArgs),
    /// Set, list or remove a project's secrets on the server (values never read back).
    Secret(crate::cmd::secret::SecretArgs),
    /// Add, list or remove cron schedules: runs the server starts at set times (UTC).
    Schedule(crate::cmd::schedule::ScheduleArgs),
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
    #[command(flatten)]
    pub pipeline: PipelineFile,
    #[command(flatten)]
    pub data: DataDir,
    #[command(flatten)]
    pub networks: Networks,
}

#[derive(Debug, Args)]
pub struct TestsArgs {
    /// How many tests to show, slowest first.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub limit: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub pipeline: PipelineFile,
    #[command(flatten)]
    pub data: DataDir,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Jobs to run (with what they need); all when none is given.
    pub jobs: Vec<String>,
    /// How many jobs may run at once [default: the number of cores].
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub parallel: Option<usize>,
    /// The most jobs the pipeline may expand to, matrix combinations and shards counted.
    #[arg(long, value_name = "N", default_value_t = railyard_pipeline::DEFAULT_MAX_JOBS)]
    pub max_jobs: usize,
    /// Print events as JSON lines on stdout instead of the live display.
    #[arg(long)]
    pub json: bool,
    /// The registry images built by jobs (`image_build` with `push: true`) are pushed to,
    /// under PREFIX/<project>/: `http://127.0.0.1:5000/ci`. Env images go through it too:
    /// pulled when the fleet built them (PREFIX/env/<project>:<key>), else built and pushed.
    #[arg(long, value_name = "URL")]
    pub registry: Option<railyard_runner::Registry>,
    /// A file holding the registry's `user:password` (one line), sent to the engine with each
    /// pull and push of the registry's images, never shown.
    #[arg(
        long,
        env = "RAILYARD_REGISTRY_AUTH_FILE",
        value_name = "FILE",
        requires = "registry"
    )]
    pub registry_auth_file: Option<PathBuf>,
    /// Run this `manual: true` job (repeatable); manual jobs not named are skipped, with
    /// the jobs that need them.
    #[arg(long = "approve", value_name = "JOB")]
    pub approve: Vec<String>,
    #[command(flatten)]
    pub context: ContextArgs,
    #[command(flatten)]
    pub pipeline: PipelineFile,
    #[command(flatten)]
    pub data: DataDir,
    #[command(flatten)]
    pub networks: Networks,
}

/// What a local run pretends started it: its `RAILYARD_*` variables and what `when:` rules
/// are judged against. By default, the work tree's git state.
#[derive(Debug, Clone, Default, Args)]
pub struct ContextArgs {
    /// The event to pretend: push, tag, pull_request, schedule, trigger [default: push, or
    /// tag when HEAD is a tag with no branch checked out].
    #[arg(long, value_name = "NAME", value_parser = parse_event)]
    pub event: Option<railyard_types::context::RunEvent>,
    /// The branch the run is for, instead of the one checked out; with a pull request, the
    /// branch it merges into [default for a pull request: main].
    #[arg(long, value_name = "NAME")]
    pub branch: Option<String>,
    /// A pull request's number: pretends a pull_request event.
    #[arg(long, value_name = "N")]
    pub pr: Option<u64>,
}

fn parse_event(name: &str) -> Result<railyard_types::context::RunEvent, String> {
    use railyard_types::context::RunEvent;
    RunEvent::parse(name).ok_or_else(|| {
        let names: Vec<&str> = RunEvent::ALL.iter().map(|e| e.as_str()).collect();
        format!("unknown event `{name}`; the events: {}", names.join(", "))
    })
}

#[derive(Debug, Args)]
pub struct ShellArgs {
    /// The job whose environment to enter [default: the first job].
    pub job: Option<String>,
    /// Run this command instead of an interactive shell.
    #[arg(short, long, value_name = "COMMAND")]
    pub command: Option<String>,
    #[command(flatten)]
    pub pipeline: PipelineFile,
    #[command(flatten)]
    pub data: DataDir,
    #[command(flatten)]
    pub networks: Networks,
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Also remove objects of runs that are still going.
    #[arg(long)]
    pub all: bool,
    /// Remove the dependency caches (`cache:` volumes) that no job holds instead: every
    /// project's, or with `--project` one project's. The next runs start their caches
    /// empty.
    #[arg(long)]
    pub caches: bool,
    /// With `--caches`: only this project's (the name its runs were given; for a local run,
    /// the repository's folder).
    #[arg(long, requires = "caches")]
    pub project: Option<String>,
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
    #[command(flatten)]
    pub pipeline: PipelineFile,
    #[command(flatten)]
    pub data: DataDir,
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
    #[command(flatten)]
    pub pipeline: PipelineFile,
    #[command(flatten)]
    pub data: DataDir,
}

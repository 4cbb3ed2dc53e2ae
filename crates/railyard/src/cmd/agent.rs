//! `railyard agent`: takes jobs from a server and runs them on this machine's Docker engine.

use clap::Args;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// A TOML file whose `[agent]` table sets any of these flags (`token = "…"`); the
    /// environment and the flags win over it.
    #[arg(long, env = "RAILYARD_CONFIG", value_name = "PATH")]
    pub config: Option<std::path::PathBuf>,
    /// The server, `http://host:port`.
    #[arg(long, env = "RAILYARD__AGENT__SERVER")]
    pub server: Option<String>,
    /// An agent token.
    #[arg(long, env = "RAILYARD__AGENT__TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A file holding the agent token (trailing newline dropped), so it shows in no `ps`.
    #[arg(long, env = "RAILYARD__AGENT__TOKEN_FILE", value_name = "FILE")]
    pub token_file: Option<std::path::PathBuf>,
    /// Trust only this CA (PEM) for an `https://` server [default: the system's roots].
    #[arg(long, env = "RAILYARD_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<std::path::PathBuf>,
    /// How many jobs to run at once [default: 1].
    #[arg(long, env = "RAILYARD__AGENT__SLOTS")]
    pub slots: Option<u32>,
    /// A name for people [default: host:pid].
    #[arg(long, env = "RAILYARD__AGENT__NAME")]
    pub name: Option<String>,
    /// Labels of this machine, comma-separated (`linux,gpu`): it takes only jobs whose
    /// `runs_on` labels it all has (jobs without `runs_on` go to any agent).
    #[arg(long, env = "RAILYARD__AGENT__LABELS", value_delimiter = ',')]
    pub labels: Vec<String>,
    /// How many commits of history each job's checkout fetches (its `.git` is in the
    /// job's workspace); 0 fetches every branch and tag whole [default: 50].
    #[arg(long, env = "RAILYARD__AGENT__CLONE_DEPTH")]
    pub clone_depth: Option<u32>,
    /// How long a job may take to restore a dependency cache (`cache:`) from the server, in
    /// seconds; past it the cache is a miss and the job goes on with an empty folder
    /// [default: 60].
    #[arg(
        long,
        env = "RAILYARD__AGENT__CACHE_RESTORE_SECS",
        value_name = "SECONDS"
    )]
    pub cache_restore_secs: Option<u64>,
    /// The registry images built by jobs (`image_build` with `push: true`) are pushed to,
    /// under PREFIX/<project>/ (`http://127.0.0.1:5000/ci`); this machine's Docker engine
    /// must reach it.
    #[arg(long, env = "RAILYARD__AGENT__REGISTRY", value_name = "URL")]
    pub registry: Option<railyard_runner::Registry>,
    /// A file holding the registry's `user:password` (one line): sent to this machine's
    /// engine with each pull and push of the registry's images, never logged.
    #[arg(long, env = "RAILYARD__AGENT__REGISTRY_AUTH_FILE", value_name = "FILE")]
    pub registry_auth_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub limits: JobLimits,
    #[command(flatten)]
    pub networks: crate::cli::Networks,
    /// Where the agent keeps the layer cache of its image scans (the inventory of the
    /// images its jobs run in and build is the server's).
    #[command(flatten)]
    pub data: crate::cli::DataDir,
}

/// What each job may have on this machine (defaults for what a pipeline leaves unset, and
/// maxima it may not pass).
#[derive(Debug, Args)]
pub struct JobLimits {
    /// Memory of a job (and of each of its services) that sets none in `resources`
    /// [default: the machine's memory divided by the slots].
    #[arg(long, env = "RAILYARD__AGENT__JOB_MEMORY", value_parser = size)]
    pub job_memory: Option<u64>,
    /// The most memory a job may ask for [default: the machine's memory].
    #[arg(long, env = "RAILYARD__AGENT__MAX_JOB_MEMORY", value_parser = size)]
    pub max_job_memory: Option<u64>,
    /// CPUs of a job that sets none [default: the machine's CPUs divided by the slots].
    #[arg(long, env = "RAILYARD__AGENT__JOB_CPUS")]
    pub job_cpus: Option<f64>,
    /// The most CPUs a job may ask for [default: the machine's CPUs].
    #[arg(long, env = "RAILYARD__AGENT__MAX_JOB_CPUS")]
    pub max_job_cpus: Option<f64>,
    /// Memory of each `RUN` step of an env image build, below 2g [default: unlimited].
    #[arg(long, env = "RAILYARD__AGENT__BUILD_MEMORY", value_parser = size)]
    pub build_memory: Option<u64>,
    /// The most a job's artifacts may hold in all, and what its needs may hand it (`2g`);
    /// past it the job fails naming the path [default: 1g].
    #[arg(long, env = "RAILYARD__AGENT__MAX_ARTIFACTS", value_parser = size)]
    pub max_artifacts: Option<u64>,
}

/// A size as a pipeline writes it (`512m`, `4g`).
fn size(text: &str) -> Result<u64, String> {
    railyard_pipeline::parse_memory(text)
}

/// What each job may have on this machine: the operator's values, else a fair share of the
/// engine's machine per slot (a job without `resources` could otherwise take it all).
async fn allowance(
    args: &JobLimits,
    slots: u32,
    docker: &railyard_docker::Docker,
) -> anyhow::Result<railyard_runner::Allowance> {
    let (cpus, memory) = docker.machine().await?;
    let share = |total: u64| (total / u64::from(slots.max(1))).max(railyard_pipeline::MIN_MEMORY);
    let max_memory = args.max_job_memory.or((memory > 0).then_some(memory));
    let max_cpus = args.max_job_cpus.or(Some(cpus as f64));
    let job_memory = args.job_memory.or((memory > 0).then(|| share(memory)));
    let job_cpus = args
        .job_cpus
        .or(Some((cpus as f64 / f64::from(slots.max(1))).max(0.5)));
    for (what, default, max) in [
        (
            "--job-memory",
            job_memory.map(|m| m as f64),
            max_memory.map(|m| m as f64),
        ),
        ("--job-cpus", job_cpus, max_cpus),
    ] {
        if let (Some(default), Some(max)) = (default, max)
            && default > max
        {
            return Err(super::Expected::Input(format!(
                "{what} is more than its maximum ({what} must be at most --max-{})",
                what.trim_start_matches("--")
            ))
            .into());
        }
    }
    Ok(railyard_runner::Allowance {
        memory: job_memory,
        max_memory,
        cpus: job_cpus,
        max_cpus,
        // Not the job's share by default: bollard can pass a build limit below 2 GiB only,
        // and a smaller one would break builds that fit the machine.
        build_memory: args.build_memory,
        // A job's artifacts cross the agent's disk and the server's: bounded like the
        // pipeline that makes them is untrusted.
        max_artifact_bytes: Some(
            args.max_artifacts
                .unwrap_or(railyard_runner::allowance::DEFAULT_MAX_ARTIFACT_BYTES),
        ),
        max_artifact_files: Some(railyard_runner::allowance::DEFAULT_MAX_ARTIFACT_FILES),
    })
}

pub async fn run(args: AgentArgs, g: &crate::cli::Global) -> anyhow::Result<i32> {
    let networks = g.network_pool;
    let file = super::config::load(args.config.as_deref())?.agent;
    let required = |value: Option<String>, key: &str| {
        value.filter(|v| !v.is_empty()).ok_or_else(|| {
            super::Expected::Input(format!(
                "the agent's {key} is missing: pass --{key}, set RAILYARD__AGENT__{}, or write \
                 `{key} = \"…\"` under [agent] in the --config file",
                key.to_uppercase()
            ))
        })
    };
    let server = required(args.server.or(file.server), "server")?;
    let token_file = args.token_file.or(file.token_file);
    let token = super::credentials::token_from(
        args.token.or(file.token),
        token_file.as_deref(),
        "--token-file",
    )?;
    let token = required(token, "token")?;
    let trust = super::credentials::trust(args.ca_cert.or(file.ca_cert).as_deref())?;
    let slots = args.slots.or(file.slots).unwrap_or(1);
    let clone_depth = args
        .clone_depth
        .or(file.clone_depth)
        .unwrap_or(railyard_agent::DEFAULT_CLONE_DEPTH);
    let name = args.name.or(file.name);
    let registry = match (args.registry, file.registry) {
        (Some(flag), _) => Some(flag),
        (None, Some(text)) => Some(text.parse::<railyard_runner::Registry>().map_err(|e| {
            super::Expected::Input(format!(
                "`registry` under [agent] in the --config file: {e}"
            ))
        })?),
        (None, None) => None,
    };
    let registry = super::credentials::registry_with_auth(
        registry,
        args.registry_auth_file
            .or(file.registry_auth_file)
            .as_deref(),
    )?;
    let labels = if args.labels.is_empty() {
        file.labels.unwrap_or_default()
    } else {
        args.labels
    };
    if slots == 0 {
        return Err(super::Expected::Input("--slots must be at least 1".into()).into());
    }
    let labels: Vec<String> = labels.iter().map(|l| l.trim().to_owned()).collect();
    if let Some(problem) = labels
        .iter()
        .find_map(|l| railyard_pipeline::label_problem(l))
    {
        return Err(super::Expected::Input(format!("--labels: {problem}")).into());
    }
    let docker = super::docker().await?;
    let allowance = allowance(&args.limits, slots, &docker).await?;
    let shutdown = CancellationToken::new();
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
            let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            // First signal: drain (claim nothing more, finish the jobs held). Second: leave at
            // once; the server hands those jobs on when their leases lapse.
            eprintln!("railyard agent: draining; signal again to stop at once");
            shutdown.cancel();
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            std::process::exit(railyard_types::exit_codes::CANCELLED);
        }
    });
    let scan_client =
        railyard_agent::Client::with_trust(&server, &token, super::fleetscan::CALL_TIMEOUT, &trust);
    let config = railyard_agent::AgentConfig {
        server,
        token,
        trust,
        slots,
        name: name.unwrap_or_else(|| {
            format!(
                "{}:{}",
                railyard_runner::names::hostname(),
                std::process::id()
            )
        }),
        labels,
        networks,
        clone_depth,
        allowance,
        registry,
        scanner: Some(scanner(g, &docker, scan_client).await),
        cache_restore_timeout: args.cache_restore_secs.map_or(
            railyard_runner::cache::DEFAULT_RESTORE_TIMEOUT,
            std::time::Duration::from_secs,
        ),
    };
    match railyard_agent::run(config, docker, shutdown).await {
        Err(e) if e.is_unauthorized() => Err(super::Expected::Input(format!(
            "the server no longer accepts this agent's token (revoked, or not an agent token): \
             start the agent with a valid one (--token or RAILYARD__AGENT__TOKEN); the server said: {e}"
        ))
        .into()),
        Err(e) => Err(e.into()),
        Ok(()) => Ok(0),
    }
}

/// The agent's image check: every image a job runs in or builds is inventoried on the
/// server, scanned once for the whole fleet (by the first agent that meets it), matched with
/// the server's advisories (`railyard advisories import --server …`) and held to the
/// pipeline's `scan.fail_on`, as a local run is. This machine's data folder is only the
/// layer cache of its scans; one that cannot be opened leaves every layer to be read.
async fn scanner(
    g: &crate::cli::Global,
    docker: &railyard_docker::Docker,
    client: railyard_agent::Client,
) -> std::sync::Arc<dyn railyard_agent::Scanner> {
    let cache = match super::store(g).await {
        Ok(store) => Some(store),
        Err(e) => {
            tracing::warn!(
                "images will be scanned without a layer cache: {}",
                railyard_types::error::Chain(e.as_ref())
            );
            None
        }
    };
    std::sync::Arc::new(AgentScanner {
        docker: docker.clone(),
        client,
        cache,
    })
}

/// Scans through the server, one [`super::envscan::EnvScan`] per job.
struct AgentScanner {
    docker: railyard_docker::Docker,
    client: railyard_agent::Client,
    cache: Option<railyard_store::Store>,
}

impl railyard_agent::Scanner for AgentScanner {
    fn for_job(
        &self,
        claim: &railyard_types::protocol::Claim,
        lease: &railyard_types::protocol::LeaseRef,
        checkout: &std::path::Path,
    ) -> std::sync::Arc<dyn railyard_runner::EnvCheck> {
        let fleet = super::fleetscan::FleetInventory {
            client: self.client.clone(),
            job_id: claim.job_id.clone(),
            lease: lease.clone(),
            cache: self.cache.clone(),
        };
        std::sync::Arc::new(super::envscan::EnvScan {
            docker: self.docker.clone(),
            inventory: super::envscan::Inventory::Fleet(fleet),
            project: claim.project.to_string(),
            run_id: claim.run_id.clone(),
            ignore_file: checkout.join(".railyard-ignore.yml"),
        })
    }
}

//! `railyard`: the command-line interface. It only wires things together: the pipeline
//! crate parses, the runner runs, the store remembers, reporters show.

mod cli;
mod cmd;
mod project;
mod report;

use clap::Parser;
use railyard_types::exit_codes;

fn main() {
    // One rustls crypto provider for the whole process (server, agent, clients, PostgreSQL):
    // aws-lc-rs, before anything opens a TLS connection.
    railyard_server::install_crypto_provider();
    let cli = cli::Cli::parse();
    // The server and agents run unattended: they say what they do (a line per agent
    // registered, job leased, job ended) unless told otherwise; the other commands speak
    // through their own output and log only warnings.
    let default = match cli.command {
        cli::Command::Server(_) | cli::Command::Agent(_) => "info",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RAILYARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        // On a closed stderr (`2>&1 | head`) the default reports the failed write with
        // `eprintln!`, which panics in whatever thread logged: a store worker holding the
        // database's write lock, say. Losing the log line is the lesser harm.
        .log_internal_errors(false)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    let code = runtime.block_on(cmd::dispatch(cli));
    // Blocking tasks (a stuck read of stdin, say) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    std::process::exit(code);
}

/// Prints an error the way users should see it and returns its exit code.
pub fn report_error(err: anyhow::Error) -> i32 {
    let err = match err.downcast::<railyard_pipeline::PipelineError>() {
        Ok(diag) => {
            eprintln!("{:?}", miette::Report::new(diag));
            return exit_codes::INVALID_INPUT;
        }
        Err(err) => err,
    };
    let mut msg = format!("error: {err}");
    for cause in railyard_types::error::causes(err.as_ref()) {
        msg.push_str(&format!("\n  caused by: {cause}"));
    }
    anstream::eprintln!("{msg}");
    if let Some(expected) = err.downcast_ref::<cmd::Expected>() {
        return expected.exit_code();
    }
    match err.downcast_ref::<railyard_agent::AgentError>() {
        // The server understood and refused what was asked (an unknown run, a bad value, a
        // taken name): the arguments are wrong, not the setup.
        Some(railyard_agent::AgentError::Api {
            status: 400 | 404 | 409 | 422,
            ..
        }) => exit_codes::INVALID_INPUT,
        _ => exit_codes::SETUP_FAILED,
    }
}

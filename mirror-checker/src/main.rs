//! mirror-checker's entry point: parse the command line, start logging, run.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = mirror_checker::Cli::parse();
    shared::telemetry::init(cli.log.as_deref(), cli.log_json);
    match mirror_checker::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", shared::text::error_chain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

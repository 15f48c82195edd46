//! mirror-sim's entry point: serve a simulated network until interrupted.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = mirror_sim::cli::Cli::parse();
    shared::telemetry::init(None, false);
    match mirror_sim::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", mirror_sim::cli::describe(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

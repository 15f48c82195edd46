//! mirrorlist-server's entry point: parse the command line, start logging, run.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = mirrorlist_server::Cli::parse();
    shared::telemetry::init(cli.log.as_deref(), cli.log_json);
    match mirrorlist_server::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

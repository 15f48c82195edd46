//! mirrorlist-server's entry point: parse the command line, start logging, run.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = mirrorlist_server::Cli::parse();
    shared::telemetry::init(cli.log.as_deref(), cli.log_json);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the async runtime starts");
    let result = runtime.block_on(mirrorlist_server::run(cli));
    // A hard deadline: a loader stuck on a file (it should not be, but) does not hold the
    // process after the server has stopped.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", shared::text::error_chain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

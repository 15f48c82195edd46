//! Command output on standard output. When the reader goes away (`status X | head`), the
//! process ends quietly, as a command cut short by its reader should, instead of panicking
//! the way `println!` does.

use std::io::Write;

/// Writes `text` as it is.
pub fn text(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        gone(e);
    }
}

/// Writes one line.
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{args}").and_then(|()| out.flush()) {
        gone(e);
    }
}

fn gone(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: cannot write the output: {e}");
    std::process::exit(1);
}

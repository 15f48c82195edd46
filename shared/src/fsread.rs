//! Reading a whole file that may have been replaced by anything: only a regular file is
//! opened (a FIFO or a device could block the reader forever), and at most `max` bytes.

use std::io::Read;
use std::path::Path;

/// The bytes of the regular file at `path`, refusing anything else and anything over `max`.
pub fn read_regular(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let not_regular = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, a device or a folder)",
        )
    };
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let file = std::fs::File::open(path)?;
    // Replaced between the look and the open: look again at what was opened.
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    // Sized from the start: a whole-Internet GeoIP database is 60 MiB, read on the way to
    // the first answer.
    let hint = file.metadata()?.len().min(max) as usize;
    let mut bytes = Vec::with_capacity(hint + 1);
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {} MiB", max >> 20),
        ));
    }
    Ok(bytes)
}

/// What identifies a version of a file on disk, for watchers that read it again when it
/// changes: its modification time and length.
pub fn stamp(path: &Path) -> Option<(std::time::SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"hello").unwrap();
        assert_eq!(read_regular(&file, 5).unwrap(), b"hello");
        assert!(read_regular(&file, 4)
            .unwrap_err()
            .to_string()
            .contains("larger"));
        assert!(read_regular(dir.path(), 10)
            .unwrap_err()
            .to_string()
            .contains("not a regular file"));
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        assert!(read_regular(&fifo, 10)
            .unwrap_err()
            .to_string()
            .contains("not a regular file"));
    }
}

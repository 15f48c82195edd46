//! A sample of a version's packages to look for on mirrors: a copy whose metadata is
//! complete but whose packages are not breaks `dnf install` as surely as missing metadata.
//! Taken once per version from the master's primary.xml: the packages with the newest file
//! times, which are those the version added.

use quick_xml::events::Event;
use quick_xml::Reader;
use std::io::BufRead;

/// Packages sampled per version.
pub const SAMPLE: usize = 3;

/// A master's compressed primary.xml is at most this large (AlmaLinux's largest, AppStream's,
/// is about 10 MB).
pub const MAX_PRIMARY_BYTES: u64 = 256 << 20;

/// A package to look for: its location in the repository and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sampled {
    pub href: String,
    pub size: u64,
}

/// The `n` packages of a primary.xml with the newest file times (ties: by location), from
/// its bytes as published (`.gz` or plain `.xml`; other compressions are not sampled).
pub fn sample(href: &str, bytes: &[u8], n: usize) -> Result<Vec<Sampled>, String> {
    if href.ends_with(".gz") {
        let decoder = flate2::bufread::GzDecoder::new(bytes);
        newest(std::io::BufReader::new(decoder), n)
    } else if href.ends_with(".xml") {
        newest(bytes, n)
    } else {
        Err(format!("{href}: only gzip or plain primary.xml is sampled"))
    }
}

fn newest(input: impl BufRead, n: usize) -> Result<Vec<Sampled>, String> {
    let mut reader = Reader::from_reader(input);
    let mut buf = Vec::new();
    // (file time, href, size) of the package being read.
    let mut current: Option<(i64, String, Option<u64>)> = None;
    let mut best: Vec<(i64, String, u64)> = Vec::new();
    let mut depth = 0usize;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("primary.xml is not valid XML: {e}"))?;
        match &event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof if depth > 0 => {
                return Err("primary.xml ends before its elements are closed".into())
            }
            _ => {}
        }
        match event {
            Event::Start(e) if e.local_name().as_ref() == b"package" => {
                current = Some((0, String::new(), None));
            }
            Event::Start(e) | Event::Empty(e) if current.is_some() => {
                let attr = |name: &[u8]| crate::repomd::attribute(&e, name);
                let c = current.as_mut().expect("checked");
                match e.local_name().as_ref() {
                    b"location" => c.1 = attr(b"href").unwrap_or_default(),
                    b"time" => c.0 = attr(b"file").and_then(|t| t.parse().ok()).unwrap_or(0),
                    b"size" => c.2 = attr(b"package").and_then(|s| s.parse().ok()),
                    _ => {}
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"package" => {
                if let Some((time, href, Some(size))) = current.take() {
                    if crate::repomd::inside_repository(&href) {
                        best.push((time, href, size));
                        best.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
                        best.truncate(n);
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(best
        .into_iter()
        .map(|(_, href, size)| Sampled { href, size })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, time: i64, size: u64) -> String {
        format!(
            "<package type=\"rpm\"><name>{name}</name><time file=\"{time}\" build=\"1\"/>\
             <size package=\"{size}\" installed=\"1\" archive=\"1\"/>\
             <location href=\"Packages/{name}.rpm\"/><format><rpm:license>MIT</rpm:license></format></package>"
        )
    }

    #[test]
    fn the_newest_packages_are_sampled() {
        let xml = format!(
            "<?xml version=\"1.0\"?><metadata xmlns=\"http://linux.duke.edu/metadata/common\" \
             xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"4\">{}{}{}{}</metadata>",
            package("old", 10, 100),
            package("new-b", 30, 300),
            package("mid", 20, 200),
            package("new-a", 30, 301),
        );
        let want = vec![
            Sampled {
                href: "Packages/new-a.rpm".into(),
                size: 301,
            },
            Sampled {
                href: "Packages/new-b.rpm".into(),
                size: 300,
            },
        ];
        assert_eq!(sample("x-primary.xml", xml.as_bytes(), 2).unwrap(), want);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, xml.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(sample("x-primary.xml.gz", &gz, 2).unwrap(), want);
        assert!(sample("x-primary.xml.zst", &gz, 2).is_err());
        assert!(sample("x-primary.xml", b"<metadata><package>", 2).is_err());
    }
}

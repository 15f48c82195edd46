//! repomd.xml: validation, the largest `<timestamp>` (what a metalink's `mm0:timestamp` is),
//! and the four checksums dnf may verify. Pure functions over bytes.

use md5::Md5;
use quick_xml::events::Event;
use quick_xml::Reader;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use shared::model::RepomdVersion;

/// A repomd.xml is a few KiB; anything over this is refused.
pub const MAX_REPOMD_BYTES: usize = 1 << 20;

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Checks that `bytes` is a well-formed repomd.xml and returns its largest `<timestamp>`.
pub fn max_timestamp(bytes: &[u8]) -> Result<i64, String> {
    if bytes.len() > MAX_REPOMD_BYTES {
        return Err(format!(
            "repomd.xml is {} bytes, over the {} byte limit",
            bytes.len(),
            MAX_REPOMD_BYTES
        ));
    }
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut root_seen = false;
    let mut in_timestamp = false;
    let mut max: Option<i64> = None;
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            format!(
                "repomd.xml is not valid XML at byte {}: {e}",
                reader.error_position()
            )
        })?;
        match event {
            Event::Start(e) => {
                if depth == 0 {
                    if root_seen {
                        return Err("repomd.xml has more than one root element".into());
                    }
                    if e.local_name().as_ref() != b"repomd" {
                        return Err(format!(
                            "the root element is <{}>, not <repomd>",
                            String::from_utf8_lossy(e.name().as_ref())
                        ));
                    }
                    root_seen = true;
                }
                depth += 1;
                in_timestamp = e.local_name().as_ref() == b"timestamp";
            }
            Event::Empty(e) if depth == 0 => {
                return Err(format!(
                    "the root element is an empty <{}>",
                    String::from_utf8_lossy(e.name().as_ref())
                ));
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                in_timestamp = false;
            }
            Event::Text(t) if in_timestamp => {
                let text = std::str::from_utf8(&t)
                    .map_err(|_| "a <timestamp> is not UTF-8".to_string())?
                    .trim();
                let value = text
                    .parse::<i64>()
                    .ok()
                    .or_else(|| {
                        text.parse::<f64>()
                            .ok()
                            .filter(|f| f.is_finite())
                            .map(|f| f as i64)
                    })
                    .ok_or_else(|| format!("<timestamp> {text:?} is not a number"))?;
                max = Some(max.map_or(value, |m: i64| m.max(value)));
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !root_seen {
        return Err("repomd.xml has no <repomd> element".into());
    }
    if depth != 0 {
        return Err("repomd.xml ends before its elements are closed".into());
    }
    max.ok_or_else(|| "repomd.xml has no <timestamp>".into())
}

/// A file a repomd.xml names: its location (relative to the repository) and the size it
/// states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// Its `<data type>`: `primary`, `filelists`, ...
    pub kind: String,
    pub href: String,
    pub size: Option<u64>,
}

/// Most files one repomd.xml may name that are checked (createrepo_c writes under ten).
pub const MAX_NAMED: usize = 32;

/// The files a (valid) repomd.xml names: each `<data>`'s `<location href>` and `<size>`.
/// Locations that leave the repository (absolute, `..`, another host) are refused.
pub fn named_files(bytes: &[u8]) -> Result<Vec<Named>, String> {
    let mut reader = Reader::from_reader(bytes);
    let mut buf = Vec::new();
    let mut out: Vec<Named> = Vec::new();
    let mut in_data = false;
    let mut in_size = false;
    let mut current: Option<Named> = None;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("repomd.xml is not valid XML: {e}"))?;
        match event {
            Event::Start(e) if e.local_name().as_ref() == b"data" => {
                in_data = true;
                let kind = attribute(&e, b"type").unwrap_or_default();
                current = Some(Named {
                    kind,
                    href: String::new(),
                    size: None,
                });
            }
            Event::Start(e) | Event::Empty(e)
                if in_data && e.local_name().as_ref() == b"location" =>
            {
                let href = attribute(&e, b"href").unwrap_or_default();
                if !inside_repository(&href) {
                    return Err(format!("a <location href={href:?}> leaves the repository"));
                }
                if let Some(c) = current.as_mut() {
                    c.href = href;
                }
            }
            Event::Start(e) if in_data && e.local_name().as_ref() == b"size" => in_size = true,
            Event::Text(t) if in_size => {
                let text = String::from_utf8_lossy(&t);
                let size = text
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| format!("<size> {:?} is not a number", text.trim()))?;
                if let Some(c) = current.as_mut() {
                    c.size = Some(size);
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"size" => in_size = false,
            Event::End(e) if e.local_name().as_ref() == b"data" => {
                in_data = false;
                if let Some(c) = current.take().filter(|c| !c.href.is_empty()) {
                    if out.len() == MAX_NAMED {
                        return Err(format!("repomd.xml names more than {MAX_NAMED} files"));
                    }
                    out.push(c);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

/// An element's attribute by local name.
pub(crate) fn attribute(e: &quick_xml::events::BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
}

/// Whether a `<location href>` stays inside the repository: relative, no `..`, not another
/// host, no query or fragment.
pub(crate) fn inside_repository(href: &str) -> bool {
    !(href.is_empty()
        || href.starts_with('/')
        || href.contains("..")
        || href.contains("://")
        || href.contains('?')
        || href.contains('#'))
}

/// Validates and describes one repomd.xml as a version first seen at `first_seen`.
pub fn describe(bytes: &[u8], first_seen: i64) -> Result<RepomdVersion, String> {
    let timestamp = max_timestamp(bytes)?;
    Ok(RepomdVersion {
        size: bytes.len() as u64,
        timestamp,
        md5: hex(&Md5::digest(bytes)),
        sha1: hex(&Sha1::digest(bytes)),
        sha256: sha256_hex(bytes),
        sha512: hex(&Sha512::digest(bytes)),
        first_seen,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1795320000</revision>
  <data type="primary">
    <checksum type="sha256">aa</checksum>
    <location href="repodata/aa-primary.xml.gz"/>
    <timestamp>1795320664</timestamp>
    <size>123</size>
  </data>
  <data type="filelists">
    <timestamp>1795320001</timestamp>
  </data>
</repomd>
"#;

    #[test]
    fn reads_the_largest_timestamp_and_all_checksums() {
        assert_eq!(max_timestamp(GOOD.as_bytes()), Ok(1_795_320_664));
        let v = describe(GOOD.as_bytes(), 42).unwrap();
        assert_eq!(v.size, GOOD.len() as u64);
        assert_eq!(
            (v.md5.len(), v.sha1.len(), v.sha256.len(), v.sha512.len()),
            (32, 40, 64, 128)
        );
        assert_eq!(v.sha256, sha256_hex(GOOD.as_bytes()));
        assert!(
            v.sha512
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
            "lower-case hex"
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // createrepo_c writes decimals in some versions.
        assert_eq!(
            max_timestamp(b"<repomd><data><timestamp>17.9</timestamp></data></repomd>"),
            Ok(17)
        );
    }

    #[test]
    fn refuses_what_is_not_a_repomd() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "no <repomd>"),
            (b"<html><body>404</body></html>", "not <repomd>"),
            (
                b"<repomd><data><timestamp>1</timestamp></data>",
                "ends before",
            ),
            (
                b"<repomd><data><timestamp>1</timestamp></wrong></repomd>",
                "not valid XML",
            ),
            (b"<repomd><data></data></repomd>", "no <timestamp>"),
            (
                b"<repomd><timestamp>soon</timestamp></repomd>",
                "not a number",
            ),
            (b"<repomd/>", "empty"),
        ];
        for (bytes, expected) in cases {
            let err = max_timestamp(bytes).unwrap_err();
            assert!(
                err.contains(expected),
                "{:?}: {err}",
                String::from_utf8_lossy(bytes)
            );
        }
        let big = vec![b' '; MAX_REPOMD_BYTES + 1];
        assert!(max_timestamp(&big).unwrap_err().contains("over the"));
    }

    #[test]
    fn named_files_are_each_datas_location_and_size() {
        let xml = br#"<?xml version="1.0"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo">
  <revision>1</revision>
  <data type="primary">
    <location href="repodata/abc-primary.xml.gz"/>
    <timestamp>5</timestamp>
    <size>1234</size>
    <open-size>9999</open-size>
  </data>
  <data type="group"><location href="repodata/comps.xml"></location></data>
</repomd>"#;
        assert_eq!(
            named_files(xml).unwrap(),
            vec![
                Named {
                    kind: "primary".into(),
                    href: "repodata/abc-primary.xml.gz".into(),
                    size: Some(1234)
                },
                Named {
                    kind: "group".into(),
                    href: "repodata/comps.xml".into(),
                    size: None
                }
            ]
        );
        for bad in ["/etc/passwd", "../x", "http://elsewhere/x", "repodata/x?y"] {
            let xml = format!(
                "<repomd><data><location href=\"{bad}\"/><timestamp>1</timestamp></data></repomd>"
            );
            let err = named_files(xml.as_bytes()).unwrap_err();
            assert!(err.contains("leaves the repository"), "{bad}: {err}");
        }
    }
}

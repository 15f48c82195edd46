//! Rendering answers: metalinks in exactly MirrorManager's shape (what dnf's librepo and
//! yum 3 both accept) and plain mirrorlists (LF only). Pure functions into a buffer.

use shared::duration::http_date;
use shared::registry::{Protocol, Urls};
use shared::snapshot::{Snapshot, Version};
use std::collections::HashMap;
use std::fmt::Write;

/// A piece of text as written in a mirrorlist and as escaped for a metalink.
#[derive(Debug, Clone, Default)]
pub struct Text {
    pub plain: String,
    pub xml: String,
}

impl Text {
    pub fn new(plain: &str) -> Text {
        let mut xml = String::new();
        escape(plain, &mut xml);
        Text {
            plain: plain.to_string(),
            xml,
        }
    }
}

/// A mirror's base URLs for HTTP and HTTPS.
pub type Bases = [Option<Text>; 2];

fn bases(urls: &Urls) -> Bases {
    [Protocol::Http, Protocol::Https].map(|p| urls.get(&p).map(|u| Text::new(u)))
}

/// What every answer about a snapshot repeats, rendered once when it is loaded.
#[derive(Debug, Default)]
pub struct Fragments {
    /// Per directory: its path with a trailing `/`.
    pub paths: Vec<Text>,
    /// Per directory: the same with `$basearch` for its arch (AlmaLinux's path form without
    /// an arch).
    pub templated: Vec<Text>,
    /// Per directory: [`metalink_files`] for its versions.
    pub files: Vec<String>,
    /// Per mirror: base URLs of the tree, and of each module.
    pub mirrors: Vec<(Bases, HashMap<String, Bases>)>,
    /// Per mirror: its country code escaped (empty when unknown).
    pub countries: Vec<String>,
}

impl Fragments {
    pub fn build(snap: &Snapshot) -> Fragments {
        let dirs = &snap.catalog.directories;
        Fragments {
            paths: dirs
                .iter()
                .map(|d| Text::new(&format!("{}/", d.path)))
                .collect(),
            templated: dirs
                .iter()
                .map(|d| {
                    let path = format!("{}/", d.path);
                    Text::new(&path.replace(&format!("/{}/", d.arch), "/$basearch/"))
                })
                .collect(),
            files: snap
                .directories
                .iter()
                .map(|d| {
                    let mut out = String::new();
                    metalink_files(&d.versions, &mut out);
                    out
                })
                .collect(),
            mirrors: snap
                .mirrors
                .iter()
                .map(|m| {
                    let modules = m.module_urls.iter().map(|(k, u)| (k.clone(), bases(u)));
                    (bases(&m.urls), modules.collect())
                })
                .collect(),
            countries: snap
                .mirrors
                .iter()
                .map(|m| {
                    let mut out = String::new();
                    escape(m.country.as_deref().unwrap_or(""), &mut out);
                    out
                })
                .collect(),
        }
    }

    /// A mirror's base URL for a directory (`module` is the directory's module, if any).
    pub fn base(&self, mirror: u32, module: Option<&str>, https: bool) -> Option<&Text> {
        let (tree, modules) = &self.mirrors[mirror as usize];
        let b = match module {
            None => tree,
            Some(m) => modules.get(m)?,
        };
        b[usize::from(https)].as_ref()
    }
}

/// One mirror of a metalink, best first, its pieces already escaped for XML.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UrlXml<'a> {
    /// `http` or `https`.
    pub protocol: &'a str,
    /// The mirror's country code, or empty.
    pub country: &'a str,
    /// Reached only through a netblock or ASN match: marked `mm0:private="True"`.
    pub private: bool,
    /// Pieces that together make the directory's base URL, ending in `/` (the mirror's base
    /// and the directory's path).
    pub base: [&'a str; 2],
}

/// Escapes text for XML content and attribute values.
pub fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

fn verification(v: &Version, indent: &str, out: &mut String) {
    let _ = write!(
        out,
        "{indent}<verification>\n{indent} <hash type=\"md5\">{}</hash>\n{indent} <hash type=\"sha1\">{}</hash>\n{indent} <hash type=\"sha256\">{}</hash>\n{indent} <hash type=\"sha512\">{}</hash>\n{indent}</verification>\n",
        v.md5, v.sha1, v.sha256, v.sha512
    );
}

const HEAD: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<metalink version=\"3.0\" xmlns=\"http://www.metalinker.org/\" type=\"dynamic\" pubdate=\"";
const HEAD_END: &str =
    "\" generator=\"mirrormanager\" xmlns:mm0=\"http://fedorahosted.org/mirrormanager\">\n";

/// A metalink for `repomd.xml`: `files` is [`metalink_files`] of the directory's versions
/// (the current one's size, timestamp and four hashes, the alternates still accepted), then
/// the mirrors in the order dnf should try them (dnf goes in document order; yum 3 sorts by
/// `preference`, which therefore descends).
pub fn metalink(files: &str, urls: &[UrlXml<'_>], now: i64, out: &mut String) {
    metalink_start(now, out);
    out.push_str(files);
    for (i, u) in urls.iter().enumerate() {
        metalink_url(u, i, out);
    }
    out.push_str("   </resources>\n  </file>\n </files>\n</metalink>\n");
}

/// The document's head, up to the files.
fn metalink_start(now: i64, out: &mut String) {
    out.push_str(HEAD);
    // Formatting a date costs more than the rest of the head: once a second per thread.
    thread_local! {
        static DATE: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
    }
    DATE.with_borrow_mut(|(at, text)| {
        if *at != now {
            *at = now;
            *text = http_date(now);
        }
        out.push_str(text);
    });
    out.push_str(HEAD_END);
}

/// The file entry up to and including the opening of its resources: the same for every
/// answer about a directory, so the server renders it once per snapshot.
pub fn metalink_files(versions: &[Version], out: &mut String) {
    out.push_str(" <files>\n  <file name=\"repomd.xml\">\n");
    if let Some(current) = versions.first() {
        let _ = write!(
            out,
            "   <mm0:timestamp>{}</mm0:timestamp>\n   <size>{}</size>\n",
            current.timestamp, current.size
        );
        verification(current, "   ", out);
        if versions.len() > 1 {
            out.push_str("   <mm0:alternates>\n");
            for alt in &versions[1..] {
                let _ = write!(out, "    <mm0:alternate>\n     <mm0:timestamp>{}</mm0:timestamp>\n     <size>{}</size>\n", alt.timestamp, alt.size);
                verification(alt, "     ", out);
                out.push_str("    </mm0:alternate>\n");
            }
            out.push_str("   </mm0:alternates>\n");
        }
    }
    out.push_str("   <resources maxconnections=\"1\">\n");
}

/// The `position`th mirror (0 is the best).
fn metalink_url(u: &UrlXml<'_>, position: usize, out: &mut String) {
    // 100 for the first, then down by one; never below 1.
    let preference = 100usize.saturating_sub(position).max(1);
    out.push_str("    <url protocol=\"");
    out.push_str(u.protocol);
    out.push_str("\" type=\"");
    out.push_str(u.protocol);
    out.push_str("\" location=\"");
    out.push_str(u.country);
    let _ = write!(out, "\" preference=\"{preference}\"");
    if u.private {
        out.push_str(" mm0:private=\"True\"");
    }
    out.push('>');
    out.push_str(u.base[0]);
    out.push_str(u.base[1]);
    out.push_str("repodata/repomd.xml</url>\n");
}

/// The valid, empty metalink MirrorManager answers an unknown repo with: the reason and the
/// valid choices sit in an XML comment, which dnf shows.
pub fn metalink_error(message: &str, now: i64, out: &mut String) {
    out.push_str(HEAD);
    out.push_str(&http_date(now));
    out.push_str(HEAD_END);
    out.push_str("<!--\n");
    // `--` may not appear inside a comment.
    out.push_str(&message.replace("--", "- -"));
    if !message.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("-->\n</metalink>\n");
}

/// A plain mirrorlist: a `#` header, then one base URL per line, LF only.
pub fn mirrorlist(header: &str, bases: &[&str], out: &mut String) {
    mirrorlist_header(header, out);
    for b in bases {
        out.push_str(b);
        out.push('\n');
    }
}

/// A mirrorlist's one `#` line.
pub fn mirrorlist_header(header: &str, out: &mut String) {
    out.push_str("# ");
    out.push_str(&header.replace(['\r', '\n'], " "));
    out.push('\n');
}

#[cfg(test)]
mod tests;

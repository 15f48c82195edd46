//! Rendering answers: metalinks in exactly MirrorManager's shape (what dnf's librepo and
//! yum 3 both accept) and plain mirrorlists (LF only). Pure functions into a buffer.

use shared::duration::http_date;
use shared::store::RepomdVersion;
use std::fmt::Write;

/// One mirror URL of a metalink, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct MetalinkUrl<'a> {
    /// The directory's base URL on the mirror, ending in `/`.
    pub base: &'a str,
    /// `http` or `https`.
    pub protocol: &'a str,
    /// The mirror's country code, or empty.
    pub country: &'a str,
    /// Reached only through a netblock or ASN match: marked `mm0:private="True"`.
    pub private: bool,
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

fn verification(v: &RepomdVersion, indent: &str, out: &mut String) {
    let _ = write!(
        out,
        "{indent}<verification>\n{indent} <hash type=\"md5\">{}</hash>\n{indent} <hash type=\"sha1\">{}</hash>\n{indent} <hash type=\"sha256\">{}</hash>\n{indent} <hash type=\"sha512\">{}</hash>\n{indent}</verification>\n",
        v.md5, v.sha1, v.sha256, v.sha512
    );
}

const HEAD: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<metalink version=\"3.0\" xmlns=\"http://www.metalinker.org/\" type=\"dynamic\" pubdate=\"";
const HEAD_END: &str =
    "\" generator=\"mirrormanager\" xmlns:mm0=\"http://fedorahosted.org/mirrormanager\">\n";

/// A metalink for `repomd.xml`: the current version's size, timestamp and four hashes, the
/// alternates still accepted, and the mirrors in the order dnf should try them (dnf goes in
/// document order; yum 3 sorts by `preference`, which therefore descends).
pub fn metalink(versions: &[RepomdVersion], urls: &[MetalinkUrl<'_>], now: i64, out: &mut String) {
    out.push_str(HEAD);
    out.push_str(&http_date(now));
    out.push_str(HEAD_END);
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
    for (i, u) in urls.iter().enumerate() {
        // 100 for the first, then down by one; never below 1.
        let preference = 100usize.saturating_sub(i).max(1);
        let _ = write!(
            out,
            "    <url protocol=\"{}\" type=\"{}\" location=\"",
            u.protocol, u.protocol
        );
        escape(u.country, out);
        let _ = write!(out, "\" preference=\"{preference}\"");
        if u.private {
            out.push_str(" mm0:private=\"True\"");
        }
        out.push('>');
        escape(u.base, out);
        out.push_str("repodata/repomd.xml</url>\n");
    }
    out.push_str("   </resources>\n  </file>\n </files>\n</metalink>\n");
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
    out.push_str("# ");
    out.push_str(&header.replace(['\r', '\n'], " "));
    out.push('\n');
    for b in bases {
        out.push_str(b);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests;

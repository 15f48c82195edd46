//! Realistic repomd.xml files, in createrepo_c's shape, for every directory and version.

use sha2::{Digest, Sha256};

/// The content timestamp of version `v` of the master: one publication an hour.
pub fn version_timestamp(v: u32) -> i64 {
    1_795_000_000 + i64::from(v) * 3600
}

fn fake_hash(parts: &[&str]) -> String {
    let digest = Sha256::digest(parts.join("\0").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The repomd.xml of `dir` (a catalog path) at master version `v`.
pub fn render(dir: &str, v: u32) -> String {
    let ts = version_timestamp(v);
    let vs = v.to_string();
    let mut out = String::with_capacity(3200);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n");
    out.push_str(&format!("  <revision>{ts}</revision>\n"));
    let seed = shared::model::stable_hash(dir);
    for (i, kind) in [
        "primary",
        "filelists",
        "other",
        "updateinfo",
        "group",
        "modules",
    ]
    .iter()
    .enumerate()
    {
        if (*kind == "modules" || *kind == "group") && !dir.contains("AppStream") {
            continue;
        }
        let checksum = fake_hash(&[dir, &vs, kind, "gz"]);
        let open = fake_hash(&[dir, &vs, kind, "xml"]);
        let size = 10_000 + (seed.wrapping_add(i as u64 * 7919) % 5_000_000) + u64::from(v) * 13;
        let ext = if *kind == "modules" {
            "yaml.gz"
        } else {
            "xml.gz"
        };
        out.push_str(&format!(
            "  <data type=\"{kind}\">\n    <checksum type=\"sha256\">{checksum}</checksum>\n    <open-checksum type=\"sha256\">{open}</open-checksum>\n    <location href=\"repodata/{checksum}-{kind}.{ext}\"/>\n    <timestamp>{}</timestamp>\n    <size>{size}</size>\n    <open-size>{}</open-size>\n  </data>\n",
            ts - i as i64,
            size * 6
        ));
    }
    out.push_str("</repomd>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_differ_and_are_stable() {
        let a = render("9.8/BaseOS/x86_64/os", 3);
        assert_eq!(a, render("9.8/BaseOS/x86_64/os", 3));
        assert_ne!(a, render("9.8/BaseOS/x86_64/os", 4));
        assert_ne!(a, render("9.8/AppStream/x86_64/os", 3));
        assert!(a.contains(&format!("<timestamp>{}</timestamp>", version_timestamp(3))));
        assert!((1000..4000).contains(&a.len()), "{}", a.len());
        assert!(render("9.8/AppStream/x86_64/os", 1).contains("type=\"modules\""));
    }
}

use super::*;

fn data_files(r: &RepoVersion) -> Vec<(String, u64, String)> {
    let text = std::str::from_utf8(&r.repomd).unwrap();
    elements(text, "data")
        .iter()
        .map(|d| {
            let between = |a: &str, b: &str| {
                let s = d.find(a).unwrap() + a.len();
                d[s..s + d[s..].find(b).unwrap()].to_string()
            };
            (
                between("<location href=\"", "\""),
                between("<size>", "</size>").parse().unwrap(),
                between("<checksum type=\"sha256\">", "</checksum>"),
            )
        })
        .collect()
}

/// Every file repomd.xml names is there, with the size and checksum it states; every
/// version's files are new; the same version is the same bytes.
#[test]
fn repomd_names_every_file_with_its_size_and_checksum() {
    let p = Packages::synthetic();
    let a = build("9.8/AppStream/x86_64/os", 3, &p);
    let named = data_files(&a);
    assert_eq!(
        named.len(),
        5,
        "primary, filelists, other, updateinfo, group"
    );
    for (href, size, checksum) in &named {
        let body = &a.files[href];
        assert_eq!(body.len() as u64, *size, "{href}");
        assert_eq!(&sha256_hex(body), checksum, "{href}");
    }
    assert_eq!(
        a.named,
        named
            .iter()
            .map(|(h, s, _)| (h.clone(), *s))
            .collect::<Vec<_>>()
    );
    let again = build("9.8/AppStream/x86_64/os", 3, &p);
    assert_eq!(a.repomd, again.repomd, "deterministic");
    let next = build("9.8/AppStream/x86_64/os", 4, &p);
    for (href, _, _) in data_files(&next) {
        assert!(!a.files.contains_key(&href), "{href} in both versions");
    }
    assert_eq!(data_files(&build("9.8/BaseOS/x86_64/os", 3, &p)).len(), 4);
    assert!(String::from_utf8_lossy(&a.repomd)
        .contains(&format!("<revision>{}</revision>", version_timestamp(3))));
}

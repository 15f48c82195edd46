use super::*;
use crate::registry::{export_dir, Protocol};
use crate::testing::{example, shared_data};

fn judged(text: &str) -> (FileReport, Option<Mirror>) {
    judge(text, "t.yml")
}

const GOOD: &str = "name: m.example.org
address:
  http: http://m.example.org/pub/
  https: https://m.example.org/pub
update_frequency: 3h
sponsor: Example
sponsor_url: https://example.org/
";

/// [`GOOD`] with a country: accepted with no warning at all.
fn placed() -> String {
    format!("{GOOD}geolocation:\n  country: DE\n")
}

#[test]
fn a_clean_file_is_accepted_and_normalised() {
    let (report, mirror) = judged(&placed());
    assert_eq!(
        report.outcome,
        FileOutcome::Accepted,
        "{:?}",
        report.messages
    );
    let m = mirror.unwrap();
    assert_eq!(m.name, "m.example.org");
    assert_eq!(m.urls[&Protocol::Https], "https://m.example.org/pub/");
    assert!(m.enabled && m.approved && !m.private);
}

/// Each case: text, expected outcome, a fragment the messages must contain.
#[test]
fn bad_input_gets_a_clear_verdict() {
    let with = |extra: &str| format!("{GOOD}{extra}");
    let replace = |from: &str, to: &str| GOOD.replace(from, to);
    use FileOutcome::*;
    let cases: Vec<(String, FileOutcome, &str)> = vec![
        ("".into(), Rejected, "t.yml: the file is empty"),
        ("name: [unclosed\n".into(), Rejected, "t.yml: line 2: not valid YAML"),
        ("- a\n- b\n".into(), Rejected, "expected a mapping of fields, found a list"),
        (replace("name: m.example.org", "name: https://m.example.org/"), Rejected, "line 1: name: \"https://m.example.org/\" is not a host name"),
        (replace("name: m.example.org\n", ""), Rejected, "name: missing"),
        (replace("http://m.example.org/pub/", "http://user:secret@m.example.org/pub/"), Rejected, "line 3: address.http: the URL carries credentials"),
        (replace("http://m.example.org/pub/", "gopher://m.example.org/pub/"), AcceptedWithWarnings, "address.http: \"gopher://m.example.org/pub/\" is not a http URL; ignored"),
        (replace("address:\n  http: http://m.example.org/pub/\n  https: https://m.example.org/pub\n", "address:\n  ftp: ftp://m.example.org/\n"), Rejected, "address: no usable http or https base URL"),
        (replace("https://m.example.org/pub", "https://m.example.org/pub?x=1"), Rejected, "a base URL has no query"),
        (replace("sponsor: Example\n", ""), Rejected, "sponsor: missing or empty"),
        (with("subnets:\n  - 192.0.2.0/24\n  - 300.1.2.0/24\n"), Rejected, "line 10: subnets[1]: \"300.1.2.0/24\""),
        (with("subnets: 12\n"), Rejected, "subnets: expected a list of CIDRs or a URL"),
        (with("subnets: ftp://x.example/list.json\n"), Rejected, "neither a list of CIDRs nor an http(s) URL"),
        (with("asn: [64500, banana]\n"), Rejected, "asn[1]: banana is not an AS number"),
        (with("asn: -5\n"), Rejected, "asn: -5 is not an AS number"),
        (with("private: maybe\n"), Rejected, "private: expected true or false, found maybe"),
        (with("private: 1\n"), Rejected, "private: expected true or false, found 1"),
        (with("monopoly: no\n"), AcceptedWithWarnings, "monopoly: no read as false; write true or false"),
        (with("countries_allowed: [DE, QQ]\n"), Rejected, "countries_allowed[1]: \"QQ\" is not a country code"),
        (with("geolocation:\n  country: XX\n"), AcceptedWithWarnings, "line 9: geolocation.country: \"XX\" is not a known country; ignored"),
        (with("geolocation:\n  country: Germany\n"), AcceptedWithWarnings, "\"Germany\" is not an ISO 3166 code; read as DE"),
        (with("geolocation:\n  country: DE\n  latitude: 123\n  longitude: 5\n"), AcceptedWithWarnings, "geolocation.latitude/longitude"),
        (with("address_options:\n  kitten:\n    http: http://m.example.org/k/\n"), AcceptedWithWarnings, "address_options: unknown key, read as address_optional"),
        (with("sponsor_url: https://other.example/\n"), AcceptedWithWarnings, "line 8: sponsor_url: repeats the key of line 7; the last value is used"),
        (with("monopoly: true\n"), AcceptedWithWarnings, "monopoly: set without private: true"),
        (with("private: true\n"), AcceptedWithWarnings, "matches no client"),
        (with("subnets: [192.0.2.7/24]\n"), AcceptedWithWarnings, "192.0.2.7/24 has host bits set; read as 192.0.2.0/24"),
        (with("email: not-an-address\n"), AcceptedWithWarnings, "email: \"not-an-address\" is not an email address"),
        (replace("update_frequency: 3h", "update_frequency: often"), AcceptedWithWarnings, "update_frequency: \"often\" is not a duration"),
        (with("address_optional:\n  kitten:\n    rsync: m.example.org::kitten\n    http: http://m.example.org/kitten\n"), AcceptedWithWarnings, "read as \"rsync://m.example.org/kitten\""),
    ];
    for (text, outcome, fragment) in cases {
        let (report, mirror) = judged(&text);
        let all = report.messages.join("\n");
        assert_eq!(report.outcome, outcome, "for:\n{text}\nmessages:\n{all}");
        assert!(
            all.contains(fragment),
            "for:\n{text}\nexpected {fragment:?} in:\n{all}"
        );
        assert_eq!(mirror.is_some(), outcome != Rejected);
    }
}

#[test]
fn oversized_binary_and_duplicate_files_do_not_stop_the_import() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yml"), placed()).unwrap();
    std::fs::write(
        dir.path().join("b.yml"),
        placed().replace("sponsor: Example", "sponsor: Copycat"),
    )
    .unwrap();
    let mut big = placed();
    big.push_str("cloud_regions:\n");
    while big.len() < 10 << 20 {
        big.push_str("  - region-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n");
    }
    std::fs::write(dir.path().join("big.yml"), big).unwrap();
    std::fs::write(dir.path().join("bin.yml"), [0xff, 0xfe, 0x00, 0x41]).unwrap();
    std::fs::write(dir.path().join("empty.yaml"), "").unwrap();
    std::fs::write(dir.path().join("other.txt"), "not a registry file").unwrap();
    std::fs::write(
        dir.path().join("z.yml"),
        placed().replace("m.example.org", "z.example.org"),
    )
    .unwrap();
    let report = import_dir(dir.path()).unwrap();
    assert_eq!(report.files.len(), 6, "{}", report.details());
    assert_eq!(
        report
            .mirrors
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>(),
        ["z.example.org"]
    );
    let details = report.details();
    assert!(
        details.contains("b.yml: name: m.example.org is also registered by a.yml"),
        "{details}"
    );
    assert!(
        details.contains("big.yml: the file is larger than 1024 KiB"),
        "{details}"
    );
    assert!(
        details.contains("bin.yml: the file is not UTF-8 text"),
        "{details}"
    );
    assert!(
        details.contains("empty.yaml: the file is empty"),
        "{details}"
    );
    assert_eq!(
        report.summary(),
        "6 files: 1 accepted, 0 accepted with warnings, 5 rejected"
    );
}

#[test]
fn export_then_import_gives_the_same_mirrors() {
    let mut reports = vec![import_dir(&example("mirrors.d")).unwrap()];
    if let Some(real) = shared_data("almalinux-mirrors/mirrors.d") {
        reports.push(import_dir(&real).unwrap());
    }
    for report in reports {
        let dir = tempfile::tempdir().unwrap();
        // Every other mirror marked as the control plane's: the mark changes nothing read.
        let marked: Vec<String> = report
            .mirrors
            .iter()
            .step_by(2)
            .map(|m| m.name.clone())
            .collect();
        let control = |name: &str| marked.iter().any(|n| n == name);
        crate::registry::export_dir_marking(&report.mirrors, &control, dir.path()).unwrap();
        let first = &report.mirrors[0];
        let text =
            std::fs::read_to_string(dir.path().join(crate::registry::file_name(first))).unwrap();
        assert!(text.starts_with(crate::registry::CONTROL_MARK), "{text}");
        let again = import_dir(dir.path()).unwrap();
        assert_eq!(again.count(FileOutcome::Rejected), 0, "{}", again.details());
        // What an exported file can still be warned about is only what no rewrite can fix.
        let fixable: Vec<&String> = again
            .files
            .iter()
            .flat_map(|f| &f.messages)
            .filter(|m| !m.contains("matches no client") && !m.contains("geolocation: missing"))
            .collect();
        assert!(fixable.is_empty(), "{fixable:?}");
        let by_name = |mut v: Vec<Mirror>| {
            v.sort_by(|a, b| a.name.cmp(&b.name));
            v
        };
        assert_eq!(by_name(again.mirrors), by_name(report.mirrors.clone()));
    }
}

#[test]
fn the_example_registry_covers_every_field_without_complaint() {
    let report = import_dir(&example("mirrors.d")).unwrap();
    assert_eq!(
        report.count(FileOutcome::Rejected),
        0,
        "{}",
        report.details()
    );
    assert_eq!(
        report.count(FileOutcome::AcceptedWithWarnings),
        0,
        "{}",
        report.details()
    );
    let m = &report.mirrors;
    assert!(m
        .iter()
        .any(|m| m.private && m.monopoly && !m.subnets.is_empty()));
    assert!(m.iter().any(|m| m.subnets_url.is_some()));
    assert!(m.iter().any(|m| !m.countries_allowed.is_empty()));
    assert!(m.iter().any(|m| m.geo.latitude.is_some()));
    assert!(m.iter().any(|m| m.bandwidth_mbps.is_some()));
    assert!(m.iter().any(|m| !m.module_urls.is_empty()));
    assert!(m
        .iter()
        .any(|m| m.cloud_type.is_some() && !m.cloud_regions.is_empty()));
    assert!(m.iter().any(|m| !m.enabled) && m.iter().any(|m| !m.approved));
    assert!(
        m.iter().any(|m| m.urls.contains_key(&Protocol::Rsync))
            && m.iter().any(|m| m.urls.contains_key(&Protocol::Ftp))
    );
}

/// The real registry: every one of its 530 files describes a usable mirror, so none is
/// rejected. 127 need a warning: 78 public mirrors have no geolocation (GeoIP of their address
/// places them), 21 private mirrors name no subnet or ASN (AlmaLinux serves them to nobody
/// either), 10 addresses sit under the wrong protocol key, 5 rsync addresses use
/// `host::module` and one `rsync@host:/path`, 6 countries are names or `UK`, 5 sponsor URLs
/// lack a scheme, 3 files repeat a key, 4 have unknown keys (one the `address_options` typo,
/// read as `address_optional`), 1 writes `private: no`, 1 nests `asn` under `geolocation`.
#[test]
fn real_almalinux_registry_counts() {
    let Some(dir) = shared_data("almalinux-mirrors/mirrors.d") else {
        return;
    };
    let report = import_dir(&dir).unwrap();
    assert_eq!(
        report.summary(),
        "530 files: 403 accepted, 127 accepted with warnings, 0 rejected",
        "{}",
        report.details()
    );
    assert_eq!(report.mirrors.len(), 530);
    let expanded: usize = report.files.iter().map(|f| f.expanded_bytes).sum();
    assert!(expanded < MAX_IMPORT_BYTES / 64, "{expanded} bytes");
    let count = |fragment: &str| {
        report
            .files
            .iter()
            .filter(|f| f.messages.iter().any(|m| m.contains(fragment)))
            .count()
    };
    assert_eq!(count("matches no client"), 21);
    assert_eq!(count("read as \"rsync://"), 6);
    assert_eq!(count("geolocation: missing"), 78);
    assert_eq!(count("geolocation.asn: belongs at the top level"), 1);
    assert_eq!(count("is not an ISO 3166 code"), 6);
    assert_eq!(count("repeats the key"), 3);
    assert_eq!(count("unknown key"), 3);
    assert_eq!(count("read as address_optional"), 1);
    let by_name = |n: &str| report.mirrors.iter().find(|m| m.name == n).unwrap();
    // `http: https://...` with no https given: the URL is used as the https address.
    assert_eq!(
        by_name("ftp.tc.edu.tw")
            .urls
            .get(&Protocol::Https)
            .map(String::as_str),
        Some("https://ftp.tc.edu.tw/Linux/almalinux/")
    );
    assert!(!by_name("ftp.tc.edu.tw").urls.contains_key(&Protocol::Http));
    assert_eq!(
        by_name("syd.mirror.rackspace.com").geo.country.as_deref(),
        Some("AU")
    );
    assert!(!by_name("stygian.failzero.net").private);
    assert_eq!(
        by_name("pkg.adfinis-on-exoscale.ch").sponsor_url.as_deref(),
        Some("https://www.exoscale.com")
    );
    let fcix = by_name("mirror.fcix.net");
    assert_eq!(fcix.asns.len(), 12);
    assert_eq!(fcix.subnets[0].to_string(), "2001:470:1::/48");
    assert_eq!(
        fcix.module_urls["kitten"][&Protocol::Https],
        "https://mirror.fcix.net/almalinux-kitten/"
    );
    assert_eq!(
        by_name("linux-mirrors.fnal.gov").subnets[1].to_string(),
        "2001:400:2410::/48"
    );
}

fn real_file(name: &str) -> Option<(FileReport, Mirror)> {
    let path = shared_data(&format!("almalinux-mirrors/mirrors.d/{name}"))?;
    let (report, mirror) = import_file(&path, name);
    Some((report, mirror.expect("accepted")))
}

/// mirror.limda.net writes its `asn` under `geolocation`: lifted, with a warning, not lost.
#[test]
fn an_asn_under_geolocation_is_lifted() {
    let Some((report, m)) = real_file("mirror.limda.net.yml") else {
        return;
    };
    assert_eq!(m.asns, vec![141988], "{:?}", report.messages);
    assert!(
        report
            .messages
            .iter()
            .any(|w| w.contains("geolocation.asn") && w.contains("read as asn")),
        "{:?}",
        report.messages
    );
}

/// The `address_options` typo: the kitten addresses are kept, read as `address_optional`.
#[test]
fn the_address_options_typo_keeps_the_kitten_addresses() {
    let Some((report, m)) = real_file("almalinux.mirror.sofia.incognet.io.yml") else {
        return;
    };
    assert_eq!(
        m.module_urls
            .get("kitten")
            .and_then(|u| u.get(&Protocol::Https))
            .map(String::as_str),
        Some("https://almalinux.mirror.sofia.incognet.io/almalinux-kitten/"),
        "{:?}",
        report.messages
    );
    assert!(report
        .messages
        .iter()
        .any(|w| w.contains("address_options") && w.contains("read as address_optional")));
}

/// `rsync://rsync@host:/path` is not a URL rsync understands as written; reading it otherwise
/// is said.
#[test]
fn an_rsync_url_read_differently_is_said() {
    let Some((report, m)) = real_file("mirrors-nyj.hawkhost.com.yml") else {
        return;
    };
    let read = m.urls[&Protocol::Rsync].clone();
    assert!(
        report
            .messages
            .iter()
            .any(|w| w.contains("address.rsync") && w.contains(&format!("read as {read:?}"))),
        "{read}: {:?}",
        report.messages
    );
}

/// A public mirror with no geolocation is placed only by its address: the importer says so.
#[test]
fn a_public_mirror_without_geolocation_is_warned_about() {
    let (report, _) = judged(GOOD);
    assert!(
        report
            .messages
            .iter()
            .any(|w| w.contains("geolocation: missing")),
        "{:?}",
        report.messages
    );
    let (report, _) = judged(&placed());
    assert!(report.messages.is_empty(), "{:?}", report.messages);
}

/// A registry kept in git round-trips: export writes each mirror back under its source file
/// name.
#[test]
fn export_keeps_the_source_file_names() {
    let Some(dir) = shared_data("almalinux-mirrors/mirrors.d") else {
        return;
    };
    let report = import_dir(&dir).unwrap();
    let out = tempfile::tempdir().unwrap();
    export_dir(&report.mirrors, out.path()).unwrap();
    let names = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(out.path()), names(&dir));
}

/// `checked: false` is for private mirrors behind a firewall only.
#[test]
fn unchecked_mirrors_must_be_private() {
    let (report, m) = judged(&format!(
        "{}private: true\nsubnets: [192.0.2.0/24]\nchecked: false\n",
        placed()
    ));
    assert_eq!(
        report.outcome,
        FileOutcome::Accepted,
        "{:?}",
        report.messages
    );
    assert!(!m.unwrap().checked);
    let (report, _) = judged(&format!("{}checked: false\n", placed()));
    assert_eq!(report.outcome, FileOutcome::Rejected);
    assert!(report.messages.iter().any(|m| m.contains("checked: false")));
}

/// A private or monopoly mirror's networks take every client in them: one as wide as the
/// Internet takes everyone. Seen accepted before: `monopoly: true` with `0.0.0.0/0` and
/// `::/0`, and `private: true` with `0.0.0.0/0`.
#[test]
fn private_and_monopoly_networks_must_be_narrow() {
    for (flags, subnets) in [
        ("private: true\nmonopoly: true\n", "[0.0.0.0/0, ::/0]"),
        ("private: true\n", "[0.0.0.0/0]"),
        ("private: true\n", "[10.0.0.0/7]"),
        ("private: true\n", "[2001::/16]"),
        // An IPv4-mapped /96 is all of IPv4.
        ("private: true\nmonopoly: true\n", "[\"::ffff:0.0.0.0/96\"]"),
        ("private: true\n", "[\"2002::/17\"]"),
    ] {
        let (report, _) = judged(&format!("{}{flags}subnets: {subnets}\n", placed()));
        assert_eq!(report.outcome, FileOutcome::Rejected, "{flags}{subnets}");
        assert!(
            report.messages.iter().any(|m| m.contains("wider than")),
            "{:?}",
            report.messages
        );
    }
    let (report, _) = judged(&format!(
        "{}private: true\nsubnets: [10.0.0.0/8, 2001:db8::/32]\n",
        placed()
    ));
    assert_ne!(
        report.outcome,
        FileOutcome::Rejected,
        "{:?}",
        report.messages
    );
}

/// A mirror URL at an internal address would have the checker probe the inside of its own
/// network (and clients be sent there).
#[test]
fn internal_addresses_are_refused_as_mirror_urls() {
    for host in [
        "127.0.0.1",
        "[::1]",
        "10.1.2.3",
        "169.254.169.254",
        "[fd00::1]",
        "192.168.1.1:8080",
        "[::ffff:127.0.0.1]",
    ] {
        let text = placed().replace("m.example.org/pub", &format!("{host}/pub"));
        assert!(text.contains(host), "{text}");
        let (report, _) = judged(&text);
        assert_eq!(report.outcome, FileOutcome::Rejected, "{host}");
        assert!(
            report
                .messages
                .iter()
                .any(|m| m.contains("internal address")),
            "{host}: {:?}",
            report.messages
        );
    }
    let rules = crate::registry::Rules {
        allow_internal: vec!["127.0.0.0/8".parse().unwrap()],
        ..Default::default()
    };
    let text = placed().replace("m.example.org/pub", "127.0.0.1:8080/pub");
    let (report, _) = crate::registry::judge_with(&text, "m.yml", &rules);
    assert_ne!(
        report.outcome,
        FileOutcome::Rejected,
        "{:?}",
        report.messages
    );
}

/// A FIFO (or any file that is not a regular one) in the registry folder hung the import.
#[test]
fn a_fifo_in_the_registry_folder_is_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yml"), placed()).unwrap();
    let fifo = dir.path().join("b.yml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let path = dir.path().to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(import_dir(&path).unwrap()));
    let report = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the import returns");
    assert_eq!(report.mirrors.len(), 1);
    let b = report.files.iter().find(|f| f.file == "b.yml").unwrap();
    assert!(
        b.messages.iter().any(|m| m.contains("not a regular file")),
        "{:?}",
        b.messages
    );
}

/// Registry text reaches operators' terminals and pages: control characters and
/// bidirectional overrides are refused with the field, never stored.
#[test]
fn hidden_text_in_a_registry_file_is_refused() {
    for (field, text) in [
        (
            "sponsor",
            "sponsor: \"\\e[31mRED\\e]0;pwned\\a\\u202eevil\"",
        ),
        (
            "geolocation.city",
            "geolocation:\n  country: DE\n  city: \"Ber\\u202elin\"",
        ),
        ("email", "email: \"a@b.example\\u0007\""),
    ] {
        let body = placed().replace("sponsor: Example\n", "") + "sponsor: Example\n";
        let body = if field == "sponsor" {
            body.replace("sponsor: Example\n", &format!("{text}\n"))
        } else {
            body.replace("geolocation:\n  country: DE\n", "") + text + "\n"
        };
        let (report, mirror) = judged(&body);
        assert_eq!(
            report.outcome,
            FileOutcome::Rejected,
            "{field}: {:?}",
            report.messages
        );
        assert!(mirror.is_none());
        assert!(
            report
                .messages
                .iter()
                .any(|m| m.contains(field) && m.contains("control or direction-changing")),
            "{field}: {:?}",
            report.messages
        );
    }
}

/// A link that leaves the registry folder is not followed (a file elsewhere, /etc/passwd).
#[test]
fn links_out_of_the_registry_folder_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("mirrors.d");
    std::fs::create_dir(&registry).unwrap();
    let elsewhere = dir.path().join("elsewhere.yml");
    std::fs::write(&elsewhere, placed()).unwrap();
    std::os::unix::fs::symlink(&elsewhere, registry.join("outside.yml")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", registry.join("passwd.yml")).unwrap();
    std::fs::write(
        registry.join("inside.yml"),
        placed().replace("m.example.org", "in.example.org"),
    )
    .unwrap();
    // A link within the folder is followed.
    std::fs::create_dir(registry.join("sub")).unwrap();
    std::fs::write(
        registry.join("sub/real.yml"),
        placed().replace("m.example.org", "linked.example.org"),
    )
    .unwrap();
    std::os::unix::fs::symlink("sub/real.yml", registry.join("linked.yml")).unwrap();
    let report = import_dir(&registry).unwrap();
    let names: Vec<&str> = report.mirrors.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["in.example.org", "linked.example.org"],
        "{}",
        report.details()
    );
    let details = report.details();
    for f in ["outside.yml", "passwd.yml"] {
        assert!(
            details.contains(&format!("{f}: a link out of the registry folder")),
            "{details}"
        );
    }
}

/// Two files naming one mirror (whatever their case): neither is taken, and both are named,
/// so a file sorted first cannot take over another's mirror.
#[test]
fn two_files_naming_one_mirror_are_both_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("aaa.yml"),
        placed().replace("m.example.org", "M.Example.org"),
    )
    .unwrap();
    std::fs::write(dir.path().join("m.example.org.yml"), placed()).unwrap();
    std::fs::write(
        dir.path().join("z.yml"),
        placed().replace("m.example.org", "z.example.org"),
    )
    .unwrap();
    let report = import_dir(dir.path()).unwrap();
    let names: Vec<&str> = report.mirrors.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["z.example.org"], "{}", report.details());
    let details = report.details();
    for (f, other) in [
        ("aaa.yml", "m.example.org.yml"),
        ("m.example.org.yml", "aaa.yml"),
    ] {
        assert!(
            details.contains(&format!(
                "{f}: name: m.example.org is also registered by {other}; neither file is taken"
            )),
            "{details}"
        );
    }
}

/// One registry file cannot swell the store and every snapshot: text fields and lists are
/// bounded, and so is what aliases expand to.
#[test]
fn oversized_fields_lists_and_alias_expansions_are_refused() {
    let long = "x".repeat(3000);
    let (report, _) = judged(&placed().replace("sponsor: Example", &format!("sponsor: {long}")));
    assert_eq!(report.outcome, FileOutcome::Rejected);
    assert!(
        report
            .messages
            .iter()
            .any(|m| m.contains("sponsor: longer than 2048 characters")),
        "{:?}",
        report.messages
    );
    let regions = vec!["r"; 10_001].join(", ");
    let (report, _) = judged(&format!(
        "{}cloud_type: aws\ncloud_regions: [{regions}]\n",
        placed()
    ));
    assert!(
        report
            .messages
            .iter()
            .any(|m| m.contains("cloud_regions: 10001 items")),
        "{:?}",
        report.messages
    );
    let bomb = format!(
        "{}cloud_type: aws\nx-note: &s {}\ncloud_regions: [{}]\n",
        placed(),
        "y".repeat(200_000),
        vec!["*s"; 100].join(", ")
    );
    let (report, _) = judged(&bomb);
    assert_eq!(report.outcome, FileOutcome::Rejected);
    assert!(
        report
            .messages
            .iter()
            .any(|m| m.contains("expands to more than")),
        "{:?}",
        report
            .messages
            .iter()
            .map(|m| shared_prefix(m))
            .collect::<Vec<_>>()
    );
}

fn shared_prefix(m: &str) -> String {
    m.chars().take(120).collect()
}

/// Each file under the per-document bound, but together past what one import takes: the
/// largest are refused, the ordinary files still imported.
#[test]
fn the_whole_import_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let region = "r".repeat(2000);
    for i in 0..10 {
        let mut text = placed().replace("m.example.org", &format!("big{i}.example.org"));
        text.push_str(&format!(
            "cloud_type: aws\ncloud_regions:\n  - &s {region}\n"
        ));
        for _ in 0..3600 {
            text.push_str("  - *s\n");
        }
        std::fs::write(dir.path().join(format!("big{i}.yml")), text).unwrap();
    }
    std::fs::write(dir.path().join("small.yml"), placed()).unwrap();
    let report = import_dir(dir.path()).unwrap();
    let names: Vec<&str> = report.mirrors.iter().map(|m| m.name.as_str()).collect();
    assert!(names.contains(&"m.example.org"), "{}", report.details());
    let held: usize = report
        .mirrors
        .iter()
        .map(|m| m.cloud_regions.iter().map(String::len).sum::<usize>())
        .sum();
    assert!(held <= MAX_IMPORT_BYTES, "{held} bytes of regions imported");
    assert!(names.len() < 11, "every big file imported");
    let details = report.details();
    assert!(
        details.contains("more than the 64 MiB one import takes"),
        "{details}"
    );
}

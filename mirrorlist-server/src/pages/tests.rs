use super::*;
use shared::model::RepomdVersion;
use shared::testing::{all_current_input, example, make_missing, take_down};

fn version() -> RepomdVersion {
    RepomdVersion {
        size: 1,
        timestamp: 1_000,
        md5: "m".into(),
        sha1: "s".into(),
        sha256: "v".into(),
        sha512: "x".into(),
        first_seen: 1_000,
    }
}

/// An operator's page says why, groups the directories by verdict, escapes what the mirror
/// sent, and says what to do next.
#[test]
fn a_mirrors_page_says_why_and_what_to_do() {
    let catalog = shared::catalog::Catalog::load(&example("catalog.toml")).unwrap();
    let registry = shared::registry::import_dir(&example("mirrors.d"))
        .unwrap()
        .mirrors;
    let mut input = all_current_input(catalog, registry, |_| Some(version()));
    let (id, name) = input
        .mirrors
        .iter()
        .find(|(_, m)| m.enabled && m.approved && !m.private && m.cloud_type.is_none())
        .map(|(id, m)| (*id, m.name.clone()))
        .unwrap();
    make_missing(&mut input, id, "9.8/BaseOS/x86_64/os");
    take_down(
        &mut input,
        id,
        "https",
        "TLS handshake failed: <b>bad certificate</b>",
        5_060 - 7_200,
    );
    let snap = shared::snapshot::build(&input, 3, 5_000, "test");
    let pages = Pages::build(&snap, 5_060);
    let page = String::from_utf8(
        pages
            .mirror(&snap, &name, 5_060)
            .unwrap()
            .html
            .plain
            .to_vec(),
    )
    .unwrap();
    assert!(page.contains("partly served"), "{page}");
    assert!(
        page.contains("&lt;b&gt;bad certificate&lt;/b&gt;"),
        "escaped: {page}"
    );
    assert!(!page.contains("<b>bad"), "{page}");
    assert!(
        page.contains("missing (HTTP 404)</span>: 1 directory"),
        "{page}"
    );
    assert!(page.contains("9.8/BaseOS/x86_64/os (http)"), "{page}");
    assert!(page.contains("What to do next"), "{page}");
    assert!(
        page.contains("rsync"),
        "advice for a missing directory: {page}"
    );
    assert!(page.contains("certificate"), "advice for HTTPS: {page}");
    assert!(
        page.contains("60 s ago"),
        "times relative to the render: {page}"
    );
    // Rendered once: the same bytes for the next request.
    let again = pages.mirror(&snap, &name, 9_999).unwrap();
    assert_eq!(again.html.plain, page.as_bytes());
    assert!(pages.mirror(&snap, "no.such.mirror", 0).is_none());

    let overview = String::from_utf8(pages.overview.plain.to_vec()).unwrap();
    assert!(
        overview.contains("<th scope=\"col\">Release</th>"),
        "{overview}"
    );
    assert!(
        overview.contains("role=\"img\""),
        "the coverage bars say their numbers"
    );
}

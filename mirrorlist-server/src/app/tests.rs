use super::*;
use crate::state::{Loaded, Settings};
use axum::body::Body;
use http_body_util::BodyExt;
use shared::catalog::Catalog;
use shared::model::RepomdVersion;
use shared::testing::example;
use shared::testing::AllOf;
use tower::ServiceExt;

fn version(n: u8) -> RepomdVersion {
    let hex = |len: usize| std::iter::repeat_n(format!("{n:x}"), len).collect::<String>();
    RepomdVersion {
        size: 3000,
        timestamp: 1_795_000_000,
        md5: hex(32),
        sha1: hex(40),
        sha256: hex(64),
        sha512: hex(128),
        first_seen: shared::time::now(),
    }
}

/// The example network with every enabled, approved mirror current for 9.8's BaseOS (every
/// arch).
fn snapshot() -> shared::snapshot::Snapshot {
    let catalog = Catalog::load(&example("catalog.toml")).unwrap();
    let mirrors = shared::registry::import_dir(&example("mirrors.d"))
        .unwrap()
        .mirrors;
    let input = shared::testing::all_current_input(catalog, mirrors, |d| {
        (d.release == "9.8" && d.repo == "baseos" && !d.vault_only).then(|| version(0xc))
    });
    shared::snapshot::build(&input, 4, shared::time::now(), "test")
}

fn app(loaded: bool) -> (Router, AppState) {
    let state = AppState::new(Settings {
        seed: Some(42),
        allow_ip_param: true,
        ..Settings::default()
    });
    if loaded {
        state.swap(Loaded::new(snapshot()));
    }
    (router(state.clone()), state)
}

async fn get(app: &Router, uri: &str) -> (StatusCode, String, String) {
    let response = app
        .clone()
        .oneshot(http::Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let ctype = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string());
    let body = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    (
        status,
        location.map_or(ctype, |l| format!("location {l}")),
        body,
    )
}

/// A request as the connection loop hands it over: straight to [`direct`].
async fn direct_get(state: &AppState, uri: &str) -> (StatusCode, String, String) {
    let req = http::Request::get(uri).body(()).unwrap();
    let response = direct(state, &req).unwrap_or_else(|| panic!("{uri} is a query endpoint"));
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let head = headers
        .get(header::LOCATION)
        .map(|l| format!("location {}", l.to_str().unwrap()))
        .or_else(|| {
            headers
                .get(header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap().to_string())
        })
        .unwrap_or_default();
    (status, head, String::from_utf8(body.to_vec()).unwrap())
}

/// One request to the query endpoints and what its answer must hold.
struct Case {
    uri: &'static str,
    status: StatusCode,
    /// The content type's start, or `location ...` for a redirect.
    head: &'static str,
    has: &'static [&'static str],
    lacks: &'static [&'static str],
    /// How many mirrors it lists, when that matters.
    urls: Option<usize>,
}

const OK: StatusCode = StatusCode::OK;
const METALINK: &str = "application/metalink+xml";
const TEXT: &str = "text/plain";

#[tokio::test]
async fn query_endpoints_answer_as_the_table_says() {
    let (_, state) = app(true);
    let cases = [
        // 192.0.2.80 is inside private.example.org's netblock, a monopoly mirror: it alone.
        Case {
            uri: "/metalink?repo=baseos-9&arch=x86_64&ip=192.0.2.80",
            status: OK,
            head: METALINK,
            has: &[
                "<hash type=\"sha256\">cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc</hash>",
                "<mm0:timestamp>1795000000</mm0:timestamp>",
                "mm0:private=\"True\">https://private.example.org/almalinux/9.8/BaseOS/x86_64/os/repodata/repomd.xml</url>",
            ],
            lacks: &[],
            urls: Some(1),
        },
        Case {
            uri: "/metalink?repo=baseos-9.8&arch=x86_64&ip=203.0.113.7&country=DE",
            status: OK,
            head: METALINK,
            has: &["https://mirror1.example.org/almalinux/9.8/BaseOS/x86_64/os/repodata/repomd.xml"],
            lacks: &["private.example.org", "disabled.example.com", "pending.example.org"],
            urls: None,
        },
        Case {
            uri: "/metalink?path=9.8/BaseOS/x86_64/os/repodata/repomd.xml&ip=203.0.113.7",
            status: OK,
            head: METALINK,
            has: &["/9.8/BaseOS/x86_64/os/repodata/repomd.xml</url>"],
            lacks: &[],
            urls: None,
        },
        Case {
            uri: "/metalink?repo=appstream-9&arch=x86_64",
            status: StatusCode::NOT_FOUND,
            head: METALINK,
            has: &["the master has no repomd.xml for 9.8/AppStream/x86_64/os yet"],
            lacks: &["<url "],
            urls: Some(0),
        },
        Case {
            uri: "/metalink?repo=nosuch-9&arch=x86_64",
            status: StatusCode::NOT_FOUND,
            head: METALINK,
            has: &["<!--\nerror: invalid repo or arch", "# repo=baseos-9&arch=x86_64"],
            lacks: &[],
            urls: Some(0),
        },
        Case {
            uri: "/mirrorlist?repo=baseos-$releasever&arch=x86_64",
            status: StatusCode::NOT_FOUND,
            head: TEXT,
            has: &["did not substitute"],
            lacks: &[],
            urls: None,
        },
        Case {
            uri: "/mirrorlist?repo=baseos-9",
            status: StatusCode::BAD_REQUEST,
            head: TEXT,
            has: &["# error: a repo and an arch are required"],
            lacks: &[],
            urls: None,
        },
        Case {
            uri: "/mirrorlist?repo=baseos-9&arch=x86_64&protocol=gopher",
            status: StatusCode::BAD_REQUEST,
            head: TEXT,
            has: &["unknown protocol \"gopher\""],
            lacks: &[],
            urls: None,
        },
        Case {
            uri: "/mirrorlist?repo=baseos-9&arch=x86_64&country=XX",
            status: StatusCode::BAD_REQUEST,
            head: TEXT,
            has: &["unknown country \"XX\""],
            lacks: &[],
            urls: None,
        },
        Case {
            uri: "/mirrorlist?repo=baseos-9&arch=x86_64&ip=not-an-address",
            status: StatusCode::BAD_REQUEST,
            head: TEXT,
            has: &["ip=not-an-address is not an address"],
            lacks: &[],
            urls: None,
        },
        Case {
            uri: "/mirrorlist?repo=baseos-9&arch=x86_64&protocol=http&ip=203.0.113.7",
            status: OK,
            head: TEXT,
            has: &["http://"],
            lacks: &["https://"],
            urls: None,
        },
        Case {
            uri: "/mirrorlist?repo=baseos-9.7&arch=x86_64",
            status: OK,
            head: TEXT,
            has: &["# this release is in the vault\nhttps://vault.example.org/9.7/BaseOS/x86_64/os/\n"],
            lacks: &[],
            urls: None,
        },
        Case {
            uri: "/metalink?repo=baseos-9.7&arch=x86_64",
            status: StatusCode::NOT_FOUND,
            head: METALINK,
            has: &["only in the vault, and the checksums of its repomd.xml are not known yet: use baseurl=https://vault.example.org/9.7/BaseOS/x86_64/os/"],
            lacks: &[],
            urls: Some(0),
        },
        Case {
            uri: "/metalink?repo=baseos-9&arch=x86_64&redirect=1&ip=203.0.113.7&country=DE",
            status: StatusCode::FOUND,
            head: "location https://",
            has: &[],
            lacks: &[],
            urls: None,
        },
    ];
    for case in &cases {
        let (status, head, body) = direct_get(&state, case.uri).await;
        let what = format!("{} -> {status} {head}\n{body}", case.uri);
        assert_eq!(status, case.status, "{what}");
        assert!(head.starts_with(case.head), "{what}");
        for text in case.has {
            assert!(body.contains(text), "{text:?} missing: {what}");
        }
        for text in case.lacks {
            assert!(!body.contains(text), "{text:?} present: {what}");
        }
        if let Some(n) = case.urls {
            assert_eq!(body.matches("<url ").count(), n, "{what}");
        }
    }
    let long = format!("/mirrorlist?repo={}", "a".repeat(3000));
    assert_eq!(direct_get(&state, &long).await.0, StatusCode::BAD_REQUEST);
    // Only the two query endpoints, and only for GET and HEAD, are taken off the router.
    let post = http::Request::post("/metalink?repo=baseos-9&arch=x86_64")
        .body(())
        .unwrap();
    assert!(direct(&state, &post).is_none());
    let other = http::Request::get("/metalink/9/baseos").body(()).unwrap();
    assert!(direct(&state, &other).is_none());
}

/// The documents as dnf receives them, byte for byte (the date aside), for a fixed client and
/// seed: any change to what clients get shows up as a snapshot difference to review.
#[tokio::test]
async fn rendered_documents_are_stable() {
    let (_, state) = app(true);
    let undated = |body: String| {
        body.lines()
            .map(|l| match l.find("pubdate=\"") {
                Some(i) => {
                    let end = l[i + 9..].find('"').map_or(l.len(), |e| i + 9 + e);
                    format!("{}pubdate=\"DATE{}", &l[..i], &l[end..])
                }
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    for (name, uri) in [
        (
            "metalink_de",
            "/metalink?repo=baseos-9&arch=x86_64&ip=203.0.113.7&country=DE",
        ),
        (
            "metalink_private",
            "/metalink?repo=baseos-9&arch=x86_64&ip=192.0.2.80",
        ),
        (
            "metalink_unknown_repo",
            "/metalink?repo=nosuch-9&arch=x86_64",
        ),
        (
            "mirrorlist_fr",
            "/mirrorlist?repo=baseos-9&arch=x86_64&ip=203.0.113.7&country=FR",
        ),
        ("mirrorlist_bad_request", "/mirrorlist?repo=baseos-9"),
    ] {
        let (status, head, body) = direct_get(&state, uri).await;
        insta::assert_snapshot!(name, format!("{uri}\n{status} {head}\n\n{}", undated(body)));
    }
}

#[tokio::test]
async fn mirrorlists_in_both_forms_vault_and_redirects() {
    let (app, _) = app(true);
    let (status, ctype, body) = get(
        &app,
        "/mirrorlist/9/baseos?arch=x86_64&ip=203.0.113.7&country=FR",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/plain"));
    assert!(!body.contains('\r'));
    let lines: Vec<&str> = body.lines().collect();
    assert!(
        lines[0].starts_with("# mirrors for 9.8/BaseOS/x86_64/os (FR)"),
        "{body}"
    );
    assert_eq!(
        lines[1], "https://mirror2.example.net/pub/linux/almalinux/9.8/BaseOS/x86_64/os/",
        "same country first: {body}"
    );
    assert!(lines[1..]
        .iter()
        .all_of(|l| l.ends_with("/9.8/BaseOS/x86_64/os/")));
    let (_, _, body) = get(&app, "/mirrorlist/9/baseos?ip=203.0.113.7").await;
    assert!(
        body.lines()
            .skip(1)
            .all_of(|l| l.ends_with("/9.8/BaseOS/$basearch/os/")),
        "{body}"
    );
    let (_, _, body) = get(
        &app,
        "/mirrorlist?repo=baseos-9&arch=x86_64&protocol=http&ip=203.0.113.7",
    )
    .await;
    assert!(
        body.lines().skip(1).all_of(|l| l.starts_with("http://")),
        "{body}"
    );
    let (status, _, body) = get(&app, "/mirrorlist/9.7/baseos?arch=x86_64").await;
    assert_eq!(
        (status, body.lines().nth(1)),
        (
            StatusCode::OK,
            Some("https://vault.example.org/9.7/BaseOS/x86_64/os/")
        ),
        "{body}"
    );
    let (status, location, _) = get(
        &app,
        "/metalink?repo=baseos-9&arch=x86_64&redirect=1&ip=203.0.113.7&country=DE",
    )
    .await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(
        location.starts_with("location https://")
            && location.ends_with("/9.8/BaseOS/x86_64/os/repodata/repomd.xml"),
        "{location}"
    );
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let (app, state) = app(false);
    assert_eq!(get(&app, "/healthz").await.0, StatusCode::OK);
    assert_eq!(
        get(&app, "/readyz").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        get(&app, "/metalink?repo=baseos-9&arch=x86_64").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    state.swap(Loaded::new(snapshot()));
    let (status, _, body) = get(&app, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    get(
        &app,
        "/metalink?repo=baseos-9&arch=x86_64&countme=1&ip=203.0.113.7",
    )
    .await;
    get(&app, "/metalink?repo=baseos-9&arch=x86_64&countme=9").await;
    let (_, _, metrics) = get(&app, "/metrics").await;
    for expected in [
        "mirrorlist_countme_total{arch=\"x86_64\",bucket=\"1\",release=\"9.8\",repo=\"baseos\"} 1",
        "mirrorlist_requests_total{endpoint=\"metalink\",status=\"200\"} 2",
        "mirrorlist_requests_total{endpoint=\"metalink\",status=\"503\"} 1",
        "mirrorlist_snapshot_serial 4",
        "mirrorlist_geoip_misses_total",
        "mirrorlist_geoip_loaded 0",
        "mirrorlist_snapshot_created_timestamp_seconds",
    ] {
        assert!(metrics.contains(expected), "{expected} missing:\n{metrics}");
    }
    assert!(
        !metrics.contains("bucket=\"9\""),
        "only dnf's buckets 1 to 4 count"
    );
    // An older snapshot never replaces a newer one.
    let mut old = snapshot();
    old.serial = 2;
    assert!(!state.swap(Loaded::new(old)));
    assert_eq!(state.current().unwrap().snapshot.serial, 4);
}

#[tokio::test]
async fn clients_are_placed_with_the_geoip_database() {
    let Some(city) = shared::testing::shared_data("geoip/GeoLite2-City-Test.mmdb") else {
        return;
    };
    let (app, state) = app(true);
    state.set_geo(Some(crate::geoip::GeoDb::open(&city).unwrap()));
    // 81.2.69.142 is in GB in MaxMind's test data: no enabled mirror there, so the rest of
    // Europe comes first (the GB mirror is disabled, the NL one private).
    let (status, _, body) = get(&app, "/mirrorlist?repo=baseos-9&arch=x86_64&ip=81.2.69.142").await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<&str> = body.lines().collect();
    assert!(lines[0].contains("(GB)"), "{body}");
    let european = [
        "mirror1.example.org",
        "mirror2.example.net",
        "pending.example.org",
    ];
    assert!(european.iter().any(|m| lines[1].contains(m)), "{body}");
    // An address the database does not know is counted as a miss and still answered.
    let (status, _, _) = get(&app, "/mirrorlist?repo=baseos-9&arch=x86_64&ip=10.9.8.7").await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, metrics) = get(&app, "/metrics").await;
    assert!(
        metrics.contains("mirrorlist_geoip_misses_total 1"),
        "{metrics}"
    );
}

/// A state over `snap` with a fixed seed and a small minimum, so `global` filling up to the
/// cap shows.
fn app_with(snap: shared::snapshot::Snapshot) -> Router {
    let state = AppState::new(Settings {
        seed: Some(42),
        allow_ip_param: true,
        limits: crate::select::Limits {
            cap: 10,
            minimum: 2,
            band_km: 500.0,
        },
        ..Settings::default()
    });
    state.swap(Loaded::new(snap));
    router(state)
}

fn hosts(body: &str) -> Vec<String> {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('/').nth(2).unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn a_fixed_seed_is_mixed_with_the_clients_network() {
    let app = app_with(snapshot());
    let ask = |ip: String| {
        let app = app.clone();
        async move {
            get(
                &app,
                &format!("/mirrorlist?repo=baseos-9&arch=x86_64&country=global&ip={ip}"),
            )
            .await
            .2
        }
    };
    let mut orders = std::collections::HashSet::new();
    for n in 0..40 {
        let body = ask(format!("198.51.{n}.7")).await;
        assert_eq!(
            hosts(&body),
            hosts(&ask(format!("198.51.{n}.200")).await),
            "one /24, one answer"
        );
        orders.insert(hosts(&body));
    }
    assert!(
        orders.len() > 5,
        "clients in different networks get different orders: {orders:?}"
    );
    let v6 = ask("2001:db8:1:2::1".into()).await;
    assert_eq!(hosts(&v6), hosts(&ask("2001:db8:1:ffff::9".into()).await));
}

#[tokio::test]
async fn country_lists_global_and_aliases() {
    let app = app_with(snapshot());
    let (status, _, body) = get(
        &app,
        "/mirrorlist?repo=baseos-9&arch=x86_64&country=JP,BR&ip=203.0.113.7",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        hosts(&body)[..2],
        ["jp.mirror.example", "br.mirror.example"],
        "every listed country, in order: {body}"
    );
    // Every public mirror holding the directory that serves everyone: au, br, jp, mirror1,
    // mirror2 (mirror3 serves listed countries only).
    let (_, _, body) = get(
        &app,
        "/mirrorlist?repo=baseos-9&arch=x86_64&country=global&ip=203.0.113.7",
    )
    .await;
    assert_eq!(hosts(&body).len(), 5, "global fills up to the cap: {body}");
    let (status, _, body) = get(
        &app,
        "/mirrorlist?repo=baseos-9&arch=x86_64&country=uk&ip=203.0.113.7",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.starts_with("# mirrors for 9.8/BaseOS/x86_64/os (GB)"),
        "{body}"
    );
}

#[tokio::test]
async fn a_path_without_arch_takes_mirrors_of_every_arch() {
    // Mirrors hold 9.8's BaseOS for x86_64 only.
    let catalog = Catalog::load(&example("catalog.toml")).unwrap();
    let mirrors = shared::registry::import_dir(&example("mirrors.d"))
        .unwrap()
        .mirrors;
    let input = shared::testing::all_current_input(catalog, mirrors, |d| {
        (d.release == "9.8" && d.repo == "baseos" && d.arch == "x86_64").then(|| version(0xc))
    });
    let app = app_with(shared::snapshot::build(
        &input,
        4,
        shared::time::now(),
        "test",
    ));
    let (status, _, body) = get(&app, "/mirrorlist/9/baseos?ip=203.0.113.7&country=FR").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.starts_with("# mirrors for 9.8/BaseOS/$basearch/os (FR), any of its arches"),
        "{body}"
    );
    assert_eq!(hosts(&body)[0], "mirror2.example.net", "{body}");
    assert!(body
        .lines()
        .skip(1)
        .all_of(|l| l.ends_with("/9.8/BaseOS/$basearch/os/")));
}

#[tokio::test]
async fn a_client_placed_by_country_only_is_at_its_centroid() {
    let Some(countries) = shared::testing::shared_data("geoip/geo-whois-asn-country.mmdb") else {
        return;
    };
    let (app, state) = app(true);
    state.set_geo(Some(crate::geoip::GeoDb::open(&countries).unwrap()));
    // 88.0.0.1 is in Spain, with no coordinates in this database: from Spain's centroid,
    // France (mirror2) is nearer than Germany (mirror1), whatever the draw.
    for n in 0..20 {
        let (status, _, body) = get(
            &app,
            &format!("/mirrorlist?repo=baseos-9&arch=x86_64&ip=88.0.{n}.1"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.starts_with("# mirrors for 9.8/BaseOS/x86_64/os (ES)"),
            "{body}"
        );
        assert_eq!(
            hosts(&body)[..2],
            ["mirror2.example.net", "mirror1.example.org"],
            "{body}"
        );
    }
}

#[tokio::test]
async fn clients_inside_a_cloud_get_its_mirrors_and_nobody_else_does() {
    use crate::cloud::{parse, tests as cloud, CloudRanges};
    let catalog = Catalog::load(&example("catalog.toml")).unwrap();
    let mut mirrors = shared::registry::import_dir(&example("mirrors.d"))
        .unwrap()
        .mirrors;
    for (name, provider, region) in [
        ("aws-fra.example.net", "aws", "eu-central-1"),
        ("aws-all.example.net", "aws", "all"),
        ("gcp-all.example.net", "gcp", "all"),
    ] {
        let mut m = shared::registry::Mirror::new(name, "Cloud");
        m.urls.insert(
            shared::registry::Protocol::Https,
            format!("https://{name}/almalinux/"),
        );
        m.cloud_type = Some(provider.into());
        m.cloud_regions = vec![region.into()];
        mirrors.push(m);
    }
    let input = shared::testing::all_current_input(catalog, mirrors, |d| {
        (d.release == "9.8" && d.repo == "baseos").then(|| version(0xc))
    });
    let state = AppState::new(Settings {
        seed: Some(42),
        allow_ip_param: true,
        ..Settings::default()
    });
    state.swap(Loaded::new(shared::snapshot::build(
        &input,
        4,
        shared::time::now(),
        "test",
    )));
    state.set_cloud(Some(CloudRanges::build([
        ("aws", parse(cloud::AWS.as_bytes()).unwrap()),
        ("gcp", parse(cloud::GCP.as_bytes()).unwrap()),
    ])));
    let app = router(state);
    let ask = |ip: &'static str, extra: &'static str| {
        let app = app.clone();
        async move {
            hosts(
                &get(
                    &app,
                    &format!("/mirrorlist?repo=baseos-9&arch=x86_64&ip={ip}{extra}"),
                )
                .await
                .2,
            )
        }
    };
    let frankfurt = ask("198.18.5.1", "").await;
    assert_eq!(
        frankfurt[..2],
        ["aws-fra.example.net", "aws-all.example.net"],
        "the region's mirror, then the provider's for all regions: {frankfurt:?}"
    );
    assert!(!frankfurt[2..].iter().any(|h| h.contains("gcp")));
    let virginia = ask("198.18.9.1", "").await;
    assert_eq!(virginia[0], "aws-all.example.net", "{virginia:?}");
    assert!(!virginia.contains(&"aws-fra.example.net".to_string()));
    let google = ask("203.0.113.7", "").await;
    assert_eq!(google[0], "gcp-all.example.net", "{google:?}");
    for outside in [
        ask("192.0.2.200", "").await,
        ask("192.0.2.200", "&country=global").await,
        ask("192.0.2.200", "&country=DE").await,
    ] {
        assert!(
            !outside
                .iter()
                .any(|h| h.contains("aws") || h.contains("gcp")),
            "cloud mirrors are not in the public pool: {outside:?}"
        );
    }
    let (_, _, metrics) = get(&app, "/metrics").await;
    assert!(
        metrics.contains("mirrorlist_answers_by_tier_total{tier=\"cloud\"} 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_vault_release_gets_a_metalink_when_its_checksums_are_known() {
    let catalog = Catalog::load(&example("catalog.toml")).unwrap();
    let mut input = shared::testing::all_current_input(catalog.clone(), vec![], |_| None);
    let vault = catalog
        .directory_index("9.7/BaseOS/x86_64/os")
        .expect("the vault release's directory");
    assert!(catalog.directories[vault].vault);
    input.history.insert(vault as i64, vec![version(0x7)]);
    let app = app_with(shared::snapshot::build(
        &input,
        4,
        shared::time::now(),
        "test",
    ));
    let (status, ctype, body) = get(&app, "/metalink?repo=baseos-9.7&arch=x86_64").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(ctype.starts_with(METALINK));
    assert!(
        body.contains(">https://vault.example.org/9.7/BaseOS/x86_64/os/repodata/repomd.xml</url>"),
        "{body}"
    );
    assert!(body.contains(&"7".repeat(64)), "the vault's sha256: {body}");
    assert_eq!(body.matches("<url ").count(), 1);
    // Known for x86_64 only: aarch64 is refused, naming the URL to use.
    let (status, _, body) = get(&app, "/metalink?repo=baseos-9.7&arch=aarch64").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body.contains("checksums of its repomd.xml are not known yet: use baseurl=https://vault.example.org/9.7/BaseOS/aarch64/os/"),
        "{body}"
    );
    let (status, location, _) = get(&app, "/metalink?repo=baseos-9.7&arch=x86_64&redirect=1").await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(
        location,
        "location https://vault.example.org/9.7/BaseOS/x86_64/os/repodata/repomd.xml"
    );
}

/// The status pages and the JSON API, from the loaded snapshot: the network's JSON, a page
/// per mirror linked from the list, JSON errors under /api/ and pages elsewhere, 503 before
/// any snapshot.
#[tokio::test]
async fn status_pages_and_api_come_from_the_snapshot() {
    let (empty, _) = app(false);
    for (uri, kind) in [("/", "text/html"), ("/api/v1/status", "application/json")] {
        let (status, ctype, _) = get(&empty, uri).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
        assert!(ctype.starts_with(kind), "{uri}: {ctype}");
    }
    // The 503 page says what it is (it was titled "Not found") in the pages' own style.
    let (_, _, page) = get(&empty, "/").await;
    assert!(page.contains("<title>Not served"), "{page}");
    assert!(page.contains("<h1>Not served</h1>"), "{page}");
    assert!(
        page.contains("<style>") && page.contains("name=\"viewport\""),
        "{page}"
    );
    let r = empty
        .clone()
        .oneshot(http::Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
    let (_, _, page) = get(&empty, "/no/such/page").await;
    assert!(page.contains("<title>Not found"), "{page}");
    let (app, state) = app(true);
    let snap = &state.current().unwrap().snapshot;
    let (status, ctype, body) = get(&app, "/api/v1/status").await;
    assert_eq!(
        (status, ctype.as_str()),
        (StatusCode::OK, "application/json")
    );
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["api_version"], 1);
    assert_eq!(json["serial"], snap.serial);
    assert_eq!(
        json["mirrors"].as_array().unwrap().len(),
        snap.mirrors.len()
    );

    let (status, _, list) = get(&app, "/mirrors").await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, overview) = get(&app, "/").await;
    assert!(overview.contains("<main>") && overview.contains("href=\"/mirrors\""));
    for m in &snap.mirrors {
        let link = format!("href=\"/mirrors/{}\"", m.name);
        assert!(list.contains(&link), "{link} missing from /mirrors");
        let (status, ctype, page) = get(&app, &format!("/mirrors/{}", m.name)).await;
        assert_eq!(status, StatusCode::OK, "{}", m.name);
        assert!(ctype.starts_with("text/html"));
        assert!(page.contains(&format!("<h1>{}</h1>", m.name)), "{page}");
        let (_, _, json) = get(&app, &format!("/api/v1/mirrors/{}", m.name)).await;
        let json: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(json["name"], m.name.as_str());
        for net in &m.subnets {
            assert!(!page.contains(&net.to_string()), "{} shows {net}", m.name);
        }
    }
    let (status, ctype, body) = get(&app, "/api/v1/mirrors/no.such.mirror").await;
    assert_eq!(
        (status, ctype.as_str()),
        (StatusCode::NOT_FOUND, "application/json")
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"],
        "no mirror is registered as no.such.mirror"
    );
    let (status, ctype, body) = get(&app, "/mirrors/%3Cscript%3E").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(ctype.starts_with("text/html"));
    assert!(
        body.contains("&lt;script&gt;") && !body.contains("<script>"),
        "{body}"
    );
    let (status, ctype, _) = get(&app, "/api/v2/anything").await;
    assert_eq!(
        (status, ctype.as_str()),
        (StatusCode::NOT_FOUND, "application/json")
    );
}

/// A snapshot built long ago is still ready while the checker's heartbeat says nothing
/// changed; a heartbeat for another serial does not count.
#[tokio::test]
async fn the_checkers_heartbeat_keeps_an_old_snapshot_ready() {
    let state = AppState::new(Settings::default());
    let mut snap = snapshot();
    snap.created_at = shared::time::now() - 4 * 3600;
    let serial = snap.serial;
    state.swap(Loaded::new(snap));
    let app = router(state.clone());
    let (status, _, body) = get(&app, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    state.set_fresh(serial + 1, shared::time::now());
    assert_eq!(
        get(&app, "/readyz").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    state.set_fresh(serial, shared::time::now());
    let (status, _, body) = get(&app, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, metrics) = get(&app, "/metrics").await;
    assert!(
        metrics.contains("mirrorlist_snapshot_fresh_timestamp_seconds"),
        "{metrics}"
    );
}

/// `/api/v1/explain` against the answers actually given: for each client in the table, the
/// mirrors it lists are the mirrorlist's, in order, every other mirror of the snapshot has a
/// reason, and the reasons the table expects are there.
#[tokio::test]
async fn explanations_match_the_answers_given() {
    // One mirror reached over IPv4 only.
    let mut snap = snapshot();
    snap.mirrors
        .iter_mut()
        .filter(|m| m.name == "br.mirror.example")
        .for_each(|m| m.ipv6 = false);
    let app = app_with(snap);
    // (query, [(mirror, reason it must start with)])
    let table: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "repo=baseos-9&arch=x86_64&country=DE&ip=198.51.100.7",
            vec![
                (
                    "disabled.example.com",
                    "not served at all: disabled in the registry",
                ),
                (
                    "pending.example.org",
                    "not served at all: waiting for approval",
                ),
                (
                    "private.example.org",
                    "private: only for clients in its netblocks",
                ),
                (
                    "cloud.example.net",
                    "private: only for clients in its netblocks",
                ),
                ("mirror3.example.com", "serves only clients in US, CA"),
            ],
        ),
        (
            // The private mirror's netblock: it is a monopoly, so it alone is listed.
            "repo=baseos-9&arch=x86_64&ip=192.0.2.10",
            vec![(
                "mirror1.example.org",
                "private.example.org holds the client's network alone",
            )],
        ),
        (
            "repo=baseos-9&arch=x86_64&country=US&protocol=http&ip=198.51.100.7",
            vec![("mirror3.example.com", "current here only over https")],
        ),
        (
            "repo=baseos-9&arch=x86_64&country=US&ip=2001:db8:77::1",
            vec![("br.mirror.example", "not reached over ipv6")],
        ),
        (
            "repo=baseos-9&arch=x86_64&netblock=0&ip=192.0.2.10",
            vec![(
                "private.example.org",
                "private, and the request asked to skip",
            )],
        ),
        (
            // 10.2 has no version in this snapshot: nobody is served for it.
            "repo=baseos-10&arch=x86_64&country=DE&ip=198.51.100.7",
            vec![("mirror1.example.org", "not served for this directory")],
        ),
    ];
    let (_, _, status) = get(&app, "/api/v1/status").await;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let all: Vec<String> = status["mirrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect();
    for (query, expected) in table {
        let (code, ctype, body) = get(&app, &format!("/api/v1/explain?{query}")).await;
        assert_eq!(
            (code, ctype.as_str()),
            (StatusCode::OK, "application/json"),
            "{query}: {body}"
        );
        let e: serde_json::Value = serde_json::from_str(&body).unwrap();
        let listed: Vec<String> = e["listed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["mirror"].as_str().unwrap().to_string())
            .collect();
        let (_, _, answer) = get(&app, &format!("/mirrorlist?{query}")).await;
        assert_eq!(
            hosts(&answer),
            listed,
            "{query}: the answer given\n{answer}"
        );
        let mut seen: Vec<String> = listed.clone();
        for n in e["not_listed"].as_array().unwrap() {
            let reason = n["reason"].as_str().unwrap();
            assert!(!reason.is_empty());
            seen.push(n["mirror"].as_str().unwrap().to_string());
        }
        seen.sort();
        let mut every = all.clone();
        every.sort();
        assert_eq!(seen, every, "{query}: every mirror accounted for once");
        for (mirror, reason) in expected {
            let why = e["not_listed"]
                .as_array()
                .unwrap()
                .iter()
                .find(|n| n["mirror"] == mirror)
                .map(|n| n["reason"].as_str().unwrap().to_string())
                .unwrap_or_else(|| panic!("{query}: {mirror} is listed: {listed:?}"));
            assert!(why.starts_with(reason), "{query}: {mirror}: {why}");
        }
    }
    // A cap of 1 puts the rest of the continent past it.
    let state = AppState::new(Settings {
        seed: Some(42),
        allow_ip_param: true,
        limits: crate::select::Limits {
            cap: 1,
            minimum: 1,
            band_km: 500.0,
        },
        ..Settings::default()
    });
    state.swap(Loaded::new(snapshot()));
    let app = router(state);
    let (_, _, body) = get(
        &app,
        "/api/v1/explain?repo=baseos-9&arch=x86_64&country=FR&ip=198.51.100.7",
    )
    .await;
    let e: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(e["listed"][0]["mirror"], "mirror2.example.net", "{body}");
    assert_eq!(
        e["client"]["how"], "by the country parameter (FR)",
        "{body}"
    );
    assert!(
        e["not_listed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["mirror"] == "mirror1.example.org"
                && n["reason"]
                    == "in the continent tier, past the cap of 1, nearer or drawn before it"),
        "{body}"
    );
    // Mistakes are JSON errors; the page explains with a form.
    let (code, ctype, body) = get(&app, "/api/v1/explain?repo=nothing-9&arch=x86_64").await;
    assert_eq!(
        (code, ctype.as_str()),
        (StatusCode::NOT_FOUND, "application/json"),
        "{body}"
    );
    assert!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"].is_string());
    let (code, _, page) = get(&app, "/explain").await;
    assert_eq!(code, StatusCode::OK);
    assert!(page.contains("<form action=\"/explain\""), "{page}");
    let (code, _, page) = get(&app, "/explain?repo=baseos-9&arch=x86_64&country=FR").await;
    assert_eq!(code, StatusCode::OK);
    assert!(page.contains("Mirrors listed, in order"), "{page}");
    assert!(page.contains("past the cap of 1"), "{page}");
}

/// Every page and API answer says what a browser may do with it: no framing, no sniffing,
/// no referrer, and on pages only the page's own style and script (by hash) run.
#[tokio::test]
async fn pages_and_the_api_carry_security_headers() {
    let (app, _) = app(true);
    for uri in [
        "/",
        "/mirrors",
        "/explain?repo=baseos-9&arch=x86_64",
        "/mirrors/no.such.mirror",
        "/api/v1/status",
        "/api/v1/openapi.json",
        "/api/v1/nothing",
    ] {
        let response = app
            .clone()
            .oneshot(http::Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let h = response.headers();
        let get = |name: &str| {
            h.get(name)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_else(|| panic!("{uri}: no {name}"))
        };
        assert_eq!(get("x-content-type-options"), "nosniff", "{uri}");
        assert_eq!(get("referrer-policy"), "no-referrer", "{uri}");
        let csp = get("content-security-policy");
        assert!(csp.contains("default-src 'none'"), "{uri}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{uri}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{uri}: {csp}");
        let ctype = get("content-type");
        if ctype.starts_with("text/html") && uri != "/mirrors/no.such.mirror" {
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let body = String::from_utf8(body.to_vec()).unwrap();
            // The one inline script and style, allowed by their hashes.
            for (tag, directive) in [("script", "script-src"), ("style", "style-src")] {
                let open = format!("<{tag}>");
                let start = body.find(&open).unwrap() + open.len();
                let end = start + body[start..].find(&format!("</{tag}>")).unwrap();
                let hash = base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    <sha2::Sha256 as sha2::Digest>::digest(&body.as_bytes()[start..end]),
                );
                assert!(
                    csp.contains(&format!("{directive} 'sha256-{hash}'")),
                    "{uri}: {csp}"
                );
            }
        }
    }
}

/// `/explain` costs many metalinks: each client network (its /24 or /48) gets a few a
/// minute, then a 429 saying when to come back; a server may turn the page off.
#[tokio::test]
async fn explanations_are_limited_per_client_network_and_can_be_turned_off() {
    let state = AppState::new(Settings {
        allow_ip_param: true,
        explain_per_minute: Some(3),
        ..Settings::default()
    });
    state.swap(Loaded::new(snapshot()));
    let app = router(state);
    let from = |app: &Router, peer: [u8; 4], uri: &str| {
        let mut req = http::Request::get(uri).body(Body::empty()).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(std::net::SocketAddr::from((peer, 4000))));
        app.clone().oneshot(req)
    };
    let uri = "/api/v1/explain?repo=baseos-9&arch=x86_64";
    for n in 0..3 {
        let r = from(&app, [198, 51, 100, 7 + n], uri).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "request {n}");
    }
    let r = from(
        &app,
        [198, 51, 100, 200],
        "/explain?repo=baseos-9&arch=x86_64",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key(header::RETRY_AFTER));
    let body = r.into_body().collect().await.unwrap().to_bytes();
    assert!(
        String::from_utf8_lossy(&body).contains("explanations"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    // Another network is not held back; metalinks never are.
    let r = from(&app, [203, 0, 113, 9], uri).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = from(
        &app,
        [198, 51, 100, 7],
        "/metalink?repo=baseos-9&arch=x86_64",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let state = AppState::new(Settings {
        explain_per_minute: Some(0),
        ..Settings::default()
    });
    state.swap(Loaded::new(snapshot()));
    let app = router(state);
    for uri in [uri, "/explain?repo=baseos-9&arch=x86_64", "/explain"] {
        let r = from(&app, [203, 0, 113, 9], uri).await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{uri}");
    }
}

/// The large views (the overview, every mirror, the whole network as JSON, a mirror's page)
/// are sent gzip-compressed to clients that accept it, compressed once per snapshot, and
/// the same bytes once unpacked; others get them plain.
#[tokio::test]
async fn large_views_are_sent_compressed_to_clients_that_accept_it() {
    use std::io::Read;
    let (app, state) = app(true);
    let name = state.current().unwrap().snapshot.mirrors[0].name.clone();
    for uri in [
        "/",
        "/mirrors",
        "/api/v1/status",
        &format!("/mirrors/{name}"),
    ] {
        let plain = get(&app, uri).await.2;
        let req = http::Request::get(uri)
            .header(header::ACCEPT_ENCODING, "br;q=1.0, gzip;q=0.8, *;q=0.1")
            .body(Body::empty())
            .unwrap();
        let r = app.clone().oneshot(req).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{uri}");
        assert_eq!(
            r.headers()
                .get(header::CONTENT_ENCODING)
                .map(|v| v.to_str().unwrap()),
            Some("gzip"),
            "{uri}"
        );
        assert_eq!(r.headers()[header::VARY], "accept-encoding", "{uri}");
        let packed = r.into_body().collect().await.unwrap().to_bytes();
        assert!(
            packed.len() * 2 < plain.len(),
            "{uri}: {} of {}",
            packed.len(),
            plain.len()
        );
        let mut unpacked = String::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_string(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, plain, "{uri}");
    }
    // A client that does not say it takes gzip, or refuses it, gets the plain bytes.
    for accept in [None, Some("identity"), Some("gzip;q=0")] {
        let mut req = http::Request::get("/mirrors");
        if let Some(a) = accept {
            req = req.header(header::ACCEPT_ENCODING, a);
        }
        let r = app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert!(
            r.headers().get(header::CONTENT_ENCODING).is_none(),
            "{accept:?}"
        );
    }
}

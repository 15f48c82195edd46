use super::*;
use crate::state::{Loaded, Settings};
use axum::body::Body;
use http_body_util::BodyExt;
use shared::catalog::Catalog;
use shared::model::RepomdVersion;
use shared::testing::example;
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

/// The example network with every enabled, approved mirror current for 9.8/BaseOS/x86_64.
fn snapshot() -> shared::snapshot::Snapshot {
    let catalog = Catalog::load(&example("catalog.toml")).unwrap();
    let mirrors = shared::registry::import_dir(&example("mirrors.d"))
        .unwrap()
        .mirrors;
    let input = shared::testing::all_current_input(catalog, mirrors, |d| {
        (d.path == "9.8/BaseOS/x86_64/os").then(|| version(0xc))
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

#[tokio::test]
async fn metalinks_list_only_up_to_date_mirrors_with_hashes() {
    let (app, _) = app(true);
    let (status, ctype, body) =
        get(&app, "/metalink?repo=baseos-9&arch=x86_64&ip=192.0.2.80").await;
    assert_eq!(
        (status, ctype.as_str()),
        (StatusCode::OK, "application/metalink+xml"),
        "{body}"
    );
    assert!(body.contains(&format!("<hash type=\"sha256\">{}</hash>", "c".repeat(64))));
    assert!(body.contains("<mm0:timestamp>1795000000</mm0:timestamp>"));
    // 192.0.2.80 is inside private.example.org's netblock and it is a monopoly mirror.
    assert_eq!(body.matches("<url ").count(), 1, "{body}");
    assert!(body.contains("mm0:private=\"True\">https://private.example.org/almalinux/9.8/BaseOS/x86_64/os/repodata/repomd.xml</url>"), "{body}");
    let (_, _, body) = get(
        &app,
        "/metalink?repo=baseos-9.8&arch=x86_64&ip=203.0.113.7&country=DE",
    )
    .await;
    assert!(
        body.contains(
            "https://mirror1.example.org/almalinux/9.8/BaseOS/x86_64/os/repodata/repomd.xml"
        ),
        "{body}"
    );
    assert!(
        !body.contains("private.example.org")
            && !body.contains("disabled.example.com")
            && !body.contains("pending.example.org"),
        "{body}"
    );
    let (_, _, body) = get(&app, "/metalink?repo=appstream-9&arch=x86_64").await;
    assert!(
        body.contains("has no repomd.xml"),
        "no version known yet: {body}"
    );
}

#[tokio::test]
async fn client_mistakes_get_clear_4xx_answers() {
    let (app, _) = app(true);
    let (status, _, body) = get(&app, "/metalink?repo=nosuch-9&arch=x86_64").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body.contains("<!--\nerror: invalid repo or arch")
            && body.contains("# repo=baseos-9&arch=x86_64"),
        "{body}"
    );
    let (status, _, body) = get(&app, "/mirrorlist?repo=baseos-$releasever&arch=x86_64").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("did not substitute"), "{body}");
    let (status, _, body) = get(&app, "/mirrorlist?repo=baseos-9").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.starts_with("# error: a repo and an arch are required"),
        "{body}"
    );
    let (status, _, _) = get(&app, &format!("/mirrorlist?repo={}", "a".repeat(3000))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, body) = get(&app, "/mirrorlist/7/baseos").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::NOT_FOUND, "# error: unknown release \"7\"\n")
    );
    let (status, _, _) = get(
        &app,
        "/mirrorlist?repo=baseos-9&arch=x86_64&protocol=gopher",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
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
        .all(|l| l.ends_with("/9.8/BaseOS/x86_64/os/")));
    let (_, _, body) = get(&app, "/mirrorlist/9/baseos?ip=203.0.113.7").await;
    assert!(
        body.lines()
            .skip(1)
            .all(|l| l.ends_with("/9.8/BaseOS/$basearch/os/")),
        "{body}"
    );
    let (_, _, body) = get(
        &app,
        "/mirrorlist?repo=baseos-9&arch=x86_64&protocol=http&ip=203.0.113.7",
    )
    .await;
    assert!(
        body.lines().skip(1).all(|l| l.starts_with("http://")),
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

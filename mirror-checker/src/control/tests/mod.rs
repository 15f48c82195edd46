//! The control plane through its router, on each store backend: the sign-in journey, and
//! every refusal (another's mirror, no session, a forged or missing CSRF token, a used
//! link, too many requests, bad input).

mod edit;
mod hold;
mod maintenance;
mod ownership;
mod registration;
mod smtp;
mod tokens;
mod unsubscribe;
mod webhook;

use super::*;
use axum::body::Body;
use http::{header, Request, StatusCode};
use shared::registry::Mirror;

struct Plane {
    router: axum::Router,
    store: Store,
    mail: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn planes(label: &str, public_url: &str) -> Vec<Plane> {
    planes_with(label, public_url, |_| {}).await
}

/// [`planes`] with `tweak` applied to the control plane's settings.
async fn planes_with(
    label: &str,
    public_url: &str,
    tweak: impl Fn(&mut ControlConfig),
) -> Vec<Plane> {
    let mut out = Vec::new();
    for (_, store) in store::testing::test_stores(label).await {
        let mut own = Mirror::new("own.example.org", "Own");
        own.email = Some("Op@Example.org".into());
        let mut other = Mirror::new("other.example.net", "Other");
        other.email = Some("someone@example.net".into());
        store.apply_registry(&[own, other], false).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::config::Config {
            control: ControlConfig {
                public_url: public_url.into(),
                admins: vec!["root@example.org".into()],
                mail_folder: dir.path().join("mail"),
                proof_every: shared::duration::Human::secs(0),
                ..ControlConfig::default()
            },
            ..crate::config::Config::default()
        };
        tweak(&mut config.control);
        // The registrations' mirrors are test servers on loopback.
        config.http.allow_internal = vec!["127.0.0.0/8".parse().unwrap()];
        let control = Control::new(
            store.clone(),
            config.control.clone(),
            config.registry_rules(),
            config.http.clone(),
            ([127, 0, 0, 1], 8081).into(),
        )
        .unwrap();
        out.push(Plane {
            router: router(control),
            store,
            mail: dir.path().join("mail"),
            _dir: dir,
        });
    }
    out
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

impl Plane {
    async fn send(&self, req: Request<Body>) -> Answer {
        let mut req = req;
        let peer: std::net::SocketAddr = ([192, 0, 2, 7], 40000).into();
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        let mut router = self.router.clone();
        let r = tower_service::Service::call(&mut router, req)
            .await
            .unwrap();
        let (parts, body) = r.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, path: &str, cookie: &str) -> Answer {
        let req = Request::get(path).header(header::COOKIE, cookie);
        self.send(req.body(Body::empty()).unwrap()).await
    }

    async fn post(&self, path: &str, cookie: &str, form: &str) -> Answer {
        let req = Request::post(path)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.send(req.body(Body::from(form.to_string())).unwrap())
            .await
    }

    async fn post_json(&self, path: &str, cookie: &str, body: &serde_json::Value) -> Answer {
        let req = Request::post(path)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/json");
        self.send(req.body(Body::from(body.to_string())).unwrap())
            .await
    }

    /// The anonymous CSRF cookie a sign-in page sets, as `(cookie header, token)`.
    async fn anonymous(&self) -> (String, String) {
        let page = self.get("/", "").await;
        let set = page.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_string();
        let pair = set.split(';').next().unwrap().to_string();
        let token = pair.split_once('=').unwrap().1.to_string();
        assert!(
            page.body.contains(&token),
            "the form carries the cookie's token"
        );
        (pair, token)
    }

    /// The messages in the mail folder, once `n` are there (delivery is off the request).
    async fn mail(&self, n: usize) -> Vec<String> {
        for _ in 0..250 {
            let listed = mail::list(&self.mail).unwrap();
            if listed.len() >= n {
                return listed
                    .iter()
                    .map(|(p, _, _)| std::fs::read_to_string(p).unwrap())
                    .collect();
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("fewer than {n} messages arrived");
    }

    /// Follows the sign-in link of mail `text` with the anonymous `cookie` and `csrf`:
    /// the session cookie header.
    async fn follow(&self, text: &str, cookie: &str, csrf: &str) -> String {
        let link = mail::link_in(text).unwrap().to_string();
        let path = link
            .trim_start_matches("https://control.example.org")
            .to_string();
        let path = path.trim_start_matches("http://127.0.0.1:8081").to_string();
        let r = self.post(&path, cookie, &format!("csrf={csrf}")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let set = r.headers[header::SET_COOKIE].to_str().unwrap();
        set.split(';').next().unwrap().to_string()
    }

    /// Signs `address` in: its session cookie header.
    async fn sign_in(&self, address: &str) -> String {
        let (cookie, csrf) = self.anonymous().await;
        let before = mail::list(&self.mail).unwrap().len();
        let r = self
            .post(
                "/signin",
                &cookie,
                &format!("csrf={csrf}&address={address}"),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let text = self.mail(before + 1).await.pop().unwrap();
        self.follow(&text, &cookie, &csrf).await
    }
}

/// Mail through `mailer`, links under the planes' address, webhooks through a client that
/// may reach loopback.
fn channels(mailer: &mail::Mailer) -> crate::delivery::Channels<'_> {
    static CLIENT: std::sync::OnceLock<crate::http::HttpClient> = std::sync::OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        crate::http::HttpClient::new(crate::http::HttpConfig {
            allow_internal: vec!["127.0.0.0/8".parse().unwrap()],
            ..Default::default()
        })
        .unwrap()
    });
    crate::delivery::Channels {
        mailer,
        client,
        base: "http://127.0.0.1:8081",
    }
}

fn csrf_in(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    page[at..at + 64].to_string()
}

#[tokio::test]
async fn an_operator_signs_in_by_mailed_link_and_sees_only_their_mirrors() {
    for p in planes("control_journey", "https://control.example.org").await {
        let (cookie, csrf) = p.anonymous().await;
        // Known and unknown addresses get the same answer; only the known one gets mail.
        let unknown = p
            .post(
                "/signin",
                &cookie,
                &format!("csrf={csrf}&address=nobody@example.com"),
            )
            .await;
        let known = p
            .post(
                "/signin",
                &cookie,
                &format!("csrf={csrf}&address=OP@example.org"),
            )
            .await;
        assert_eq!(
            (unknown.status, known.status),
            (StatusCode::OK, StatusCode::OK)
        );
        assert_eq!(
            unknown.body.replace("nobody@example.com", "X"),
            known.body.replace("op@example.org", "X")
        );
        let text = p.mail(1).await.pop().unwrap();
        assert!(text.contains("To: op@example.org"), "{text}");
        let link = mail::link_in(&text).unwrap();
        let path = link.strip_prefix("https://control.example.org").unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert_eq!(
            mail::list(&p.mail).unwrap().len(),
            1,
            "mail for an unknown address"
        );

        // Opening the link shows a button and uses nothing up; the button needs the token.
        assert_eq!(p.get(path, &cookie).await.status, StatusCode::OK);
        let forged = p.post(path, &cookie, "csrf=forged").await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let r = p.post(path, &cookie, &format!("csrf={csrf}")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let set = r.headers[header::SET_COOKIE].to_str().unwrap();
        for flag in [
            "__Host-mc_session=",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
        ] {
            assert!(set.contains(flag), "{flag} missing from {set}");
        }
        let session = set.split(';').next().unwrap().to_string();
        // The link works once.
        let again = p.post(path, &cookie, &format!("csrf={csrf}")).await;
        assert_eq!(again.status, StatusCode::FORBIDDEN);
        assert!(again.body.contains("used already"), "{}", again.body);
        // Stored only as hashes: neither the link's token nor the session's id is in the store.
        let token = path.rsplit('/').next().unwrap();
        let id = session.split_once('=').unwrap().1;
        for (table, column) in [("signin_links", "token_hash"), ("sessions", "id_hash")] {
            let sql =
                format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = $1 OR {column} = $2");
            let row = sqlx::query(&sql)
                .bind(token)
                .bind(id)
                .fetch_one(p.store.pool())
                .await
                .unwrap();
            assert_eq!(
                sqlx::Row::get::<i64, _>(&row, "n"),
                0,
                "{table} holds a secret"
            );
        }

        let home = p.get("/", &session).await;
        assert!(home.body.contains("own.example.org"), "{}", home.body);
        assert!(!home.body.contains("other.example.net"), "{}", home.body);
        let own = p.get("/mirrors/own.example.org", &session).await;
        assert_eq!(own.status, StatusCode::OK, "{}", own.body);
        assert!(own.body.contains("Op@Example.org"), "{}", own.body);
        assert!(own.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
        for path in ["/mirrors/other.example.net", "/mirrors/missing.example.org"] {
            let r = p.get(path, &session).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
            assert!(!r.body.contains("someone@example.net"), "{}", r.body);
        }
        let api = p.get("/api/v1/mirrors/other.example.net", &session).await;
        assert_eq!(api.status, StatusCode::FORBIDDEN);
        assert!(api.body.starts_with("{\"error\""), "{}", api.body);
        let me = p.get("/api/v1/me", &session).await;
        let me: serde_json::Value = serde_json::from_str(&me.body).unwrap();
        assert_eq!(
            me,
            serde_json::json!({"address": "op@example.org", "admin": false, "mirrors": ["own.example.org"]})
        );

        // Sign-out needs the session's token; then the cookie is worth nothing.
        let r = p.post("/signout", &session, "csrf=0000").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let token = csrf_in(&home.body);
        let r = p.post("/signout", &session, &format!("csrf={token}")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(
            p.get("/api/v1/me", &session).await.status,
            StatusCode::UNAUTHORIZED
        );
        let log = p.store.audit_log(Some("op@example.org"), 10).await.unwrap();
        let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["sign out", "sign in"]);
    }
}

#[tokio::test]
async fn no_session_means_401_and_an_admin_sees_every_mirror() {
    for p in planes("control_roles", "").await {
        for path in [
            "/api/v1/me",
            "/api/v1/mirrors",
            "/api/v1/mirrors/own.example.org",
        ] {
            let r = p.get(path, "").await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
            assert!(r.body.contains("not signed in"), "{}", r.body);
        }
        assert_eq!(
            p.get("/mirrors/own.example.org", "mc_session=forged")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
        let admin = p.sign_in("root@example.org").await;
        assert!(
            !admin.contains("__Host-"),
            "no __Host- prefix over http: {admin}"
        );
        let r = p.get("/mirrors/other.example.net", &admin).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.contains("someone@example.net"));
        assert_eq!(
            p.get("/mirrors/missing.example.org", &admin).await.status,
            StatusCode::NOT_FOUND
        );
        let list = p.get("/api/v1/mirrors", &admin).await;
        let list: serde_json::Value = serde_json::from_str(&list.body).unwrap();
        assert_eq!(list["mirrors"].as_array().unwrap().len(), 2);
        // Sign-out everywhere ends every session of the address.
        let other = p.sign_in("root@example.org").await;
        let token = csrf_in(&p.get("/", &admin).await.body);
        let r = p
            .post("/signout", &admin, &format!("csrf={token}&everywhere=1"))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(
            p.get("/api/v1/me", &other).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn bad_requests_are_refused_with_the_reason() {
    for p in planes("control_bad", "").await {
        let (cookie, csrf) = p.anonymous().await;
        let cases = [
            (
                format!("csrf={csrf}&address=op@example.org&admin=1"),
                StatusCode::BAD_REQUEST,
                "admin: unknown field",
            ),
            (
                format!("csrf={csrf}&address=not-an-address"),
                StatusCode::BAD_REQUEST,
                "address: not an e-mail address",
            ),
            (
                format!("csrf={csrf}"),
                StatusCode::BAD_REQUEST,
                "address: missing",
            ),
            (
                "address=op@example.org".to_string(),
                StatusCode::FORBIDDEN,
                "CSRF token",
            ),
            (
                format!("csrf={csrf}&address={}", "a".repeat(20_000)),
                StatusCode::PAYLOAD_TOO_LARGE,
                "larger than 16 KiB",
            ),
        ];
        for (form, status, said) in cases {
            let r = p.post("/signin", &cookie, &form).await;
            assert_eq!(r.status, status, "{form:.60}: {}", r.body);
            assert!(r.body.contains(said), "{said}: {}", r.body);
        }
        // Without the cookie the form's token is nothing.
        let r = p
            .post(
                "/signin",
                "",
                &format!("csrf={csrf}&address=op@example.org"),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = p.get("/signin/short", "").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = p.get("/api/v1/nothing", "").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert!(r.body.starts_with("{\"error\""));
        assert_eq!(mail::list(&p.mail).unwrap().len(), 0);
    }
}

#[tokio::test]
async fn sign_in_requests_are_limited_per_address_and_per_network() {
    for p in planes("control_limits", "").await {
        let (cookie, csrf) = p.anonymous().await;
        let ask = |address: String| {
            let form = format!("csrf={csrf}&address={address}");
            let cookie = cookie.clone();
            let p = &p;
            async move { p.post("/signin", &cookie, &form).await.status }
        };
        for _ in 0..5 {
            assert_eq!(ask("op@example.org".into()).await, StatusCode::OK);
        }
        assert_eq!(
            ask("op@example.org".into()).await,
            StatusCode::TOO_MANY_REQUESTS
        );
        // Other addresses from the same /24 until the network's limit (30 in the window).
        let mut statuses = Vec::new();
        for i in 0..30 {
            statuses.push(ask(format!("u{i}@example.com")).await);
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::OK).count(),
            24
        );
        assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS));
        assert_eq!(
            p.mail(5).await.len(),
            5,
            "one link per accepted request of the operator"
        );
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_requests_are_counted_by_the_clients_network() {
    let tight = |c: &mut ControlConfig| c.signin_per_network = 2;
    let behind = |c: &mut ControlConfig| {
        c.signin_per_network = 2;
        // The tests' peer (192.0.2.7) is the reverse proxy.
        c.trusted_proxies = vec!["192.0.2.7".into()];
    };
    for (trusted, p) in planes_with("control_proxy_no", "", tight)
        .await
        .into_iter()
        .map(|p| (false, p))
        .chain(
            planes_with("control_proxy", "", behind)
                .await
                .into_iter()
                .map(|p| (true, p)),
        )
    {
        let (cookie, csrf) = p.anonymous().await;
        let ask = |address: &str, client: &str| {
            let req = Request::post("/signin")
                .header(header::COOKIE, cookie.as_str())
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("x-forwarded-for", client)
                .body(Body::from(format!("csrf={csrf}&address={address}")))
                .unwrap();
            let p = &p;
            async move { p.send(req).await.status }
        };
        // Three clients in three networks behind the proxy.
        let mut statuses = Vec::new();
        for (i, client) in ["198.51.100.1", "203.0.113.1", "198.18.0.1"]
            .iter()
            .enumerate()
        {
            statuses.push(ask(&format!("u{i}@example.com"), client).await);
        }
        let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        // Trusted, each is its own network; not trusted, the header is anyone's word and
        // the proxy's network is the one counted.
        assert_eq!(
            ok,
            if trusted { 3 } else { 2 },
            "trusted {trusted}: {statuses:?}"
        );
        if trusted {
            // One client network's limit still holds behind the proxy.
            for i in 0..2 {
                ask(&format!("v{i}@example.com"), "198.51.100.9").await;
            }
            assert_eq!(
                ask("w@example.com", "198.51.100.10").await,
                StatusCode::TOO_MANY_REQUESTS
            );
        }
    }
}

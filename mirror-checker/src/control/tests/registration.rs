//! Registering a mirror through the control plane, on each backend: the judge's problems
//! beside their fields, the contact confirmed by the mailed link, the ownership proof
//! fetched from a real server on loopback (missing, wrong, right), an admin's decision,
//! the mirror served from the store and kept by a registry sync, the operator's switch;
//! and every refusal on the way.

use super::*;
use std::sync::{Arc, Mutex};

/// A mirror's web server on loopback serving whatever token it is given.
pub(super) struct TokenServer {
    pub(super) base: String,
    pub(super) token: Arc<Mutex<Option<String>>>,
}

pub(super) async fn token_server() -> TokenServer {
    let token: Arc<Mutex<Option<String>>> = Arc::default();
    let held = token.clone();
    let app = axum::Router::new().route(
        "/almalinux/.well-known/mirror-verification",
        axum::routing::get(move || {
            let held = held.clone();
            async move {
                match held.lock().unwrap().clone() {
                    Some(t) => (StatusCode::OK, format!("{t}\n")),
                    None => (StatusCode::NOT_FOUND, "not found\n".to_string()),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    TokenServer {
        base: format!("http://{addr}/almalinux/"),
        token,
    }
}

fn form_of(pairs: &[(&str, &str)], csrf: &str) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    out.append_pair("csrf", csrf);
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    out.finish()
}

fn json_of(answer: &Answer) -> serde_json::Value {
    serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("{e}: {}", answer.body))
}

#[tokio::test]
async fn a_new_operator_registers_proves_and_an_admin_approves() {
    let server = token_server().await;
    for p in planes("control_register", "http://127.0.0.1:8081").await {
        *server.token.lock().unwrap() = None;
        let (anon, csrf) = p.anonymous().await;
        // Problems come back beside their fields, with what was typed kept.
        let bad = [
            ("name", "not a host"),
            ("sponsor", "New Sponsor"),
            ("sponsor_url", "https://new.example.com/"),
            ("https", "https://user:pw@new.example.com/almalinux/"),
        ];
        let r = p.post("/register", &anon, &form_of(&bad, &csrf)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        for field in ["name", "https", "email"] {
            let at = r.body.find(&format!("id=\"{field}-help\"")).unwrap();
            let next = r.body[at..].find("</div>").unwrap() + at;
            assert!(
                r.body[at..next].contains("Refused:"),
                "{field} has its problem beside it: {}",
                &r.body[at..next]
            );
        }
        assert!(
            r.body.contains("value=\"New Sponsor\""),
            "typed values kept"
        );
        // A good registration from someone not signed in: the contact is mailed first.
        let good = [
            ("name", "new.example.com"),
            ("sponsor", "New Sponsor"),
            ("sponsor_url", "https://new.example.com/"),
            ("email", "New@Example.com"),
            ("http", server.base.as_str()),
            ("bandwidth_mbps", "lots"),
        ];
        let r = p.post("/register", &anon, &form_of(&good, &csrf)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.contains("new@example.com"), "{}", r.body);
        let reg = p
            .store
            .registration("new.example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reg.state, store::RegistrationState::Unconfirmed);
        let twice = p.post("/register", &anon, &form_of(&good, &csrf)).await;
        assert_eq!(twice.status, StatusCode::BAD_REQUEST);
        assert!(
            twice.body.contains("is registered already"),
            "{}",
            twice.body
        );
        // Following the mailed link confirms the address.
        let text = p.mail(1).await.pop().unwrap();
        assert!(text.contains("To: new@example.com"), "{text}");
        let op = p.follow(&text, &anon, &csrf).await;
        let reg = p
            .store
            .registration("new.example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reg.state, store::RegistrationState::Proving);
        let page = p.get("/registrations/new.example.com", &op).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains(&reg.token), "the page shows the token");
        let op_csrf = csrf_in(&page.body);
        // The proof: missing, then another token, then this one.
        let prove = "/registrations/new.example.com/prove";
        let reasons = |p: &Plane| {
            let p = p.store.clone();
            async move {
                let r = p.registration("new.example.com").await.unwrap().unwrap();
                (r.state, crate::control::registration::findings(&r))
            }
        };
        let r = p.post(prove, &op, &format!("csrf={op_csrf}")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let (state, found) = reasons(&p).await;
        assert_eq!(state, store::RegistrationState::Proving);
        assert!(found[0].reason.starts_with("404"), "{found:?}");
        *server.token.lock().unwrap() = Some(crate::control::secret::new_token());
        p.post(prove, &op, &format!("csrf={op_csrf}")).await;
        let (_, found) = reasons(&p).await;
        assert!(found[0].reason.contains("holds another token"), "{found:?}");
        *server.token.lock().unwrap() = Some(reg.token.clone());
        let r = p
            .post_json(
                "/api/v1/registrations/new.example.com/prove",
                &op,
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(json_of(&r)["state"], "waiting");
        // The operator cannot approve their own; another operator cannot even see it.
        let r = p
            .post_json(
                "/api/v1/registrations/new.example.com/approve",
                &op,
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        let other = p.sign_in("someone@example.net").await;
        let r = p.get("/api/v1/registrations/new.example.com", &other).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(!r.body.contains(&reg.token));
        // An admin approves: the mirror is stored, and a registry sync keeps it.
        let admin = p.sign_in("root@example.org").await;
        let queue = p.get("/admin", &admin).await;
        assert!(queue.body.contains("new.example.com"), "{}", queue.body);
        let r = p
            .post_json(
                "/api/v1/registrations/new.example.com/refuse",
                &admin,
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "a refusal needs a reason"
        );
        assert_eq!(json_of(&r)["field"], "reason");
        let r = p
            .post_json(
                "/api/v1/registrations/new.example.com/approve",
                &admin,
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        // The operator is told, through the outbox written with the decision.
        let told = p
            .store
            .deliveries(Some("new.example.com"), 5)
            .await
            .unwrap();
        assert_eq!(told.len(), 1, "{told:?}");
        assert_eq!(told[0].subject, "new.example.com: approved");
        let outcome = p.store.apply_registry(&[], true).await.unwrap();
        assert_eq!(outcome.removed.len(), 2, "{outcome:?}");
        let names: Vec<String> = p
            .store
            .load_mirrors()
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["new.example.com"]);
        // The operator disables it (audited); the registry's mirrors are not theirs to switch.
        let page = p.get("/mirrors/new.example.com", &op).await;
        assert!(page.body.contains("Disable this mirror"), "{}", page.body);
        let r = p
            .post(
                "/mirrors/new.example.com/disable",
                &op,
                &format!("csrf={op_csrf}&reason=disk+swap"),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let m = p.store.load_mirrors().await.unwrap().pop().unwrap();
        assert!(!m.enabled);
        let log = p
            .store
            .audit_log(Some("new.example.com"), 10)
            .await
            .unwrap();
        let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["disable", "approve", "register"]);
        assert_eq!(log[1].actor, "root@example.org");
        assert!(log[0].after.as_deref().unwrap().contains("disk swap"));
    }
}

#[tokio::test]
async fn registrations_refuse_bad_input_and_registry_mirrors_say_where_to_change_them() {
    for p in planes("control_register_refusals", "http://127.0.0.1:8081").await {
        let op = p.sign_in("op@example.org").await;
        let body = serde_json::json!({ "name": "x.example.org", "colour": "blue" });
        let r = p.post_json("/api/v1/registrations", &op, &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert_eq!(json_of(&r)["field"], "colour");
        let r = p
            .send(
                Request::post("/api/v1/registrations")
                    .header(header::COOKIE, &op)
                    .header(header::CONTENT_TYPE, "text/plain")
                    .body(Body::from("{}"))
                    .unwrap(),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "a form post cannot reach the API"
        );
        let body = serde_json::json!({
            "name": "x.example.org", "sponsor": "X", "sponsor_url": "https://x.example.org/",
            "email": "op@example.org", "https": "https://x.example.org/pub/",
            "subnets": ["0.0.0.0/1"], "private": true,
        });
        let r = p.post_json("/api/v1/registrations", &op, &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        let j = json_of(&r);
        assert_eq!(j["field"], "subnets", "{j}");
        // Signed in as the contact: no mail, straight to proving.
        let body = serde_json::json!({
            "name": "x.example.org", "sponsor": "X", "sponsor_url": "https://x.example.org/",
            "email": "op@example.org", "https": "https://x.example.org/pub/", "asn": [64500],
        });
        let r = p.post_json("/api/v1/registrations", &op, &body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let j = json_of(&r);
        assert_eq!(j["registration"]["state"], "proving");
        assert_eq!(
            j["registration"]["publish_at"][0],
            "https://x.example.org/pub/.well-known/mirror-verification"
        );
        // Not proven: not for an admin to approve yet.
        let admin = p.sign_in("root@example.org").await;
        let r = p
            .post_json(
                "/api/v1/registrations/x.example.org/approve",
                &admin,
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        // A registry mirror is changed in its file, not here.
        let r = p
            .post_json(
                "/api/v1/mirrors/own.example.org/disable",
                &op,
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(
            json_of(&r)["error"]
                .as_str()
                .unwrap()
                .contains("own.example.org.yml"),
            "{}",
            r.body
        );
        // Another's mirror: the same 403 as a name that does not exist.
        let a = p
            .post_json(
                "/api/v1/mirrors/other.example.net/disable",
                &op,
                &serde_json::json!({}),
            )
            .await;
        let b = p
            .post_json(
                "/api/v1/mirrors/none.example.net/disable",
                &op,
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(
            (a.status, b.status),
            (StatusCode::FORBIDDEN, StatusCode::FORBIDDEN)
        );
        // A page form without its CSRF token is refused.
        let r = p.post("/registrations/x.example.org/prove", &op, "").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let (anon, _) = p.anonymous().await;
        let r = p.post("/register", &anon, "name=y.example.org").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
}

//! API tokens: made on a mirror's page and shown once, stored as a hash, acting for that
//! mirror only and never on the pages' forms, recorded when used, revoked for good.

use super::*;

impl Plane {
    async fn bearer(&self, method: &str, path: &str, token: &str, body: Option<&str>) -> Answer {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body.map_or(Body::empty(), |b| Body::from(b.to_string()));
        self.send(req.body(body).unwrap()).await
    }
}

fn secret_in(page: &str) -> String {
    let at = page.find("mct_").expect("the new token is shown");
    page[at..at + 47].to_string()
}

#[tokio::test]
async fn a_token_acts_for_its_mirror_only_and_is_shown_once() {
    for p in planes("control_tokens", "http://127.0.0.1:8081").await {
        sqlx::query("UPDATE mirrors SET managed_by = 'control' WHERE name = 'own.example.org'")
            .execute(p.store.pool())
            .await
            .unwrap();
        let op = p.sign_in("op@example.org").await;
        let page = p.get("/mirrors/own.example.org", &op).await;
        let csrf = csrf_in(&page.body);
        let bad = p
            .post(
                "/mirrors/own.example.org/tokens",
                &op,
                &format!("csrf={csrf}&name=%3Cb%3E"),
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
        let made = p
            .post(
                "/mirrors/own.example.org/tokens",
                &op,
                &format!("csrf={csrf}&name=deploy+bot"),
            )
            .await;
        assert_eq!(made.status, StatusCode::OK, "{}", made.body);
        let secret = secret_in(&made.body);
        // Shown this once; the store holds only its hash.
        let again = p.get("/mirrors/own.example.org", &op).await;
        assert!(!again.body.contains(&secret) && again.body.contains("deploy bot"));
        let row = sqlx::query("SELECT COUNT(*) AS n FROM api_tokens WHERE hash = $1")
            .bind(&secret)
            .fetch_one(p.store.pool())
            .await
            .unwrap();
        assert_eq!(sqlx::Row::get::<i64, _>(&row, "n"), 0);
        // The same name twice is refused while the first lives; a forged CSRF token too.
        let twice = p
            .post(
                "/mirrors/own.example.org/tokens",
                &op,
                &format!("csrf={csrf}&name=deploy+bot"),
            )
            .await;
        assert_eq!(twice.status, StatusCode::BAD_REQUEST);
        let forged = p
            .post("/mirrors/own.example.org/tokens", &op, "csrf=x&name=y")
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);

        // The token reads its mirror, and nothing else.
        let me = p.bearer("GET", "/api/v1/me", &secret, None).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.body);
        let me: serde_json::Value = serde_json::from_str(&me.body).unwrap();
        assert_eq!(me["mirrors"], serde_json::json!(["own.example.org"]));
        assert_eq!(me["admin"], false);
        let one = p
            .bearer("GET", "/api/v1/mirrors/own.example.org", &secret, None)
            .await;
        assert_eq!(one.status, StatusCode::OK);
        for path in [
            "/api/v1/mirrors/other.example.net",
            "/api/v1/mirrors/other.example.net/tokens",
            "/api/v1/audit",
        ] {
            let r = p.bearer("GET", path, &secret, None).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.body);
            assert!(!r.body.contains("someone@example.net"), "{}", r.body);
        }
        // It disables its mirror, and the audit log says through what.
        let off = p
            .bearer(
                "POST",
                "/api/v1/mirrors/own.example.org/disable",
                &secret,
                Some("{}"),
            )
            .await;
        assert_eq!(off.status, StatusCode::OK, "{}", off.body);
        let log = p
            .store
            .audit_log(Some("own.example.org"), 10)
            .await
            .unwrap();
        let entry = log.iter().find(|e| e.action == "disable").unwrap();
        assert_eq!(
            (entry.actor.as_str(), entry.via.as_str()),
            ("op@example.org", "api token deploy bot")
        );
        // It cannot make tokens, register mirrors or post the pages' forms.
        let more = p
            .bearer(
                "POST",
                "/api/v1/mirrors/own.example.org/tokens",
                &secret,
                Some(r#"{"name":"x"}"#),
            )
            .await;
        assert_eq!(more.status, StatusCode::FORBIDDEN, "{}", more.body);
        let reg = p
            .bearer(
                "POST",
                "/api/v1/registrations",
                &secret,
                Some(r#"{"name":"n.example.org"}"#),
            )
            .await;
        assert_eq!(reg.status, StatusCode::FORBIDDEN, "{}", reg.body);
        let form = Request::post("/mirrors/own.example.org/enable")
            .header(header::AUTHORIZATION, format!("Bearer {secret}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "csrf={}",
                crate::control::secret::csrf_of("")
            )))
            .unwrap();
        assert_eq!(p.send(form).await.status, StatusCode::FORBIDDEN);

        // Its use is recorded; revoked, it is refused (401) as an unknown one is.
        let listed = p.get("/api/v1/mirrors/own.example.org/tokens", &op).await;
        let listed: serde_json::Value = serde_json::from_str(&listed.body).unwrap();
        let token = &listed["tokens"][0];
        assert!(token["last_used_at"].is_i64(), "{listed}");
        assert!(!listed.to_string().contains(&secret));
        let id = token["id"].as_str().unwrap();
        let other = p.sign_in("someone@example.net").await;
        let path = format!("/api/v1/mirrors/own.example.org/tokens/{id}/revoke");
        assert_eq!(
            p.post_json(&path, &other, &serde_json::json!({}))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        let r = p.post_json(&path, &op, &serde_json::json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        for t in [secret.as_str(), "mct_nope", "not a token"] {
            let r = p.bearer("GET", "/api/v1/me", t, None).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{t}");
            assert!(r.body.contains("unknown or revoked"), "{}", r.body);
        }
        let actions: Vec<String> = p
            .store
            .audit_log(Some("own.example.org"), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert!(
            actions.contains(&"create token".into()) && actions.contains(&"revoke token".into()),
            "{actions:?}"
        );
    }
}

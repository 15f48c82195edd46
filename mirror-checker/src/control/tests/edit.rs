//! Editing a control-plane mirror: small changes at once, a new URL waiting for its proof
//! and an admin while the old one serves, bad values beside their fields, registry mirrors
//! and other operators refused, and deleting it.

use super::registration::token_server;
use super::*;
use store::{Registration, RegistrationState};

async fn served(p: &Plane, base: &str, token: &str) -> Mirror {
    let r = Registration {
        name: "served.example.com".into(),
        contact: "op@example.org".into(),
        yaml: String::new(),
        token: token.into(),
        state: RegistrationState::Proving,
        proof: None,
        proven_at: None,
        created_at: 1,
        updated_at: 1,
        decided_by: None,
        reason: None,
        proof_missing_since: None,
        ownership_flagged_at: None,
    };
    p.store.create_registration(&r).await.unwrap();
    p.store.record_proof(&r.name, "[]", true, 2).await.unwrap();
    let mut m = Mirror::new("served.example.com", "Served");
    m.sponsor_url = Some("https://served.example.com/".into());
    m.email = Some("op@example.org".into());
    m.geo.country = Some("DE".into());
    m.urls
        .insert(shared::registry::Protocol::Http, base.to_string());
    p.store
        .decide_registration(&r.name, Some(&m), "root@example.org", None, 3)
        .await
        .unwrap();
    m
}

async fn stored(p: &Plane) -> Option<Mirror> {
    let all = p.store.load_mirrors().await.unwrap();
    all.into_iter().find(|m| m.name == "served.example.com")
}

fn edit_form(csrf: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    out.append_pair("csrf", csrf);
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    out.finish()
}

#[tokio::test]
async fn an_operator_edits_at_once_and_a_new_url_waits_for_its_proof_and_an_admin() {
    let (old_server, new_server) = (token_server().await, token_server().await);
    for p in planes("control_edit", "http://127.0.0.1:8081").await {
        let token = crate::control::secret::new_token();
        *new_server.token.lock().unwrap() = None;
        let m = served(&p, &old_server.base, &token).await;
        let op = p.sign_in("op@example.org").await;
        let page = p.get("/mirrors/served.example.com/edit", &op).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("value=\"Served\""), "prefilled");
        let csrf = csrf_in(&page.body);
        let mut fields: Vec<(&str, &str)> = vec![
            ("sponsor", "Served"),
            ("sponsor_url", "https://served.example.com/"),
            ("email", "op@example.org"),
            ("http", old_server.base.as_str()),
            ("country", "DE"),
            ("bandwidth_mbps", "2500"),
        ];
        // A bad value is refused beside its field, and nothing changes.
        let mut bad = fields.clone();
        bad.push(("subnets", "not-a-network"));
        let path = "/mirrors/served.example.com/edit";
        let r = p.post(path, &op, &edit_form(&csrf, &bad)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        let at = r.body.find("id=\"subnets-help\"").unwrap();
        assert!(r.body[at..]
            .split("</div>")
            .next()
            .unwrap()
            .contains("Refused:"));
        assert_eq!(stored(&p).await.unwrap().bandwidth_mbps, None);
        // Bandwidth applies at once, audited with before and after.
        let r = p.post(path, &op, &edit_form(&csrf, &fields)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(stored(&p).await.unwrap().bandwidth_mbps, Some(2500));
        let log = p
            .store
            .audit_log(Some("served.example.com"), 10)
            .await
            .unwrap();
        let e = log.iter().find(|e| e.action == "edit").unwrap();
        assert!(e.after.as_deref().unwrap().contains("2500"), "{e:?}");
        assert!(!e.before.as_deref().unwrap().contains("2500"), "{e:?}");
        // A new URL waits; the old one keeps serving.
        fields[3] = ("http", new_server.base.as_str());
        let body: serde_json::Map<String, serde_json::Value> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect();
        let api = "/api/v1/mirrors/served.example.com/edit";
        let r = p
            .post_json(api, &op, &serde_json::Value::Object(body))
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        assert!(r.body.contains("proven again"), "{}", r.body);
        assert_eq!(stored(&p).await.unwrap().urls, m.urls);
        // Only an admin decides, and not before the new URL holds the token.
        let approve = "/api/v1/mirrors/served.example.com/change/approve";
        let mine = p.post_json(approve, &op, &serde_json::json!({})).await;
        assert_eq!(mine.status, StatusCode::FORBIDDEN);
        let admin = p.sign_in("root@example.org").await;
        let queue = p.get("/admin", &admin).await;
        assert!(
            queue.body.contains("Changes to served mirrors"),
            "{}",
            queue.body
        );
        let early = p.post_json(approve, &admin, &serde_json::json!({})).await;
        assert_eq!(early.status, StatusCode::FORBIDDEN, "{}", early.body);
        assert!(early.body.contains("404"), "{}", early.body);
        *new_server.token.lock().unwrap() = Some(token.clone());
        let r = p.post_json(approve, &admin, &serde_json::json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let now = stored(&p).await.unwrap();
        assert_eq!(now.urls.values().next(), Some(&new_server.base));
        assert_eq!(now.bandwidth_mbps, Some(2500));
        assert!(p.store.pending_changes(None).await.unwrap().is_empty());
        assert!(p
            .store
            .control_managed()
            .await
            .unwrap()
            .contains("served.example.com"));

        // Not theirs, or the registry's: refused, the registry's naming its file.
        let other = p.sign_in("someone@example.net").await;
        let r = p.get("/mirrors/served.example.com/edit", &other).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = p.get("/mirrors/own.example.org/edit", &op).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.body.contains("own.example.org.yml"), "{}", r.body);

        // Deleting wants the name typed; then the mirror, its registration and tokens go.
        let delete = "/api/v1/mirrors/served.example.com/delete";
        let r = p
            .post_json(delete, &op, &serde_json::json!({"confirm": "nope"}))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert_eq!(json_field(&r.body), "confirm");
        let r = p
            .post_json(
                delete,
                &op,
                &serde_json::json!({"confirm": "served.example.com"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(stored(&p).await.is_none());
        assert!(p
            .store
            .registration("served.example.com")
            .await
            .unwrap()
            .is_none());
        let log = p
            .store
            .audit_log(Some("served.example.com"), 20)
            .await
            .unwrap();
        let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
        for a in ["edit", "propose change", "approve change", "delete"] {
            assert!(actions.contains(&a), "{a} missing from {actions:?}");
        }
    }
}

fn json_field(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["field"].as_str().unwrap_or("").to_string()
}

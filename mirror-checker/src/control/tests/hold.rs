//! An admin's hold on any mirror: refused to operators, a reason required, kept through a
//! registry import, shown to the operator on the mirror's page (the snapshot's verdict is shared's test), lifted by an admin.

use super::*;

#[tokio::test]
async fn an_admin_holds_a_registry_mirror_out_of_the_answers_and_an_import_keeps_it_held() {
    for p in planes("control_hold", "http://127.0.0.1:8081").await {
        let path = "/api/v1/mirrors/own.example.org/admin/hold";
        let op = p.sign_in("op@example.org").await;
        let r = p
            .post_json(path, &op, &serde_json::json!({"reason": "mine"}))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        let admin = p.sign_in("root@example.org").await;
        let r = p.post_json(path, &admin, &serde_json::json!({})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        let r = p
            .post_json(
                path,
                &admin,
                &serde_json::json!({"reason": "serves malware"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        // The registry's file says nothing of it, and importing it again changes nothing.
        let mut own = Mirror::new("own.example.org", "Own");
        own.email = Some("Op@Example.org".into());
        let outcome = p.store.apply_registry(&[own.clone()], false).await.unwrap();
        assert!(outcome.updated.is_empty(), "{outcome:?}");
        let held = p.store.load_mirrors().await.unwrap();
        let held = held.iter().find(|m| m.name == own.name).unwrap();
        assert_eq!(held.held.as_deref(), Some("serves malware"));
        // The operator reads why it is not served.
        let page = p.get("/mirrors/own.example.org", &op).await;
        assert!(page.body.contains("serves malware"), "{}", page.body);
        let r = p
            .post_json(
                "/api/v1/mirrors/own.example.org/admin/release",
                &admin,
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let after = p.store.load_mirrors().await.unwrap();
        assert!(after.iter().all(|m| m.held.is_none()));
        let actions: Vec<String> = p
            .store
            .audit_log(Some("own.example.org"), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(&actions[..2], ["release", "hold"]);
        // The operator is told of both, through the outbox, with the admin's reason.
        let told = p
            .store
            .deliveries(Some("own.example.org"), 10)
            .await
            .unwrap();
        let subjects: Vec<&str> = told.iter().map(|d| d.subject.as_str()).collect();
        assert_eq!(
            subjects,
            [
                "own.example.org: hold lifted",
                "own.example.org: held out of the answers"
            ]
        );
        assert!(told.iter().all(|d| d.recipient == "op@example.org"));
        let page = p.get("/mirrors/own.example.org", &op).await;
        assert!(
            page.body.contains("Messages to its contacts") && page.body.contains("hold lifted"),
            "{}",
            page.body
        );
    }
}

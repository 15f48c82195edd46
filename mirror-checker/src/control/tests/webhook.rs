//! Webhooks: set by the mirror's operator (the secret shown once), refused when not https,
//! internal, or asked for by another operator; delivered to a real HTTPS receiver that
//! checks the signature, its status kept, a failing answer retried.

use super::*;

#[tokio::test]
async fn a_webhook_is_signed_delivered_to_https_and_its_status_kept() {
    for p in planes("control_webhook", "http://127.0.0.1:8081").await {
        let hook = mirror_sim::webhook::Receiver::start().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, &hook.ca_pem).unwrap();
        let api = "/api/v1/mirrors/own.example.org/webhook";
        let url = hook.url("/hook");
        let op = p.sign_in("op@example.org").await;
        // Refused: plain http, an internal address, another operator.
        for (bad, words) in [
            ("http://hooks.example.org/x", "must be https"),
            ("https://10.1.2.3/x", "an internal address"),
            ("not a url", "not a URL"),
        ] {
            let r = p
                .post_json(api, &op, &serde_json::json!({ "url": bad }))
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
            assert!(r.body.contains(words), "{bad}: {}", r.body);
        }
        let other = p.sign_in("someone@example.net").await;
        let r = p
            .post_json(api, &other, &serde_json::json!({ "url": url }))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        // Set: the secret in this answer only.
        let r = p
            .post_json(api, &op, &serde_json::json!({ "url": url }))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let set: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        let secret = set["secret"].as_str().unwrap().to_string();
        assert!(secret.starts_with("whsec_"));
        let shown = p.get(api, &op).await;
        assert!(
            shown.body.contains(&url) && !shown.body.contains(&secret),
            "{}",
            shown.body
        );
        // A change of state, delivered signed.
        let mirrors = p.store.load_mirrors_with_ids().await.unwrap();
        let id = mirrors
            .iter()
            .find(|(_, m)| m.name == "own.example.org")
            .unwrap()
            .0;
        let event = store::HealthEvent {
            mirror_id: id,
            capability: "https".into(),
            old_state: shared::model::HealthState::Up,
            new_state: shared::model::HealthState::Down,
            reason: "https: connection refused".into(),
            at: shared::time::now(),
        };
        let hooks = [("own.example.org".to_string(), url.clone())].into();
        let messages =
            crate::webhooks::messages(&mirrors, &[event], &hooks, "http://127.0.0.1:8081");
        assert_eq!(messages.len(), 1);
        p.store
            .enqueue(&messages, shared::time::now())
            .await
            .unwrap();
        let client = crate::http::HttpClient::new(crate::http::HttpConfig {
            allow_internal: vec!["127.0.0.0/8".parse().unwrap()],
            extra_ca_files: vec![ca],
            ..Default::default()
        })
        .unwrap();
        let mailer = mail::Mailer::of(&ControlConfig {
            mail_folder: p.mail.clone(),
            ..ControlConfig::default()
        })
        .unwrap();
        let ch = crate::delivery::Channels {
            mailer: &mailer,
            client: &client,
            base: "http://127.0.0.1:8081",
        };
        let now = shared::time::now();
        assert_eq!(
            crate::delivery::deliver(&p.store, &ch, "t", (1, 60), now)
                .await
                .unwrap(),
            (1, 0, 0)
        );
        let got = hook.taken().pop().unwrap();
        let (ts, body) = (got.timestamp.parse::<i64>().unwrap(), got.body);
        assert_eq!(
            got.signature,
            crate::webhooks::signature(&secret, ts, &body)
        );
        let payload: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(payload["mirror"], "own.example.org");
        assert_eq!(payload["events"][0]["to"], "down");
        let list = p
            .store
            .deliveries(Some("own.example.org"), 5)
            .await
            .unwrap();
        assert_eq!(list[0].last_status, Some(204));
        let page = p.get("/mirrors/own.example.org", &op).await;
        assert!(
            page.body.contains("HTTP 204") && !page.body.contains(&secret),
            "{}",
            page.body
        );
        // An admin's hold reaches the webhook too, beside the operator's mail.
        let admin = p.sign_in("root@example.org").await;
        let held = serde_json::json!({"reason": "abuse report"});
        let r = p
            .post_json("/api/v1/mirrors/own.example.org/admin/hold", &admin, &held)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let now = shared::time::now();
        assert_eq!(
            crate::delivery::deliver(&p.store, &ch, "t", (1, 60), now)
                .await
                .unwrap(),
            (2, 0, 0)
        );
        let decided: serde_json::Value = serde_json::from_str(&hook.taken()[1].body).unwrap();
        assert_eq!(decided["decision"]["kind"], "held", "{decided}");
        assert_eq!(decided["decision"]["reason"], "abuse report");
        // The receiver fails: the message waits for a retry, with the answer.
        hook.answer(500);
        p.store
            .enqueue(&messages, shared::time::now())
            .await
            .unwrap();
        let now = shared::time::now();
        assert_eq!(
            crate::delivery::deliver(&p.store, &ch, "t", (1, 60), now)
                .await
                .unwrap(),
            (0, 1, 0)
        );
        let list = p
            .store
            .deliveries(Some("own.example.org"), 5)
            .await
            .unwrap();
        assert!(
            list[0]
                .last_error
                .as_deref()
                .unwrap()
                .contains("answered HTTP 500"),
            "{:?}",
            list[0]
        );
        // The admins see the failing channel too.
        let queue = p.get("/admin", &admin).await;
        assert!(
            queue.body.contains("Messages not delivered")
                && queue.body.contains("answered HTTP 500"),
            "{}",
            queue.body
        );
        // Removed: what waits is dropped, with the reason.
        let r = p
            .post_json(&format!("{api}/remove"), &op, &serde_json::json!({}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let now = shared::time::now();
        assert_eq!(
            crate::delivery::deliver(&p.store, &ch, "t", (1, 60), now)
                .await
                .unwrap(),
            (0, 0, 1)
        );
        let actions: Vec<String> = p
            .store
            .audit_log(Some("own.example.org"), 5)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(&actions[..3], ["remove webhook", "hold", "set webhook"]);
    }
}

//! Maintenance windows through the control plane: declared by the mirror's operator, its
//! API token or an admin, refused to anyone else; bad times refused with the reason beside
//! the field; changed, ended and cancelled; every one in the audit log.

use super::*;

const API: &str = "/api/v1/mirrors/own.example.org/maintenance";

fn at(t: i64) -> String {
    let secs = t.rem_euclid(86_400);
    let day = shared::duration::utc_minute(t);
    format!("{}T{}:{:02}Z", &day[..10], &day[11..16], secs % 60)
}

#[tokio::test]
async fn each_role_may_or_may_not_declare_a_window_and_every_change_is_audited() {
    for p in planes("control_maintenance", "http://127.0.0.1:8081").await {
        let now = shared::time::now();
        let window = serde_json::json!({"until": "6h", "note": "new disks"});
        // Anonymous: 401; another mirror's operator: 403, without a word of the mirror.
        let (anon, _) = p.anonymous().await;
        let r = p.post_json(API, &anon, &window).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
        let other = p.sign_in("someone@example.net").await;
        for r in [
            p.post_json(API, &other, &window).await,
            p.get(API, &other).await,
        ] {
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
            assert!(!r.body.contains("new disks"));
        }
        // Its operator declares one; it holds now.
        let op = p.sign_in("op@example.org").await;
        let r = p.post_json(API, &op, &window).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let w: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(w["scope"], "mirror");
        assert_eq!(w["holds"], true);
        let until = w["until"].as_i64().unwrap();
        assert!((until - now - 6 * 3600).abs() <= 5, "{w}");
        let id = w["id"].as_i64().unwrap();
        // An admin plans one on IPv6 for tomorrow; the operator sees both.
        let admin = p.sign_in("root@example.org").await;
        let tomorrow = serde_json::json!({
            "scope": "ipv6", "from": at(now + 86_400), "until": at(now + 90_000), "note": "router"
        });
        let r = p.post_json(API, &admin, &tomorrow).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let planned: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(planned["holds"], false);
        let list = p.get(API, &op).await;
        let list: serde_json::Value = serde_json::from_str(&list.body).unwrap();
        assert_eq!(list["windows"].as_array().unwrap().len(), 2, "{list}");
        // The page shows them.
        let page = p.get("/mirrors/own.example.org", &op).await;
        assert!(
            page.body.contains("new disks") && page.body.contains("IPv6"),
            "{}",
            page.body
        );
        // Changed, then ended early; the planned one cancelled.
        let path = format!("{API}/{id}");
        let r = p
            .post_json(&path, &op, &serde_json::json!({"until": "2h"}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let changed: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(changed["from"], w["from"], "the start stays");
        assert_eq!(changed["note"], "new disks", "the note stays");
        let r = p
            .post_json(&format!("{path}/end"), &other, &serde_json::json!({}))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        let r = p
            .post_json(&format!("{path}/end"), &op, &serde_json::json!({}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = p
            .post_json(&format!("{path}/end"), &op, &serde_json::json!({}))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "over: {}", r.body);
        assert!(r.body.contains("over already"), "{}", r.body);
        let planned_end = format!("{API}/{}/end", planned["id"]);
        let r = p.post_json(&planned_end, &op, &serde_json::json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        // A window of another mirror is not found through this one.
        let theirs = p
            .post_json(
                "/api/v1/mirrors/other.example.net/maintenance",
                &admin,
                &serde_json::json!({"until": "1h"}),
            )
            .await;
        let theirs: serde_json::Value = serde_json::from_str(&theirs.body).unwrap();
        let r = p
            .post_json(
                &format!("{API}/{}/end", theirs["id"]),
                &op,
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
        let actions: Vec<String> = p
            .store
            .audit_log(Some("own.example.org"), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| format!("{} by {}", e.action, e.actor))
            .collect();
        assert_eq!(
            &actions[..5],
            [
                "maintenance cancel by op@example.org",
                "maintenance end by op@example.org",
                "maintenance change by op@example.org",
                "maintenance add by root@example.org",
                "maintenance add by op@example.org",
            ],
            "{actions:?}"
        );
    }
}

#[tokio::test]
async fn backwards_past_and_too_long_windows_are_refused_with_a_reason() {
    for p in planes("control_maintenance_bad", "http://127.0.0.1:8081").await {
        let now = shared::time::now();
        let op = p.sign_in("op@example.org").await;
        for (window, field, words) in [
            (serde_json::json!({}), "until", "missing"),
            (
                serde_json::json!({"until": "soon"}),
                "until",
                "is not a time",
            ),
            (
                serde_json::json!({"from": at(now + 7200), "until": at(now + 3600)}),
                "until",
                "before it starts",
            ),
            (
                serde_json::json!({"from": at(now - 7200), "until": at(now - 3600)}),
                "until",
                "ends in the past",
            ),
            (
                serde_json::json!({"from": at(now - 7200), "until": "4h"}),
                "until",
                "starts in the past",
            ),
            (
                serde_json::json!({"until": "15d"}),
                "until",
                "maintenance_max",
            ),
            (
                serde_json::json!({"until": "1h", "scope": "ftp"}),
                "scope",
                "not a scope",
            ),
            (
                serde_json::json!({"until": 3600}),
                "until",
                "must be a string",
            ),
        ] {
            let r = p.post_json(API, &op, &window).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{window}: {}", r.body);
            let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            assert!(r.body.contains(words), "{window}: {}", r.body);
            assert!(body.to_string().contains(field), "{window}: {body}");
        }
        assert!(
            p.store.windows(None, now).await.unwrap().is_empty(),
            "nothing stored"
        );
        // On the page: the reason beside the form, a 422, nothing stored; a forged CSRF
        // token refused.
        let page = p.get("/mirrors/own.example.org", &op).await;
        let csrf = csrf_in(&page.body);
        let r = p
            .post(
                "/mirrors/own.example.org/maintenance",
                &op,
                &format!("csrf={csrf}&scope=mirror&from=now&until=30d"),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains("maintenance-problem") && r.body.contains("maintenance_max"));
        let r = p
            .post(
                "/mirrors/own.example.org/maintenance",
                &op,
                "csrf=forged&scope=mirror&until=1h",
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert!(p.store.windows(None, now).await.unwrap().is_empty());
        let r = p
            .post(
                "/mirrors/own.example.org/maintenance",
                &op,
                &format!("csrf={csrf}&scope=https&from=now&until=1h&note=cert"),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(p.store.windows(None, now).await.unwrap().len(), 1);
    }
}

//! One-click unsubscribe: the link in every message to an operator, followed by a mail
//! client's POST with no cookie; what that contact is then not sent; subscribing again on
//! the mirror's page.

use super::*;
use store::OutboxMessage;

fn told(subject: &str) -> OutboxMessage {
    OutboxMessage {
        mirror: "own.example.org".into(),
        kind: "down".into(),
        channel: "email".into(),
        recipient: "op@example.org".into(),
        subject: subject.into(),
        body: "https went down".into(),
    }
}

#[tokio::test]
async fn a_contact_unsubscribes_in_one_click_and_subscribes_again_on_the_page() {
    for p in planes("control_unsubscribe", "http://127.0.0.1:8081").await {
        let control = ControlConfig {
            mail_folder: p.mail.clone(),
            ..ControlConfig::default()
        };
        let mailer = mail::Mailer::of(&control).unwrap();
        let base = ("http://127.0.0.1:8081", (60, 120));
        let deliver = || async {
            let now = shared::time::now();
            crate::delivery::deliver(&p.store, &channels(&mailer), "test", base.1, now)
                .await
                .unwrap()
        };
        p.store
            .enqueue(&[told("first")], shared::time::now())
            .await
            .unwrap();
        assert_eq!(deliver().await.0, 1);
        let first = p.mail(1).await.pop().unwrap();
        assert!(
            first.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
            "{first}"
        );
        let url = first
            .lines()
            .find_map(|l| l.strip_prefix("List-Unsubscribe: <"))
            .map(|l| l.trim_end_matches('>').to_string())
            .unwrap();
        let path = url
            .strip_prefix("http://127.0.0.1:8081")
            .unwrap()
            .to_string();
        // A person sees what it does; a mail client POSTs, with no cookie.
        let page = p.get(&path, "").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("own.example.org") && page.body.contains("Unsubscribe"));
        let click = Request::post(path.as_str())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("List-Unsubscribe=One-Click"))
            .unwrap();
        let r = p.send(click).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        // Not a link of ours: refused.
        let r = p.get("/unsubscribe/not-a-token", "").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        // The next message is not sent, and the page says so.
        p.store
            .enqueue(&[told("second")], shared::time::now())
            .await
            .unwrap();
        assert_eq!(deliver().await, (0, 0, 1));
        assert_eq!(p.mail(1).await.len(), 1);
        let list = p
            .store
            .deliveries(Some("own.example.org"), 5)
            .await
            .unwrap();
        assert!(list[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("unsubscribed"));
        let op = p.sign_in("op@example.org").await;
        let page = p.get("/mirrors/own.example.org", &op).await;
        assert!(
            page.body
                .contains("Not mailed (unsubscribed): op@example.org"),
            "{}",
            page.body
        );
        // Another operator cannot subscribe them again; they can.
        let other = p.sign_in("someone@example.net").await;
        let other_csrf = csrf_in(&p.get("/", &other).await.body);
        let r = p
            .post(
                "/mirrors/own.example.org/subscribe",
                &other,
                &format!("csrf={other_csrf}"),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        let csrf = csrf_in(&page.body);
        let r = p
            .post(
                "/mirrors/own.example.org/subscribe",
                &op,
                &format!("csrf={csrf}"),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert!(p.store.optouts("own.example.org").await.unwrap().is_empty());
        let actions: Vec<String> = p
            .store
            .audit_log(Some("own.example.org"), 5)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(&actions[..2], ["subscribe", "unsubscribe"]);
    }
}

use crate::testing::test_stores;
use crate::{AuditEntry, LinkUse};

#[tokio::test]
async fn a_signin_link_is_used_once_and_not_after_it_expires() {
    for (backend, store) in test_stores("signin_link").await {
        store
            .create_signin_link("h1", "op@example.org", 100, 1000)
            .await
            .unwrap();
        store
            .create_signin_link("h2", "op@example.org", 100, 1000)
            .await
            .unwrap();
        let signed = LinkUse::SignedIn("op@example.org".into());
        assert_eq!(
            store.use_signin_link("h1", 500).await.unwrap(),
            signed,
            "{backend:?}"
        );
        // Used: refused, however soon.
        assert_eq!(
            store.use_signin_link("h1", 501).await.unwrap(),
            LinkUse::Refused
        );
        // Expired, and unknown.
        assert_eq!(
            store.use_signin_link("h2", 1000).await.unwrap(),
            LinkUse::Refused
        );
        assert_eq!(
            store.use_signin_link("nope", 500).await.unwrap(),
            LinkUse::Refused
        );
    }
}

#[tokio::test]
async fn sessions_expire_when_idle_or_old_and_end_everywhere() {
    for (backend, store) in test_stores("sessions").await {
        let a = "op@example.org";
        store.create_session("s1", a, 100, 10_000).await.unwrap();
        store.create_session("s2", a, 100, 10_000).await.unwrap();
        store
            .create_session("s3", "other@example.org", 100, 200)
            .await
            .unwrap();
        let who = store.touch_session("s1", 150, 50).await.unwrap();
        assert_eq!(who.as_deref(), Some(a), "{backend:?}");
        // s2 was last seen at 100: idle since before 120.
        assert_eq!(store.touch_session("s2", 150, 120).await.unwrap(), None);
        // s3 is past its absolute expiry, however recently used.
        assert_eq!(store.touch_session("s3", 200, 0).await.unwrap(), None);
        assert_eq!(store.end_sessions_of(a).await.unwrap(), 2);
        assert_eq!(store.touch_session("s1", 151, 0).await.unwrap(), None);
    }
}

#[tokio::test]
async fn signin_requests_are_counted_per_address_and_network_within_the_window() {
    for (backend, store) in test_stores("signin_requests").await {
        store
            .count_signin_request(10, "a", "192.0.2.0/24", 0)
            .await
            .unwrap();
        store
            .count_signin_request(20, "a", "198.51.100.0/24", 0)
            .await
            .unwrap();
        let counts = store
            .count_signin_request(30, "b", "192.0.2.0/24", 0)
            .await
            .unwrap();
        assert_eq!(counts, (1, 2), "{backend:?}");
        // Past the window the first two are forgotten.
        let counts = store
            .count_signin_request(40, "a", "192.0.2.0/24", 25)
            .await
            .unwrap();
        assert_eq!(counts, (1, 2));
    }
}

#[tokio::test]
async fn admins_and_the_audit_log_are_kept() {
    for (backend, store) in test_stores("admins_audit").await {
        assert!(store.add_admin("root@example.org", "cli", 5).await.unwrap());
        assert!(!store.add_admin("root@example.org", "cli", 6).await.unwrap());
        assert_eq!(store.stored_admins().await.unwrap(), ["root@example.org"]);
        let entry = |subject: &str, at| AuditEntry {
            at,
            actor: "cli".into(),
            via: "cli".into(),
            action: "admin add".into(),
            subject: subject.into(),
            before: None,
            after: Some("{}".into()),
        };
        store.audit(&entry("root@example.org", 5)).await.unwrap();
        store.audit(&entry("m.example.org", 6)).await.unwrap();
        let all = store.audit_log(None, 10).await.unwrap();
        assert_eq!(
            all,
            [entry("m.example.org", 6), entry("root@example.org", 5)],
            "{backend:?}"
        );
        let one = store.audit_log(Some("root@example.org"), 10).await.unwrap();
        assert_eq!(one, [entry("root@example.org", 5)]);
    }
}

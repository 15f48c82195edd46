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

#[tokio::test]
async fn api_tokens_are_named_used_and_revoked() {
    for (backend, store) in test_stores("api_tokens").await {
        let hash = "ab".repeat(32);
        assert!(store
            .create_api_token(&hash, "m.example.org", "deploy", "op@example.org", 10)
            .await
            .unwrap());
        // A live name is taken; another mirror may use it.
        assert!(!store
            .create_api_token(
                &"cd".repeat(32),
                "m.example.org",
                "deploy",
                "op@example.org",
                11
            )
            .await
            .unwrap());
        let used = store.use_api_token(&hash, 20).await.unwrap().unwrap();
        assert_eq!(
            (used.mirror.as_str(), used.name.as_str()),
            ("m.example.org", "deploy"),
            "{backend:?}"
        );
        assert_eq!(store.use_api_token("nope", 20).await.unwrap(), None);
        let listed = store.api_tokens("m.example.org").await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].last_used_at, Some(20));
        assert_eq!(listed[0].id, "ab".repeat(6));
        // Another mirror cannot revoke it, nor can a pattern.
        assert_eq!(
            store
                .revoke_api_token("x.example.org", &listed[0].id, 30)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .revoke_api_token("m.example.org", "%", 30)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .revoke_api_token("m.example.org", &listed[0].id, 30)
                .await
                .unwrap()
                .as_deref(),
            Some("deploy")
        );
        assert_eq!(store.use_api_token(&hash, 40).await.unwrap(), None);
        // The name is free again, and revoked tokens stay listed.
        assert!(store
            .create_api_token(
                &"ef".repeat(32),
                "m.example.org",
                "deploy",
                "op@example.org",
                50
            )
            .await
            .unwrap());
        assert_eq!(store.api_tokens("m.example.org").await.unwrap().len(), 2);
        assert_eq!(
            store
                .revoke_api_tokens_of("m.example.org", 60)
                .await
                .unwrap(),
            1
        );
    }
}

#[tokio::test]
async fn a_served_mirrors_missing_token_is_flagged_once_after_the_grace() {
    use crate::{Ownership, Registration, RegistrationState};
    for (backend, store) in test_stores("ownership").await {
        let r = Registration {
            name: "m.example.org".into(),
            contact: "op@example.org".into(),
            yaml: "name: m.example.org\n".into(),
            token: "t".into(),
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
        assert!(store.create_registration(&r).await.unwrap());
        assert!(store.served_registrations().await.unwrap().is_empty());
        store.record_proof(&r.name, "[]", true, 2).await.unwrap();
        let mirror = shared::registry::Mirror::new("m.example.org", "M");
        assert!(store
            .decide_registration(&r.name, Some(&mirror), "root", None, 3)
            .await
            .unwrap());
        assert_eq!(
            store.served_registrations().await.unwrap().len(),
            1,
            "{backend:?}"
        );
        let look = |found: bool, at: i64| {
            let store = store.clone();
            async move {
                store
                    .record_ownership("m.example.org", "[]", found, at, 100)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(look(true, 10).await, Ownership::Held);
        assert_eq!(look(false, 20).await, Ownership::Missing);
        assert_eq!(look(false, 119).await, Ownership::Missing);
        assert_eq!(look(false, 120).await, Ownership::Flagged);
        assert_eq!(look(false, 130).await, Ownership::StillFlagged);
        let stored = store.registration("m.example.org").await.unwrap().unwrap();
        assert_eq!(
            (stored.proof_missing_since, stored.ownership_flagged_at),
            (Some(20), Some(120))
        );
        assert_eq!(look(true, 140).await, Ownership::Restored);
        assert_eq!(
            look(false, 150).await,
            Ownership::Missing,
            "the grace starts again"
        );
        // A mirror the registry took over is no longer the control plane's to look at.
        sqlx::query("UPDATE mirrors SET managed_by = 'registry'")
            .execute(store.pool())
            .await
            .unwrap();
        assert!(store.served_registrations().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_mirror_changed_within_the_second_of_the_last_change_moves_the_change_mark() {
    for (backend, store) in test_stores("change_mark_second").await {
        let m = shared::registry::Mirror::new("m.example.org", "M");
        store.apply_registry(&[m], false).await.unwrap();
        let before = store.change_mark().await.unwrap();
        // The same second as the write before it: only a count can tell.
        let now = shared::time::now();
        store
            .set_enabled("m.example.org", false, now)
            .await
            .unwrap();
        store.set_enabled("m.example.org", true, now).await.unwrap();
        let between = store.change_mark().await.unwrap();
        store
            .set_enabled("m.example.org", false, now)
            .await
            .unwrap();
        let after = store.change_mark().await.unwrap();
        assert_ne!(before, between, "{backend:?}");
        assert_ne!(
            between, after,
            "{backend:?}: a disable within the same second went unseen"
        );
    }
}

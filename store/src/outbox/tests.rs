use crate::testing::test_stores;
use crate::OutboxMessage;

fn message(n: usize) -> OutboxMessage {
    OutboxMessage {
        mirror: "m.example.org".into(),
        kind: "down".into(),
        channel: "email".into(),
        recipient: format!("op{n}@example.org"),
        subject: format!("message {n}"),
        body: "https down".into(),
    }
}

#[tokio::test]
async fn each_message_is_claimed_by_one_checker_and_a_lapsed_lease_passes_it_on() {
    for (backend, store) in test_stores("outbox_lease").await {
        let now = 1_000_000;
        let messages: Vec<_> = (0..6).map(message).collect();
        store.enqueue(&messages, now).await.unwrap();
        // Two checkers racing: no message claimed twice between them.
        let (x, y) = tokio::join!(
            store.claim_outbox("x", now - 100, 60, 10),
            store.claim_outbox("y", now - 100, 60, 10)
        );
        assert!(
            x.unwrap().is_empty() && y.unwrap().is_empty(),
            "not due yet"
        );
        let (a, b) = tokio::join!(
            store.claim_outbox("a", now, 60, 3),
            store.claim_outbox("b", now, 60, 10)
        );
        let (a, mut b) = (a.unwrap(), b.unwrap());
        let mut ids: Vec<i64> = a.iter().chain(&b).map(|m| m.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(a.len() + b.len(), ids.len(), "{backend:?}: none twice");
        // Whatever the race left goes to b.
        b.extend(store.claim_outbox("b", now, 60, 10).await.unwrap());
        assert_eq!(a.len() + b.len(), 6, "every one claimed");
        assert!(!b.is_empty() || a.len() == 6);
        // a delivers its share; b is killed: its leases lapse and c takes them.
        for m in &a {
            assert!(store.outbox_delivered(m.id, "a", now + 1).await.unwrap());
        }
        assert!(store
            .claim_outbox("c", now + 30, 60, 10)
            .await
            .unwrap()
            .is_empty());
        let c = store.claim_outbox("c", now + 61, 60, 10).await.unwrap();
        assert_eq!(c.len(), b.len());
        // b comes back too late: its word no longer counts.
        if let Some(m) = b.first() {
            assert!(!store.outbox_delivered(m.id, "b", now + 62).await.unwrap());
        }
        // c fails one (retried later), gives up on another, delivers the rest.
        for (i, m) in c.iter().enumerate() {
            match i {
                0 => store
                    .outbox_failed(m.id, "c", now + 62, "relay refused", Some(now + 200))
                    .await
                    .unwrap(),
                1 => store
                    .outbox_failed(m.id, "c", now + 62, "no such address", None)
                    .await
                    .unwrap(),
                _ => assert!(store.outbox_delivered(m.id, "c", now + 62).await.unwrap()),
            }
        }
        let (waiting, _) = store.outbox_backlog().await.unwrap();
        assert_eq!(waiting, i64::from(!c.is_empty()));
        assert!(
            store
                .claim_outbox("d", now + 100, 60, 10)
                .await
                .unwrap()
                .is_empty(),
            "not due"
        );
        let again = store.claim_outbox("d", now + 200, 60, 10).await.unwrap();
        assert_eq!(again.len(), usize::from(!c.is_empty()));
        assert!(again.iter().all(|m| m.attempts == 1));
        let list = store.deliveries(Some("m.example.org"), 10).await.unwrap();
        assert_eq!(list.len(), 6);
        if c.len() > 1 {
            let gave_up = list.iter().find(|d| d.gave_up_at.is_some()).unwrap();
            assert_eq!(gave_up.last_error.as_deref(), Some("no such address"));
        }
    }
}

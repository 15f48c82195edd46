//! A served mirror's ownership token looked for at each sweep: held, then gone past the
//! grace (flagged once, mailed to the operator and the admins, audited), then back.

use super::registration::token_server;
use super::*;
use crate::control::ownership::{Looked, Recheck};
use store::{Registration, RegistrationState};

#[tokio::test]
async fn a_served_mirror_whose_token_goes_is_flagged_once_and_restored() {
    let server = token_server().await;
    for p in planes("control_ownership", "http://127.0.0.1:8081").await {
        let token = crate::control::secret::new_token();
        *server.token.lock().unwrap() = Some(token.clone());
        let r = Registration {
            name: "served.example.com".into(),
            contact: "op@example.org".into(),
            yaml: String::new(),
            token: token.clone(),
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
        let mut mirror = shared::registry::Mirror::new("served.example.com", "Served");
        mirror
            .urls
            .insert(shared::registry::Protocol::Http, server.base.clone());
        p.store
            .decide_registration(&r.name, Some(&mirror), "root@example.org", None, 3)
            .await
            .unwrap();
        let http = crate::http::HttpConfig {
            allow_internal: vec!["127.0.0.0/8".parse().unwrap()],
            ..Default::default()
        };
        let control = ControlConfig {
            mail_folder: p.mail.clone(),
            ..ControlConfig::default()
        };
        let look = || {
            let recheck = Recheck {
                store: p.store.clone(),
                client: crate::http::HttpClient::new(http.clone()).unwrap(),
                admins: vec!["root@example.org".into()],
                grace_secs: 0,
                public_url: "http://127.0.0.1:8081".into(),
            };
            std::sync::Arc::new(recheck).run()
        };
        assert_eq!(look().await.unwrap().held, 1);
        *server.token.lock().unwrap() = None;
        let flagged = look().await.unwrap();
        assert_eq!(flagged.flagged, ["served.example.com"]);
        // Told through the outbox, which a daemon delivers.
        let mailer = mail::Mailer::of(&control).unwrap();
        let now = shared::time::now();
        let ch = channels(&mailer);
        let sent = crate::delivery::deliver(&p.store, &ch, "test", (60, 120), now);
        assert_eq!(sent.await.unwrap().0, 2);
        let mail = p.mail(2).await;
        assert!(
            mail.iter().any(|m| m.contains("To: op@example.org")),
            "{mail:?}"
        );
        assert!(
            mail.iter().any(|m| m.contains("To: root@example.org")),
            "{mail:?}"
        );
        assert!(mail[0].contains("http: 404"), "{}", mail[0]);
        // Flagged once: the next sweep mails no one again.
        let again = look().await.unwrap();
        assert_eq!((again.missing, again.flagged.len()), (1, 0));
        assert_eq!(mail::list(&p.mail).unwrap().len(), 2);
        let stored = p.store.registration(&r.name).await.unwrap().unwrap();
        assert!(stored.ownership_flagged_at.is_some());
        // The operator and the API see the flag.
        let op = p.sign_in("op@example.org").await;
        let page = p.get("/registrations/served.example.com", &op).await;
        assert!(page.body.contains("no longer found"), "{}", page.body);
        let api = p.get("/api/v1/registrations/served.example.com", &op).await;
        assert!(
            api.body.contains("\"ownership_flagged_at\":"),
            "{}",
            api.body
        );
        *server.token.lock().unwrap() = Some(token);
        assert_eq!(
            look().await.unwrap(),
            Looked {
                restored: vec!["served.example.com".into()],
                ..Looked::default()
            }
        );
        let actions: Vec<String> = p
            .store
            .audit_log(Some("served.example.com"), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert!(actions.contains(&"ownership flagged".into()), "{actions:?}");
        assert!(
            actions.contains(&"ownership restored".into()),
            "{actions:?}"
        );
    }
}

use super::*;
use crate::http::HttpClient;
use crate::http::HttpConfig;
use shared::catalog::Catalog;
use shared::duration::Human;
use shared::registry::Mirror;
use shared::registry::Protocol;
use shared::testing::example;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A panic while checking a mirror, in its own task or in one of its workers, fails the
/// crawl with an error naming the mirror: never a mirror judged on part of its checks, never
/// the daemon brought down.
#[tokio::test]
async fn a_panicked_check_fails_the_crawl_at_either_level() {
    for point in ["mirror", "worker"] {
        let store = store::testing::sqlite_test_store("panicked-check").await;
        store
            .save_catalog(&Catalog::load(&example("catalog.toml")).unwrap())
            .await
            .unwrap();
        let name = format!("panics-in-{point}.example.org");
        let mirrors: Vec<Mirror> = [name.as_str(), "calm.example.org"]
            .into_iter()
            .map(|n| {
                let mut m = Mirror::new(n, "Test");
                // Nothing listens there: checks fail fast, which does not matter here.
                m.urls.insert(Protocol::Http, "http://127.0.0.1:9/".into());
                m
            })
            .collect();
        store.apply_registry(&mirrors, false).await.unwrap();
        mirror::PANIC_AT.lock().unwrap().push((name.clone(), point));
        let input = Arc::new(crate::crawl_io::load_input(&store).await.unwrap());
        let client = HttpClient::new(HttpConfig {
            connect_timeout: Human::millis(200),
            total_timeout: Human::millis(500),
            ..HttpConfig::default()
        })
        .unwrap();
        let config = CrawlConfig {
            retries: 0,
            probe_families: false,
            ..CrawlConfig::default()
        };
        let mut writer = store.begin_crawl().await.unwrap();
        let result = check_all(
            input,
            &client,
            &config,
            None,
            &CancellationToken::new(),
            shared::time::now(),
            &mut writer,
        )
        .await;
        match result {
            Err(crate::Error::Panicked { mirror, message }) => {
                assert_eq!(mirror, name, "{point}");
                assert!(message.contains("a panic the test asked for"), "{message}");
            }
            other => panic!("{point}: the crawl went on: {other:?}"),
        }
    }
}

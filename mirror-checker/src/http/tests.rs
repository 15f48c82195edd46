use super::*;

#[tokio::test]
async fn routes_pin_hosts_ports_and_families() {
    let v4: SocketAddr = "127.0.0.1:1080".parse().unwrap();
    let v6: SocketAddr = "[::1]:1080".parse().unwrap();
    let routes = Routes::new(&[
        ConnectTo {
            host: "m.example.org".into(),
            port: 80,
            addrs: vec![v4, v6],
        },
        ConnectTo {
            host: "*".into(),
            port: 443,
            addrs: vec![v4],
        },
    ]);
    assert_eq!(
        routes
            .resolve("M.example.org", 80, Family::Any)
            .await
            .unwrap(),
        vec![v4, v6]
    );
    assert_eq!(
        routes
            .resolve("m.example.org", 80, Family::V6)
            .await
            .unwrap(),
        vec![v6]
    );
    assert_eq!(
        routes
            .resolve("anything.example", 443, Family::V4)
            .await
            .unwrap(),
        vec![v4]
    );
    let err = routes
        .resolve("anything.example", 443, Family::V6)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        FetchError::Dns("anything.example has no ipv6 address".into())
    );
    assert_eq!(
        routes
            .resolve("127.0.0.2", 8080, Family::Any)
            .await
            .unwrap(),
        vec!["127.0.0.2:8080".parse().unwrap()]
    );
}

#[test]
fn unreadable_ca_files_are_refused_clearly() {
    let dir = std::env::temp_dir().join(format!("ca-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "no certificates here\n").unwrap();
    for (file, expected) in [
        (dir.join("absent.pem"), "absent.pem"),
        (empty, "holds no certificate"),
    ] {
        let config = HttpConfig {
            extra_ca_files: vec![file],
            ..HttpConfig::default()
        };
        let err = HttpClient::new(config).err().expect("refused").to_string();
        assert!(err.contains(expected), "{err}");
    }
}

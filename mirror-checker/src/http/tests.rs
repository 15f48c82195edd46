use super::*;

#[tokio::test]
async fn routes_pin_hosts_ports_and_families() {
    let v4: SocketAddr = "127.0.0.1:1080".parse().unwrap();
    let v6: SocketAddr = "[::1]:1080".parse().unwrap();
    let routes = StaticRoutes::new(&[
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

/// The User-Agent carries the page that says what the checker is (mirrors that block unknown
/// crawlers ask for one); a URL that is not one is refused at set-up.
#[tokio::test]
async fn the_user_agent_names_the_about_page() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0; 4096];
        let n = s.read(&mut buf).await.unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            .await
            .unwrap();
        String::from_utf8_lossy(&buf[..n]).to_string()
    });
    let client = HttpClient::new(HttpConfig {
        about_url: "https://mirrors.example.org/checker".into(),
        allow_internal: vec!["127.0.0.0/8".parse().unwrap()],
        ..HttpConfig::default()
    })
    .unwrap();
    let url = Url::parse(&format!("http://{addr}/TIME")).unwrap();
    let got = client
        .get(&url, Family::Any, &Validators::default())
        .await
        .unwrap();
    assert_eq!(got.status, 200);
    let request = server.await.unwrap().to_ascii_lowercase();
    let expected = format!(
        "user-agent: mirror-checker/{} (+https://mirrors.example.org/checker)\r\n",
        env!("CARGO_PKG_VERSION")
    );
    assert!(request.contains(&expected), "{request}");

    for bad in [
        "mirrors.example.org/checker",
        "ftp://x.example/",
        "https://",
    ] {
        let err = HttpClient::new(HttpConfig {
            about_url: bad.into(),
            ..HttpConfig::default()
        })
        .err()
        .unwrap_or_else(|| panic!("{bad} accepted"))
        .to_string();
        assert!(err.contains("about_url"), "{bad}: {err}");
    }
}

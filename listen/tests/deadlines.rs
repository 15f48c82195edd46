//! A listener served by `listen::http1::serve` under small limits, with raw TCP clients.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Serves a one-route app on a free port under `limits`; its address.
fn serve(limits: listen::Limits) -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
            listen::http1::serve(listener, app, limits, "test", std::future::pending()).await;
        });
    });
    rx.recv().unwrap()
}

/// How long until the peer closes `s` (at most `limit`; `None` past it).
fn closed_after(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    while started.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(started.elapsed()),
        }
    }
    None
}

const LIMITS: listen::Limits = listen::Limits {
    max_connections: 8,
    header_timeout: Duration::from_secs(1),
};

#[test]
fn silent_dripping_and_idle_connections_are_closed_at_the_header_deadline() {
    let addr = serve(LIMITS);
    let mut silent = TcpStream::connect(addr).unwrap();
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut drip = TcpStream::connect(addr).unwrap();
    drip.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    let dripper = {
        let mut drip = drip.try_clone().unwrap();
        std::thread::spawn(move || {
            for n in 0..10 {
                std::thread::sleep(Duration::from_millis(300));
                if drip.write_all(format!("X-{n}: y\r\n").as_bytes()).is_err() {
                    return;
                }
            }
        })
    };
    for (what, s) in [
        ("silent", &mut silent),
        ("idle", &mut idle),
        ("dripping", &mut drip),
    ] {
        let after = closed_after(s, Duration::from_secs(5));
        assert!(after.is_some(), "a {what} connection stayed open");
    }
    dripper.join().unwrap();
}

#[test]
fn past_the_cap_the_oldest_idle_make_room_and_a_request_is_answered() {
    let addr = serve(LIMITS);
    let mut held: Vec<TcpStream> = (0..40).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let mut client = TcpStream::connect(addr).unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    client.read_to_string(&mut answer).unwrap();
    assert!(answer.ends_with("hello"), "{answer}");
    let closed = held
        .iter_mut()
        .take(30)
        .filter_map(|s| closed_after(s, Duration::from_millis(200)))
        .count();
    assert_eq!(closed, 30, "the oldest were shed");
}

#[test]
fn a_burst_past_the_cap_is_closed_whole() {
    let addr = serve(listen::Limits {
        max_connections: 50,
        header_timeout: Duration::from_secs(1),
    });
    let mut held: Vec<TcpStream> = (0..700)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    let open = held
        .iter_mut()
        .filter(|s| closed_after(&mut s.try_clone().unwrap(), Duration::from_millis(10)).is_none())
        .count();
    std::thread::sleep(Duration::from_secs(3));
    let still = held
        .iter_mut()
        .filter(|s| closed_after(&mut s.try_clone().unwrap(), Duration::from_millis(10)).is_none())
        .count();
    assert_eq!(still, 0, "{open} open at first, {still} after 3 s");
}

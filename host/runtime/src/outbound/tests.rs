use super::*;

async fn go(
    grant: Option<&HttpGrant>,
    deadline: Option<Instant>,
    req: Request,
) -> Result<Response, HttpError> {
    fetch(grant, deadline, req).await.0
}

#[test]
fn targets_parse_and_match_urls() {
    let t = Target::parse("127.0.0.1:9100").unwrap();
    assert_eq!(t.to_string(), "127.0.0.1:9100");
    let v6 = Target::parse("[::1]:9100").unwrap();
    assert_eq!(v6.to_string(), "[::1]:9100");
    assert_eq!(
        Target::parse("Exporter.Example.com:443").unwrap().host,
        "exporter.example.com"
    );
    for bad in [
        "127.0.0.1",
        "http://127.0.0.1:9100",
        "host:0",
        "host:99999",
        ":9100",
        "::1:9100",
        "user@host:80",
    ] {
        assert!(Target::parse(bad).is_err(), "{bad} accepted");
    }
    let of = |u: &str| target_of(&u.parse().unwrap());
    assert_eq!(of("http://127.0.0.1:9100/metrics").unwrap(), t);
    assert_eq!(of("http://[::1]:9100/metrics").unwrap(), v6);
    assert_eq!(
        of("https://EXPORTER.example.com/x").unwrap(),
        Target::parse("exporter.example.com:443").unwrap()
    );
    assert_eq!(
        of("http://example.com/").unwrap(),
        Target::parse("example.com:80").unwrap()
    );
    assert!(of("ftp://example.com/").is_err());
    assert!(of("/metrics").is_err());
    assert!(of("http://user:pw@127.0.0.1:9100/").is_err());
}

#[test]
fn time_left_keeps_a_margin_before_the_deadline() {
    let wanted = Duration::from_secs(10);
    assert_eq!(time_left(None, wanted), wanted);
    let soon = Instant::now() + Duration::from_secs(1);
    let t = time_left(Some(soon), wanted);
    assert!(t <= Duration::from_millis(900), "{t:?}");
    assert!(t >= Duration::from_millis(500), "{t:?}");
    let past = Instant::now() - Duration::from_secs(1);
    assert!(time_left(Some(past), wanted).is_zero());
}

/// A loopback server answering each connection with `answer` (after reading the request
/// head) or, when `answer` is `None`, holding it open without a word. The request heads
/// come back through the receiver.
fn server(answer: Option<Vec<u8>>) -> (u16, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // `{PORT}` in the answer stands for the server's own port.
    let answer = answer.map(|a| {
        String::from_utf8(a)
            .unwrap()
            .replace("{PORT}", &port.to_string())
            .into_bytes()
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
            match &answer {
                Some(a) => {
                    let _ = conn.write_all(a);
                }
                None => std::thread::sleep(Duration::from_secs(5)),
            }
        }
    });
    (port, rx)
}

fn grant(port: u16, max_response: &str) -> HttpGrant {
    let sandbox = Sandbox {
        http: vec![format!("127.0.0.1:{port}")],
        http_max_response: Some(crate::config::ByteSize(
            crate::config::ByteSize::parse(max_response).unwrap(),
        )),
        ..Sandbox::default()
    };
    HttpGrant::from_sandbox(&sandbox).unwrap()
}

fn get(port: u16, timeout_ms: u32) -> Request {
    Request {
        method: "GET".into(),
        url: format!("http://127.0.0.1:{port}/metrics"),
        headers: vec![("accept".into(), "text/plain".into())],
        body: vec![],
        timeout_ms,
    }
}

#[tokio::test]
async fn an_allowed_target_answers_and_redirects_are_not_followed() {
    let (port, heads) = server(Some(
            b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{PORT}/next\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nmoved"
                .to_vec(),
        ));
    let r = go(Some(&grant(port, "1KiB")), None, get(port, 0))
        .await
        .unwrap();
    assert_eq!(r.status, 302);
    assert_eq!(r.body, b"moved");
    assert!(r.headers.contains(&("x-a".to_string(), "1".to_string())));
    let head = heads.recv().unwrap().to_ascii_lowercase();
    assert!(head.starts_with("get /metrics http/1.1\r\n"), "{head}");
    assert!(head.contains("accept: text/plain\r\n"), "{head}");
    assert!(head.contains("user-agent: sandkit/"), "{head}");
    // The Location points back at the same server: following it would show a second head.
    assert!(
        heads.recv_timeout(Duration::from_millis(300)).is_err(),
        "the redirect was followed"
    );
}

#[tokio::test]
async fn host_and_connection_headers_are_the_hosts() {
    let (port, heads) = server(Some(b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()));
    for name in ["Host", "transfer-encoding", "Connection", "content-length"] {
        let mut req = get(port, 0);
        req.headers.push((name.into(), "admin.internal".into()));
        match go(Some(&grant(port, "1KiB")), None, req).await {
            Err(HttpError::InvalidRequest(m)) => assert!(m.contains(name), "{m}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    assert!(heads.try_recv().is_err(), "a refused request was sent");
    let r = go(Some(&grant(port, "1KiB")), None, get(port, 0))
        .await
        .unwrap();
    assert_eq!(r.status, 204);
    let head = heads.recv().unwrap().to_ascii_lowercase();
    assert!(
        head.contains(&format!("host: 127.0.0.1:{port}\r\n")),
        "{head}"
    );
}

#[test]
fn spellings_of_an_allowed_target_match_and_others_do_not() {
    let sandbox = Sandbox {
        http: vec![
            "Exporter.Example.com.:443".into(),
            "[0:0::1]:9100".into(),
            "127.0.0.1:9100".into(),
        ],
        ..Sandbox::default()
    };
    let g = HttpGrant::from_sandbox(&sandbox).unwrap();
    let allowed = |u: &str| g.allows(&target_of(&u.parse().unwrap()).unwrap());
    assert!(allowed("https://exporter.example.com/metrics"));
    assert!(allowed("https://EXPORTER.example.com.:443/metrics"));
    assert!(allowed("http://[::1]:9100/metrics"));
    assert!(allowed("http://[0::1]:9100/"));
    assert!(allowed("http://127.0.0.1:9100/"));
    assert!(!allowed("http://127.0.0.1:9101/"));
    assert!(!allowed("http://127.0.0.2:9100/"));
    assert!(!allowed("http://exporter.example.com/metrics"), "port 80");
    assert!(!allowed("https://evil-exporter.example.com/"));
    assert!(!allowed("https://exporter.example.com.evil.net/"));
    assert!(
        !allowed("http://localhost:9100/"),
        "a name is not its address"
    );
    assert!(Target::parse(" 127.0.0.1:9100").is_err());
    assert!(Target::parse(".:80").is_err());
    assert_eq!(
        url_for_log("http://h:1/metrics?token=secret"),
        "http://h:1/metrics"
    );
    assert_eq!(url_for_log(&"a".repeat(300)).len(), 203);
}

#[tokio::test]
async fn a_large_body_a_slow_target_and_a_closed_port_are_errors() {
    let big = {
        let mut r = b"HTTP/1.1 200 OK\r\nContent-Length: 2048\r\n\r\n".to_vec();
        r.extend(std::iter::repeat_n(b'x', 2048));
        r
    };
    let (port, _h) = server(Some(big));
    match go(Some(&grant(port, "1KiB")), None, get(port, 0)).await {
        Err(HttpError::TooLarge(1024)) => {}
        other => panic!("{other:?}"),
    }
    // No Content-Length: the cap is applied while reading.
    let chunked = {
        let mut r = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
        r.extend(std::iter::repeat_n(b'x', 4096));
        r
    };
    let (port, _h) = server(Some(chunked));
    match go(Some(&grant(port, "1KiB")), None, get(port, 0)).await {
        Err(HttpError::TooLarge(1024)) => {}
        other => panic!("{other:?}"),
    }

    let (port, _h) = server(None);
    let start = Instant::now();
    match go(Some(&grant(port, "1KiB")), None, get(port, 200)).await {
        Err(HttpError::Timeout(m)) => assert!(m.contains("200ms"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(start.elapsed() < Duration::from_secs(2));
    // The call's deadline wins over a longer timeout, with a margin left to the plugin.
    let deadline = Instant::now() + Duration::from_millis(500);
    match go(Some(&grant(port, "1KiB")), Some(deadline), get(port, 0)).await {
        Err(HttpError::Timeout(_)) => {}
        other => panic!("{other:?}"),
    }
    assert!(Instant::now() < deadline, "returned after the deadline");

    let closed = closed_port();
    match go(Some(&grant(closed, "1KiB")), None, get(closed, 0)).await {
        Err(HttpError::Failed(m)) => assert!(m.to_lowercase().contains("refused"), "{m}"),
        other => panic!("{other:?}"),
    }
    let mut bad = get(port, 0);
    bad.headers.push(("bad header".into(), "x".into()));
    match go(Some(&grant(port, "1KiB")), None, bad).await {
        Err(HttpError::InvalidRequest(m)) => assert!(m.contains("bad header"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// A server that closes a kept-alive connection when the next request arrives on it, as a
/// server closing an idle connection does when the request crosses its close. The heads of
/// every request come back through the receiver, and each answer is `ok`.
fn closing_server() -> (u16, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            for answered in [true, false] {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                if head.is_empty() {
                    break;
                }
                let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
                if answered {
                    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                }
            }
        }
    });
    (port, rx)
}

#[tokio::test]
async fn a_get_on_a_connection_the_server_closed_is_sent_again_once() {
    let (port, heads) = closing_server();
    let grant = grant(port, "1KiB");
    let r = go(Some(&grant), None, get(port, 0)).await.unwrap();
    assert_eq!(r.body, b"ok");
    // The pooled connection is taken again and closed under the second request: it goes
    // out once more on a new connection, and the plugin sees only the answer.
    let (r, sent) = fetch(Some(&grant), None, get(port, 0)).await;
    assert_eq!(r.unwrap().body, b"ok");
    assert_eq!(sent, 2, "the request went out twice and counts twice");
    let seen: Vec<String> = heads.try_iter().collect();
    assert_eq!(seen.len(), 3, "{seen:?}");

    // A POST is not sent twice: the plugin gets the error and decides.
    let (port, heads) = closing_server();
    let grant = super::tests::grant(port, "1KiB");
    let mut post = get(port, 0);
    post.method = "POST".into();
    post.body = b"a=1".to_vec();
    let r = go(Some(&grant), None, post.clone()).await.unwrap();
    assert_eq!(r.body, b"ok");
    match go(Some(&grant), None, post).await {
        Err(HttpError::Failed(m)) => {
            assert!(m.contains("closed") || m.contains("reset"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(heads.try_iter().count(), 2, "the POST was sent again");
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_target_off_the_list_is_refused_without_a_connection() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let sandbox = Sandbox {
        http: vec!["127.0.0.1:1".into()],
        ..Sandbox::default()
    };
    let grant = HttpGrant::from_sandbox(&sandbox).unwrap();
    let req = |url: String| Request {
        method: "GET".into(),
        url,
        headers: vec![],
        body: vec![],
        timeout_ms: 0,
    };
    let url = format!("http://127.0.0.1:{port}/metrics");
    match go(Some(&grant), None, req(url.clone())).await {
        Err(HttpError::Refused(m)) => assert!(m.contains(&format!("127.0.0.1:{port}")), "{m}"),
        other => panic!("{other:?}"),
    }
    match go(None, None, req(url)).await {
        Err(HttpError::Refused(m)) => assert!(m.contains("no [sandbox] http"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(
        listener.accept().is_err(),
        "a refused request must not connect"
    );
    assert!(HttpGrant::from_sandbox(&Sandbox::default()).is_none());
}

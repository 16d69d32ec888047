//! TLS and proxies, as a user meets them: a target on 127.0.0.1 behind TLS whose CA the test
//! makes (rcgen), reached by `contract` and `load` without and with `--ca-cert`; and a forward
//! proxy on 127.0.0.1 that the environment names, counting what goes through it.
//!
//! Every run is a subprocess (the trust and the proxy variables are the process's), with the
//! proxy variables of the test's own environment removed.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::util::{
    TempDir, seeded_registration_ids, server_runtime, start_default_simulator, wait_within,
};

const PROXY_VARIABLES: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// A CA, and a server configuration whose certificate (for 127.0.0.1) it signed.
fn private_ca() -> (String, Arc<ServerConfig>) {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "pushcheck test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA");
    let server_key = rcgen::KeyPair::generate().expect("server key");
    let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("server params")
        .signed_by(&server_key, &ca)
        .expect("server certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let config = ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(vec![server.der().clone()], key)
    .expect("server config");
    (ca.pem(), Arc::new(config))
}

/// TLS on 127.0.0.1 (a free port) in front of `upstream`: each connection's handshake, then
/// its bytes both ways.
async fn tls_front(upstream: SocketAddr, config: Arc<ServerConfig>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                if let Ok(mut plain) = TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    });
    addr
}

/// What went through the proxy.
#[derive(Default)]
struct ProxyLog {
    requests: AtomicUsize,
    first_line: Mutex<Option<String>>,
}

/// A plain-HTTP forward proxy on 127.0.0.1 (a free port) to `upstream`: requests come in
/// absolute form (`GET http://127.0.0.1:PORT/… HTTP/1.1`), which the simulator takes as they
/// are; each request line is counted, the first one kept.
async fn forward_proxy(upstream: SocketAddr) -> (SocketAddr, Arc<ProxyLog>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let log = Arc::new(ProxyLog::default());
    let counted = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let log = Arc::clone(&counted);
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let back = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                });
                let mut buf = vec![0u8; 16 * 1024];
                let mut tail: Vec<u8> = Vec::new();
                while let Ok(n) = client_read.read(&mut buf).await {
                    if n == 0 || server_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    let mut seen = std::mem::take(&mut tail);
                    seen.extend_from_slice(&buf[..n]);
                    count_request_lines(&seen, &log);
                    tail = seen[seen.len().saturating_sub(MARK.len() - 1)..].to_vec();
                }
                back.abort();
            });
        }
    });
    (addr, log)
}

/// The end of a request line in absolute form.
const MARK: &[u8] = b" HTTP/1.1\r\n";

fn count_request_lines(seen: &[u8], log: &ProxyLog) {
    for end in 0..seen.len().saturating_sub(MARK.len() - 1) {
        if seen[end..].starts_with(MARK) {
            log.requests.fetch_add(1, Ordering::SeqCst);
            let mut first = log.first_line.lock().expect("lock");
            if first.is_none() {
                let start = seen[..end]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                *first = Some(String::from_utf8_lossy(&seen[start..end]).into_owned());
            }
        }
    }
}

/// `pushcheck ARGS` with `env` set and the test's own proxy variables removed.
fn pushcheck(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pushcheck"));
    command.args(args);
    for name in PROXY_VARIABLES {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn pushcheck");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || crate::util::read_all(stdout));
    let err = std::thread::spawn(move || crate::util::read_all(stderr));
    let code = wait_within(&mut child, std::time::Duration::from_secs(120));
    (
        code,
        out.join().expect("stdout reader"),
        err.join().expect("stderr reader"),
    )
}

#[test]
fn a_private_ca_is_named_as_untrusted_then_trusted_with_ca_cert() {
    let dir = TempDir::new("tls");
    let (ca_pem, server_config) = private_ca();
    let ca_file = dir.write("ca.pem", &ca_pem);
    let runtime = server_runtime();
    let (sim, target, id, app_code) = runtime.block_on(async {
        let sim = start_default_simulator(20).await;
        let front = tls_front(sim.addr(), server_config).await;
        let id = seeded_registration_ids(sim.base_url(), 1).await.remove(0);
        let app_code = sim.facts().applications[0].app_code.clone();
        (sim, format!("https://{front}"), id, app_code)
    });
    let contract = |extra: &[&str]| {
        let mut args = vec![
            "contract",
            "--target",
            &target,
            "--api-key",
            "pushcheck-local-key",
            "--app-code",
            &app_code,
            "--registration-id",
            &id,
            "--filter",
            "get.existing",
        ];
        args.extend_from_slice(extra);
        pushcheck(&args, &[])
    };
    let untrusted = format!(
        "target {target}: its TLS certificate is not trusted (UnknownIssuer); give its CA with --ca-cert FILE"
    );

    let (code, out, err) = contract(&[]);
    assert_eq!(code, Some(2), "{out}\n{err}");
    assert!(err.contains(&untrusted), "{err}");
    assert!(!err.contains("unreachable"), "{err}");

    let (code, out, err) = contract(&["--ca-cert", &ca_file]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("PASSED"), "{out}");

    let reports = dir.path().join("reports");
    let reports = reports.to_str().expect("utf-8");
    let load = |extra: &[&str]| {
        let mut args = vec![
            "load",
            "--scenario",
            "smoke",
            "--run-time",
            "1s",
            "--target",
            &target,
            "--report-dir",
            reports,
        ];
        args.extend_from_slice(extra);
        pushcheck(&args, &[])
    };
    let (code, out, err) = load(&[]);
    assert_eq!(code, Some(2), "{out}\n{err}");
    assert!(err.contains(&untrusted), "{err}");

    let (code, out, err) = load(&["--ca-cert", &ca_file]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("PASSED"), "{out}");

    runtime.block_on(async { sim.shutdown().await.expect("shutdown") });
}

#[test]
fn a_ca_file_that_is_not_pem_is_a_usage_error_naming_it() {
    let dir = TempDir::new("tls-bad-ca");
    let bad = dir.write("not-a-ca.txt", "hello");
    for command in ["contract", "load", "check"] {
        let (code, out, err) = pushcheck(
            &[
                command,
                "--target",
                "https://127.0.0.1:9",
                "--ca-cert",
                &bad,
            ],
            &[],
        );
        assert_eq!(code, Some(2), "{command}: {out}\n{err}");
        assert!(err.contains("not-a-ca.txt"), "{command}: {err}");
    }
    let (code, _, err) = pushcheck(
        &["contract", "--target", "https://127.0.0.1:9"],
        &[("PUSHCHECK_CA_CERT", "/nonexistent/ca.pem")],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
}

#[test]
fn http_proxy_carries_a_target_and_no_proxy_keeps_it_direct() {
    let runtime = server_runtime();
    let (sim, (proxy, log), id, app_code) = runtime.block_on(async {
        let sim = start_default_simulator(20).await;
        let proxy = forward_proxy(sim.addr()).await;
        let id = seeded_registration_ids(sim.base_url(), 1).await.remove(0);
        let app_code = sim.facts().applications[0].app_code.clone();
        (sim, proxy, id, app_code)
    });
    let proxy_url = format!("http://{proxy}");
    let contract = |env: &[(&str, &str)]| {
        pushcheck(
            &[
                "contract",
                "--target",
                sim.base_url(),
                "--api-key",
                "pushcheck-local-key",
                "--app-code",
                &app_code,
                "--registration-id",
                &id,
                "--filter",
                "get.existing",
            ],
            env,
        )
    };

    let (code, out, err) = contract(&[("HTTP_PROXY", &proxy_url)]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let through = log.requests.load(Ordering::SeqCst);
    assert!(through >= 2, "{through} requests through the proxy");
    let first = log
        .first_line
        .lock()
        .expect("lock")
        .clone()
        .unwrap_or_default();
    assert!(
        first.contains(&format!("{}/people/", sim.base_url())),
        "absolute form expected: {first}"
    );

    let (code, out, err) = contract(&[("HTTP_PROXY", &proxy_url), ("NO_PROXY", "127.0.0.1")]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert_eq!(log.requests.load(Ordering::SeqCst), through, "NO_PROXY");

    let (code, out, err) = pushcheck(
        &[
            "load",
            "--scenario",
            "smoke",
            "--run-time",
            "1s",
            "--target",
            sim.base_url(),
        ],
        &[("HTTP_PROXY", &proxy_url)],
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        log.requests.load(Ordering::SeqCst) > through + 10,
        "the load went through the proxy"
    );

    runtime.block_on(async { sim.shutdown().await.expect("shutdown") });
}

#[test]
fn the_embedded_simulator_is_reached_directly_whatever_the_proxy() {
    // A proxy nobody answers at: the embedded simulator's run passes all the same.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let proxy = format!("http://{closed}");
    let dir = TempDir::new("tls-embedded");
    let reports = dir.path().to_str().expect("utf-8").to_owned();
    let (code, out, err) = pushcheck(
        &[
            "load",
            "--scenario",
            "smoke",
            "--run-time",
            "1s",
            "--report-dir",
            &reports,
        ],
        &[("HTTP_PROXY", &proxy), ("HTTPS_PROXY", &proxy)],
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    let (code, out, err) = pushcheck(
        &["contract", "--filter", "get.existing"],
        &[("HTTP_PROXY", &proxy), ("ALL_PROXY", &proxy)],
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
}

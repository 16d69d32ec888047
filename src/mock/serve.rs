//! The simulator's accept loop: hyper's HTTP/1 server with a header read timeout, so a client
//! that sends its request head slowly (or not at all, or idles between requests) is dropped
//! instead of holding a connection forever (choice `request.read_timeouts`).
//!
//! `axum::serve` sets no timer, so hyper's header timeout never fires there; this loop is the
//! same thing with the timer set. The body read timeout lives with the body reading in `body`.
//! This module must not know the API: it serves whatever router it is given.

use std::io;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// How long to back off after a failed accept (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// Serves `app` on `listener` until `stop` fires (or its sender is dropped), then waits for the
/// open connections to finish their current request.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    stop: oneshot::Receiver<()>,
) -> io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut stop => break,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(_) => {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        // axum's router serves hyper's request bodies as they are.
        let service = TowerToHyperService::new(app.clone());
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .serve_connection(TokioIo::new(tcp), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A connection that breaks or times out concerns only its client.
            let _ = connection.await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

//! Benchmark baseline: the smallest axum server that answers the API's GET path with the doc's
//! GET payload (`tests/fixtures/docs/get-response.json`, compacted), no state, no checks.
//!
//! `bench/mock.sh` runs it next to `pushcheck mock` under wrk, so the simulator's throughput is
//! reported as a ratio of what axum itself can do on the same machine. Same runtime settings as
//! the simulator (multi-threaded tokio, TCP_NODELAY), so the ratio measures the simulator's work.
//!
//! Usage: `cargo run --release --example minimal_axum -- [127.0.0.1:PORT]` (default port 0);
//! prints `listening on http://ADDR` and serves until killed.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use pushcheck::api::{Operation, docs};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned())
        .parse()?;
    let example = docs::example("get-response")
        .ok_or_else(|| anyhow::anyhow!("the doc's GET example is missing"))?;
    let payload: serde_json::Value = serde_json::from_str(example.json)?;
    let payload = Bytes::from(serde_json::to_vec(&payload)?);
    let app = Router::new().route(
        &Operation::Get.path_template(),
        get(move || {
            let payload = payload.clone();
            async move { ([(CONTENT_TYPE, "application/json")], payload) }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}

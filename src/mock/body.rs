//! Reading a request body off the connection, at the HTTP edge: the size limit (choice
//! `request.body_limit_413`, over-limit bodies drained so the client sees the answer), the read
//! timeout (choice `request.read_timeouts`), a body that breaks off. What the bytes mean is the
//! rules' business (`validate`).
//!
//! This module must not panic on any input and must not know the API.

use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_LENGTH;

use super::response::Refusal;

/// An over-limit body up to this size is read and discarded before the 413 goes out, so the
/// client, still sending, sees the answer instead of a reset connection.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;
/// Longest time spent draining an over-limit body.
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// What a request may cost: body size and the time to send it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub body: usize,
    pub body_read_timeout: Duration,
}

/// A declared `Content-Length` over the limit: 413, before anything else about the body.
pub(super) async fn refuse_declared(
    limits: Limits,
    headers: &HeaderMap,
    body: Body,
) -> Result<Body, Refusal> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limits.body as u64 => {
            if n <= DRAIN_LIMIT as u64 {
                drain(body).await;
            }
            Err(Refusal::TooLarge { limit: limits.body })
        }
        _ => Ok(body),
    }
}

/// The whole body within the limits: 413 over the size, 408 over the time, 400 broken off.
pub(super) async fn read(limits: Limits, body: Body) -> Result<Bytes, Refusal> {
    let timeout = limits.body_read_timeout;
    match tokio::time::timeout(timeout, read_limited(body, limits.body)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(BodyError::TooLarge(rest))) => {
            drain(rest).await;
            Err(Refusal::TooLarge { limit: limits.body })
        }
        Ok(Err(BodyError::Broken)) => {
            Err(Refusal::bad_request("The request body could not be read"))
        }
        Err(_) => Err(Refusal::TooSlow { timeout }),
    }
}

enum BodyError {
    /// Over the limit; the rest of the body, unread.
    TooLarge(Body),
    Broken,
}

/// Collects a body, stopping as soon as it exceeds `limit` bytes.
async fn read_limited(mut body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let mut buffer: Vec<u8> = Vec::new();
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            None => return Ok(Bytes::from(buffer)),
            Some(Err(_)) => return Err(BodyError::Broken),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if buffer.len() + data.len() > limit {
                        return Err(BodyError::TooLarge(body));
                    }
                    buffer.extend_from_slice(&data);
                }
            }
        }
    }
}

/// Reads and discards up to [`DRAIN_LIMIT`] bytes of `body`, for at most [`DRAIN_TIME`].
async fn drain(mut body: Body) {
    let discard = async {
        let mut seen = 0usize;
        while seen <= DRAIN_LIMIT {
            let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
            match frame {
                Some(Ok(frame)) => seen += frame.data_ref().map_or(0, |d| d.len()),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, discard).await;
}

//! The accept loop of [`crate::Emulator::spawn`]'s server: hyper serves each connection directly,
//! so that [`crate::Fault::CloseConnection`] can drop a socket unanswered.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::faults::CloseHandle;

/// The accept loop. Each connection is served by hyper directly (rather than through
/// `axum::serve`) so that [`crate::Fault::CloseConnection`] can drop its socket unanswered.
pub(crate) async fn serve(listener: TcpListener, router: Router) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // E.g. out of file descriptors: wait a little rather than spin.
                eprintln!("provider emulator: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let router = router.clone();
        tokio::spawn(async move {
            let close = Arc::new(Notify::new());
            let handle = CloseHandle(close.clone());
            let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(handle.clone());
                tower::ServiceExt::oneshot(router.clone(), req)
            });
            let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                // Errors here are the client's (reset, bad request): nothing to do.
                _ = connection => {}
                // Dropping the connection closes the socket without an answer.
                _ = close.notified() => {}
            }
        });
    }
}

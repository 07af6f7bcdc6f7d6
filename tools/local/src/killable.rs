//! A loopback HTTP server that can be taken away at once, as a region's outage takes its
//! endpoints: [`KillableServer::kill`] stops accepting (later connections are refused) and drops
//! every open connection (requests in flight get a broken connection, no answer). The MRSC proxy's
//! region ports ([`crate::mrsc_proxy`]) and the tests' region gateways use it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

pub struct KillableServer {
    addr: SocketAddr,
    accept: JoinHandle<()>,
    connections: Arc<Mutex<JoinSet<()>>>,
    /// Set by [`KillableServer::kill`]: a connection the accept loop takes before its abort
    /// lands is closed at once.
    killed: Arc<AtomicBool>,
}

impl KillableServer {
    /// Serves `router` (HTTP/1.1, each request with its peer's `ConnectInfo<SocketAddr>`) on a
    /// free loopback port.
    pub async fn start(router: Router) -> std::io::Result<KillableServer> {
        KillableServer::start_on(TcpListener::bind("127.0.0.1:0").await?, router)
    }

    /// [`KillableServer::start`] on a listener bound already (a chosen port: `local-stack
    /// --regions`).
    pub fn start_on(listener: TcpListener, router: Router) -> std::io::Result<KillableServer> {
        let addr = listener.local_addr()?;
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        let open = connections.clone();
        let killed = Arc::new(AtomicBool::new(false));
        let dead = killed.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else { continue };
                if dead.load(Ordering::SeqCst) {
                    return;
                }
                let service = TowerToHyperService::new(router.clone().layer(axum::Extension(ConnectInfo(peer))));
                let mut set = lock(&open);
                // Reap the connections that ended, so the set holds only the open ones.
                while set.try_join_next().is_some() {}
                set.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(KillableServer { addr, accept, connections, killed })
    }

    /// `http://127.0.0.1:{port}`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops listening (the port refuses connections from now on) and drops every open
    /// connection, with whatever request it was serving.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.accept.abort();
        lock(&self.connections).abort_all();
    }
}

impl Drop for KillableServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

//! The HTTP server: the loop of `axum::serve`, plus a deadline for each request's headers.
//!
//! hyper closes a connection whose request headers have not all arrived within
//! `header_read_timeout` (a connection kept alive counts from when it went idle), but only when
//! it is given a timer, and `axum::serve` gives it none. So a connection that sent half a
//! request line stayed open for as long as its client liked: 3,000 of them took the server from
//! 27 to 104 MiB and 3,019 file descriptors (measured, docs/performance.md). At the process's
//! limit of descriptors (20,000 here) nobody else could connect, and the pool could not open a
//! connection to PostgreSQL.
//!
//! The rest is as in `axum::serve`: `axum::serve::Listener` accepts (and sleeps a second on an
//! error such as running out of descriptors), the client's address reaches the handlers as
//! `ConnectInfo<SocketAddr>`, and on shutdown every connection finishes its request in progress
//! and closes.

use std::{future::Future, time::Duration};

use axum::{
    body::Body,
    extract::{ConnectInfo, Request},
    serve::Listener,
    Router,
};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto::Builder,
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::watch};
use tower::ServiceExt;

/// How long a client has for a request's headers, and an idle connection for its next request.
/// Browsers open a new connection when they find one closed, at the cost of one round trip.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(15);

/// Serves `app` on `listener` until `shutdown` completes, then until every connection has
/// finished its request in progress.
pub async fn serve(
    mut listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    // Each connection holds a clone of `stop` and of `closed_rx`: dropping `stop_rx` tells them to
    // finish, and `closed_tx.closed()` is when the last of them has.
    let (stop, stop_rx) = watch::channel(());
    let (closed_tx, closed_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, client) = tokio::select! {
            accepted = Listener::accept(&mut listener) => accepted,
            () = &mut shutdown => break,
        };
        let service = app
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(client));
                request.map(Body::new)
            });
        let (stop, closed_rx) = (stop.clone(), closed_rx.clone());
        tokio::spawn(async move {
            let mut builder = Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let connection = builder.serve_connection_with_upgrades(
                TokioIo::new(io),
                TowerToHyperService::new(service),
            );
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stop.closed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(closed_rx);
        });
    }
    drop((listener, stop_rx, closed_rx));
    closed_tx.closed().await;
}

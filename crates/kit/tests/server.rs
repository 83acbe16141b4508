//! Graceful shutdown: a request in flight when shutdown is requested still
//! completes, background workers are told to stop, and the service ends Ok.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::routing::get;
use jobtracker_kit::server::ServiceApp;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn in_flight_requests_finish_and_workers_stop_on_shutdown() {
    let routes = axum::Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            "done"
        }),
    );
    let worker_stopped = Arc::new(AtomicBool::new(false));
    let flag = worker_stopped.clone();
    let app = ServiceApp::bind("test", "127.0.0.1:0".parse().unwrap(), routes).await.unwrap().with_worker(
        "worker",
        move |token: CancellationToken| async move {
            token.cancelled().await;
            flag.store(true, Ordering::SeqCst);
            Ok(())
        },
    );
    let url = format!("http://{}/slow", app.local_addr());
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));

    let request = tokio::spawn(async move { reqwest::get(url).await.unwrap().text().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(100)).await;
    shutdown.cancel();

    assert_eq!(request.await.unwrap(), "done", "the in-flight request completes");
    server.await.unwrap().expect("the service stops cleanly");
    assert!(worker_stopped.load(Ordering::SeqCst), "workers were told to stop");
}

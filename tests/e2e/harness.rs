//! The `Stack` harness itself: kill / restart, the supervisor, the embedded Postgres.

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use cinema_tests::{DatabaseChoice, Service, Stack, StackOptions, poll_until, postgres};

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_service_serves_again_after_restart() -> Result<()> {
    let stack = Stack::start(StackOptions { gateway: false, ..StackOptions::for_tests() }).await?;

    stack.kill(Service::Seats)?;
    ensure!(!stack.is_running(Service::Seats), "seats survived kill -9");
    ensure!(
        !cinema_tests::stack::check_serving(&stack.grpc_url(Service::Seats)).await,
        "something still serves on the seats port"
    );

    stack.restart(Service::Seats).await?;
    ensure!(stack.is_running(Service::Seats));
    stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_supervisor_restarts_a_crashed_service() -> Result<()> {
    let stack = Stack::start(StackOptions { gateway: false, supervise: true, ..StackOptions::for_tests() }).await?;
    // A crash the stack did not cause: kill the process behind its back.
    let pid = stack.pid(Service::Payment).context("payment has no pid")?;
    let killed = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status()?;
    ensure!(killed.success());
    poll_until("the supervisor to restart payment", Duration::from_secs(20), Duration::from_millis(100), || async {
        Ok((stack.restarts(Service::Payment) == 1).then_some(()))
    })
    .await?;
    stack.wait_healthy(Service::Payment).await?;
    ensure!(stack.pid(Service::Payment) != Some(pid), "same process as before");
    stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_embedded_postgres_serves_the_stack() -> Result<()> {
    let stack = Stack::start(StackOptions {
        database: DatabaseChoice::Embedded { port: None },
        gateway: false,
        ..StackOptions::for_tests()
    })
    .await?;
    ensure!(
        stack.database_server_url() != "postgres://postgres@127.0.0.1:5432",
        "not an own server: {}",
        stack.database_server_url()
    );
    postgres::wait_ready(stack.database_server_url(), Duration::from_secs(5)).await?;
    stack.shutdown().await
}

use cinema_loyalty::{App, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = cinema_mesh::config::load(Config::default())?;
    let _telemetry = cinema_mesh::telemetry::init(&config.base, "loyalty")?;
    let app = App::build(config).await?;
    app.run_until_stopped(cinema_mesh::server::shutdown_on_signal()).await
}

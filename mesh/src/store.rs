//! Postgres: one database per service, reached through a deadpool of
//! diesel-async connections. [`connect`] creates the database when missing and
//! runs the mesh's migrations (outbox, inbox) and then the service's own.

use anyhow::Context;
use diesel::sql_types::Text;
use diesel_async::pooled_connection::deadpool::{Object, Pool as Deadpool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub type Pool = Deadpool<AsyncPgConnection>;
pub type Conn = Object<AsyncPgConnection>;

const MESH_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Postgres ends a session left idle inside a transaction this long. A process frozen
/// mid-transaction (SIGSTOP, a VM paused, a partition) would otherwise keep its row locks
/// for good: the saga it leases could never be taken over by another replica (claims
/// skip locked rows), and the seats it locked could not be sold.
pub const IDLE_IN_TRANSACTION_TIMEOUT: &str = "5s";

/// A pool on the service's database, created and migrated.
pub async fn connect(database_url: &str, migrations: EmbeddedMigrations) -> anyhow::Result<Pool> {
    create_database_if_missing(database_url).await?;
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(|url| {
        let url = url.to_owned();
        Box::pin(async move {
            let mut conn = AsyncPgConnection::establish(&url).await?;
            diesel::sql_query(format!("SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION_TIMEOUT}'"))
                .execute(&mut conn)
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        })
    });
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    let pool = Pool::builder(manager)
        .max_size(16)
        .wait_timeout(Some(std::time::Duration::from_secs(5)))
        .runtime(deadpool_runtime())
        .build()
        .context("build the connection pool")?;
    let conn = pool.get().await.context("connect to the service database")?;
    // The harness blocks (block_in_place): keep it off the async workers.
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut harness = AsyncMigrationHarness::new(conn);
        harness.run_pending_migrations(MESH_MIGRATIONS).map_err(|e| anyhow::anyhow!("run mesh migrations: {e}"))?;
        harness.run_pending_migrations(migrations).map_err(|e| anyhow::anyhow!("run service migrations: {e}"))?;
        Ok(())
    })
    .await
    .context("migration task")??;
    Ok(pool)
}

fn deadpool_runtime() -> deadpool::Runtime {
    deadpool::Runtime::Tokio1
}

/// A connection from the pool; the error says what failed.
pub async fn get(pool: &Pool) -> anyhow::Result<Conn> {
    pool.get().await.context("get a database connection")
}

/// Is the database reachable right now? (readiness)
pub async fn ping(pool: &Pool) -> bool {
    match pool.get().await {
        Ok(mut conn) => diesel::sql_query("SELECT 1").execute(&mut conn).await.is_ok(),
        Err(_) => false,
    }
}

/// Splits `postgres://user@host:port/name?opts` into the server URL on the
/// `postgres` maintenance database and the database name.
pub fn split_database_url(url: &str) -> anyhow::Result<(String, String)> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let slash = base
        .rfind('/')
        .filter(|&i| i > "postgres://".len())
        .with_context(|| format!("database URL {url:?} names no database"))?;
    let name = &base[slash + 1..];
    anyhow::ensure!(
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "database name {name:?} must be letters, digits and underscores"
    );
    let mut server = format!("{}/postgres", &base[..slash]);
    if let Some(query) = query {
        server = format!("{server}?{query}");
    }
    Ok((server, name.to_owned()))
}

async fn create_database_if_missing(url: &str) -> anyhow::Result<()> {
    let (server, name) = split_database_url(url)?;
    let mut conn =
        AsyncPgConnection::establish(&server).await.with_context(|| format!("connect to Postgres at {server}"))?;
    #[derive(diesel::QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let found: Exists = diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
        .bind::<Text, _>(&name)
        .get_result(&mut conn)
        .await
        .context("look the database up")?;
    if found.exists {
        return Ok(());
    }
    // The name was checked to be [A-Za-z0-9_]; identifiers cannot be bound.
    match diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut conn).await {
        Ok(_) => Ok(()),
        // Another replica created it first.
        Err(diesel::result::Error::DatabaseError(_, info)) if info.message().contains("already exists") => Ok(()),
        Err(e) => Err(e).context("create the database"),
    }
}

#[cfg(test)]
mod tests {
    use super::split_database_url;

    #[test]
    fn splits_server_and_name() {
        let (server, name) =
            split_database_url("postgres://postgres@127.0.0.1:5432/cinema_seats?sslmode=disable").unwrap();
        assert_eq!(server, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable");
        assert_eq!(name, "cinema_seats");
    }

    #[test]
    fn refuses_odd_names() {
        assert!(split_database_url("postgres://h/x;drop").is_err());
        assert!(split_database_url("postgres://host").is_err());
    }
}

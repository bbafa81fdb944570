//! Postgres: one database per service, reached through a deadpool of
//! diesel-async connections. [`connect`] creates the database when missing and
//! runs the mesh's migrations (outbox, inbox) and then the service's own.
//! [`is_unavailable`] tells a database out of reach from every other failure.
//! [`Prepare::prepared`] keeps a raw SQL statement prepared on its connection.

use anyhow::Context;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Text;
use diesel_async::pooled_connection::deadpool::{Object, Pool as Deadpool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
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
    let pool = Pool::builder(manager(database_url))
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

/// How the pool makes and checks out connections.
fn manager(database_url: &str) -> AsyncDieselConnectionManager<AsyncPgConnection> {
    let mut config = ManagerConfig::default();
    // A checkout costs no round trip: a connection the server closed (a restart,
    // `pg_terminate_backend`) is already known closed and dropped, and a connection that
    // fails anyway fails its query with an error `is_unavailable` recognises, which
    // callers answer UNAVAILABLE and retry. (`Verified` sent a `SELECT 1` before every
    // transaction.)
    config.recycling_method = RecyclingMethod::Fast;
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
    AsyncDieselConnectionManager::new_with_config(database_url, config)
}

fn deadpool_runtime() -> deadpool::Runtime {
    deadpool::Runtime::Tokio1
}

/// A connection from the pool; the error says what failed.
pub async fn get(pool: &Pool) -> anyhow::Result<Conn> {
    pool.get().await.context("get a database connection")
}

/// A raw SQL statement that its connection prepares once and then reuses, parsed and
/// planned once instead of on every call, and sent in one round trip instead of two
/// (diesel prepares an uncached statement in a round trip of its own before running
/// it). diesel never caches [`diesel::sql_query`] itself: it cannot know that the text
/// is fixed. Only for a text that is: the cache is keyed by it and never evicts, so a
/// text built from data (an `IN` list of varying length) would grow it without end.
pub trait Prepare: Sized {
    fn prepared(self) -> Prepared<Self> {
        Prepared(self)
    }
}

impl<T: QueryFragment<Pg>> Prepare for T {}

/// See [`Prepare::prepared`].
#[derive(Debug, Clone, Copy)]
pub struct Prepared<Q>(Q);

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> diesel::QueryResult<bool> {
        Ok(true)
    }
}

impl<Q: Query> Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

impl<Q> QueryId for Prepared<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// Is the database reachable right now? (readiness)
pub async fn ping(pool: &Pool) -> bool {
    match pool.get().await {
        Ok(mut conn) => diesel::sql_query("SELECT 1").execute(&mut conn).await.is_ok(),
        Err(_) => false,
    }
}

/// Is this failure the database being out of reach (down, restarting, refusing or
/// cutting connections, the pool waiting in vain) rather than a bug? The same request
/// can then succeed later: callers answer UNAVAILABLE (see
/// [`crate::status::unexpected`]) so that clients and the saga retry.
///
/// Walks the whole chain (contexts included) for the pool's, the connection's and
/// diesel's errors. Postgres's own reasons come as messages (diesel keeps no SQLSTATE):
/// 57P01 admin_shutdown and 57P02 crash_shutdown ("terminating connection ..."),
/// 57P03 cannot_connect_now ("the database system is starting up", "... shutting
/// down", "... in recovery mode"), 53300 "sorry, too many clients already". They are
/// matched in English, the server's default `lc_messages`. 25006 (a read-only
/// transaction: a demoted primary) has its own kind.
pub fn is_unavailable(error: &anyhow::Error) -> bool {
    error.chain().any(unavailable_cause)
}

fn unavailable_cause(cause: &(dyn std::error::Error + 'static)) -> bool {
    if let Some(error) = cause.downcast_ref::<deadpool::managed::PoolError<PoolBackendError>>() {
        return pool_unavailable(error);
    }
    if let Some(error) = cause.downcast_ref::<PoolBackendError>() {
        return backend_unavailable(error);
    }
    if let Some(error) = cause.downcast_ref::<diesel::ConnectionError>() {
        return connection_unavailable(error);
    }
    if let Some(error) = cause.downcast_ref::<diesel::result::Error>() {
        return query_unavailable(error);
    }
    false
}

type PoolBackendError = diesel_async::pooled_connection::PoolError;

fn pool_unavailable(error: &deadpool::managed::PoolError<PoolBackendError>) -> bool {
    use deadpool::managed::PoolError;
    match error {
        // Every connection busy for the whole wait, or the pool shutting down.
        PoolError::Timeout(_) | PoolError::Closed => true,
        // Making or checking a connection failed: see why.
        PoolError::Backend(error) => backend_unavailable(error),
        PoolError::PostCreateHook(_) | PoolError::NoRuntimeSpecified => false,
    }
}

fn backend_unavailable(error: &PoolBackendError) -> bool {
    match error {
        PoolBackendError::ConnectionError(error) => connection_unavailable(error),
        PoolBackendError::QueryError(error) => query_unavailable(error),
    }
}

fn connection_unavailable(error: &diesel::ConnectionError) -> bool {
    match error {
        // diesel-async reports a failed connect (refused, reset, the server's FATAL) here.
        diesel::ConnectionError::CouldntSetupConfiguration(error) => query_unavailable(error),
        diesel::ConnectionError::BadConnection(_) => true,
        _ => false,
    }
}

fn query_unavailable(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        // No SQLSTATE: the socket (refused, closed, reset), not the server, failed.
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand, _) => true,
        // 25006: a primary demoted to a standby (a switchover) refuses writes; the pool's
        // next connection reaches the new primary. (The services' own read-only
        // transactions only read.)
        Error::DatabaseError(DatabaseErrorKind::ReadOnlyTransaction, _) => true,
        Error::DatabaseError(_, info) => is_unavailable_message(info.message()),
        Error::RollbackErrorOnCommit { rollback_error, commit_error } => {
            query_unavailable(commit_error) || query_unavailable(rollback_error)
        }
        _ => false,
    }
}

/// Postgres's messages for a session it ends or a connection it refuses while it
/// stops, starts or recovers.
fn is_unavailable_message(message: &str) -> bool {
    const PREFIXES: [&str; 4] = [
        "terminating connection",
        "the database system is",
        "sorry, too many clients already",
        "server closed the connection",
    ];
    PREFIXES.iter().any(|prefix| message.starts_with(prefix))
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
    use super::*;

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

    /// A URL on a loopback port nothing listens on.
    fn refused_url() -> String {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        format!("postgres://postgres@127.0.0.1:{port}/cinema")
    }

    /// The machine's Postgres, `postgres` database (nothing is created in it).
    fn live_url() -> String {
        format!("{}/postgres", cinema_testkit::postgres_server())
    }

    fn pool(url: &str, max_size: usize, wait: std::time::Duration) -> Pool {
        Pool::builder(manager(url))
            .max_size(max_size)
            .wait_timeout(Some(wait))
            .runtime(deadpool_runtime())
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn a_refused_connection_is_unavailable() {
        let direct = AsyncPgConnection::establish(&refused_url()).await.err().expect("nothing listens");
        assert!(is_unavailable(&anyhow::Error::new(direct).context("connect")));

        let pooled = get(&pool(&refused_url(), 2, std::time::Duration::from_secs(1))).await.err().expect("refused");
        assert!(is_unavailable(&pooled), "{pooled:#}");
        // Further wrapped, as services do.
        assert!(is_unavailable(&pooled.context("load the booking").context("read")));
    }

    #[tokio::test]
    async fn a_pool_that_waits_in_vain_is_unavailable() {
        let pool = pool(&live_url(), 1, std::time::Duration::from_millis(50));
        let _held = get(&pool).await.expect("the machine's Postgres");
        let waited = get(&pool).await.err().expect("the only connection is held");
        assert!(is_unavailable(&waited), "{waited:#}");
        pool.close();
        let closed = get(&pool).await.err().expect("closed");
        assert!(is_unavailable(&closed), "{closed:#}");
    }

    #[derive(diesel::QueryableByName)]
    struct Pid {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }

    async fn terminate(pid: i32) {
        let mut admin = AsyncPgConnection::establish(&live_url()).await.unwrap();
        diesel::sql_query("SELECT pg_terminate_backend($1)")
            .bind::<diesel::sql_types::Integer, _>(pid)
            .execute(&mut admin)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_pooled_session_the_server_ended_is_replaced() {
        let pool = pool(&live_url(), 1, std::time::Duration::from_secs(1));
        let backend = async |pool: &Pool| -> anyhow::Result<i32> {
            let mut conn = get(pool).await?;
            Ok(diesel::sql_query("SELECT pg_backend_pid() AS pid").get_result::<Pid>(&mut conn).await?.pid)
        };
        let first = backend(&pool).await.expect("the machine's Postgres");
        terminate(first).await;
        // Checkouts send nothing (`RecyclingMethod::Fast`): the ended session is dropped
        // once its client has read the server's goodbye, and a checkout that races it
        // fails as UNAVAILABLE, which callers retry.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let next = loop {
            match backend(&pool).await {
                Ok(pid) => break pid,
                Err(error) => assert!(is_unavailable(&error), "{error:#}"),
            }
            assert!(std::time::Instant::now() < deadline, "the pool kept handing out the ended session");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        };
        assert_ne!(next, first, "a new session");
    }

    #[tokio::test]
    async fn a_prepared_statement_is_prepared_once_per_connection() {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        const SQL: &str = "SELECT $1::bigint + 1 AS n";
        let mut conn = AsyncPgConnection::establish(&live_url()).await.expect("the machine's Postgres");
        for i in 0..3_i64 {
            let N { n } = diesel::sql_query(SQL)
                .bind::<diesel::sql_types::BigInt, _>(i)
                .prepared()
                .get_result(&mut conn)
                .await
                .unwrap();
            assert_eq!(n, i + 1);
            // Unprepared, the same text is prepared and closed again each time.
            diesel::sql_query("SELECT $1::bigint AS n")
                .bind::<diesel::sql_types::BigInt, _>(i)
                .get_result::<N>(&mut conn)
                .await
                .unwrap();
        }
        let kept = |sql: &'static str| {
            diesel::sql_query("SELECT count(*) AS n FROM pg_prepared_statements WHERE statement = $1")
                .bind::<Text, _>(sql)
        };
        assert_eq!(kept(SQL).get_result::<N>(&mut conn).await.unwrap().n, 1);
        assert_eq!(kept("SELECT $1::bigint AS n").get_result::<N>(&mut conn).await.unwrap().n, 0);
    }

    #[tokio::test]
    async fn a_session_the_server_ends_is_unavailable() {
        let mut victim = AsyncPgConnection::establish(&live_url()).await.expect("the machine's Postgres");
        let Pid { pid } = diesel::sql_query("SELECT pg_backend_pid() AS pid").get_result(&mut victim).await.unwrap();
        // 57P01 admin_shutdown, as when the server is stopped.
        terminate(pid).await;
        let cut = diesel::sql_query("SELECT 1").execute(&mut victim).await.expect_err("the session was ended");
        let cut = anyhow::Error::new(cut).context("load the booking");
        assert!(is_unavailable(&cut), "{cut:#}");
    }

    #[tokio::test]
    async fn a_primary_that_refuses_writes_is_unavailable() {
        let mut conn = AsyncPgConnection::establish(&live_url()).await.expect("the machine's Postgres");
        // As a demoted primary answers a write (25006); nothing is created.
        diesel::sql_query("SET default_transaction_read_only = on").execute(&mut conn).await.unwrap();
        let refused = diesel::sql_query("CREATE TABLE never_made (id int)").execute(&mut conn).await.unwrap_err();
        assert!(is_unavailable(&anyhow::Error::new(refused).context("insert the hold")));
    }

    #[tokio::test]
    async fn bugs_and_refusals_are_not_unavailable() {
        let mut conn = AsyncPgConnection::establish(&live_url()).await.expect("the machine's Postgres");
        diesel::sql_query("CREATE TEMP TABLE t (id int PRIMARY KEY)").execute(&mut conn).await.unwrap();
        diesel::sql_query("INSERT INTO t VALUES (1)").execute(&mut conn).await.unwrap();
        let duplicate = diesel::sql_query("INSERT INTO t VALUES (1)").execute(&mut conn).await.unwrap_err();
        assert!(!is_unavailable(&duplicate.into()));
        let syntax = diesel::sql_query("SELEC 1").execute(&mut conn).await.unwrap_err();
        assert!(!is_unavailable(&anyhow::Error::new(syntax).context("query")));
        assert!(!is_unavailable(&diesel::result::Error::NotFound.into()));
        assert!(!is_unavailable(&anyhow::anyhow!("request vanished after a conflict")));
    }

    #[test]
    fn postgres_messages_while_it_stops_starts_or_recovers() {
        for message in [
            "terminating connection due to administrator command",
            "terminating connection due to immediate shutdown command",
            "terminating connection because of crash of another server process",
            "the database system is starting up",
            "the database system is shutting down",
            "the database system is in recovery mode",
            "sorry, too many clients already",
        ] {
            assert!(is_unavailable_message(message), "{message}");
        }
        for message in ["duplicate key value violates unique constraint \"t_pkey\"", "relation \"t\" does not exist"] {
            assert!(!is_unavailable_message(message), "{message}");
        }
    }
}

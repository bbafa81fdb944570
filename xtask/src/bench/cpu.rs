//! Where the CPU goes: CPU time of every process of the stack (each service, Envoy,
//! NATS, the Postgres backends serving the stack's databases and Postgres's own
//! background processes, and the load generator itself), read from `/proc/<pid>/stat`
//! before and after a window. On two cores, CPU is what bounds throughput: the
//! figure per booking says which part to make cheaper.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use cinema_tests::{Service, Stack};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

/// CPU seconds by pid, with each pid's group name.
#[derive(Debug, Default)]
pub struct Sample {
    by_pid: BTreeMap<u32, (String, f64)>,
}

/// The processes of the stack, by group, now.
pub async fn sample(stack: &Stack) -> Result<Sample> {
    let mut pids: Vec<(String, u32)> =
        Service::ALL.into_iter().filter_map(|service| Some((service.name().to_owned(), stack.pid(service)?))).collect();
    pids.extend(stack.engine_pids().into_iter().map(|(name, pid)| (name.to_owned(), pid)));
    pids.push(("load generator".to_owned(), std::process::id()));
    pids.extend(postgres_pids(stack).await?.into_iter().map(|pid| ("postgres".to_owned(), pid)));
    let by_pid = pids.into_iter().filter_map(|(name, pid)| Some((pid, (name, cpu_secs(pid)?)))).collect();
    Ok(Sample { by_pid })
}

/// CPU seconds each group used between `before` and `after` (a process that started in
/// between counts from zero; one that ended in between is not counted).
pub fn used(before: &Sample, after: &Sample) -> BTreeMap<String, f64> {
    let mut used: BTreeMap<String, f64> = BTreeMap::new();
    for (pid, (name, secs)) in &after.by_pid {
        let start = before.by_pid.get(pid).filter(|(n, _)| n == name).map_or(0.0, |(_, s)| *s);
        *used.entry(name.clone()).or_default() += (secs - start).max(0.0);
    }
    used
}

/// The Postgres backends serving the stack's databases, and Postgres's background
/// processes (WAL writer, checkpointer...), which every commit also costs.
async fn postgres_pids(stack: &Stack) -> Result<Vec<u32>> {
    #[derive(diesel::QueryableByName)]
    struct Pid {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    let names: Vec<String> = Service::ALL.into_iter().map(|s| stack.database_name(s)).collect();
    let server = format!("{}/postgres", stack.database_server_url());
    let mut conn = AsyncPgConnection::establish(&server).await.context("connect to Postgres")?;
    let rows: Vec<Pid> = diesel::sql_query(
        "SELECT pid FROM pg_stat_activity WHERE datname = ANY($1) OR (datname IS NULL AND backend_type <> 'client backend')",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&names)
    .load(&mut conn)
    .await
    .context("list the stack's Postgres backends")?;
    Ok(rows.into_iter().filter_map(|r| u32::try_from(r.pid).ok()).collect())
}

/// utime + stime of a process, in seconds.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces; fields after it are 3.. in proc(5).
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    // utime is field 14 and stime 15 of proc(5); `rest` starts at field 3.
    Some((ticks(11)? + ticks(12)?) / USER_HZ)
}

/// Clock ticks a second in `/proc` (`USER_HZ`: 100 on every Linux this runs on).
const USER_HZ: f64 = 100.0;

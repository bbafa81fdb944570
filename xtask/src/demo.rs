//! Demo data, loaded through the gateway's REST API as the admin (idempotent: what exists
//! is reused).

use anyhow::{Context as _, Result, bail};
use chrono::{Days, FixedOffset, NaiveTime, Utc};
use serde_json::{Value, json};

/// The customer the printed examples use.
pub const CUSTOMER_ID: &str = "5f0c2a3e-6b1d-4c8e-9a7f-0d1e2f3a4b5c";

/// Ids the printed examples use.
pub struct Demo {
    pub movie_id: String,
    pub screening_id: String,
}

/// (title, status, running minutes)
const MOVIES: [(&str, &str, u32); 3] = [
    ("어벤져스", "MOVIE_STATUS_RUNNING", 143),
    ("아이언맨", "MOVIE_STATUS_RUNNING", 126),
    ("토르", "MOVIE_STATUS_WAITING", 115),
];

/// Show times (KST) scheduled tomorrow and the day after for each RUNNING movie.
const SHOW_TIMES: [(u32, u32); 2] = [(10, 0), (19, 30)];

/// Loads the demo data through `gateway` as the admin; `ca`: the CA its TLS certificate
/// comes from (`cargo xtask up --tls`).
pub async fn load(gateway: &str, admin_token: &str, ca: Option<&std::path::Path>) -> Result<Demo> {
    let tls = cinema_mesh::https::Tls::load(ca).context("the gateway's CA")?;
    let client = tls.client(std::time::Duration::from_secs(15)).context("building an HTTP client")?;
    let http = Admin { client, token: admin_token };
    let existing = call(http.get(format!("{gateway}/v1/movies"))).await?;
    let mut first: Option<Demo> = None;

    for (index, (title, status, minutes)) in MOVIES.iter().enumerate() {
        let found = existing["movies"].as_array().and_then(|movies| {
            movies.iter().find(|m| m["title"] == *title).and_then(|m| m["movieId"].as_str().map(str::to_owned))
        });
        let movie_id = match found {
            Some(id) => id,
            None => {
                let movie = call(http.post(format!("{gateway}/v1/movies")).json(&json!({
                    "title": title,
                    "status": status,
                    "runningMinutes": minutes,
                })))
                .await?;
                println!("   registered {title}");
                string(&movie, "movieId")?
            }
        };
        if *status != "MOVIE_STATUS_RUNNING" {
            continue;
        }

        let listed = call(http.get(format!("{gateway}/v1/movies/{movie_id}/screenings"))).await?;
        let mut screening_ids: Vec<String> = listed["screenings"]
            .as_array()
            .map(|s| s.iter().filter_map(|s| s["screeningId"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        if screening_ids.is_empty() {
            for day in 1..=2u64 {
                for (slot, (hour, minute)) in SHOW_TIMES.iter().enumerate() {
                    let starts_at = show_time(day, *hour, *minute + index as u32 * 15)?;
                    let screening = call(http.post(format!("{gateway}/v1/screenings")).json(&json!({
                        "movieId": movie_id,
                        "startsAt": starts_at,
                        "price": {"currency": "KRW", "amount": "12000"},
                        "rowPrices": [
                            {"row": "I", "price": {"currency": "KRW", "amount": "15000"}},
                            {"row": "J", "price": {"currency": "KRW", "amount": "15000"}},
                        ],
                    })))
                    .await
                    .with_context(|| format!("scheduling {title} #{slot} on day +{day}"))?;
                    screening_ids.push(string(&screening, "screeningId")?);
                }
            }
            println!("   scheduled {} screenings of {title}", screening_ids.len());
        }
        if first.is_none()
            && let Some(screening_id) = screening_ids.first()
        {
            first = Some(Demo { movie_id: movie_id.clone(), screening_id: screening_id.clone() });
        }
    }
    first.context("no screening of a running movie")
}

/// `day` days from now at `hour:minute` KST, as RFC 3339 UTC.
fn show_time(day: u64, hour: u32, minute: u32) -> Result<String> {
    let kst = FixedOffset::east_opt(9 * 3600).context("KST offset")?;
    let date = Utc::now().with_timezone(&kst).date_naive().checked_add_days(Days::new(day)).context("date overflow")?;
    let time = NaiveTime::from_hms_opt(hour + minute / 60, minute % 60, 0).context("time")?;
    let local = date.and_time(time).and_local_timezone(kst).single().context("ambiguous local time")?;
    Ok(local.with_timezone(&Utc).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

async fn call(request: reqwest::RequestBuilder) -> Result<Value> {
    let response = request.send().await.context("calling the gateway")?;
    let status = response.status();
    let url = response.url().to_string();
    let body = response.text().await.context("reading the response")?;
    if !status.is_success() {
        bail!("{url}: HTTP {status}: {body}");
    }
    serde_json::from_str(&body).with_context(|| format!("{url}: not JSON: {body}"))
}

/// Every request carries the admin's token.
struct Admin<'a> {
    client: reqwest::Client,
    token: &'a str,
}

impl Admin<'_> {
    fn get(&self, url: String) -> reqwest::RequestBuilder {
        self.client.get(url).bearer_auth(self.token)
    }

    fn post(&self, url: String) -> reqwest::RequestBuilder {
        self.client.post(url).bearer_auth(self.token)
    }
}

fn string(value: &Value, field: &str) -> Result<String> {
    value[field].as_str().map(str::to_owned).with_context(|| format!("no `{field}` in {value}"))
}

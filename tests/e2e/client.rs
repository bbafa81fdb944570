//! A customer and an admin talking REST to the gateway, with verbs. Every call carries a
//! bearer token from the stack's dev issuer: the customer's ([`CUSTOMER`]) unless told
//! otherwise; the admin verbs carry the admin's.

use std::time::Duration;

use anyhow::Context;
use cinema_tests::{Service, Stack, StackOptions, poll_until};
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};

/// The customer the verbs act as.
pub const CUSTOMER: &str = "customer-1";

pub struct TestApp {
    pub stack: Stack,
    http: reqwest::Client,
    /// The bearer token of [`CUSTOMER`].
    pub token: String,
    /// A bearer token with the `admin` role.
    pub admin_token: String,
}

/// What the gateway answered: HTTP status and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn ok(self) -> anyhow::Result<Value> {
        anyhow::ensure!(self.status == 200, "expected 200, got {}: {}", self.status, self.body);
        Ok(self.body)
    }
}

impl TestApp {
    pub async fn spawn() -> anyhow::Result<Self> {
        Self::spawn_with(StackOptions::for_tests()).await
    }

    pub async fn spawn_with(options: StackOptions) -> anyhow::Result<Self> {
        let stack = Stack::start(options).await?;
        let (token, admin_token) = (stack.customer_token(CUSTOMER), stack.admin_token());
        Ok(Self { stack, http: reqwest::Client::new(), token, admin_token })
    }

    /// A call as [`CUSTOMER`].
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<String>) -> anyhow::Result<Answer> {
        self.send_as(Some(&self.token), method, path, body).await
    }

    /// A call with `token` as the bearer token (`None`: anonymous).
    pub async fn send_as(
        &self,
        token: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> anyhow::Result<Answer> {
        let url = format!("{}{path}", self.stack.gateway_url());
        let mut request = self.http.request(method, url).timeout(Duration::from_secs(15));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body);
        }
        let response = request.send().await.context("call the gateway")?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Answer { status, body })
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Answer> {
        self.send(reqwest::Method::POST, path, Some(body.to_string())).await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Answer> {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Answer> {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// A POST as the admin (registering movies, scheduling screenings).
    pub async fn admin_post(&self, path: &str, body: Value) -> anyhow::Result<Answer> {
        self.send_as(Some(&self.admin_token), reqwest::Method::POST, path, Some(body.to_string())).await
    }

    pub async fn register_movie(&self, title: &str) -> anyhow::Result<Value> {
        self.admin_post("/v1/movies", json!({"title": title, "status": "MOVIE_STATUS_RUNNING", "runningMinutes": 120}))
            .await?
            .ok()
    }

    /// Schedules a screening of `movie_id` and waits until its seat map exists.
    pub async fn schedule(&self, movie_id: &str, days_ahead: i64) -> anyhow::Result<String> {
        let starts_at = chrono_like_rfc3339(days_ahead);
        let screening = self
            .admin_post(
                "/v1/screenings",
                json!({
                    "movieId": movie_id,
                    "startsAt": starts_at,
                    "price": {"currency": "KRW", "amount": "12000"},
                    "rowPrices": [{"row": "J", "price": {"currency": "KRW", "amount": "15000"}}],
                }),
            )
            .await?
            .ok()?;
        let id = screening["screeningId"].as_str().context("screeningId")?.to_owned();
        poll_until("the seat map", Duration::from_secs(20), Duration::from_millis(50), || async {
            Ok((self.get(&format!("/v1/screenings/{id}/seats")).await?.status == 200).then_some(()))
        })
        .await?;
        Ok(id)
    }

    pub async fn seat_map(&self, screening_id: &str) -> anyhow::Result<Value> {
        self.get(&format!("/v1/screenings/{screening_id}/seats")).await?.ok()
    }

    pub async fn seat_status(&self, screening_id: &str, seat: &str) -> anyhow::Result<String> {
        let map = self.seat_map(screening_id).await?;
        let seats = map["seats"].as_array().context("seats")?;
        let found = seats.iter().find(|s| s["seatId"] == seat).context("seat in map")?;
        Ok(found["status"].as_str().unwrap_or_default().to_owned())
    }

    pub async fn book(&self, screening_id: &str, seats: &[&str], card: &str) -> anyhow::Result<Answer> {
        self.post(
            "/v1/bookings",
            json!({
                "requestId": uuid::Uuid::new_v4().to_string(),
                "customerId": CUSTOMER,
                "screeningId": screening_id,
                "seatIds": seats,
                "payment": {"cardToken": card},
            }),
        )
        .await
    }

    /// Runs a counting query on one service's database.
    pub async fn count(&self, service: Service, sql: &str) -> anyhow::Result<i64> {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut conn = AsyncPgConnection::establish(&self.stack.database_url(service)).await?;
        let row: Count = diesel::sql_query(sql).get_result(&mut conn).await.with_context(|| sql.to_owned())?;
        Ok(row.n)
    }

    /// `GET /v1/bookings/{number}` once it shows `status`: the lookup reads the
    /// booking view, which trails the answer of a command by milliseconds.
    pub async fn lookup(&self, number: &str, status: &str) -> anyhow::Result<Value> {
        let path = format!("/v1/bookings/{number}");
        let last = std::sync::Mutex::new(Value::Null);
        let seen = poll_until(
            &format!("{number} to read {status}"),
            Duration::from_secs(5),
            Duration::from_millis(10),
            || async {
                let found = self.get(&path).await?.ok()?;
                let done = found["status"] == status;
                *last.lock().expect("not poisoned") = found.clone();
                Ok(done.then_some(found))
            },
        )
        .await;
        let last = last.into_inner().expect("not poisoned");
        seen.with_context(|| format!("last seen: {last}"))
    }
}

/// An RFC 3339 UTC time `days` from now.
fn chrono_like_rfc3339(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

//! The live seat map: `WatchSeatMap` through Envoy (anonymous, like browsing) shows
//! seats other customers hold, buy and free without asking again — over gRPC and over
//! REST (`:watch`, a JSON array streamed as it grows).

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use cinema_proto::seats::v1 as pb;
use cinema_proto::seats::v1::seats_service_client::SeatsServiceClient;
use tonic::Code;

use crate::client::TestApp;

/// A change must reach a watcher within this (the page promises "within a second").
const WITHIN: Duration = Duration::from_secs(1);

fn status_of(map: &pb::SeatMap, seat: &str) -> Option<pb::SeatStatus> {
    map.seats.iter().find(|s| s.seat_id == seat).map(|s| s.status())
}

/// The next map on `watch` in which every one of `seats` has `status`, within [`WITHIN`].
async fn until_shown(
    watch: &mut tonic::Streaming<pb::SeatMap>,
    seats: &[&str],
    status: pb::SeatStatus,
) -> Result<pb::SeatMap> {
    let shown = async {
        while let Some(map) = watch.message().await? {
            if seats.iter().all(|s| status_of(&map, s) == Some(status)) {
                return anyhow::Ok(map);
            }
        }
        anyhow::bail!("the watch ended before {seats:?} were {status:?}")
    };
    tokio::time::timeout(WITHIN, shown)
        .await
        .with_context(|| format!("{seats:?} not shown {status:?} within {WITHIN:?}"))?
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seat_map_follows_holds_sales_and_cancellations_live() -> Result<()> {
    let app = TestApp::spawn().await?;
    let movie = app.register_movie("듄").await?;
    let screening = app.schedule(movie["movieId"].as_str().context("movie id")?, 5).await?;

    // Anyone may watch (no token), over gRPC through the gateway: the map now first.
    let mut seats = SeatsServiceClient::new(app.stack.gateway_channel_as(None)?);
    let request = pb::WatchSeatMapRequest { screening_id: screening.clone() };
    let mut watch = seats.watch_seat_map(request.clone()).await?.into_inner();
    let first = watch.message().await?.context("the first map")?;
    ensure!(
        first.seats.len() == 120 && first.available == 120,
        "{} seats, {} available",
        first.seats.len(),
        first.available
    );
    ensure!(first.movie_title == "듄" && first.screening_id == screening);

    // ... and over REST: a streamed JSON array of maps.
    let mut rest = reqwest::Client::new()
        .get(format!("{}/v1/screenings/{screening}/seats:watch", app.stack.gateway_url()))
        .send()
        .await?;
    ensure!(rest.status() == 200, "REST watch answered {}", rest.status());

    // Another customer books two seats: the watcher sees them SOLD without asking.
    let booked = app.book(&screening, &["E-5", "E-6"], "tok_visa").await?.ok()?;
    ensure!(booked["status"] == "BOOKING_STATUS_CONFIRMED", "{booked}");
    let sold = until_shown(&mut watch, &["E-5", "E-6"], pb::SeatStatus::Sold).await?;
    ensure!(sold.available == 118, "available {}", sold.available);

    // The REST stream saw the same sale.
    let mut text = String::new();
    tokio::time::timeout(WITHIN, async {
        while !text.contains("SEAT_STATUS_SOLD") {
            let chunk = rest.chunk().await?.context("the REST watch ended")?;
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        anyhow::Ok(())
    })
    .await
    .context("the REST watch did not show the sale within a second")??;
    ensure!(text.starts_with('['), "a JSON array: {}", &text[..text.len().min(80)]);

    // The customer cancels: the seats are free again on the open watch.
    let number = booked["bookingNumber"].as_str().context("booking number")?;
    let cancelled = app.delete(&format!("/v1/bookings/{number}")).await?.ok()?;
    ensure!(cancelled["status"] == "BOOKING_STATUS_CANCELLED", "{cancelled}");
    let freed = until_shown(&mut watch, &["E-5", "E-6"], pb::SeatStatus::Available).await?;
    ensure!(freed.available == 120, "available {}", freed.available);

    // A declined card holds the seat for a moment, then frees it: whatever the watch
    // shows of that (a change may be folded into the next), it never shows it sold and
    // ends up showing it available.
    let declined = app.book(&screening, &["F-1"], "tok_decline").await?.ok()?;
    ensure!(declined["status"] == "BOOKING_STATUS_REJECTED", "{declined}");
    let mut maps = Vec::new();
    while let Ok(next) = tokio::time::timeout(WITHIN, watch.message()).await {
        maps.push(next?.context("the watch ended")?);
    }
    ensure!(maps.iter().all(|m| status_of(m, "F-1") != Some(pb::SeatStatus::Sold)), "F-1 shown sold");
    let seen_last = maps.last().map_or(Some(pb::SeatStatus::Available), |m| status_of(m, "F-1"));
    ensure!(seen_last == Some(pb::SeatStatus::Available), "F-1 last shown {seen_last:?}");

    // Unknown and malformed screenings are refused before anything is streamed.
    let unknown = pb::WatchSeatMapRequest { screening_id: uuid::Uuid::new_v4().to_string() };
    let refused = seats.watch_seat_map(unknown).await.expect_err("unknown screening");
    ensure!(refused.code() == Code::NotFound, "{refused:?}");
    let malformed = pb::WatchSeatMapRequest { screening_id: "not-a-uuid".into() };
    let refused = seats.watch_seat_map(malformed).await.expect_err("malformed id");
    ensure!(refused.code() == Code::InvalidArgument, "{refused:?}");
    Ok(())
}

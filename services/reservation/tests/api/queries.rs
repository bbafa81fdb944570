use std::time::Duration;

use cinema_proto::common::v1::BookingStatus;
use cinema_proto::reservation::v1 as pb;
use tonic::Code;

use crate::helpers::spawn_app;

#[tokio::test]
async fn list_pages_newest_first() {
    let app = spawn_app().await;
    for n in 1..=5 {
        app.create(&format!("BK-LIST-{n}"), "cust-list").await.unwrap();
    }
    app.create("BK-OTHER-1", "cust-other").await.unwrap();

    let mut numbers = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = app.list("cust-list", 2, &token).await.unwrap();
        pages += 1;
        numbers.extend(page.bookings.into_iter().map(|b| b.booking_number));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    assert_eq!(numbers, ["BK-LIST-5", "BK-LIST-4", "BK-LIST-3", "BK-LIST-2", "BK-LIST-1"]);

    let all = app.list("cust-list", 0, "").await.unwrap();
    assert_eq!(all.bookings.len(), 5);
    assert!(all.next_page_token.is_empty());

    assert_eq!(app.list("cust-list", 2, "garbage").await.unwrap_err().code(), Code::InvalidArgument);
    assert_eq!(app.list("", 2, "").await.unwrap_err().code(), Code::InvalidArgument);
}

#[tokio::test]
async fn watch_streams_every_change_until_final() {
    let app = spawn_app().await;
    app.create("BK-WATCH-1", "cust-1").await.unwrap();
    let mut stream = app
        .queries
        .clone()
        .watch_booking(pb::WatchBookingRequest { booking_number: "BK-WATCH-1".into() })
        .await
        .unwrap()
        .into_inner();
    let next = async |s: &mut tonic::Streaming<pb::Booking>| {
        tokio::time::timeout(Duration::from_secs(5), s.message()).await.expect("an update in time").unwrap()
    };
    assert_eq!(next(&mut stream).await.unwrap().status(), BookingStatus::Pending);
    app.confirm("BK-WATCH-1").await.unwrap();
    assert_eq!(next(&mut stream).await.unwrap().status(), BookingStatus::Confirmed);
    app.cancel("BK-WATCH-1").await.unwrap();
    let last = next(&mut stream).await.unwrap();
    assert_eq!((last.status(), last.version), (BookingStatus::Cancelled, 3));
    assert!(next(&mut stream).await.is_none(), "the stream ends at a final status");

    let error = app
        .queries
        .clone()
        .watch_booking(pb::WatchBookingRequest { booking_number: "BK-NOPE".into() })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::NotFound);
}

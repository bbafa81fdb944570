-- One delivery per (BookingStatusChanged event, channel). A delivery is
-- written PENDING in the transaction that records the event in the inbox, then
-- sent and marked DELIVERED; after too many failed attempts it is DEAD_LETTERED.
CREATE TABLE deliveries (
    notification_id UUID PRIMARY KEY,
    event_id UUID NOT NULL,
    channel TEXT NOT NULL,
    booking_number TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    booking_status TEXT NOT NULL CHECK (booking_status IN
        ('PENDING', 'AWAITING_PAYMENT', 'CONFIRMED', 'REJECTED', 'EXPIRED', 'CANCELLED')),
    text TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DELIVERED', 'DEAD_LETTERED')),
    attempts INT NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at TIMESTAMPTZ,
    UNIQUE (event_id, channel)
);
CREATE INDEX deliveries_by_booking ON deliveries (booking_number, created_at);
CREATE INDEX deliveries_pending ON deliveries (created_at) WHERE status = 'PENDING';

-- The booking record. `version` grows by one on every change; each change has
-- exactly one BookingStatusChanged event carrying it.
CREATE TABLE reservations (
    booking_number TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    screening_id UUID NOT NULL,
    seat_ids TEXT[] NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('PENDING', 'AWAITING_PAYMENT', 'CONFIRMED', 'REJECTED', 'EXPIRED', 'CANCELLING', 'CANCELLED')),
    -- Why the booking is in its status, for humans.
    reason TEXT NOT NULL DEFAULT '',
    -- Set on confirmation.
    currency TEXT,
    amount BIGINT,
    payment_id TEXT,
    movie_title TEXT,
    screen_name TEXT,
    starts_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    version BIGINT NOT NULL CHECK (version > 0)
);
-- ListBookings: a customer's bookings, newest first, keyset-paginated.
CREATE INDEX reservations_by_customer ON reservations (customer_id, created_at DESC, booking_number DESC);

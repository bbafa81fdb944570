-- Screenings as the seats service knows them (from ScreeningScheduled).
CREATE TABLE screenings (
    screening_id UUID PRIMARY KEY,
    movie_title TEXT NOT NULL,
    screen_name TEXT NOT NULL,
    starts_at TIMESTAMPTZ NOT NULL,
    currency TEXT NOT NULL
);

-- One row per seat of a screening. A seat is AVAILABLE (no booking), HELD by
-- a booking until hold_expires_at, or SOLD to a booking.
CREATE TABLE seats (
    screening_id UUID NOT NULL REFERENCES screenings,
    seat_id TEXT NOT NULL,
    seat_row TEXT NOT NULL,
    seat_number INT NOT NULL,
    price BIGINT NOT NULL CHECK (price >= 0),
    status TEXT NOT NULL CHECK (status IN ('AVAILABLE', 'HELD', 'SOLD')),
    booking_number TEXT,
    hold_expires_at TIMESTAMPTZ,
    PRIMARY KEY (screening_id, seat_id),
    CHECK ((status = 'AVAILABLE') = (booking_number IS NULL)),
    CHECK ((status = 'HELD') = (hold_expires_at IS NOT NULL))
);
CREATE INDEX seats_by_booking ON seats (booking_number) WHERE booking_number IS NOT NULL;

-- One hold per booking: what HoldSeats answered, so retries answer the same.
CREATE TABLE holds (
    booking_number TEXT PRIMARY KEY,
    screening_id UUID NOT NULL REFERENCES screenings,
    seat_ids TEXT[] NOT NULL,
    total BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('HELD', 'SOLD', 'RELEASED')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

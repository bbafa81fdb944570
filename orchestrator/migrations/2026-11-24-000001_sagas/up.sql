-- One saga per booking: where it is, what it learned, when to run it next.
CREATE TABLE sagas (
    booking_number TEXT PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL,
    screening_id UUID NOT NULL,
    seat_ids TEXT[] NOT NULL,
    card_token TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    currency TEXT,
    amount BIGINT,
    payment_id TEXT,
    hold_expires_at TIMESTAMPTZ,
    movie_title TEXT,
    screen_name TEXT,
    starts_at TIMESTAMPTZ,
    correlation_id TEXT NOT NULL,
    attempts INT NOT NULL DEFAULT 0,
    next_run_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_until TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX sagas_runnable ON sagas (next_run_at) WHERE state NOT IN ('CONFIRMED', 'REJECTED', 'CANCELLED');

-- Every step attempt and its outcome, per booking.
CREATE TABLE saga_steps (
    id BIGSERIAL PRIMARY KEY,
    booking_number TEXT NOT NULL REFERENCES sagas,
    state TEXT NOT NULL,
    step TEXT NOT NULL,
    attempt INT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX saga_steps_by_booking ON saga_steps (booking_number, id);

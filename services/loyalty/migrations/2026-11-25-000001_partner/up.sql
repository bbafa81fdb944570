-- Cancellations are remembered even when they revoke nothing: a CONFIRMED
-- event handled after its booking's CANCELLED event then grants nothing.
CREATE TABLE cancelled_bookings (
    booking_number TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    cancelled_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO cancelled_bookings (booking_number, customer_id, cancelled_at)
    SELECT booking_number, customer_id, created_at FROM ledger WHERE kind = 'REVOCATION';

-- A customer's partner (alliance) membership; at most one.
CREATE TABLE partner_links (
    customer_id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL,
    member_number TEXT NOT NULL,
    linked_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The partner outbox: one row per ledger entry to relay, written in the
-- ledger entry's transaction. The entry id is the idempotency key the partner
-- dedupes on. PENDING rows are sent when due; DELIVERED once the partner said
-- 2xx; FAILED when it refused the request for good.
CREATE TABLE partner_deliveries (
    entry_id UUID PRIMARY KEY REFERENCES ledger (entry_id),
    partner_id TEXT NOT NULL,
    member_number TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    booking_number TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('ACCRUAL', 'REVOCATION')),
    points BIGINT NOT NULL,
    status TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts INT NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error TEXT NOT NULL DEFAULT '',
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at TIMESTAMPTZ
);
CREATE INDEX partner_deliveries_due ON partner_deliveries (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX partner_deliveries_by_booking ON partner_deliveries (booking_number, kind);


-- One row per charge key: a key is charged at most once. A refund turns the
-- row REFUNDED and records its own key.
CREATE TABLE payments (
    payment_id UUID PRIMARY KEY,
    charge_key TEXT NOT NULL UNIQUE,
    booking_number TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    status TEXT NOT NULL CHECK (status IN ('CAPTURED', 'DECLINED', 'REFUNDED')),
    -- The acquirer's reference; empty for a decline.
    provider_reference TEXT NOT NULL DEFAULT '',
    decline_reason TEXT NOT NULL DEFAULT '',
    refund_key TEXT UNIQUE,
    refund_reason TEXT NOT NULL DEFAULT '',
    merchant_id TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX payments_by_booking ON payments (booking_number);

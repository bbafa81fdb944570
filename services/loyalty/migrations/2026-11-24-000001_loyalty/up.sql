-- The point ledger: at most one accrual and one revocation per booking.
-- A revocation is the negative of the booking's accrual.
CREATE TABLE ledger (
    entry_id UUID PRIMARY KEY,
    customer_id TEXT NOT NULL,
    booking_number TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('ACCRUAL', 'REVOCATION')),
    points BIGINT NOT NULL CHECK ((kind = 'ACCRUAL' AND points > 0) OR (kind = 'REVOCATION' AND points < 0)),
    reason TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (booking_number, kind)
);
CREATE INDEX ledger_by_customer ON ledger (customer_id, created_at DESC, entry_id DESC);

-- The sum of each customer's ledger, kept in the same transaction as each entry.
CREATE TABLE balances (
    customer_id TEXT PRIMARY KEY,
    balance BIGINT NOT NULL CHECK (balance >= 0)
);

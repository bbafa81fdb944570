-- The transactional outbox and the consumer inbox, shared by every service.
-- A state change and its outbox row commit together; the relay publishes the row
-- to JetStream (Nats-Msg-Id = event_id) and marks it published.
CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    event_id UUID NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    envelope BYTEA NOT NULL,
    correlation_id TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- One row per (consumer, event) processed, written in the same transaction as
-- the consumer's effect: a redelivered event finds its row and is skipped.
CREATE TABLE inbox (
    consumer TEXT NOT NULL,
    event_id UUID NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

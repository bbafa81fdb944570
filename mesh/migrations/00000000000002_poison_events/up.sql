-- Events a consumer can never handle (a payload that does not decode, an event
-- id that is not a UUID): acked so they block nothing, and kept here for a
-- human. One row per (consumer, event id).
CREATE TABLE IF NOT EXISTS poison_events (
    consumer TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload BYTEA NOT NULL,
    error TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

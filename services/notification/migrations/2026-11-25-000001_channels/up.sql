-- Channels beyond `log` (KakaoTalk, webhook): each delivery is retried with
-- backoff, so it carries when it is due and why the last attempt failed.
-- CANCELLING now notifies too.
ALTER TABLE deliveries
    ADD COLUMN next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN last_error TEXT NOT NULL DEFAULT '',
    DROP CONSTRAINT deliveries_booking_status_check,
    ADD CONSTRAINT deliveries_booking_status_check CHECK (booking_status IN
        ('PENDING', 'AWAITING_PAYMENT', 'CONFIRMED', 'REJECTED', 'EXPIRED', 'CANCELLING', 'CANCELLED'));
DROP INDEX deliveries_pending;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'PENDING';

-- Events that can never be handled (a payload that does not decode, an event
-- id that is not a UUID): acked so they block nothing, and kept here for a
-- human. One row per (consumer, event id).
CREATE TABLE poison_events (
    consumer TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload BYTEA NOT NULL,
    error TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

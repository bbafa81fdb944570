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


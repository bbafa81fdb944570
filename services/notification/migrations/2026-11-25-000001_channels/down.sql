DROP INDEX deliveries_due;
CREATE INDEX deliveries_pending ON deliveries (created_at) WHERE status = 'PENDING';
DELETE FROM deliveries WHERE booking_status = 'CANCELLING';
ALTER TABLE deliveries
    DROP CONSTRAINT deliveries_booking_status_check,
    ADD CONSTRAINT deliveries_booking_status_check CHECK (booking_status IN
        ('PENDING', 'AWAITING_PAYMENT', 'CONFIRMED', 'REJECTED', 'EXPIRED', 'CANCELLED')),
    DROP COLUMN last_error,
    DROP COLUMN next_attempt_at;

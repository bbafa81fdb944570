-- What each attempt ran under and where it led: the correlation id of the
-- request that drives the saga, the fencing token of the runner's lease, and
-- the state the saga moved to (NULL: the step is retried).
ALTER TABLE saga_steps ADD COLUMN correlation_id TEXT NOT NULL DEFAULT '';
ALTER TABLE saga_steps ADD COLUMN lease_token UUID;
ALTER TABLE saga_steps ADD COLUMN next_state TEXT;
UPDATE saga_steps t SET correlation_id = s.correlation_id FROM sagas s WHERE s.booking_number = t.booking_number;

-- Operator actions (RetryNow, ForceCompensate), each written in the
-- transaction of its effect.
CREATE TABLE saga_audit (
    id BIGSERIAL PRIMARY KEY,
    booking_number TEXT NOT NULL REFERENCES sagas,
    operator TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT NOT NULL,
    state_before TEXT NOT NULL,
    state_after TEXT NOT NULL,
    correlation_id TEXT NOT NULL DEFAULT '',
    at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX saga_audit_by_booking ON saga_audit (booking_number, id);

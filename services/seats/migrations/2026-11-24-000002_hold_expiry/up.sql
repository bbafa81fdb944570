-- The sweeper marks holds it released on expiry EXPIRED (RELEASED stays for
-- compensations): confirming an EXPIRED hold may still take its seats back.
ALTER TABLE holds DROP CONSTRAINT holds_status_check;
ALTER TABLE holds ADD CONSTRAINT holds_status_check CHECK (status IN ('HELD', 'SOLD', 'RELEASED', 'EXPIRED'));
CREATE INDEX holds_expiring ON holds (expires_at) WHERE status = 'HELD';

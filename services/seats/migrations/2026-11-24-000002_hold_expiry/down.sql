DROP INDEX holds_expiring;
UPDATE holds SET status = 'RELEASED' WHERE status = 'EXPIRED';
ALTER TABLE holds DROP CONSTRAINT holds_status_check;
ALTER TABLE holds ADD CONSTRAINT holds_status_check CHECK (status IN ('HELD', 'SOLD', 'RELEASED'));

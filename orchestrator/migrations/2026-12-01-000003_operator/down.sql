DROP TABLE saga_audit;
ALTER TABLE saga_steps DROP COLUMN next_state;
ALTER TABLE saga_steps DROP COLUMN lease_token;
ALTER TABLE saga_steps DROP COLUMN correlation_id;

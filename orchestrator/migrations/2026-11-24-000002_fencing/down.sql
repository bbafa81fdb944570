ALTER TABLE saga_steps DROP COLUMN runner;
ALTER TABLE sagas DROP COLUMN lease_token;

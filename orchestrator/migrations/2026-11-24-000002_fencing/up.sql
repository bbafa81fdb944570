-- A fencing token per lease: whoever claims a saga gets a new token, and a
-- write under an older token (a replica that was paused past its lease)
-- changes nothing.
ALTER TABLE sagas ADD COLUMN lease_token UUID NOT NULL DEFAULT gen_random_uuid();

-- Which runner (replica) ran each attempt.
ALTER TABLE saga_steps ADD COLUMN runner TEXT NOT NULL DEFAULT '';

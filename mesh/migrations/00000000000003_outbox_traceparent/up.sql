-- The W3C trace context of the transaction that wrote the event: the relay
-- publishes it as the `traceparent` header, so consumers join the same trace.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS traceparent TEXT NOT NULL DEFAULT '';

-- The trace context of the BookTickets call: a saga finished later (by the background
-- runner, after a restart) continues the same trace.
ALTER TABLE sagas ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';

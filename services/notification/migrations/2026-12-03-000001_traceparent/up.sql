-- The trace context of the event a delivery answers: its sending joins that trace.
ALTER TABLE deliveries ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';

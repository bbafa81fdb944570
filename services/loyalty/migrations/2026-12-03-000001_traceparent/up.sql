-- The trace context of the event that made the entry: relaying it joins that trace.
ALTER TABLE partner_deliveries ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';

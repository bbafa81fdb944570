ALTER TABLE partner_deliveries DROP COLUMN traceparent;

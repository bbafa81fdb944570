ALTER TABLE sagas DROP COLUMN traceparent;

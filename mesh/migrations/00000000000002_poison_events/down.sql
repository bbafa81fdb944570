DROP TABLE IF EXISTS poison_events;

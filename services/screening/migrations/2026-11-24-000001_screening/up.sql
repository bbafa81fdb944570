-- Screens (auditoriums): seats are `{row}-{number}`.
CREATE TABLE screens (
    screen_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    seat_rows TEXT[] NOT NULL,
    seats_per_row INT NOT NULL CHECK (seats_per_row > 0)
);

INSERT INTO screens (screen_id, name, seat_rows, seats_per_row) VALUES
    ('screen-1', '1관', ARRAY['A','B','C','D','E','F','G','H','I','J'], 12),
    ('screen-2', '2관', ARRAY['A','B','C','D','E','F','G','H','I','J'], 12),
    ('screen-3', '3관', ARRAY['A','B','C','D','E','F','G','H','I','J'], 12);

CREATE TABLE movies (
    movie_id UUID PRIMARY KEY,
    title TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('WAITING', 'RUNNING', 'ENDED')),
    running_minutes INT NOT NULL CHECK (running_minutes > 0),
    screen_id TEXT NOT NULL REFERENCES screens,
    registered_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE screenings (
    screening_id UUID PRIMARY KEY,
    movie_id UUID NOT NULL REFERENCES movies,
    screen_id TEXT NOT NULL REFERENCES screens,
    starts_at TIMESTAMPTZ NOT NULL,
    ends_at TIMESTAMPTZ NOT NULL CHECK (ends_at > starts_at),
    currency TEXT NOT NULL,
    price BIGINT NOT NULL CHECK (price >= 0),
    -- {"I": 15000, "J": 15000}: rows priced differently from `price`.
    row_prices JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX screenings_by_movie ON screenings (movie_id, starts_at);
CREATE INDEX screenings_by_screen ON screenings (screen_id, starts_at);

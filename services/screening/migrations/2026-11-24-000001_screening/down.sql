DROP TABLE screenings; DROP TABLE movies; DROP TABLE screens;

DROP TABLE holds; DROP TABLE seats; DROP TABLE screenings;

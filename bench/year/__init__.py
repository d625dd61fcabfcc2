"""A year of a city: a seeded generator that loads it (binary COPY) and the queries people run on it (issue 21)."""

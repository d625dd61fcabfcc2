"""Store: all database code: migrations, the time-series writer, site loading and queries."""

"""Scale-out: several ingest workers and API replicas on one machine."""

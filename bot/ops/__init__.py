"""Operating `fancare run`: health, readiness and Prometheus metrics (server, metrics), the
database's reachability during outages (database), and a stop within a deadline (shutdown)."""

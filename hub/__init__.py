"""The central hub: MQTT ingest into PostgreSQL/SQLite, dashboards, API, config push."""

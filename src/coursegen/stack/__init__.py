"""The local stack: embedded nats-server and PostgreSQL, migrations, service processes."""

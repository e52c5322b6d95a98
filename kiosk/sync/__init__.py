"""The kiosk's link to central: the sync part (`part`: outbox → MQTT with application acks, health and queue
telemetry, commands), the durable outbox (`outbox`), the topic and payload schema both ends share (`protocol`,
checked against docs/protocol.md) and the purge of delivered personal data (`retention`)."""

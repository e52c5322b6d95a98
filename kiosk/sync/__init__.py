"""The kiosk's link to central over MQTT: the sync part (`part`: outbox → MQTT with application acks), what it reports
besides records (`telemetry`: health and queue) and what it does with central's commands (`dispatch`: a handler per
command). The outbox itself (kiosk.outbox) and the purge of delivered data (kiosk.retention) are the kiosk core's."""

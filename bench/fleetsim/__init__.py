"""bench/fleet.py's parts: the simulated kiosks (kiosks), their MQTT client (mqtt_client), the brokers (brokers)."""

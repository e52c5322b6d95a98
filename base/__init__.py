"""What every vaxkiosk program stands on, and what a kiosk and central must agree on: the wire protocol, the config
rules, the SQLite store, the web server's bounds, the MQTT client. It imports none of the programs (kiosk, central,
provisioning) nor the hardware (drivers): they import it."""

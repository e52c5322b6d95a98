"""The web layer the kiosk's screens, central's dashboard and the set-up screen share: a bounded waitress server,
request limits, server-sent events, logins the server can end with their CSRF token, and what counts as this
machine."""

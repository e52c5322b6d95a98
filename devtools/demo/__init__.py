"""`vaxkiosk demo`: a whole site on one machine — broker, central and two kiosks as real processes on loopback."""

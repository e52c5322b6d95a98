"""Device enrolment, broker configuration, set-up and checks."""

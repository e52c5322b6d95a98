"""Attack tests: each runs an attack against real processes and fails on the code it was written against."""

"""Stand-ins for the physical edge (camera frames, cards), for tests, benchmarks and the demo."""

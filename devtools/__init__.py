"""Development tooling that runs from a checkout, never on a kiosk (not in the wheel): the demo (`vaxkiosk demo`)
and the stand-ins at the physical edge that tests, benchmarks and the demo share (cards, camera videos, a camera
that freezes and unplugs). It may import every package; none imports it."""

"""From a code seen to what the screens hear, one module per job: `readers` (the camera and serial scanner parts, the
repeat window, the camera watchdog and preview), `scan_path` (the one path every scan takes: parse → record lookup or
check-in → the `scan` event), `record_check` (the citizen screen's record-check window and its tokens), `commands`
(`vaxkiosk decode`)."""

"""The caller's process: the job tracker and its retry policy, the watchdog, the Pyro5 callback channel, and the
task a worker runs around the per-image function."""

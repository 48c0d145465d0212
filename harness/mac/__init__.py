"""The simulated Mac: a disk laid out like macOS, boots in a bubblewrap sandbox, the controller
that orders every step (machine.py), launchd and launchctl, and the macOS commands it answers.
It knows nothing of the fleet or of scenarios; the world around it plugs in through `shims.calls.Mac`.
"""

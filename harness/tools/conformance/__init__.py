"""The conformance suite: the same bash probes run on a real Mac and on the simulated one.

Each probe (`probes/*.sh`) checks one behaviour a bootstrap relies on and prints what it saw as
one JSON line; its header says which section of macos-behaviour.md it comes from and what that
section expects. `macsim conformance run` runs them in the simulator and checks the
expectations, `bundle` writes one script that runs them on a Mac as root, and `compare` sets a
real run beside a simulated one (docs/conformance.md).
"""

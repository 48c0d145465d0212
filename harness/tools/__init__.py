"""The tools that drive the Mac and the scenarios: the `macsim` command (cli.py), a suite of
scenarios (suite.py), crash-point exploration (explore.py), the behaviour diff of two scripts
(diff.py), readable reports (report.py) and the pytest plugin (pytest_plugin.py).
"""

"""The macOS commands the controller answers (install, sudo, ssh, shutdown, date, …).

`calls.py` holds the types every handler speaks; each other module is one family of commands
with its own `COMMANDS` table; harness/mac/commands.py puts the tables together.
"""

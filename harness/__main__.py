"""`python -m harness` is the `macsim` command."""
import sys

from .tools.cli import main

sys.exit(main())

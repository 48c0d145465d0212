"""`python -m harness` is the `macsim` command."""
import sys

from .cli import main

sys.exit(main())

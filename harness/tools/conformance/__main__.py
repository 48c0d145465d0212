"""`python -m harness.tools.conformance run|bundle|compare`: the same as `macsim conformance`."""
import argparse
import sys

from .cli import EPILOG, add_subcommands, main

parser = argparse.ArgumentParser(prog="python -m harness.tools.conformance",
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
add_subcommands(parser.add_subparsers(dest="conformance_command", metavar="SUBCOMMAND", required=True))
sys.exit(main(parser.parse_args()))

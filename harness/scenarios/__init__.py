"""Scenario files and what they judge: the schema (schema.py) and its strict loader (loader.py,
checks.py), how a scenario becomes a Mac (build.py), its expectations (expect.py), the
invariants every run is held to (invariants.py), and one run of a scenario (run.py).
"""
from .loader import load_scenario, load_scenarios
from .run import DEFAULT_SCRIPT, ScenarioRun, run_scenario, script_identity
from .schema import Scenario, ScenarioError, format_error

__all__ = ["DEFAULT_SCRIPT", "Scenario", "ScenarioError", "ScenarioRun", "format_error", "load_scenario",
           "load_scenarios", "run_scenario", "script_identity"]

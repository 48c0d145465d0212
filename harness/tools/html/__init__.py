"""HTML reports: one self-contained page per run, and an index.html per suite, gate or exploration.

Pure functions from data to files. They read nothing but their arguments, depend only on the
standard library and harness.trace, and write pages that load nothing from anywhere
(document.py says how, and how trace text is kept from being read as HTML). A run's page is
drawn by its inline script from the JSON it carries (page.js), styled by page.css.
"""
from .document import file_name
from .index import write_exploration_index, write_gate_index, write_suite_index
from .page import write_run_page

__all__ = ["file_name", "write_exploration_index", "write_gate_index", "write_run_page", "write_suite_index"]

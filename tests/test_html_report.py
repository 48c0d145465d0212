"""HTML reports (harness/tools/html, harness/tools/show.py): what a page holds, and the pages in a real browser.

The browser is headless Chromium driven over the DevTools protocol (tests/chromium.py). The
browser tests skip, saying why, only where no Chromium binary exists; with
MACSIM_REQUIRE_BROWSER=1 (CI) a missing browser fails them instead.

Run as a script, this module writes the README's screenshot of a failing run's page:
    python tests/test_html_report.py --screenshot docs/report-failing-run.png
"""
from __future__ import annotations

import html.parser
import io
import json
import os
import re
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":  # run as a script: the repository's harness, as pytest would import it
    sys.path.insert(0, str(ROOT))

from harness.mac.confine import temporary_folder  # noqa: E402
from harness.scenarios import load_scenario, run_scenario  # noqa: E402
from harness.scenarios.causes import first_cause  # noqa: E402
from harness.tools.html import (file_name, write_exploration_index, write_gate_index, write_run_page,  # noqa: E402
                                write_suite_index)
from harness.tools.html.coverage import coverage  # noqa: E402
from harness.tools.html.document import DATA_ID, embedded_json  # noqa: E402
from harness.tools.html.timeline import gap_px  # noqa: E402
from harness.tools.show import show  # noqa: E402
from harness.trace import Event  # noqa: E402

from chromium import BROWSERS, Browser, find_browser  # noqa: E402  (tests/chromium.py)

BOOTSTRAP = ROOT / "src" / "run-puppet.sh"
SCENARIO = ROOT / "scenarios" / "test-plan-1-fresh-m4.toml"
# The one-line defect of tests/quality: the semaphore written without loading worker-runner.
DEFECT = ("    activate_regular_mechanisms\n", "\n")
HOSTILE = '</script><script>document.title="owned"</script><img src=x onerror="alert(1)"><!-- https://evil.example/'


# ---- real runs and their reports ----

def scenario_report(directory: Path, script_text: str, *, replay: str) -> dict:
    """Runs test-plan-1 with the script and writes its page, as `--report` does; the index's row."""
    scenario = load_scenario(SCENARIO)
    with temporary_folder("macsim-html-test-") as work:  # a Mac's disk is a mount: not TemporaryDirectory
        run = run_scenario(scenario, script_text.encode(), "run-puppet.sh", work / "mac")
    events = run.result.trace.events
    violations = [violation.to_json() for violation in run.violations]
    cause = first_cause(events, run.violations)
    summary = f"{run.result.verdict.value}, {run.result.boots} boots, {run.result.steps} steps"
    page = write_run_page(directory, name=scenario.name + ("-defect" if run.violations else ""), events=events,
                          verdict=run.verdict, violations=violations, first_cause=cause.to_json() if cause else None,
                          script_name="run-puppet.sh", script_text=script_text, replay=replay, summary=summary)
    return {"name": page.stem, "verdict": run.verdict, "summary": summary, "page": page.name,
            "first_cause": cause.to_json() if cause else None, "violations": violations, "events": events}


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    """The report of test-plan-1 against the built-in bootstrap and against the one-line defect."""
    directory = tmp_path_factory.mktemp("report")
    text = BOOTSTRAP.read_text()
    assert text.count(DEFECT[0]) == 1, "the defect no longer applies to src/run-puppet.sh: update DEFECT"
    passing = scenario_report(directory, text, replay=f"macsim run {SCENARIO}")
    failing = scenario_report(directory, text.replace(*DEFECT), replay=f"macsim run --script DEFECT.sh {SCENARIO}")
    runs = [{key: value for key, value in run.items() if key != "events"} for run in (passing, failing)]
    index = write_suite_index(directory, runs, script={"path": str(BOOTSTRAP), "sha256": "0" * 64})
    return {"directory": directory, "index": index, "passing": passing, "failing": failing}


@pytest.fixture(scope="module")
def browser():
    binary = find_browser()
    if binary is None:
        reason = ("no Chromium found (looked for $MACSIM_CHROMIUM, " + ", ".join(BROWSERS)
                  + "); install it with `apt-get install chromium` to run the browser tests")
        if os.environ.get("MACSIM_REQUIRE_BROWSER"):
            pytest.fail(reason + " (MACSIM_REQUIRE_BROWSER is set: this machine must have one)")
        # pytest -q lists a skip's reason only with -rs; a warning shows in every summary.
        warnings.warn(f"browser tests skipped: {reason}", stacklevel=1)
        pytest.skip(reason)
    started = Browser(binary)
    yield started
    started.close()


def page_data(path: Path) -> dict:
    text = path.read_text()
    match = re.search(rf'<script type="application/json" id="{DATA_ID}">(.*?)</script>', text, re.S)
    return json.loads(match.group(1))


def outside_the_data(text: str) -> str:
    return re.sub(rf'<script type="application/json" id="{DATA_ID}">.*?</script>', "", text, flags=re.S)


class Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags_of(text: str) -> list[tuple[str, dict]]:
    parser = Tags()
    parser.feed(text)
    return parser.tags


def event(seq: int, kind: str, *, boot: int = 1, t_s: float = 0.0, job: str | None = "mdm-script-job",
          pid: int | None = 3, **data) -> Event:
    return Event(seq, t_s, boot, pid, job, kind, data)


def hostile_trace() -> list[Event]:
    return [
        event(0, "boot", job=None, pid=None, daemons=[], disabled=[], removed_at_boot=0, semaphore=False),
        event(1, "process-start", argv=["/bin/bash", "/private/tmp/x/run.sh"], user="root"),
        event(2, "step", file="/private/tmp/x/run.sh", line="2", step=1),
        event(3, "call", pid=4, name="install", argv=["install", "-m", "755", HOSTILE, "/usr/local/sbin/x"], cwd="/",
              status=71, stderr=f"install: {HOSTILE}: No such file or directory\n", stdout="", step=2, user="root"),
        event(4, "process-exit", status=71),
        event(5, "end", job=None, pid=None, verdict="quiet", detail="no process running, nothing scheduled"),
    ]


# ---- what a page holds ----

def test_trace_text_that_looks_like_html_stays_text_in_the_page(tmp_path):
    cause = {"kind": "command", "seq": 3, "boot": 1, "t_s": 0.0, "job": "mdm-script-job", "line": "run.sh:2",
             "text": f"$ install … → 71 ({HOSTILE})"}
    page = write_run_page(tmp_path, name="hostile</title><script>", events=hostile_trace(), verdict="fail",
                          violations=[{"invariant": "converges", "message": HOSTILE, "boot": 1, "step": None}],
                          first_cause=cause, script_name="run.sh", script_text="#!/bin/bash\ninstall x y\n", replay="")
    text = page.read_text()
    assert "/" not in page.name and page.parent == tmp_path
    assert 'document.title="owned"' not in outside_the_data(text)
    assert "<img" not in text and "</script><script>" not in text and "<!--" not in text
    assert [tag for tag, _ in tags_of(text)].count("script") == 2  # the data block and the page's own
    data = page_data(page)
    assert data["first_cause"]["text"].endswith(f"({HOSTILE})")  # the JSON gives the text back exactly
    install = next(mark for mark in data["timeline"]["marks"] if mark["label"].startswith("$ install"))
    assert ["stderr", f"install: {HOSTILE}: No such file or directory\n"] in install["details"]
    assert "first-cause" in install["flags"]


def test_embedded_json_cannot_end_its_block_or_open_a_comment():
    text = embedded_json({"a": "</script><!--<script>&"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"a": "</script><!--<script>&"}


def test_a_page_file_name_cannot_leave_its_directory():
    assert file_name("../../etc/passwd") == "etc-passwd.html"
    assert file_name("test-plan-1-fresh-m4") == "test-plan-1-fresh-m4.html"


def test_pages_refer_to_nothing_outside_themselves(report):
    for path in sorted(report["directory"].glob("*.html")):
        text = path.read_text()
        assert not re.search(r"https?:|//[a-z0-9]", outside_the_data(text), re.I), path.name
        for tag, attributes in tags_of(text):
            assert tag not in ("link", "img", "iframe", "object", "embed", "base"), (path.name, tag)
            assert "src" not in attributes, (path.name, tag, attributes)
        assert "default-src 'none'" in text


def test_coverage_counts_the_steps_of_every_copy_of_the_script_and_only_those():
    script = "#!/bin/bash\n# a comment\nset -eu\n\nrun_it() {\n    echo hi\n}\nrun_it\n"
    steps = [("/private/tmp/mdm/run.sh", 3), ("/private/tmp/mdm/run.sh", 8), ("/private/tmp/mdm/run.sh", 6),
             ("/usr/local/sbin/copy.sh", 8), ("/usr/local/sbin/copy.sh", 6), ("/usr/local/sbin/copy.sh", 1),
             ("/usr/local/bin/worker-runner.sh", 2), ("/usr/local/bin/worker-runner.sh", 3),
             ("/opt/lib/functions.sh", 40), ("/.macsim/lib/stepper.bash", 3)]
    events = [event(n, "step", file=file, line=str(line), step=n) for n, (file, line) in enumerate(steps)]
    found = coverage(events, script)
    assert found["hits"] == [1, 0, 1, 0, 0, 2, 0, 2]
    assert found["code_lines"] == 5 and found["code_lines_run"] == 3
    assert found["trap_on_line_1"]
    why = {entry["path"]: entry["why_not"] for entry in found["files"]}
    assert why["/private/tmp/mdm/run.sh"] is None and why["/usr/local/sbin/copy.sh"] is None
    assert "line 2, which is blank or a comment" in why["/usr/local/bin/worker-runner.sh"]
    assert "past the script's last line (8)" in why["/opt/lib/functions.sh"]
    assert why["/.macsim/lib/stepper.bash"] == "a file of macsim itself"


def test_a_real_run_counts_the_steps_of_every_copy_of_the_script(report):
    lines = page_data(report["directory"] / report["passing"]["page"])["coverage"]
    counted = {Path(entry["path"]).name for entry in lines["files"] if entry["counted"]}
    left_out = {Path(entry["path"]).name for entry in lines["files"] if not entry["counted"]}
    # MDM's temporary copy, the bootstrap daemon's copy, the one the role installs for worker-runner
    assert counted == {"run-puppet.sh", "ronin-puppet-bootstrap.sh"}
    assert len([entry for entry in lines["files"] if entry["counted"]]) == 3
    assert left_out == {"worker-runner.sh"}
    assert 0 < lines["code_lines_run"] < lines["code_lines"]


def test_the_timeline_groups_files_joins_a_waiting_apply_and_places_a_violation_at_its_step(tmp_path):
    events = [
        event(0, "boot", job=None, pid=None, daemons=[], disabled=[], removed_at_boot=0, semaphore=False),
        event(1, "step", file="/tmp/run.sh", line="1", step=1),
        *(event(2 + n, "file", job="mdm-script-job", change="written", path=f"/private/var/log/run.log.{n}")
          for n in range(3)),
        event(5, "puppet-apply", pid=9, job="ssh-session", argv=["puppet", "apply"], cwd="/", number=1, env={}),
        event(6, "call", pid=9, job="ssh-session", name="puppet", argv=["puppet", "apply"], cwd="/", deferred=True,
              step=2, user="root"),
        event(7, "puppet-apply-done", pid=9, job="ssh-session", t_s=600.0, clean=False, number=1, status=6, tcc="ok"),
        event(8, "call-answered", pid=9, job="ssh-session", t_s=600.0, name="puppet", status=6, stdout="Error: x",
              stderr=""),
        event(9, "step", t_s=600.0, file="/tmp/run.sh", line="2", step=3),
        event(10, "end", job=None, pid=None, t_s=600.0, verdict="quiet", detail="nothing"),
    ]
    page = write_run_page(tmp_path, name="small", events=events, verdict="fail", violations=[
        {"invariant": "converges", "message": "not handed over", "boot": 1, "step": 3}], first_cause=None,
        script_name="run.sh", script_text="", replay="")
    drawn = page_data(page)["timeline"]
    labels = [mark["label"] for mark in drawn["marks"]]
    assert "3 file changes in /private/var/log" in labels
    apply = next(mark for mark in drawn["marks"] if mark["category"] == "puppet")
    assert apply["label"] == "puppet apply #1 → 6 (not clean)" and apply["problem"]
    assert apply["span"][1] - apply["span"][0] >= gap_px(600)  # answered ten minutes later
    assert apply["seqs"] == [5, 6, 7, 8]
    violation = next(mark for mark in drawn["marks"] if mark["id"] == drawn["violations"][0])
    assert violation["x"] > apply["x"] and violation["t_s"] == 600.0
    assert drawn["lanes"][-1] == "invariants and expectations"


def test_the_suite_index_lists_failing_runs_first_in_their_order():
    runs = [{"name": n, "verdict": v, "summary": "", "page": f"{n}.html", "first_cause": None, "violations": []}
            for n, v in (("a", "pass"), ("b", "fail"), ("c", "not-applicable"), ("d", "error"), ("e", "fail"))]
    with tempfile.TemporaryDirectory() as directory:
        data = page_data(write_suite_index(Path(directory), runs))
    assert [run["name"] for run in data["runs"]] == ["b", "e", "d", "a", "c"]
    assert data["counts"] == {"fail": 2, "error": 1, "pass": 1, "not-applicable": 1}


def test_the_gate_index_puts_regressions_first_with_base_and_head_side_by_side():
    side = {"verdict": "pass", "page": "x.html", "first_cause": None}
    rows = [{"name": name, "class": kind, "base": side, "head": side}
            for name, kind in (("p", "pass"), ("f", "fixed"), ("r", "regressed"), ("q", "required-failure"),
                               ("s", "still-failing"))]
    with tempfile.TemporaryDirectory() as directory:
        data = page_data(write_gate_index(Path(directory), rows, base={"path": "a.sh", "sha256": "1", "claims": "any"},
                                          head={"path": "b.sh", "sha256": "2", "claims": "reboot-survivable"}))
    assert [row["name"] for row in data["rows"]] == ["r", "q", "s", "f", "p"]
    assert data["base"]["claims"] == "any" and data["head"]["path"] == "b.sh"


def test_the_exploration_index_groups_failures_by_invariant_and_links_each_crash_run():
    failure = {"message": "m", "boot": 1, "torn": [], "faults": 1, "timeline": "boot 1", "same_failure_at_steps": []}
    exploration = {"scenario": "test-plan-1", "script": {"path": "run.sh", "sha256": "1"}, "steps": 9,
                   "crash_points": 5, "failures": [
                       {**failure, "invariant": "converges", "line": "run.sh:10", "step": 3, "replay": "r3"},
                       {**failure, "invariant": "never-stranded", "line": "run.sh:12", "step": 4, "replay": "r4"},
                       {**failure, "invariant": "converges", "line": "run.sh:20", "step": 7, "replay": "r7"}]}
    with tempfile.TemporaryDirectory() as directory:
        data = page_data(write_exploration_index(Path(directory), exploration, {"r3": "crash-3.html"}))
    assert [(g["invariant"], [f["line"] for f in g["failures"]]) for g in data["groups"]] == [
        ("converges", ["run.sh:10", "run.sh:20"]), ("never-stranded", ["run.sh:12"])]
    assert data["groups"][0]["failures"][0]["page"] == "crash-3.html"
    assert data["groups"][0]["failures"][1]["page"] is None


# ---- macsim show ----

def saved_trace(directory: Path, events: list[Event]) -> Path:
    path = directory / "run.trace.jsonl"
    path.write_text("".join(e.to_json() + "\n" for e in events))
    return path


def test_show_prints_the_timeline_of_a_saved_trace(report, tmp_path):
    out = io.StringIO()
    assert show(saved_trace(tmp_path, report["passing"]["events"]), None, out) == 0
    text = out.getvalue()
    assert "boot 2  at 940 s" in text and "reboot requested (shutdown -r now)" in text
    assert "none violated" in text


def test_show_writes_the_page_and_an_index_of_a_saved_trace(report, tmp_path):
    out = io.StringIO()
    trace = saved_trace(tmp_path, report["failing"]["events"])
    assert show(trace, tmp_path / "pages", out, script=BOOTSTRAP) == 0  # an expectation failed: not in a trace
    data = page_data(tmp_path / "pages" / "run.html")
    assert data["coverage"]["code_lines_run"] > 100 and data["stats"]["boots"] == 2
    assert (tmp_path / "pages" / "index.html").is_file()


def test_show_exits_1_with_the_first_cause_when_an_invariant_is_violated(tmp_path):
    out = io.StringIO()
    assert show(saved_trace(tmp_path, hostile_trace()), None, out) == 1
    assert "invariants violated" in out.getvalue()
    first_cause_line = next(line for line in out.getvalue().splitlines() if line.startswith("first cause:"))
    assert "$ install -m 755" in first_cause_line and "run.sh:2" in first_cause_line


def test_show_names_the_line_of_a_trace_that_is_not_json(tmp_path, capsys):
    trace = tmp_path / "t.jsonl"
    trace.write_text(hostile_trace()[0].to_json() + "\n{not json\n")
    assert show(trace, None, io.StringIO()) == 2
    assert f"{trace}:2: not JSON" in capsys.readouterr().err
    assert show(tmp_path / "missing.jsonl", None, io.StringIO()) == 2
    assert "no such file" in capsys.readouterr().err


# ---- in a real browser ----

def test_every_page_loads_without_a_console_error_and_asks_for_nothing(browser, report):
    for path in sorted(report["directory"].glob("*.html")):
        browser.open(path)
        assert browser.problems() == [], path.name
        assert set(browser.requests()) == {path.as_uri()}, path.name


def test_a_run_page_shows_each_boot_and_one_lane_per_job(browser, report):
    run = report["passing"]
    browser.open(report["directory"] / run["page"])
    boots = sum(1 for e in run["events"] if e.kind == "boot")
    jobs = {e.job for e in run["events"] if e.job}
    assert browser.evaluate("document.querySelectorAll('.boot-band').length") == boots == 2
    lanes = browser.evaluate("[...document.querySelectorAll('.tl-row.lane')].map(row => row.dataset.lane)")
    assert set(lanes) == jobs | {"the Mac"} and len(lanes) == len(jobs) + 1
    assert {"mdm-script-job", "com.mozilla.ronin-puppet-bootstrap", "org.mozilla.worker-runner"} <= jobs
    assert browser.evaluate("document.querySelectorAll('.mark').length") > 20
    endings = browser.evaluate("[...document.querySelectorAll('.boot-head .ended')].map(node => node.textContent)")
    assert endings[0] == "reboot requested by mdm-script-job (shutdown -r now)"
    applies = sum(1 for e in run["events"] if e.kind == "puppet-apply")
    assert browser.evaluate("document.querySelectorAll(\".mark.puppet[title^='puppet apply #']\").length") == applies
    assert browser.evaluate("document.querySelectorAll('.span.puppet').length") == applies > 0  # each to its end


def test_clicking_a_mark_shows_its_command_line_exit_status_and_script_line(browser, report):
    browser.open(report["directory"] / report["passing"]["page"])
    selector = ".mark.command[title^='$ launchctl enable']"
    label = browser.evaluate(f"document.querySelector({json.dumps(selector)}).title")
    browser.click(selector)
    assert browser.evaluate("document.querySelector('#details h3').textContent") == label
    details = browser.evaluate("document.querySelector('#details').innerText")
    assert "command line" in details and "exit status" in details and "script line run-puppet.sh:" in details
    assert browser.evaluate("document.querySelector('.mark.selected').title") == label
    assert browser.problems() == []


def test_the_first_cause_of_a_failing_run_is_one_click_from_the_index(browser, report):
    failing = report["failing"]
    browser.open(report["index"])
    link = f"a[href='{failing['page']}#first-cause']"
    assert browser.evaluate(f"document.querySelector({json.dumps(link)}).textContent") == failing["first_cause"]["text"]
    browser.messages = []
    browser.click(link)
    browser.wait_for("Page.loadEventFired")
    browser.evaluate("1")
    assert browser.evaluate("location.hash") == "#first-cause"
    shown = browser.evaluate("document.querySelector('#first-cause .cause-text').textContent")
    assert shown == failing["first_cause"]["text"]
    assert browser.evaluate("document.querySelector('.mark.selected').classList.contains('first-cause')")
    assert "first cause" in browser.evaluate("document.querySelector('#details').innerText")
    assert browser.problems() == []


def test_the_gate_and_exploration_indexes_load_and_lead_to_a_first_cause(browser, report, tmp_path):
    failing = report["failing"]
    cause = failing["first_cause"]
    rows = [{"name": "passing", "class": "pass", "base": {"verdict": "pass", "page": None, "first_cause": None},
             "head": {"verdict": "pass", "page": None, "first_cause": None}},
            {"name": "test-plan-1-fresh-m4", "class": "regressed", "head": {
                "verdict": "fail", "page": failing["page"], "first_cause": cause},
             "base": {"verdict": "pass", "page": None, "first_cause": None}}]
    gate = write_gate_index(tmp_path / "gate", rows, base={"path": "base.sh", "sha256": "1" * 64, "claims": "any"},
                            head={"path": "head.sh", "sha256": "2" * 64, "claims": "reboot-survivable"})
    for directory in (gate.parent, tmp_path):  # each index links to the page beside it
        shutil.copy(report["directory"] / failing["page"], directory / failing["page"])
    browser.open(gate)
    assert browser.evaluate("[...document.querySelectorAll('table.runs tbody tr')].map(r => r.className)") == [
        "regressed", "pass"]
    assert browser.evaluate(f"document.querySelector(\"a[href='{failing['page']}#first-cause']\").textContent") \
        == cause["text"]
    assert browser.problems() == []
    failure = {"invariant": "converges", "message": "m", "line": "run-puppet.sh:10", "step": 3, "boot": 1,
               "torn": [], "faults": 1, "replay": "macsim run … --power-loss-at-step 3", "timeline": "boot 1",
               "same_failure_at_steps": []}
    exploration = write_exploration_index(tmp_path, {"scenario": "test-plan-1", "steps": 9, "crash_points": 1,
                                                     "with_a_torn_file": 0, "covered_by_an_equal_state": 8,
                                                     "failures": [failure], "wall_s": 1.0,
                                                     "uncut": {"violations": [["semaphore-written", "no semaphore"]],
                                                               "first_cause": "boot 1: $ puppet apply → 1"},
                                                     "failing_as_without_a_cut": 4},
                                          {failure["replay"]: failing["page"]})
    browser.open(exploration)
    # What the run without a cut breaks comes before what the cuts add.
    assert browser.evaluate("[...document.querySelectorAll('main section.card h2')]"
                            ".map(h => h.textContent)")[:2] == [
        "Without a power cut the run already fails", "converges (1)"]
    browser.messages = []
    browser.click(f"a[href='{failing['page']}#first-cause']")
    browser.wait_for("Page.loadEventFired")
    assert browser.evaluate("document.querySelector('.mark.selected').classList.contains('first-cause')")
    assert browser.problems() == []


def test_hostile_trace_text_shows_as_text_and_runs_nothing(tmp_path, browser):
    cause = {"kind": "command", "seq": 3, "boot": 1, "t_s": 0.0, "job": "mdm-script-job", "line": "run.sh:2",
             "text": HOSTILE}
    page = write_run_page(tmp_path, name="hostile", events=hostile_trace(), verdict="fail", first_cause=cause,
                          violations=[{"invariant": HOSTILE, "message": HOSTILE, "boot": 1, "step": 2}],
                          script_name="run.sh", script_text=f"#!/bin/bash\necho '{HOSTILE}'\n", replay=HOSTILE)
    browser.open(page)
    assert browser.evaluate("document.title") != "owned"
    assert browser.evaluate("document.querySelectorAll('img').length") == 0
    browser.click(".mark.command")
    assert HOSTILE in browser.evaluate("document.querySelector('#details').textContent")
    assert browser.problems() == [] and set(browser.requests()) == {page.as_uri()}


def test_a_screenshot_of_a_failing_run_shows_its_first_cause(browser, report, tmp_path):
    shot = screenshot(browser, report["directory"] / report["failing"]["page"], tmp_path / "failing.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def screenshot(browser: Browser, page: Path, path: Path) -> Path:
    """The page at the size the README shows it, its first cause selected, scrolled to the top."""
    browser.call("Emulation.setDeviceMetricsOverride", {"width": 1680, "height": 1100, "deviceScaleFactor": 1,
                                                        "mobile": False})
    browser.open(page)
    browser.click("#first-cause .show-cause")
    browser.evaluate("window.scrollTo(0, 0)")
    browser.screenshot(path, 1680, 1100)
    return path


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "--screenshot":
        print("usage: python tests/test_html_report.py --screenshot docs/report-failing-run.png", file=sys.stderr)
        return 2
    binary = find_browser()
    if binary is None:
        print("no Chromium found: apt-get install chromium, or set MACSIM_CHROMIUM", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="macsim-screenshot-") as directory:
        text = BOOTSTRAP.read_text()
        failing = scenario_report(Path(directory), text.replace(*DEFECT),
                                  replay=f"macsim run --script run-puppet-defect.sh {SCENARIO.relative_to(ROOT)}")
        browser = Browser(binary)
        try:
            screenshot(browser, Path(directory) / failing["page"], Path(argv[1]))
        finally:
            browser.close()
    print(f"wrote {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The conformance suite: probes, the simulator's run, the bundle, the comparison, the workflow.

The sandbox tests run the real probes in the simulator (once for the module: about 15 s) and
the real bundle on a simulated Mac; the comparison is shown to pass a real-side file that
differs only as known, and to catch one changed observation of a modelled behaviour.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import Limits, Machine

from harness.tools.conformance.bundle import render
from harness.tools.conformance.compare import (AGREE, DIFFER, ERROR, KNOWN, SKIPPED,
                                               KnownDifferences, check_run, compare_runs, stale)
from harness.tools.conformance.probes import LIBRARY, PROBES_DIR, ProbeError, load_probes, read_probe
from harness.tools.conformance.results import InputError, Result, Run, load_run
from harness.tools.conformance.table import NOT_CONFIRMED, markdown

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "conformance.yml"
MACOS_BEHAVIOUR = ROOT.parent / "shared" / "reference" / "macos-behaviour.md"
PROBES = load_probes()
LISTED = KnownDifferences.load(probes=PROBES)
#: Probes whose known difference is the whole probe (the simulator cannot run them today).
CANNOT_RUN = {e.probe for e in LISTED.entries if "*" in e.fields}


def conformance(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """`macsim conformance ARGS` as a user runs it (through the package's __main__)."""
    return subprocess.run([sys.executable, "-m", "harness.tools.conformance", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def shellcheck(path: Path) -> subprocess.CompletedProcess:
    program = shutil.which("shellcheck")
    if program is None:
        pytest.skip("shellcheck is not installed (tox's tests environment has it)")
    return subprocess.run([program, "-s", "bash", str(path)], capture_output=True, text=True)


def bash32(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "check_bash32.py"), str(path)],
                          capture_output=True, text=True)


# The probes as files


def test_every_probe_has_an_id_a_behaviour_a_source_and_an_expectation():
    assert len(PROBES) >= 20
    assert len({p.id for p in PROBES}) == len(PROBES)
    for probe in PROBES:
        assert probe.behaviour and probe.sources and probe.expect, probe.id
    assert {p.id for p in PROBES if p.reboot} == {"tmp-after-reboot", "boot-honours-overrides"}


@pytest.mark.skipif(not MACOS_BEHAVIOUR.exists(), reason="shared/reference/macos-behaviour.md is not beside the repository")
def test_every_section_a_probe_cites_exists_in_macos_behaviour():
    text = MACOS_BEHAVIOUR.read_text()
    sections = set(re.findall(r"^## (\d+b?)\.", text, re.M)) | set(re.findall(r"^(\d+\.\d+) ", text, re.M))
    for probe in PROBES:
        for source in probe.sources:
            for cited in re.findall(r"§(\d+(?:\.\d+)?b?)", source):
                assert cited in sections, f"{probe.id} cites §{cited}, which macos-behaviour.md does not have"


def test_a_probe_header_that_is_not_toml_is_refused_with_its_file(tmp_path):
    bad = tmp_path / "broken.sh"
    bad.write_text('# --- probe\n# id = "broken"\n# behaviour = \n# ---\necho\n')
    with pytest.raises(ProbeError, match=r"broken\.sh: the header .* is not TOML"):
        read_probe(bad)


def test_a_probe_whose_id_is_not_its_file_name_is_refused(tmp_path):
    bad = tmp_path / "named.sh"
    bad.write_text('# --- probe\n# id = "other"\n# behaviour = "b"\n# source = "§4"\n# reboot = false\n'
                   '# [expect]\n# x = 1\n# ---\n')
    with pytest.raises(ProbeError, match=r"header id is 'other', expected 'named'"):
        read_probe(bad)


def test_an_expectation_of_an_unknown_form_says_which_forms_exist(tmp_path):
    bad = tmp_path / "odd.sh"
    bad.write_text('# --- probe\n# id = "odd"\n# behaviour = "b"\n# source = "§4"\n# reboot = false\n'
                   '# [expect]\n# x = { roughly = 1 }\n# ---\n')
    with pytest.raises(ProbeError, match=r"\[expect\] x: got .*one_of"):
        read_probe(bad)


def test_expectations_check_values_ranges_choices_and_text():
    probe = read_probe(PROBES_DIR / "throttle-interval.sh")
    gap = probe.expectation("first_gap_s")
    assert gap.holds(10) and gap.holds(12) and not gap.holds(13) and not gap.holds("10")
    already = read_probe(PROBES_DIR / "launchctl-already-loaded.sh")
    assert already.expectation("again_status").holds(37) and not already.expectation("again_status").holds(3)
    assert already.expectation("load_stderr").holds("Load failed: 5: Input/output error\nTry running")
    started = read_probe(PROBES_DIR / "load-runatload.sh").expectation("started")
    assert started.holds(True) and not started.holds(1)


@pytest.mark.parametrize("probe", PROBES, ids=[p.id for p in PROBES])
def test_each_assembled_probe_passes_shellcheck_and_the_bash32_check(probe, tmp_path):
    script = tmp_path / f"{probe.id}.sh"
    script.write_text(probe.script())
    checked = shellcheck(script)
    assert checked.returncode == 0, checked.stdout
    checked = bash32(script)
    assert checked.returncode == 0, checked.stdout


def test_json_string_escapes_quotes_backslashes_and_control_characters():
    nasty = 'say "hi"\\ \n\ttab\r\x01 & * [x] ~ é'
    script = ("PROBE_ID=t\nPROBE_DIR=$(mktemp -d)\n" + LIBRARY.read_text().replace(
        'PROBE_DIR="/private/var/tmp/$PROBE_LABEL"', "") +
        'observe text "$1"\nobserve_number n 42\nobserve_number neg -3\nobserve_number zeros 007\n'
        'observe_flag yes true\nobserve_flag no false\nprobe_report\nrm -rf "$PROBE_DIR"\n')
    printed = subprocess.run(["bash", "-c", script, "probe", nasty], capture_output=True, text=True)
    assert json.loads(printed.stdout) == {"probe": "t", "text": nasty, "n": 42, "neg": -3, "zeros": "007",
                                          "yes": True, "no": False}


# The bundle as a file


def test_the_bundle_passes_shellcheck_and_the_bash32_check(tmp_path):
    written = conformance("bundle", "-o", str(tmp_path / "bundle.sh"))
    assert written.returncode == 0, written.stderr
    assert shellcheck(tmp_path / "bundle.sh").returncode == 0
    checked = bash32(tmp_path / "bundle.sh")
    assert checked.returncode == 0, checked.stdout
    text = (tmp_path / "bundle.sh").read_text()
    for probe in PROBES:
        if probe.reboot:
            assert f'add_result {probe.id} skipped' in text
        else:
            assert probe.script() in text, f"the bundle does not carry {probe.id} as the simulator runs it"


def test_add_commands_gives_a_parent_parser_conformance_run_bundle_and_compare(tmp_path):
    import argparse
    from harness.tools.conformance.cli import add_commands, main
    parser = argparse.ArgumentParser(prog="macsim")
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["conformance", "bundle", "-o", str(tmp_path / "b.sh"), "--probe", "tmp-layout"])
    assert args.command == "conformance" and main(args) == 0
    assert "# Probe tmp-layout:" in (tmp_path / "b.sh").read_text()
    args = parser.parse_args(["conformance", "compare", str(tmp_path / "r.json"), str(tmp_path / "s.json")])
    assert main(args) == 2


def test_the_bundle_refuses_to_run_anywhere_but_macos(tmp_path):
    bundle = tmp_path / "bundle.sh"
    bundle.write_text(render(PROBES[:1], version="test"))
    ran = subprocess.run(["bash", str(bundle)], capture_output=True, text=True)
    assert ran.returncode == 2 and ran.stdout == ""
    assert "sudo bash" in ran.stderr or "macOS only" in ran.stderr


# Documents: reading them, and the errors for bad input


def _document(tmp_path: Path, data: object, name: str = "run.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_a_missing_file_says_what_to_give_instead(tmp_path):
    with pytest.raises(InputError, match=r"no such file; give the JSON that `macsim conformance run --json FILE`"):
        load_run(tmp_path / "absent.json")


def test_a_file_that_is_not_json_says_how_it_begins(tmp_path):
    with pytest.raises(InputError, match=r"not JSON .* it begins 'conformance bundle: run it as root"):
        load_run(_document(tmp_path, "conformance bundle: run it as root\n"))


def test_a_document_of_another_schema_names_the_key_expected_and_got(tmp_path):
    with pytest.raises(InputError, match=r"schema: expected 'macsim-conformance/1', got 'v0'"):
        load_run(_document(tmp_path, {"schema": "v0"}))


def test_compare_with_bad_input_exits_2_with_a_clear_message(tmp_path):
    simulated = _document(tmp_path, {"schema": "macsim-conformance/1", "side": "simulator", "date": "d",
                                     "platform": {}, "results": [{"probe": "x", "status": "maybe"}]})
    compared = conformance("compare", str(tmp_path / "absent.json"), str(simulated))
    assert compared.returncode == 2 and "absent.json: no such file" in compared.stderr
    compared = conformance("compare", str(simulated), str(simulated))
    assert compared.returncode == 2 and "side: expected 'real', got 'simulator'" in compared.stderr
    real = _document(tmp_path, {"schema": "macsim-conformance/1", "side": "real", "date": "d",
                                "platform": {}, "results": []}, "real.json")
    compared = conformance("compare", str(real), str(simulated))
    assert compared.returncode == 2 and "results[0].status: expected observed or skipped or error, got 'maybe'" in compared.stderr


def test_an_unknown_probe_name_lists_the_probes():
    ran = conformance("run", "--probe", "no-such-probe")
    assert ran.returncode == 2 and "--probe: no probe no-such-probe; the probes are: base-tools" in ran.stderr


def test_a_known_difference_without_a_reason_is_refused(tmp_path):
    listed = tmp_path / "known.toml"
    listed.write_text('[[difference]]\nprobe = "stat-format"\nfields = ["owner_stdout"]\nkind = "gap"\nreason = " "\n')
    with pytest.raises(InputError, match="every known difference says why"):
        KnownDifferences.load(listed, PROBES)


# Comparing, on made-up runs


def _run(side: str, observations: dict[str, dict | None], **platform) -> Run:
    results = tuple(
        Result(probe, "skipped", reason="needs a reboot") if seen is None
        else Result(probe, "observed", json.dumps({"probe": probe, **seen}))
        for probe, seen in observations.items())
    return Run(side, "2025-06-02T04:17:00Z", {"product_version": "15.5", "build_version": "24F74", **platform},
               results)


def _probe(probe_id: str):
    return next(p for p in PROBES if p.id == probe_id)


def test_a_range_in_the_expectation_is_a_tolerance_between_real_and_simulated():
    probe = _probe("load-runatload")
    same = {"load_status": 0, "load_stderr": "", "started": True, "runs": 1}
    real = _run("real", {probe.id: {**same, "waited_s": 1}})
    simulated = _run("simulator", {probe.id: {**same, "waited_s": 0}})
    assert compare_runs([probe], real, simulated, LISTED)[0].outcome == AGREE
    real = _run("real", {probe.id: {**same, "waited_s": 3}})
    verdict = compare_runs([probe], real, simulated, LISTED)[0]
    assert (verdict.outcome, verdict.fields) == (DIFFER, ("waited_s",))
    assert verdict.detail == "waited_s: real 3, simulator 0"


def test_a_difference_on_known_fields_is_known_and_on_another_field_is_not():
    probe = _probe("date-formats")
    same = {"epoch_status": 0, "epoch_stdout": "Thu Jan  1 00:00:00 UTC 1970",
            "formatted_stdout": "2023-11-14T22:13:20Z"}
    simulated = _run("simulator", {probe.id: {**same, "parse_status": 127, "parse_stdout": ""}})
    real = _run("real", {probe.id: {**same, "parse_status": 0, "parse_stdout": "1704164645"}})
    verdict = compare_runs([probe], real, simulated, LISTED)[0]
    assert verdict.outcome == KNOWN and verdict.known[0].kind == "gap"
    real = _run("real", {probe.id: {**same, "parse_status": 0, "parse_stdout": "1704164645", "extra": True}})
    assert compare_runs([probe], real, simulated, LISTED)[0].outcome == DIFFER


def test_skipped_and_missing_probes_are_skipped_and_a_broken_line_is_an_error():
    reboot, plain = _probe("tmp-after-reboot"), _probe("tmp-layout")
    real = Run("real", "d", {}, (Result(reboot.id, "skipped", reason="needs a reboot"),
                                 Result(plain.id, "observed", '{"probe": "tmp-layout", "tmp_link": ')))
    simulated = _run("simulator", {reboot.id: {"tmp_kept": False}, plain.id: {"tmp_link": "private/tmp"}})
    verdicts = compare_runs([reboot, plain], real, simulated, LISTED)
    assert [v.outcome for v in verdicts] == [SKIPPED, ERROR]
    assert "no well-formed observation" in verdicts[1].detail


def test_a_known_difference_that_no_longer_occurs_is_reported_as_stale():
    probe = _probe("date-formats")
    fixed = {"epoch_status": 0, "epoch_stdout": "Thu Jan  1 00:00:00 UTC 1970",
             "formatted_stdout": "2023-11-14T22:13:20Z", "parse_status": 0, "parse_stdout": "1704164645"}
    verdicts = check_run([probe], _run("simulator", {probe.id: fixed}), LISTED)
    assert verdicts[0].outcome == AGREE
    assert [e.probe for e in stale(LISTED, verdicts)] == ["date-formats"]


def test_the_table_says_not_yet_confirmed_until_a_real_run_and_then_when_and_on_which_build():
    probe = _probe("tmp-layout")
    seen = {"tmp_link": "private/tmp", "var_link": "private/var", "etc_link": "private/etc",
            "tmp_dir": "drwxrwxrwt root wheel", "var_tmp_dir": "drwxrwxrwt root wheel"}
    simulated = _run("simulator", {probe.id: seen})
    checks = check_run([probe], simulated, LISTED)
    table = markdown(checks, simulated=simulated, known=LISTED.entries)
    row = next(line for line in table.splitlines() if line.startswith("| `tmp-layout`"))
    assert row.endswith(f"| as documented | {NOT_CONFIRMED} |") and "§10.4, §9" in row
    real = _run("real", {probe.id: seen})
    table = markdown(checks, simulated=simulated, known=LISTED.entries, real=real,
                     comparison=compare_runs([probe], real, simulated, LISTED))
    row = next(line for line in table.splitlines() if line.startswith("| `tmp-layout`"))
    assert row.endswith("| agrees with the simulator (2025-06-02, macOS 15.5 (24F74)) |")
    assert "| `date-formats` | parse_status, parse_stdout, parse_stderr | gap |" in table


# The workflow file


def _parse_yaml_subset(text: str):
    """The YAML the workflow uses (block maps and lists, `|` blocks, plain and quoted scalars),
    for checking its structure where PyYAML is not installed."""
    lines = text.splitlines()

    def indent(line: str) -> int:
        return len(line) - len(line.lstrip(" "))

    def code(line: str) -> str:
        quote = None
        for index, char in enumerate(line):
            if char in "\"'" and quote in (None, char):
                quote = None if quote else char
            elif char == "#" and quote is None and (index == 0 or line[index - 1] == " "):
                return line[:index].rstrip()
        return line.rstrip()

    def scalar(text: str):
        text = text.strip()
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
            return text[1:-1]
        if text.isdigit():
            return int(text)
        return {"true": True, "false": False, "": None}.get(text, text)

    def skip(i: int) -> int:
        while i < len(lines) and not code(lines[i]).strip():
            i += 1
        return i

    def block(i: int, level: int):
        i = skip(i)
        if i >= len(lines) or indent(lines[i]) < level:
            return None, i
        level = indent(lines[i])
        if code(lines[i]).strip().startswith("- "):
            items = []
            while i < len(lines) and indent(lines[i]) == level and code(lines[i]).strip().startswith("- "):
                lines[i] = " " * (level + 2) + code(lines[i]).strip()[2:]
                if ":" not in lines[i] or lines[i].strip()[0] in "\"'":
                    items.append(scalar(lines[i]))
                    i = skip(i + 1)
                else:
                    item, i = block(i, level + 2)
                    items.append(item)
                i = skip(i)
            return items, i
        mapping = {}
        while i < len(lines) and indent(lines[i]) == level:
            key, _, rest = code(lines[i]).strip().partition(":")
            if rest.strip() == "|":
                body, i = [], i + 1
                while i < len(lines) and (not lines[i].strip() or indent(lines[i]) > level):
                    body.append(lines[i])
                    i += 1
                while body and not body[-1].strip():
                    body.pop()
                cut = min(indent(b) for b in body if b.strip())
                mapping[key] = "\n".join(b[cut:] for b in body) + "\n"
            elif rest.strip():
                mapping[key], i = scalar(rest), i + 1
            else:
                mapping[key], i = block(i + 1, level + 1)
            i = skip(i)
        return mapping, i

    return block(0, 0)[0]


def _workflow() -> dict:
    text = WORKFLOW.read_text()
    assert "\t" not in text, "YAML forbids tabs in indentation"
    ours = _parse_yaml_subset(text)
    try:
        import yaml
    except ImportError:
        return ours
    theirs = yaml.safe_load(text)
    theirs["on"] = theirs.pop(True)  # YAML 1.1 reads the key `on` as true
    assert json.loads(json.dumps(theirs)) == json.loads(json.dumps(ours)), "the structural parser misread the workflow"
    return theirs


def test_the_workflow_runs_weekly_and_on_changes_to_the_simulator():
    workflow = _workflow()
    assert re.fullmatch(r"(\S+ ){4}\S+", workflow["on"]["schedule"][0]["cron"])
    for event in ("push", "pull_request"):
        assert "harness/**" in workflow["on"][event]["paths"]


def test_the_workflow_runs_the_bundle_on_macos_15_and_compares_on_linux():
    jobs = _workflow()["jobs"]
    assert jobs["real-mac"]["runs-on"] == "macos-15"
    mac_steps = "\n".join(step.get("run", "") for step in jobs["real-mac"]["steps"])
    assert "sudo bash conformance-bundle.sh > real.json" in mac_steps
    for name, job in jobs.items():
        assert job["runs-on"] and job["steps"], name
        needs = job.get("needs", [])
        for needed in [needs] if isinstance(needs, str) else needs:
            assert needed in jobs, f"{name} needs {needed}, which is not a job"
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), f"{name}: a step either uses an action or runs"
            if "uses" in step:
                assert re.fullmatch(r"actions/[\w-]+@v\d+", step["uses"]), step["uses"]
    uploaded = {s["with"]["name"] for j in jobs.values() for s in j["steps"] if "upload-artifact" in s.get("uses", "")}
    downloaded = {s["with"]["name"] for j in jobs.values() for s in j["steps"] if "download-artifact" in s.get("uses", "")}
    assert downloaded <= uploaded
    linux = "\n".join(step.get("run", "") for step in jobs["simulator"]["steps"])
    assert "apt-get install" in linux and "bubblewrap" in linux and "pip install ." in linux
    assert 'GITHUB_STEP_SUMMARY' in linux


def test_every_shell_step_of_the_workflow_passes_shellcheck(tmp_path):
    for name, job in _workflow()["jobs"].items():
        for index, step in enumerate(job["steps"]):
            if "run" in step:
                script = tmp_path / f"{name}-{index}.sh"
                script.write_text(re.sub(r"\$\{\{[^}]*\}\}", "x", step["run"]))
                checked = shellcheck(script)
                assert checked.returncode == 0, f"{name} step {index}:\n{checked.stdout}"


# In the simulator: the suite, the bundle, the comparison, the workflow's compare step


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path, Path]:
    """`macsim conformance run --json sim.json --markdown table.md`, once for the module."""
    folder = tmp_path_factory.mktemp("conformance")
    ran = conformance("run", "--json", str(folder / "sim.json"), "--markdown", str(folder / "table.md"))
    return ran, folder / "sim.json", folder / "table.md"


@pytest.mark.sandbox
def test_every_probe_runs_in_the_simulator_as_documented_or_as_known(simulated):
    ran, sim_json, _ = simulated
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run = load_run(sim_json, side="simulator")
    assert [r.probe for r in run.results] == [p.id for p in PROBES]
    outcomes = {v.probe.id: v.outcome for v in check_run(PROBES, run, LISTED)}
    assert set(outcomes.values()) <= {AGREE, KNOWN}
    assert {p for p, o in outcomes.items() if o == KNOWN} == {e.probe for e in LISTED.entries}
    for probe in PROBES:
        result = run.result(probe.id)
        assert result.status == ("error" if probe.id in CANNOT_RUN else "observed"), (probe.id, result.reason)
    assert f"{len(PROBES)} probe(s) in the simulator" in ran.stdout


@pytest.mark.sandbox
def test_the_table_from_a_simulator_run_says_not_yet_confirmed_on_every_row(simulated):
    table = simulated[2].read_text()
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    probe_rows = rows[:len(PROBES)]
    assert len(probe_rows) == len(PROBES)
    assert all(row.endswith(f"| {NOT_CONFIRMED} |") for row in probe_rows)


@pytest.mark.sandbox
def test_observations_come_from_the_simulated_mac_not_from_the_probe_text(tmp_path):
    """The same probe on a Mac of another version answers differently (install on 15.4+
    writes a temporary file first, §11.2), and so does a probe edited to look elsewhere."""
    real = _document(tmp_path, {"schema": "macsim-conformance/1", "side": "real", "date": "d",
                                "platform": {"product_version": "15.5", "build_version": "24F74",
                                             "kernel_release": "24.5.0"}, "results": []}, "real.json")
    ran = conformance("run", "--probe", "install-missing-directory", "--probe", "sw-vers",
                      "--like", str(real), "--json", str(tmp_path / "sim.json"))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run = load_run(tmp_path / "sim.json")
    assert run.result("install-missing-directory").observation()["stderr"].endswith("/missing/INS@XXXXXX: No such file or directory")
    assert run.platform["product_version"] == "15.5"
    edited = tmp_path / "probes"
    edited.mkdir()
    shutil.copy(LIBRARY, edited / LIBRARY.name)
    text = (PROBES_DIR / "tmp-layout.sh").read_text().replace("readlink /tmp", "readlink /var")
    (edited / "tmp-layout.sh").write_text(text)
    from harness.tools.conformance.simulator import run_probe
    result = run_probe(read_probe(edited / "tmp-layout.sh"), tmp_path / "mac")
    assert result.observation()["tmp_link"] == "private/var"


def _real_from(simulated_run: Run) -> dict:
    """A hand-made real Mac's document: the simulator's observations, skipped where a runner
    cannot reboot, with the known differences answered as macOS answers them."""
    macos_answers = {
        "date-formats": {"parse_status": 0, "parse_stdout": "1704164645", "parse_stderr": ""},
        "base-tools": {"awk_status": 0, "awk_stdout": "3", "which_status": 0, "which_stdout": "/bin/bash",
                       "plutil_status": 0, "plutil_stdout": f"{'/private/var/tmp/org.macsim.probe.base-tools/empty.plist'}: OK",
                       "plutil_stderr": ""},
        "install-into-own-directory": {"install_status": 0, "install_stdout": "", "install_stderr": "", "kept": True},
    }
    results = []
    for probe in PROBES:
        if probe.reboot:
            results.append({"probe": probe.id, "status": "skipped", "output": "",
                            "reason": "needs a reboot; the bundle does not restart the Mac it runs on"})
            continue
        observation = simulated_run.result(probe.id).observation() or {}
        observation = {"probe": probe.id, **observation, **macos_answers.get(probe.id, {})}
        results.append({"probe": probe.id, "status": "observed", "output": json.dumps(observation), "reason": ""})
    return {"schema": "macsim-conformance/1", "side": "real", "date": "2025-06-02T04:17:00Z",
            "platform": {"product_version": "15.3.1", "build_version": "24D70", "kernel_release": "24.3.0",
                         "arch": "arm64", "runner": "bundle"},
            "results": results, "leftovers": ['"org.macsim.probe.unload-w-disables" => enabled']}


@pytest.mark.sandbox
def test_compare_passes_a_real_run_that_differs_only_as_known(simulated, tmp_path):
    _, sim_json, _ = simulated
    real = _document(tmp_path, _real_from(load_run(sim_json)), "real.json")
    compared = conformance("compare", str(real), str(sim_json), "--markdown", str(tmp_path / "table.md"))
    assert compared.returncode == 0, compared.stdout + compared.stderr
    assert "known  date-formats: gap: parse_status, parse_stderr, parse_stdout" in compared.stdout
    assert "skip   tmp-after-reboot: needs a reboot" in compared.stdout
    assert "0 differ" in compared.stdout
    table = (tmp_path / "table.md").read_text()
    assert "| agrees with the simulator (2025-06-02, macOS 15.3.1 (24D70)) |" in table
    assert '`"org.macsim.probe.unload-w-disables" => enabled`' in table


@pytest.mark.sandbox
def test_compare_fails_when_one_observation_of_a_modelled_behaviour_changes(simulated, tmp_path):
    _, sim_json, _ = simulated
    document = _real_from(load_run(sim_json))
    for entry in document["results"]:
        if entry["probe"] == "bootout-self":
            observation = json.loads(entry["output"])
            observation["ran_after"] = True
            entry["output"] = json.dumps(observation)
    real = _document(tmp_path, document, "real.json")
    compared = conformance("compare", str(real), str(sim_json))
    assert compared.returncode == 1, compared.stdout + compared.stderr
    assert "DIFFER bootout-self: ran_after: real true, simulator false" in compared.stdout
    assert "note: on the real Mac, bootout-self contradicts its source: ran_after = false" in compared.stdout


def _run_on_a_simulated_mac(tmp_path: Path, bundle: str, timeout_s: int) -> tuple[Machine, dict]:
    """Runs a bundle as root on a fresh simulated Mac; returns the Mac and its document."""
    machine = Machine(tmp_path / "mac", limits=Limits(boots=1, real_s=240, simulated_s=7200))
    machine.disk.add_file("/private/var/tmp/bundle.sh", bundle, mode=0o755)
    machine.start_script(
        f"CONFORMANCE_TIMEOUT_S={timeout_s} bash /private/var/tmp/bundle.sh > /private/var/tmp/real.json "
        f"2> /private/var/tmp/bundle.err\necho \"bundle: $?\"\nlaunchctl list\n"
        "ls /Library/LaunchDaemons /private/var/tmp /private/tmp\n".encode())
    machine.run()
    document = json.loads(machine.disk.host_path("/private/var/tmp/real.json").read_text())
    return machine, document


@pytest.mark.sandbox
def test_the_bundle_on_a_simulated_mac_observes_what_the_simulator_run_does_and_leaves_nothing(simulated, tmp_path):
    chosen = [_probe(i) for i in ("load-runatload", "unload-w-disables", "stat-format", "tmp-after-reboot")]
    machine, document = _run_on_a_simulated_mac(tmp_path, render(chosen, version="test"), timeout_s=0)
    printed = machine.output()
    assert "bundle: 0" in printed
    assert "org.macsim.probe" not in printed.split("bundle: 0", 1)[1], "a probe left a job or a file behind"
    assert document["leftovers"] == ['"org.macsim.probe.unload-w-disables" => enabled']
    document["side"] = "real"
    real = load_run(_document(tmp_path, document, "real.json"))
    verdicts = compare_runs(chosen, real, load_run(simulated[1]), LISTED)
    assert [v.outcome for v in verdicts] == [AGREE, AGREE, AGREE, SKIPPED], [v.detail for v in verdicts]


@pytest.mark.sandbox
def test_the_bundle_stops_a_probe_that_runs_too_long_and_nothing_is_left_after_it(tmp_path):
    machine, document = _run_on_a_simulated_mac(tmp_path, render([_probe("throttle-interval")], version="test"),
                                                timeout_s=3)
    [result] = document["results"]
    assert result["status"] == "error" and result["reason"].startswith("stopped after 3 s")
    assert "org.macsim.probe" not in machine.output().split("bundle: 0", 1)[1]


def _workflow_step(job: str, name: str) -> str:
    return next(s["run"] for s in _workflow()["jobs"][job]["steps"] if s.get("name") == name)


@pytest.fixture
def step_folder(tmp_path: Path) -> tuple[Path, dict]:
    """A folder and environment to run a workflow step in: `macsim` on PATH runs this
    checkout's conformance commands, on two probes so that the step stays quick."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    probes = " ".join(f"--probe {p}" for p in ("tmp-layout", "load-runatload"))
    (bin_dir / "macsim").write_text(
        "#!/bin/bash\n[ \"$1\" = conformance ] || exit 64\nshift\n"
        f"if [ \"$1\" = run ]; then shift; set -- run {probes} \"$@\"; fi\n"
        f"exec {sys.executable} -m harness.tools.conformance \"$@\"\n")
    (bin_dir / "macsim").chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT),
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
    return work, env


@pytest.mark.sandbox
def test_the_workflows_compare_step_publishes_the_table_and_fails_on_a_difference(simulated, step_folder):
    work, env = step_folder
    step = _workflow_step("simulator", "Run the probes in the simulator and compare")
    document = _real_from(load_run(simulated[1]))
    (work / "real.json").write_text(json.dumps(document))
    ran = subprocess.run(["bash", "-c", step], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "| `tmp-layout` |" in summary and "agrees with the simulator (2025-06-02" in summary
    for entry in document["results"]:
        if entry["probe"] == "tmp-layout":
            entry["output"] = entry["output"].replace("drwxrwxrwt", "drwxrwxrwx")
    (work / "real.json").write_text(json.dumps(document))
    ran = subprocess.run(["bash", "-c", step], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "DIFFER tmp-layout: tmp_dir: real" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()


@pytest.mark.sandbox
def test_the_workflows_compare_step_without_a_real_run_shows_the_simulator_alone(step_folder):
    work, env = step_folder
    step = _workflow_step("simulator", "Run the probes in the simulator and compare")
    ran = subprocess.run(["bash", "-c", step], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "No real.json" in summary and f"| {NOT_CONFIRMED} |" in summary

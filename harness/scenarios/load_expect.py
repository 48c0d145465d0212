"""Reading what a scenario expects (`[expect]`: verdict, boots, files, launchd, facts) and which
invariants it switches off or expects to fail (`[invariants]`)."""
from __future__ import annotations

from typing import Any

from ..mac.config import Verdict
from . import checks
from .schema import KNOWN_INVARIANTS, Expect, ExpectFile, ExpectLoaded, Fact, FactKind, Invariants, Start, StartHow
from .tables import _COUNTS, _FACT_KEYS, _FACT_REQUIRED, _REQUIRED, Context, Table


def expect(ctx: Context, table: Table, start: Start) -> Expect:
    boots_check = checks.integer(1, ctx.limits.boots, "3")
    boots = table.get("boots", boots_check, None)
    if boots is not None and table.has("boots_at_most"):
        raise table.fail("boots_at_most", "either boots or boots_at_most, not both", "both",
                         "keep boots for an exact count, or boots_at_most for a bound")
    return Expect(
        verdict=table.get("verdict", checks.choice(Verdict, '"quiet"'), None), boots=boots,
        boots_at_most=table.get("boots_at_most", boots_check, None),
        files=tuple(expect_file(ctx, entry) for entry in table.tables("files", "expect.files")),
        loaded=tuple(ExpectLoaded(entry.get("label", checks.LABEL), entry.get("loaded", checks.boolean(), True))
                     for entry in table.tables("loaded", "expect.loaded")),
        facts=tuple(fact(ctx, entry, start) for entry in table.tables("facts", "expect.facts",
                                                                      check_keys=False)))


def expect_file(ctx: Context, table: Table) -> ExpectFile:
    path = table.get("path", checks.mac_path())
    present = table.get("present", checks.boolean(), True)
    details = [key for key in ("content", "contains", "mode", "owner", "group", "writable_by") if table.has(key)]
    if not present and details:
        raise table.fail(details[0], f"no {details[0]} for a file expected absent (present = false)",
                         checks.describe(table.data[details[0]]), f"remove {details[0]} or set present = true")
    text = checks.text("a string", '"System Installed"', empty=True, multiline=True)
    return ExpectFile(path, present, table.get("content", text, None), table.get("contains", text, None),
                      table.get("mode", checks.mode(), None),
                      table.get("owner", ctx.name_check(ctx.users, "user"), None),
                      table.get("group", ctx.name_check(ctx.groups, "group"), None),
                      table.get("writable_by", ctx.name_check(ctx.users, "user"), None))


def fact(ctx: Context, table: Table, start: Start) -> Fact:
    kind = table.get("fact", checks.choice(FactKind, '"puppet-applied"'))
    table.allow(("fact", *_FACT_KEYS[kind]), f'the fact "{kind.value}"', "expect.facts")
    if kind is FactKind.SCRIPT_EXITED and start.how not in (StartHow.MDM_SCRIPT_JOB, StartHow.SSH):
        raise table.fail("fact", 'a fact about a started script (start.how = "mdm-script-job" or '
                         '"ssh")', f'"script-exited" with start.how = "{start.how.value}"',
                         "remove this fact or change [start]")
    needed = _FACT_REQUIRED.get(kind, ())
    if kind is FactKind.SCRIPT_EXITED and table.has("status") == table.has("success"):
        raise table.fail("status", "either status (an exact exit status) or success (zero or non-zero)",
                         "both" if table.has("status") else "neither",
                         "write status = 0 for an exact status, or success = false for any failure")

    def param(key: str, check: checks.Check) -> Any:
        return table.get(key, check, _REQUIRED if key in needed else None)
    return Fact(kind, at_boot=param("at_boot", checks.integer(1, ctx.limits.boots, "2")),
                **counts(ctx, table, counting=set(_COUNTS) <= set(_FACT_KEYS[kind])),
                status=param("status", checks.integer(0, 255, "0")),
                name=param("name", checks.text("a name", '"FACTER_PUPPETIZING"', r"[A-Za-z_][A-Za-z0-9_]*")),
                value=param("value", checks.text("a string", '"true"', empty=True)),
                contains=param("contains", checks.text("a non-empty one-line string", '"TCC database missing"')),
                to=param("to", checks.text("an e-mail address", '"relops@example.com"', r"[^@\s]+@[^@\s]+")),
                mentions_host=param("mentions_host", checks.boolean()),
                success=param("success", checks.boolean("false")),
                path=param("path", checks.mac_path(example='"/var/log/ronin-puppet-bootstrap.log"')),
                apply=param("apply", checks.integer(1, None, "1")),
                branch=param("branch", checks.text("a git branch name", '"production"',
                                             r"[A-Za-z0-9._][A-Za-z0-9._/-]*")))


def counts(ctx: Context, table: Table, *, counting: bool) -> dict[str, int | None]:
    """count, at_least and at_most of a fact; a counting fact with none means at_least = 1."""
    counts = {key: table.get(key, checks.integer(0, None, "1"), None) for key in _COUNTS}
    exact, low, high = counts["count"], counts["at_least"], counts["at_most"]
    if exact is not None and (low is not None or high is not None):
        raise table.fail("count", "either count, or at_least and/or at_most", "count with a bound",
                         "keep count for an exact number, or the bounds for a range")
    if low is not None and high is not None and low > high:
        raise table.fail("at_most", f"a number >= at_least ({low})", table.value("at_most"),
                         "swap them or correct one")
    if counting and all(value is None for value in counts.values()):
        counts["at_least"] = 1  # "it happened" is the natural reading of a bare counting fact
    return counts


def invariants(ctx: Context, table: Table) -> Invariants:
    off = table.data.get("off", {})
    if not isinstance(off, dict):
        raise table.fail("off", "a table of invariant = reason", checks.describe(off),
                         'write off = { "no-reboot-loop" = "why it does not apply here" }')
    names = checks.choice(KNOWN_INVARIANTS, '"never-stranded"')
    reasons = Table(ctx, off, table.at("off"))
    pairs = []
    for name in off:
        try:
            names.convert(name)
        except checks.Bad as bad:
            raise reasons.fail(name, names.expected, f"an unknown invariant {checks.render(name)}",
                               bad.fix or "correct the name") from None
        pairs.append((name, reasons.get(name, checks.text("a reason (one line)", '"why it does not apply"'))))
    violations = table.get("expect_violation", checks.strings(names, "an array of invariant names",
                                                        '["never-stranded"]'), ())
    for index, name in enumerate(violations):
        if name in off:
            raise ctx.error(f"{table.at('expect_violation')}[{index}]",
                            "an invariant that is not switched off", checks.describe(name),
                            "remove it from expect_violation or from off")
    return Invariants(tuple(pairs), violations)

"""Each invariant, a pure function of the trace, on hand-built traces: what it flags and what it lets pass.

The runs in test_invariants.py show each one catching a real broken bootstrap; here each rule
is pinned down case by case, without a Mac.
"""
from __future__ import annotations

import pytest

from harness.fleet import (BOOTSTRAP_COPY, BOOTSTRAP_LABEL, BOOTSTRAP_PLIST, DRIVER_COMPLETE, DRIVER_COPY, DRIVER_LABEL,
                           DRIVER_PLIST, SEMAPHORE)
from harness.scenarios.invariants import INVARIANTS
from harness.trace import Event

WORKER_RUNNER = "/Library/LaunchDaemons/org.mozilla.worker-runner.plist"
STRANDED = "boot 1 ended before handover with nothing on disk that will run the bootstrap again: "
NO_BOOTSTRAP = "neither the bootstrap's plist nor its script copy is on disk; "
PERIODIC = "/Library/LaunchDaemons/com.mozilla.periodic.plist"


class Story:
    """A trace written by hand, event by event, in the shape the Mac records."""

    def __init__(self, *, daemons: tuple[str, ...] = (), disabled: tuple[str, ...] = (),
                 semaphore: bool = False, copy: bool = False, driver_copy: bool = False) -> None:
        self.events: list[Event] = []
        self.boot_number = 0
        self.step_number = 0
        self.boot(daemons=daemons, disabled=disabled, semaphore=semaphore, copy=copy, driver_copy=driver_copy)
        self.add("process-start", job="mdm-script-job", pid=3, argv=["/bin/bash", "run-puppet.sh"], user="root")

    def add(self, kind: str, *, job: str | None = "mdm-script-job", pid: int | None = 3, **data) -> "Story":
        self.events.append(Event(len(self.events), 0.0, self.boot_number, pid, job, kind, data))
        return self

    def step(self) -> "Story":
        self.step_number += 1
        return self.add("step", line="1", file="run-puppet.sh", step=self.step_number)

    def boot(self, *, daemons=(), disabled=(), semaphore=False, copy=False, driver_copy=False) -> "Story":
        self.boot_number += 1
        return self.add("boot", job=None, pid=None, daemons=sorted(daemons), disabled=sorted(disabled),
                        semaphore=semaphore, bootstrap_copy=copy, driver_copy=driver_copy, removed_at_boot=0)

    def write(self, path: str, *, change: str = "created", job: str | None = "mdm-script-job", **extra) -> "Story":
        self.step()
        return self.add("file", job=job, path=path, change=change, **extra)

    def apply(self, number: int, *, clean: bool = True, overlapping: bool = False) -> "Story":
        self.add("puppet-apply", number=number, overlapping=overlapping, argv=["puppet", "apply"], facts={},
                 env={}, cwd="/", path="")
        return self.add("puppet-apply-done", number=number, status=0 if clean else 6, clean=clean, tcc="ok")

    def reboot(self, cause: str = "shutdown -r now") -> "Story":
        self.add("shutdown", how="reboot", cause=cause)
        return self

    def hand_over(self) -> "Story":
        """What a correct bootstrap leaves: a clean apply, the semaphore, worker-runner, no bootstrap."""
        return (self.apply(1).write(SEMAPHORE).write(WORKER_RUNNER, launchd="ok", job=None)
                .write(BOOTSTRAP_PLIST, change="removed").write(BOOTSTRAP_COPY, change="removed"))

    def registered(self) -> "Story":
        return self.write(BOOTSTRAP_COPY).write(BOOTSTRAP_PLIST, change="moved-here", launchd="ok")

    def driver(self) -> "Story":
        """The M4 enrolment driver's script-job registers its daemon (its script, then its plist)."""
        return self.write(DRIVER_COPY).write(DRIVER_PLIST, change="renamed", launchd="ok")

    def driver_done(self, *, job: str = DRIVER_LABEL) -> "Story":
        """The driver's daemon finishes: the semaphore, its completion mark, its plist and script gone."""
        return (self.write(SEMAPHORE, job=job).write(DRIVER_COMPLETE, job=job)
                .write(DRIVER_PLIST, change="removed", job=job).write(DRIVER_COPY, change="removed", job=job))


def reboots(count: int) -> Story:
    """`count` reboots the script asked for, each followed by its boot."""
    story = Story()
    for _ in range(count):
        story.reboot().boot()
    return story


def found(name: str, story: Story) -> list[str]:
    return [violation.message for violation in INVARIANTS[name](story.events)]


CASES = [
    # converges: the end of the run is a handed-over host
    ("converges", Story(), ["not handed over at the end: no clean puppet apply, no semaphore, no regular "
                            "mechanism on disk"]),
    ("converges", Story().registered().hand_over(), []),
    ("converges", Story().registered().apply(1).write(SEMAPHORE).write(WORKER_RUNNER, launchd="ok"),
     ["not handed over at the end: the bootstrap plist still on disk, the bootstrap script copy still on disk"]),
    ("converges", Story().registered().apply(1, clean=False).write(SEMAPHORE).write(WORKER_RUNNER, launchd="ok")
     .write(BOOTSTRAP_PLIST, change="removed").write(BOOTSTRAP_COPY, change="removed"),
     ["not handed over at the end: no clean puppet apply"]),
    # under the M4 enrolment driver, both self-registering daemons must be gone
    ("converges", Story().driver().registered().hand_over(),
     ["not handed over at the end: the M4 enrolment driver's plist still on disk, the M4 enrolment driver's script "
      "copy still on disk"]),
    ("converges", Story().driver().registered().hand_over().driver_done(), []),
    # no-overlap: an apply that starts while another runs
    ("no-overlap", Story().apply(1).apply(2), []),
    ("no-overlap", Story().apply(1).apply(2, overlapping=True),
     ["puppet apply 2 started while another was still running (pid 3, mdm-script-job)"]),
    # ... and names the apply still running, whoever started it (an ssh session of the driver's)
    ("no-overlap", Story().add("puppet-apply", job="ssh-session", pid=9, number=1, overlapping=False)
     .add("puppet-apply", job=BOOTSTRAP_LABEL, pid=5, number=2, overlapping=True),
     ["puppet apply 2 started while another was still running (pid 5, com.mozilla.ronin-puppet-bootstrap): "
      "apply 1 (pid 9, ssh-session)"]),
    # an apply a reboot cut short is not running in the next boot
    ("no-overlap", Story().add("puppet-apply", number=1, overlapping=False).reboot().boot()
     .add("puppet-apply", number=2, overlapping=False), []),
    # never-stranded: a boot that ends before handover with nothing that will run the bootstrap
    # again, and the message names what is on disk and why it will not run
    ("never-stranded", Story().registered().reboot(), []),
    ("never-stranded", Story().reboot(),
     [STRANDED + "neither the bootstrap's plist nor its script copy is on disk; no regular mechanism is on disk"]),
    ("never-stranded", Story().registered().add("torn", job=None, pid=None, path=BOOTSTRAP_COPY, mode="empty",
                                                size=0, written_at_s=0.0).reboot(),
     [STRANDED + f"the bootstrap's script copy {BOOTSTRAP_COPY} is on disk but the power cut tore it (it came "
                 "back empty); no regular mechanism is on disk"]),
    ("never-stranded", Story().registered().add("override", label=BOOTSTRAP_LABEL, disabled=True).reboot(),
     [STRANDED + f"the bootstrap's plist is on disk but its label {BOOTSTRAP_LABEL} is disabled in launchd's "
                 "override database; no regular mechanism is on disk"]),
    ("never-stranded", Story().write(BOOTSTRAP_COPY).write(BOOTSTRAP_PLIST, launchd="109: Invalid property list")
     .reboot(),
     [STRANDED + "the bootstrap's plist is on disk but launchd rejects it (109: Invalid property list); no "
                 "regular mechanism is on disk"]),
    ("never-stranded", Story().write(BOOTSTRAP_PLIST, launchd="ok").reboot(),
     [STRANDED + f"the bootstrap's plist is on disk but its script copy {BOOTSTRAP_COPY} is missing; no regular "
                 "mechanism is on disk"]),
    ("never-stranded", Story().write(WORKER_RUNNER, launchd="ok").reboot(),
     [STRANDED + "neither the bootstrap's plist nor its script copy is on disk; org.mozilla.worker-runner.plist "
                 "is on disk but waits for the semaphore /var/tmp/semaphore/run-buildbot, which is not there"]),
    ("never-stranded", Story().write(PERIODIC, launchd="ok").reboot(), []),
    ("never-stranded", Story().registered().hand_over().reboot(), []),
    # A plist written in place, then given its owner and mode, is still there (not removed).
    ("never-stranded", Story().write(BOOTSTRAP_COPY).write(BOOTSTRAP_PLIST, launchd="ok")
     .write(BOOTSTRAP_PLIST, change="attributes", launchd="ok").reboot(), []),
    # ... and a chmod that makes it group-writable breaks it.
    ("never-stranded", Story().registered().write(BOOTSTRAP_PLIST, change="attributes",
                                                  launchd="122: Path had bad ownership/permissions").reboot(),
     [STRANDED + "the bootstrap's plist is on disk but launchd rejects it (122: Path had bad "
                 "ownership/permissions); no regular mechanism is on disk"]),
    # The M4 enrolment driver's daemon runs the bootstrap at every boot: it counts, and when it
    # cannot run, the message says why, beside the bootstrap's own daemon.
    ("never-stranded", Story().driver().reboot(), []),
    ("never-stranded", Story().write(DRIVER_PLIST, launchd="ok").reboot(),
     [STRANDED + NO_BOOTSTRAP + f"the M4 enrolment driver's plist is on disk but its script copy {DRIVER_COPY} is "
                                "missing; no regular mechanism is on disk"]),
    ("never-stranded", Story().driver().add("torn", job=None, pid=None, path=DRIVER_COPY, mode="empty", size=0,
                                            written_at_s=0.0).reboot(),
     [STRANDED + NO_BOOTSTRAP + f"the M4 enrolment driver's script copy {DRIVER_COPY} is on disk but the power cut "
                                "tore it (it came back empty); no regular mechanism is on disk"]),
    ("never-stranded", Story().driver().add("override", label=DRIVER_LABEL, disabled=True).reboot(),
     [STRANDED + NO_BOOTSTRAP + f"the M4 enrolment driver's plist is on disk but its label {DRIVER_LABEL} is "
                                "disabled in launchd's override database; no regular mechanism is on disk"]),
    ("never-stranded", Story().driver().apply(1, clean=False).driver_done().reboot(),
     [STRANDED + NO_BOOTSTRAP + "the M4 enrolment driver's plist is gone (it wrote /var/log/m4-bootstrap-complete: "
                                "it is done); no regular mechanism is on disk"]),
    ("never-stranded", Story().driver().registered().write(DRIVER_PLIST, change="removed").reboot(), []),
    ("never-stranded", Story(daemons=("com.mozilla.m4-bootstrap.plist",), driver_copy=True).reboot(), []),
    # The script copy on disk before the first boot (a host started as the daemon) counts.
    ("never-stranded", Story(daemons=("com.mozilla.ronin-puppet-bootstrap.plist",), copy=True).reboot(), []),
    # semaphore-truthful: written only after a clean apply
    ("semaphore-truthful", Story().apply(1).write(SEMAPHORE), []),
    ("semaphore-truthful", Story().write(SEMAPHORE).apply(1),
     ["the semaphore was written before any clean puppet apply (by mdm-script-job, pid 3)"]),
    ("semaphore-truthful", Story().apply(1, clean=False).write(SEMAPHORE),
     ["the semaphore was written before any clean puppet apply (by mdm-script-job, pid 3)"]),
    # every writer is judged: the M4 enrolment driver writes the semaphore and its completion mark
    ("semaphore-truthful", Story().driver().apply(1, clean=False).driver_done(),
     ["the semaphore was written before any clean puppet apply (by the M4 enrolment driver's daemon, pid 3)"]),
    ("semaphore-truthful", Story().driver().write(DRIVER_COMPLETE, job=DRIVER_LABEL).apply(1),
     ["the M4 enrolment driver's mark /private/var/log/m4-bootstrap-complete was written before any clean "
      "puppet apply (by the M4 enrolment driver's daemon, pid 3)"]),
    ("semaphore-truthful", Story().driver().apply(1).driver_done(), []),
    # launchd-accepts: plists the script writes, not the world's
    ("launchd-accepts", Story().write(PERIODIC, launchd="122: Path had bad ownership/permissions"),
     [f"{PERIODIC} would not load: 122: Path had bad ownership/permissions"]),
    ("launchd-accepts", Story().write(PERIODIC, launchd="122: Path had bad ownership/permissions", job=None), []),
    # no-reboot-loop: bounded requested reboots, and every boot has a cause
    ("no-reboot-loop", Story().reboot().boot().reboot().boot(), []),
    ("no-reboot-loop", reboots(5), []),
    ("no-reboot-loop", reboots(6), ["the script asked for more than 5 reboots"]),
    ("no-reboot-loop", Story().boot(), ["boot 2 has no cause in the trace"]),
    ("no-reboot-loop", Story().reboot("scheduled reboot").boot().reboot("macOS update to 15.4").boot(), []),
    # single-mechanism: after the handover, the bootstrap daemon does not run again
    ("single-mechanism", Story().registered().hand_over().reboot().boot(daemons=["org.mozilla.worker-runner.plist"],
                                                                       semaphore=True), []),
    ("single-mechanism", Story().registered().hand_over().reboot().boot(semaphore=True)
     .add("job-started", job=BOOTSTRAP_LABEL, pid=None, why="boot", argv=[], user="root"),
     ["the bootstrap daemon ran again in boot 2, after the handover in boot 1"]),
    # the driver's daemon is a bootstrap mechanism too: no handover while its plist is there ...
    ("single-mechanism", Story().driver().registered().hand_over().reboot()
     .boot(daemons=["org.mozilla.worker-runner.plist", "com.mozilla.m4-bootstrap.plist"], semaphore=True,
           driver_copy=True)
     .add("job-started", job=DRIVER_LABEL, pid=None, why="boot", argv=[], user="root"), []),
    # ... and once both are gone, neither runs again
    ("single-mechanism", Story().driver().registered().hand_over().driver_done().reboot()
     .boot(daemons=["org.mozilla.worker-runner.plist"], semaphore=True)
     .add("job-started", job=DRIVER_LABEL, pid=None, why="boot", argv=[], user="root"),
     ["the M4 enrolment driver's daemon ran again in boot 2, after the handover in boot 1"]),
]


@pytest.mark.parametrize("name, story, messages", CASES,
                         ids=[f"{name}-{index}" for index, (name, _, _) in enumerate(CASES)])
def test_an_invariant_on_a_hand_built_trace(name, story, messages):
    assert found(name, story) == messages


def test_every_invariant_has_a_case_that_passes_and_one_that_fails():
    for name in INVARIANTS:
        outcomes = {bool(messages) for case_name, _, messages in CASES if case_name == name}
        assert outcomes == {True, False}, name


def test_a_violation_points_at_the_boot_and_step_that_prove_it():
    story = Story().step().step().write(SEMAPHORE).apply(1)
    (violation,) = INVARIANTS["semaphore-truthful"](story.events)
    assert (violation.boot, violation.step) == (1, 3)

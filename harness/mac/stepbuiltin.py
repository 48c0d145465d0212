"""The step hook's loadable bash builtin (native/step.c): built once per source version.

Every bash on the Mac reports each simple command to the controller from its DEBUG trap
(stepper.bash). As a bash function that costs a fork and an exec per command of a subshell;
the builtin does the same work inside bash (step.c says how). It is shown inside the Mac at
`INSIDE_PATH`; where no compiler can build a shared object there is none, and stepper.bash keeps
its function: the steps, and so the trace, are the same either way.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from .bridge import NativeBuildError, _compiler, cache_dir
from .sandbox import INSIDE

STEP_SOURCE = Path(__file__).with_name("native") / "step.c"
#: Where stepper.bash looks for it inside the Mac.
INSIDE_PATH = f"{INSIDE}/native/step.so"


def step_builtin(cache: Path | None = None) -> Path | None:
    """The compiled builtin, or None when this machine cannot build one."""
    source = STEP_SOURCE.read_bytes()
    directory = cache or cache_dir()
    target = directory / f"step-{hashlib.sha256(source).hexdigest()[:16]}.so"
    if target.exists():
        return target
    try:
        compiler = _compiler()
    except NativeBuildError:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    result = subprocess.run(compiler + ["-O2", "-shared", "-fPIC", "-o", str(partial), str(STEP_SOURCE)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        return None
    os.replace(partial, target)
    return target

"""GitHub as the simulated Mac reaches it: real bare repositories on the host.

Fakes: `https://github.com/OWNER/REPO(.git)`. Each repository is a real bare repository under
the machine's folder (`remotes/github.com/OWNER/REPO.git`), shown read-only inside the Mac at
`/.macsim/remotes`; git's https transport inside the Mac is our helper (`git-remote-https`),
which serves the pack protocol from that repository. So clone, fetch, reset and rev-parse are
real git, and the remote URL a script configured is the one it reads back: no `insteadOf`
rewrite for `git remote get-url` to reveal. How it can fail: while the network is down, git
fails with its own message for a host it cannot resolve (exit 128); a repository that does not
exist fails as on GitHub; commits can be pushed at any simulated time (`push_commit`).

The default repository is a skeleton of mozilla-platform-ops/ronin_puppet: enough files for
the bootstrap's checkout steps, no real manifests (the puppet model stands in for them), and in
every commit the script under test at modules/macos_run_puppet/files/run-puppet.sh, where the
fleet's repository keeps run-puppet.sh.
"""
from __future__ import annotations

import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from ..fleet import CHECKOUT, CHECKOUT_SCRIPT, RONIN_REPOSITORY as RONIN
from ..mac.shims.calls import Mac

#: git's own https transport on the host: a link to git-remote-http, which our helper stands in for.
HOST_GIT_HTTP = Path("/usr/lib/git-core/git-remote-http")
TRANSPORT = Path(__file__).with_name("git-remote-https")
SKELETON = {
    "README.md": "# ronin_puppet (macsim skeleton)\n",
    "hiera.yaml": "---\nversion: 5\n",
    "manifests/site.pp": "# nodes come from manifests/nodes/nodes.pp\n",
    "manifests/nodes/.keep": "",
    "modules/roles_profiles/manifests/roles/gecko_t_osx_1500_m4.pp":
        "class roles_profiles::roles::gecko_t_osx_1500_m4 {}\n",
    "data/secrets/.keep": "",
    "r10k_modules/.keep": "",
}


class GitHub:
    """The GitHub of one machine's world."""

    def __init__(self, machine: Mac, root: Path, script: bytes = b"") -> None:
        self.machine = machine
        self.root = root  # holds github.com/OWNER/REPO.git and the working copies used to push
        self.commits = 0
        self.script = script  # the script under test, at CHECKOUT_SCRIPT in every commit

    def install(self, repositories: tuple[str, ...] = (RONIN,)) -> None:
        for name in repositories:
            self._create(name)
        # git-remote-https is a link to git-remote-http: one file shown over it is git's https.
        if HOST_GIT_HTTP.exists():
            self.machine.show_read_only(TRANSPORT, str(HOST_GIT_HTTP))
        self.machine.show_read_only(self.root / "github.com", "/.macsim/remotes/github.com")

    def bare(self, name: str = RONIN) -> Path:
        return self.root / "github.com" / f"{name}.git"

    def _work(self, name: str) -> Path:
        return self.root / "work" / name

    def _git(self, *args: str, cwd: Path) -> str:
        when = datetime.fromtimestamp(self.machine.clock.wall_s, tz=timezone.utc).isoformat()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root),
               "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
               "GIT_AUTHOR_NAME": "Release Ops", "GIT_AUTHOR_EMAIL": "relops@example.test",
               "GIT_COMMITTER_NAME": "Release Ops", "GIT_COMMITTER_EMAIL": "relops@example.test",
               # simulated time, so that commit ids depend only on the scenario and the seed
               "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
        result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {result.stderr.strip()}")
        return result.stdout.strip()

    def _create(self, name: str) -> None:
        bare, work = self.bare(name), self._work(name)
        bare.mkdir(parents=True)
        work.mkdir(parents=True)
        self._git("init", "--quiet", "--bare", "--initial-branch=master", str(bare), cwd=self.root)
        self._git("init", "--quiet", "--initial-branch=master", cwd=work)
        for relative, text in SKELETON.items():
            (work / relative).parent.mkdir(parents=True, exist_ok=True)
            (work / relative).write_text(text)
        # The fleet's repository holds run-puppet.sh, executable: what the M4 enrolment driver
        # runs until puppet installs its own copy. Later commits change other files only.
        served = work / CHECKOUT_SCRIPT
        served.parent.mkdir(parents=True, exist_ok=True)
        served.write_bytes(self.script)
        served.chmod(0o755)
        self._git("add", "-A", cwd=work)
        self._git("commit", "--quiet", "-m", "Initial skeleton", cwd=work)
        self._git("push", "--quiet", str(bare), "master", cwd=work)

    def push_commit(self, message: str, branch: str = "master", name: str = RONIN, *, record: bool = True) -> str:
        """A new commit on `branch` of the remote; returns its id. `record`: a push while the
        Mac runs is a trace event; one made while preparing the host, before its first boot, is
        part of how the world starts."""
        work = self._work(name)
        self.commits += 1
        with (work / "CHANGES").open("a") as changes:
            changes.write(f"{self.commits}: {message}\n")
        self._git("checkout", "--quiet", "-B", branch, cwd=work)
        self._git("add", "-A", cwd=work)
        self._git("commit", "--quiet", "-m", message, cwd=work)
        self._git("push", "--quiet", "--force", str(self.bare(name)), branch, cwd=work)
        commit = self.head(branch, name)
        if record:
            self.machine.event("git-push", repository=name, branch=branch, commit=commit, message=message)
        return commit

    def head(self, branch: str = "master", name: str = RONIN) -> str:
        return self._git("rev-parse", branch, cwd=self.bare(name))

    def checkout_is_current(self, checkout: str = CHECKOUT, branch: str = "master") -> str | None:
        """None when the Mac's checkout tracks the fleet's repository and is at the latest commit
        of `branch` there, else what is wrong."""
        host = self.machine.disk.host_path(checkout)
        if not (host / ".git").exists():
            return f"no checkout at {checkout}"
        try:
            local = self._git("-c", f"safe.directory={host}", "rev-parse", "HEAD", cwd=host)
            origin = self._git("-c", f"safe.directory={host}", "config", "--get", "remote.origin.url", cwd=host)
        except RuntimeError as error:
            return str(error)
        if origin != url_of(RONIN):
            return f"the checkout's origin is {origin}, not {url_of(RONIN)}"
        remote = self.head(branch)
        return None if local == remote else f"the checkout is at {local[:12]}, the remote at {remote[:12]}"

    def place_checkout(self, path: str, *, remote: str, branch: str, behind: int, local_changes: bool,
                       index_lock: bool) -> None:
        """A checkout already on the Mac's disk before its first boot, as a managed host has one:
        a clone of `remote`'s `branch` at `path` (root:wheel), `behind` commits behind the remote,
        with a tracked file changed and a stale .git/index.lock if asked."""
        name = repository_of(remote)
        if not self.bare(name).exists():
            self._create(name)
            self.push_commit(f"{name}'s own history", name=name, record=False)  # not the fleet's
        if not self._git("branch", "--list", branch, cwd=self.bare(name)):
            self.push_commit(f"the {branch} branch", branch, name, record=False)
        target = self.machine.disk.host_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._git("clone", "--quiet", "--branch", branch, str(self.bare(name)), str(target), cwd=self.root)
        self._git("remote", "set-url", "origin", remote, cwd=target)
        for number in range(behind):
            self.push_commit(f"a change the host has not fetched ({number + 1})", branch, name, record=False)
        if local_changes:
            with (target / "README.md").open("a") as readme:
                readme.write("a change made by hand on the host\n")
        if index_lock:
            (target / ".git" / "index.lock").touch()  # what a power cut during a reset leaves


def url_of(name: str) -> str:
    return f"https://github.com/{name}.git"


def repository_of(url: str) -> str:
    """OWNER/REPO of a GitHub https URL."""
    prefix = "https://github.com/"
    if not url.startswith(prefix):
        raise ValueError(f"{url}: not a GitHub https URL (https://github.com/OWNER/REPO.git)")
    return url[len(prefix):].removesuffix(".git")

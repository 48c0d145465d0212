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
the bootstrap's checkout steps, no real manifests (the puppet model stands in for them).
"""
from __future__ import annotations

import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from ..fleet import CHECKOUT, RONIN_REPOSITORY as RONIN
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

    def __init__(self, machine: Mac, root: Path) -> None:
        self.machine = machine
        self.root = root  # holds github.com/OWNER/REPO.git and the working copies used to push
        self.commits = 0

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
        self._git("add", "-A", cwd=work)
        self._git("commit", "--quiet", "-m", "Initial skeleton", cwd=work)
        self._git("push", "--quiet", str(bare), "master", cwd=work)

    def push_commit(self, message: str, branch: str = "master", name: str = RONIN) -> str:
        """A new commit on `branch` of the remote; returns its id."""
        work = self._work(name)
        self.commits += 1
        with (work / "CHANGES").open("a") as changes:
            changes.write(f"{self.commits}: {message}\n")
        self._git("checkout", "--quiet", "-B", branch, cwd=work)
        self._git("add", "-A", cwd=work)
        self._git("commit", "--quiet", "-m", message, cwd=work)
        self._git("push", "--quiet", "--force", str(self.bare(name)), branch, cwd=work)
        commit = self.head(branch, name)
        self.machine.event("git-push", repository=name, branch=branch, commit=commit, message=message)
        return commit

    def head(self, branch: str = "master", name: str = RONIN) -> str:
        return self._git("rev-parse", branch, cwd=self.bare(name))

    def checkout_is_current(self, checkout: str = CHECKOUT, branch: str = "master") -> str | None:
        """None when the Mac's checkout is at the remote's latest commit, else what is wrong."""
        host = self.machine.disk.host_path(checkout)
        if not (host / ".git").exists():
            return f"no checkout at {checkout}"
        try:
            local = self._git("-c", f"safe.directory={host}", "rev-parse", "HEAD", cwd=host)
        except RuntimeError as error:
            return str(error)
        remote = self.head(branch)
        return None if local == remote else f"the checkout is at {local[:12]}, the remote at {remote[:12]}"

"""GitHub as the Mac reaches it: real git against a bare repository, the URL left as written."""
from __future__ import annotations

from harness import MachineConfig
from harness.world.github import GitHub

URL = "https://github.com/mozilla-platform-ops/ronin_puppet.git"
CLONE = f"""
    #!/bin/bash
    export HOME=/var/root
    mkdir -p /opt/puppet_environments/mozilla-platform-ops
    cd /opt/puppet_environments/mozilla-platform-ops
    git clone --quiet {URL} ronin_puppet 2> /var/tmp/clone.err; echo $? > /var/tmp/clone.status
"""


def with_github(machine) -> GitHub:
    github = GitHub(machine, machine.directory / "remotes")
    github.install()
    return github


def test_a_clone_is_real_git_and_the_remote_url_reads_back_unchanged(mac):
    world = []
    mac.run(CLONE + """
        cd ronin_puppet
        git remote get-url origin > /var/tmp/url
        git config --get remote.origin.url >> /var/tmp/url
        git config --show-origin --list > /var/tmp/config
        git rev-parse HEAD > /var/tmp/head
    """, prepare=lambda machine: world.append(with_github(machine)))
    assert mac.read("/var/tmp/clone.status") == "0\n"
    assert mac.read("/var/tmp/url") == f"{URL}\n{URL}\n"
    assert "insteadof" not in mac.read("/var/tmp/config").lower()
    assert mac.read("/var/tmp/head").strip() == world[0].head()
    assert mac.exists("/opt/puppet_environments/mozilla-platform-ops/ronin_puppet/hiera.yaml")


def test_a_commit_pushed_while_the_mac_runs_is_fetched_and_reset_to(mac):
    world = []

    def prepare(machine):
        github = with_github(machine)
        world.append(github)
        machine.schedule_action(100, "push", lambda: github.push_commit("Fix the M4 role"))
    mac.run(CLONE + """
        cd ronin_puppet
        sleep 200
        git fetch --quiet origin
        git reset --quiet --hard origin/master
        git log -1 --format=%s > /var/tmp/subject
    """, prepare=prepare)
    assert mac.read("/var/tmp/subject") == "Fix the M4 role\n"
    assert world[0].checkout_is_current() is None


def test_while_the_network_is_down_git_fails_with_its_own_words(mac):
    mac.run(CLONE + """
        sleep 120
        git clone --quiet {URL} again 2> /var/tmp/later.err; echo $? > /var/tmp/later.status
    """.replace("{URL}", URL), prepare=with_github, config=MachineConfig(network_up_after_s=60))
    assert mac.read("/var/tmp/clone.status") == "128\n"
    assert mac.read("/var/tmp/clone.err") == (
        f"fatal: unable to access '{URL}/': Could not resolve host: github.com\n")
    assert mac.read("/var/tmp/later.status") == "0\n"

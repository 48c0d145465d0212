"""ssh to the Mac itself: what a bootstrap meets when it routes puppet through root@localhost
for a user-session TCC context (macos-behaviour.md §12.2)."""
from __future__ import annotations

from harness import MachineConfig
from harness.world.puppet import Apply, Puppet

KEY_SETUP = """mkdir -p /var/root/.ssh
        ssh-keygen -q -t ed25519 -N '' -C test -f /var/root/.ssh/id_ed25519
        cat /var/root/.ssh/id_ed25519.pub >> /var/root/.ssh/authorized_keys"""  # indented as the scripts
SSH = "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new root@localhost"


def test_a_key_in_authorized_keys_runs_the_command_in_an_ssh_session_with_sshds_environment(mac):
    mac.run(f"""
        #!/bin/bash
        {KEY_SETUP}
        LANG=en_US.UTF-8 FOO=bar {SSH} 'echo "$USER|$HOME|$SHELL|$PATH|$LANG|${{FOO:-unset}}|$SSH_CONNECTION"' \\
            > /var/tmp/out 2> /var/tmp/err
        echo $? > /var/tmp/status
    """)
    assert mac.read("/var/tmp/status") == "0\n"
    assert mac.read("/var/tmp/out") == ("root|/var/root|/bin/sh|/usr/bin:/bin:/usr/sbin:/sbin|en_US.UTF-8|unset|"
                                        "127.0.0.1 50022 127.0.0.1 22\n")
    assert "Permanently added 'localhost'" in mac.read("/var/tmp/err")
    assert mac.read("/var/root/.ssh/known_hosts").startswith("localhost ssh-ed25519 ")


def test_the_remote_commands_exit_status_is_sshs(mac):
    mac.run(f"""
        #!/bin/bash
        {KEY_SETUP}
        {SSH} 'exit 6'; echo $? > /var/tmp/status
    """)
    assert mac.read("/var/tmp/status") == "6\n"


def test_an_unknown_host_key_without_a_tty_fails_verification(mac):
    mac.run(f"""
        #!/bin/bash
        {KEY_SETUP}
        ssh root@localhost true 2> /var/tmp/err; echo $? > /var/tmp/status
    """)
    assert mac.read("/var/tmp/status") == "255\n"
    assert mac.read("/var/tmp/err") == "Host key verification failed.\n"


def test_without_an_authorized_key_root_is_refused(mac):
    mac.run(f"""
        #!/bin/bash
        {SSH} true 2> /var/tmp/err; echo $? > /var/tmp/status
    """)
    assert mac.read("/var/tmp/status") == "255\n"
    assert mac.read("/var/tmp/err") == "root@localhost: Permission denied (publickey,password,keyboard-interactive).\n"


def test_with_remote_login_off_the_connection_is_refused(mac):
    mac.run(f"""
        #!/bin/bash
        {KEY_SETUP}
        {SSH} true 2> /var/tmp/err; echo $? > /var/tmp/status
    """, config=MachineConfig(remote_login=False))
    assert mac.read("/var/tmp/status") == "255\n"
    assert mac.read("/var/tmp/err") == "ssh: connect to host localhost port 22: Connection refused\n"


def test_puppet_from_a_launchd_job_is_denied_tcc_but_allowed_through_ssh(mac):
    tcc_db = "/Users/cltbld/Library/Application Support/com.apple.TCC/TCC.db"

    def prepare(machine):
        machine.disk.add_file(tcc_db, b"SQLite format 3", owner="cltbld", group="staff")
        Puppet(machine, role_model="none", applies=(Apply(exit_code=0, duration_s=60),)).install()

    mac.run(f"""
        #!/bin/bash
        {KEY_SETUP}
        cat > /Library/LaunchDaemons/t.plist <<'PLIST'
        <?xml version="1.0" encoding="UTF-8"?>
        <plist version="1.0"><dict>
        <key>Label</key><string>t</string>
        <key>ProgramArguments</key><array><string>/bin/bash</string><string>/var/tmp/job.sh</string></array>
        <key>RunAtLoad</key><true/>
        </dict></plist>
        PLIST
        cat > /var/tmp/job.sh <<'JOB'
        /opt/puppetlabs/bin/puppet apply ./m > /var/tmp/direct 2>&1
        {SSH} '/opt/puppetlabs/bin/puppet apply ./m' > /var/tmp/over-ssh 2>&1
        JOB
        launchctl bootstrap system /Library/LaunchDaemons/t.plist
    """, prepare=prepare)
    assert "authorization denied" in mac.read("/var/tmp/direct")
    assert "unable to open database" not in mac.read("/var/tmp/over-ssh")


def test_a_private_key_left_empty_by_a_power_cut_no_longer_authenticates(mac):
    mac.run(f"""
        #!/bin/bash
        {KEY_SETUP}
        : > /var/root/.ssh/id_ed25519
        {SSH} true 2> /var/tmp/err; echo $? > /var/tmp/status
    """)
    assert mac.read("/var/tmp/status") == "255\n"
    assert "Permission denied (publickey" in mac.read("/var/tmp/err")

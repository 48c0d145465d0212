"""The macOS commands the controller answers, as a script on the simulated Mac sees them.

install and chown (macos-behaviour.md §11, §2.2), sudo, shutdown (§8), the clock (date, sleep),
what the Mac says it is (sw_vers, uname, hostname) and DNS at boot (dscacheutil, §13).
"""
from __future__ import annotations

import os
import plistlib
import re
import stat

from harness import MachineConfig

from conftest import plist_xml


def mode_of(mac, mac_path: str) -> int:
    return stat.S_IMODE(os.stat(mac.machine.disk.host_path(mac_path)).st_mode)


def capture(command: str) -> str:
    """A script that runs `command` and keeps its stdout, stderr and status in /var/tmp."""
    return f"""
        #!/bin/bash
        echo payload > /var/tmp/src
        {command} > /var/tmp/out 2> /var/tmp/err; echo "$?" > /var/tmp/status
    """


def out(mac) -> str:
    return mac.read("/var/tmp/out")


def err(mac) -> str:
    return mac.read("/var/tmp/err")


def status(mac) -> int:
    return int(mac.read("/var/tmp/status"))


# install


def test_install_onto_itself_says_the_files_are_the_same_and_exits_64(mac):
    mac.run(capture("install -m 755 /var/tmp/src /var/tmp/src"))
    assert err(mac) == "install: /var/tmp/src and /var/tmp/src are the same file\n"
    assert status(mac) == 64


def test_install_onto_itself_through_another_spelling_of_the_path_is_still_the_same_file(mac):
    mac.run(capture("cd /var/tmp && install -m 755 ./src /private/var/tmp/src"))
    assert err(mac) == "install: ./src and /private/var/tmp/src are the same file\n"
    assert status(mac) == 64


def test_a_script_that_installs_itself_fails_when_launchd_runs_it_from_its_own_copy(mac):
    script = "/usr/local/sbin/bootstrap.sh"

    def prepare(machine):
        machine.disk.add_file(script, """#!/bin/bash
install -m 755 "$0" /usr/local/sbin/bootstrap.sh 2> /var/tmp/err
echo "$?" > /var/tmp/status
""", mode=0o755)
        machine.disk.add_file("/Library/LaunchDaemons/org.example.bootstrap.plist",
                              plist_xml("org.example.bootstrap", ["/bin/bash", script], RunAtLoad=True))
    mac.run(prepare=prepare)
    assert err(mac) == f"install: {script} and {script} are the same file\n"
    assert status(mac) == 64


def test_install_into_a_missing_directory_fails_with_71_naming_the_target_on_macos_15_3(mac):
    mac.run(capture("install -m 755 /var/tmp/src /usr/local/sbin/x.sh"))
    assert err(mac) == "install: /usr/local/sbin/x.sh: No such file or directory\n"
    assert status(mac) == 71
    assert not mac.exists("/usr/local/sbin")


def test_install_into_a_missing_directory_names_its_temporary_file_on_macos_15_4(mac):
    mac.run(capture("install -m 755 /var/tmp/src /usr/local/sbin/x.sh"),
            config=MachineConfig(macos_version="15.4"))
    assert re.fullmatch(r"install: /usr/local/sbin/INS@[A-Za-z0-9]{6}: No such file or directory\n", err(mac))
    assert status(mac) == 71
    assert not mac.exists("/usr/local/sbin")


def test_install_d_is_an_illegal_option_on_macos_14(mac):
    mac.run(capture("install -D -m 755 /var/tmp/src /usr/local/sbin/x.sh"),
            config=MachineConfig(macos_version="14.6"))
    assert err(mac).startswith("install: illegal option -- D\nusage: install ")
    assert status(mac) == 64
    assert not mac.exists("/usr/local/sbin")


def test_install_o_and_g_as_root_record_the_owner_and_group(mac):
    mac.run(capture("install -o cltbld -g staff -m 644 /var/tmp/src /var/tmp/dst"))
    assert status(mac) == 0
    assert mac.read("/var/tmp/dst") == "payload\n"
    assert mac.machine.disk.ownership.owner("/var/tmp/dst") == ("cltbld", "staff")
    assert mode_of(mac, "/var/tmp/dst") == 0o644


def test_install_without_m_makes_the_copy_mode_0755(mac):
    mac.run(capture("chmod 600 /var/tmp/src && install /var/tmp/src /var/tmp/dst"))
    assert status(mac) == 0
    assert mode_of(mac, "/var/tmp/dst") == 0o755
    assert mac.machine.disk.ownership.owner("/var/tmp/dst") == ("root", "wheel")


def test_install_d_creates_a_directory_with_its_missing_parents(mac):
    mac.run(capture("install -d -m 755 /usr/local/sbin/deep"))
    assert status(mac) == 0
    assert os.path.isdir(mac.machine.disk.host_path("/usr/local/sbin/deep"))


# chown


def test_chown_user_and_group_is_recorded(mac):
    mac.run(capture("chown cltbld:staff /var/tmp/src"))
    assert status(mac) == 0 and err(mac) == ""
    assert mac.machine.disk.ownership.owner("/var/tmp/src") == ("cltbld", "staff")


def test_chown_to_an_unknown_user_is_an_illegal_user_name(mac):
    mac.run(capture("chown nosuchuser /var/tmp/src"))
    assert err(mac) == "chown: nosuchuser: illegal user name\n"
    assert status(mac) == 1
    assert mac.machine.disk.ownership.owner("/var/tmp/src") == ("root", "wheel")


# sudo


def test_sudo_u_runs_the_command_as_that_user_with_its_home(mac):
    mac.run("""
        #!/bin/bash
        sudo -u cltbld id -un > /var/tmp/id
        sudo -u cltbld whoami > /var/tmp/whoami
        sudo -u cltbld bash -c 'echo "$HOME $USER"' > /var/tmp/home
        id -un > /var/tmp/root-id
    """)
    assert mac.read("/var/tmp/id") == "cltbld\n"
    assert mac.read("/var/tmp/whoami") == "cltbld\n"
    assert mac.read("/var/tmp/home") == "/Users/cltbld cltbld\n"
    assert mac.read("/var/tmp/root-id") == "root\n"


def test_a_file_created_under_sudo_u_belongs_to_that_user(mac):
    mac.run("""
        #!/bin/bash
        sudo -u cltbld touch /var/tmp/made-by-cltbld
        touch /var/tmp/made-by-root
    """)
    assert mac.machine.disk.ownership.owner("/var/tmp/made-by-cltbld") == ("cltbld", "wheel")
    assert mac.machine.disk.ownership.owner("/var/tmp/made-by-root") == ("root", "wheel")


# shutdown


def test_shutdown_as_a_non_root_user_is_refused_and_nothing_reboots(mac):
    result = mac.run(capture("sudo -u cltbld shutdown -r now"))
    assert err(mac) == "shutdown: NOT super-user\n"
    assert status(mac) == 1
    assert result.boots == 1
    assert mac.kinds("shutdown") == []


def test_sudo_shutdown_r_now_reboots_the_mac(mac):
    result = mac.run("""
        #!/bin/bash
        echo "boot" >> /var/tmp/boots
        sudo shutdown -r now
    """)
    assert result.boots == 2
    assert [e.data["how"] for e in mac.kinds("shutdown")] == ["reboot"]
    assert mac.read("/var/tmp/boots") == "boot\n"  # the MDM script runs at the first boot only


# the clock


def test_date_and_sleep_advance_together(mac):
    result = mac.run("""
        #!/bin/bash
        date +%s > /var/tmp/times
        sleep 90
        date +%s >> /var/tmp/times
        sleep 1.5m
        date +%s >> /var/tmp/times
    """)
    epoch = int(mac.machine.clock.epoch_s)
    assert [int(t) - epoch for t in mac.read("/var/tmp/times").split()] == [0, 90, 180]
    assert result.simulated_s == 180


def test_date_prints_the_simulated_moment_in_utc(mac):
    mac.run(capture("date -u '+%Y-%m-%d %H:%M:%S'"))
    assert out(mac) == "2026-01-05 09:00:00\n"


# what the Mac says it is


def test_sw_vers_prints_macos_name_version_and_build_with_tabs(mac):
    mac.run("""
        #!/bin/bash
        sw_vers > /var/tmp/all
        sw_vers -productVersion > /var/tmp/version
    """)
    assert mac.read("/var/tmp/all") == ("ProductName:\t\tmacOS\nProductVersion:\t\t15.3.1\n"
                                        "BuildVersion:\t\t24D70\n")
    assert mac.read("/var/tmp/version") == "15.3.1\n"


def test_sw_vers_reports_the_configured_version(mac):
    mac.run(capture("sw_vers -productVersion"), config=MachineConfig(macos_version="14.6"))
    assert out(mac) == "14.6\n"


def test_uname_s_says_darwin(mac):
    mac.run(capture("uname -s"))
    assert out(mac) == "Darwin\n"


def test_hostname_prints_the_configured_name_and_s_its_first_label(mac):
    mac.run("""
        #!/bin/bash
        hostname > /var/tmp/full
        hostname -s > /var/tmp/short
    """)
    assert mac.read("/var/tmp/full") == "macmini-m4-001.test.releng.mdc1.mozilla.com\n"
    assert mac.read("/var/tmp/short") == "macmini-m4-001\n"


# DNS at boot


def test_dscacheutil_finds_no_address_until_the_network_is_up(mac):
    mac.run("""
        #!/bin/bash
        dscacheutil -q host -a name github.com > /var/tmp/before
        sleep 120
        dscacheutil -q host -a name github.com > /var/tmp/after
    """, config=MachineConfig(network_up_after_s=120))
    assert mac.read("/var/tmp/before") == ""
    assert re.search(r"^ip_address: [0-9.]+$", mac.read("/var/tmp/after"), re.MULTILINE)
    assert mac.read("/var/tmp/after").startswith("name: github.com\n")


# what the collector reads (stat -f, defaults, systemsetup, sysctl, uptime)


def test_stat_f_shows_the_macos_owner_group_and_mode_from_the_ownership_table(mac):
    mac.run(capture("chown cltbld:staff /var/tmp/src && chmod 640 /var/tmp/src && "
                    "stat -f '%Su:%Sg %u:%g %Lp %HT %N' /var/tmp/src /var/tmp /tmp"))
    assert out(mac) == ("cltbld:staff 501:20 640 Regular File /var/tmp/src\n"
                        "root:wheel 0:0 1777 Directory /var/tmp\n"
                        "root:wheel 0:0 755 Symbolic Link /tmp\n")


def test_stat_of_a_missing_file_says_so_and_exits_1(mac):
    mac.run(capture("stat -f %Su /var/tmp/none"))
    assert (status(mac), err(mac)) == (1, "stat: /var/tmp/none: stat: No such file or directory\n")


def test_defaults_read_prints_the_autologin_user_and_a_missing_key_exits_1(mac):
    def prepare(machine):
        machine.disk.add_file("/Library/Preferences/com.apple.loginwindow.plist",
                              plistlib.dumps({"autoLoginUser": "cltbld", "GuestEnabled": False}))
    mac.run("""
        #!/bin/bash
        defaults read /Library/Preferences/com.apple.loginwindow autoLoginUser > /var/tmp/user
        defaults read /Library/Preferences/com.apple.loginwindow.plist GuestEnabled > /var/tmp/guest
        defaults read /Library/Preferences/com.apple.loginwindow nothing 2> /var/tmp/err; echo $? > /var/tmp/status
    """, prepare=prepare)
    assert (mac.read("/var/tmp/user"), mac.read("/var/tmp/guest")) == ("cltbld\n", "0\n")
    assert status(mac) == 1
    assert err(mac) == ("\nThe domain/default pair of (/Library/Preferences/com.apple.loginwindow, nothing) "
                        "does not exist\n")


def test_defaults_read_of_a_domain_that_is_not_there_exits_1(mac):
    mac.run(capture("defaults read /Library/Preferences/com.apple.loginwindow"))
    assert (status(mac), err(mac)) == (1, "\nDomain /Library/Preferences/com.apple.loginwindow does not exist\n")


def test_systemsetup_getremotelogin_follows_the_machine_and_wants_root(mac):
    mac.run("""
        #!/bin/bash
        systemsetup -getremotelogin > /var/tmp/root
        sudo -u cltbld systemsetup -getremotelogin > /var/tmp/user; echo $? > /var/tmp/status
    """, config=MachineConfig(remote_login=False))
    assert mac.read("/var/tmp/root") == "Remote Login: Off\n"
    assert mac.read("/var/tmp/user") == "You need administrator access to run this tool... exiting!\n"
    assert status(mac) == 1


def test_sysctl_and_uptime_count_from_the_simulated_boot(mac):
    mac.run("""
        #!/bin/bash
        sleep 3700
        sysctl -n kern.boottime > /var/tmp/boot
        sysctl hw.model > /var/tmp/model
        uptime > /var/tmp/up
        date -u +%s > /var/tmp/now
    """)
    booted = int(re.match(r"\{ sec = (\d+), usec = 0 \} ", mac.read("/var/tmp/boot")).group(1))
    assert int(mac.read("/var/tmp/now")) - booted in range(3700, 3710)
    assert mac.read("/var/tmp/model") == "hw.model: Mac16,10\n"
    assert re.fullmatch(r"\d\d:\d\d  up 1:0\d, 0 users, load averages: 0.00 0.00 0.00\n", mac.read("/var/tmp/up"))

"""Tests for harness.disk: the Mac's disk layout, path resolution, accounts and ownership table.

Most tests run twice, on a pyfakefs fake and on a real temporary directory, so the fake cannot
hide a difference from the real filesystem. Resolution tests that depend on real symlink
behaviour run on the real directory only.
"""
from __future__ import annotations

import errno
import os
import plistlib
import stat
from pathlib import Path

import pytest

from harness.mac.accounts import DEFAULT_ACCOUNTS, DEFAULT_GROUPS, Account, UnknownAccount
from harness.mac.disk import Disk
from harness.mac.paths import DISK_TOP_LEVEL, DiskError, OutsideDisk, canonical


@pytest.fixture(params=["fake", "real"])
def machine_dir(request) -> Path:
    """A directory holding one machine: its disk and the ownership table beside it."""
    if request.param == "fake":
        request.getfixturevalue("fs")
        path = Path("/machines/m1")
        path.mkdir(parents=True)
        return path
    return request.getfixturevalue("tmp_path") / "m1"


@pytest.fixture
def disk(machine_dir: Path) -> Disk:
    return Disk.create(machine_dir / "disk")


@pytest.fixture
def real_disk(tmp_path: Path) -> Disk:
    return Disk.create(tmp_path / "m1" / "disk")


def mode_of(disk: Disk, mac_path: str) -> int:
    return stat.S_IMODE(os.lstat(disk.host_path(mac_path, follow_last=False)).st_mode)


# Layout of a fresh disk


def test_fresh_disk_has_the_macos_top_level_directories(disk):
    for name in DISK_TOP_LEVEL:
        assert (disk.root / name).is_dir() and not (disk.root / name).is_symlink()


def test_fresh_disk_has_etc_var_tmp_as_relative_symlinks_into_private(disk):
    assert os.readlink(disk.root / "etc") == "private/etc"
    assert os.readlink(disk.root / "var") == "private/var"
    assert os.readlink(disk.root / "tmp") == "private/tmp"


def test_fresh_disk_has_an_empty_usr_local_and_no_usr_local_bin(disk):
    assert disk.host_path("/usr/local").is_dir()
    assert disk.tree("/usr/local") == []
    assert not disk.host_path("/usr/local/bin").exists()
    assert not disk.host_path("/usr/local/sbin").exists()
    assert disk.ownership.owner("/usr/local") == ("root", "wheel")
    assert mode_of(disk, "/usr/local") == 0o755


def test_fresh_disk_tmp_and_var_tmp_are_sticky_and_world_writable(disk):
    assert mode_of(disk, "/private/tmp") == 0o1777
    assert mode_of(disk, "/private/var/tmp") == 0o1777


def test_fresh_disk_has_the_launchd_directories(disk):
    for path in ("/System/Library/LaunchDaemons", "/Library/LaunchDaemons",
                 "/Library/LaunchAgents", "/var/db/com.apple.xpc.launchd", "/var/run", "/var/log"):
        assert disk.host_path(path).is_dir(), path
    assert disk.ownership.owner("/Library/LaunchDaemons") == ("root", "wheel")


def test_fresh_home_is_cltbld_staff_0750_without_a_tcc_directory(disk):
    assert disk.ownership.owner("/Users/cltbld") == ("cltbld", "staff")
    assert mode_of(disk, "/Users/cltbld") == 0o750
    support = "/Users/cltbld/Library/Application Support"
    assert disk.host_path(support).is_dir()
    assert disk.ownership.owner(support) == ("cltbld", "staff")
    assert not disk.host_path(support + "/com.apple.TCC").exists()


def test_fresh_disk_gives_top_directories_their_macos_owners(disk):
    assert disk.ownership.owner("/Applications") == ("root", "admin")
    assert disk.ownership.owner("/Users") == ("root", "admin")
    assert disk.ownership.owner("/Library") == ("root", "wheel")
    assert disk.ownership.owner("/") == ("root", "wheel")
    assert disk.ownership.owner("/var/root") == ("root", "wheel")


def test_fresh_disk_has_nothing_linux_specific(disk):
    for path in ("/etc/hostname", "/etc/os-release", "/etc/fstab", "/home", "/root", "/srv"):
        assert not disk.host_path(path).exists(), path
    assert sorted(os.listdir(disk.root)) == sorted(
        [*DISK_TOP_LEVEL, "etc", "var", "tmp", "usr"])
    assert os.listdir(disk.root / "usr") == ["local"]


def test_fresh_etc_passwd_is_in_macos_format_with_a_comment_header(disk):
    text = disk.host_path("/etc/passwd").read_text()
    assert text.startswith("##\n# User Database\n")
    assert "root:*:0:0:System Administrator:/var/root:/bin/sh\n" in text
    assert "nobody:*:-2:-2:Unprivileged User:/var/empty:/usr/bin/false\n" in text
    assert "cltbld:*:501:20:cltbld:/Users/cltbld:/bin/bash\n" in text


def test_fresh_etc_group_lists_only_root_in_admin_and_staff(disk):
    text = disk.host_path("/etc/group").read_text()
    assert text.startswith("##\n# Group Database\n")
    assert "wheel:*:0:root\n" in text and "admin:*:80:root\n" in text
    assert "staff:*:20:root\n" in text and "nobody:*:-2:\n" in text


def test_fresh_etc_paths_hosts_and_shells_read_like_a_mac(disk):
    assert disk.host_path("/etc/paths").read_text().split() == [
        "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]
    hosts = disk.host_path("/etc/hosts").read_text()
    assert "127.0.0.1\tlocalhost" in hosts and "255.255.255.255\tbroadcasthost" in hosts
    assert "::1" in hosts
    assert "/bin/bash" in disk.host_path("/etc/shells").read_text().split()


def test_hostname_is_kept_where_macos_keeps_it(machine_dir):
    disk = Disk.create(machine_dir / "disk", hostname="macmini-m4-042")
    prefs = "/Library/Preferences/SystemConfiguration/preferences.plist"
    data = plistlib.loads(disk.host_path(prefs).read_bytes())
    assert data["System"]["System"]["HostName"] == "macmini-m4-042"
    assert data["System"]["Network"]["HostNames"]["LocalHostName"] == "macmini-m4-042"


def test_ownership_table_lives_beside_the_disk_not_on_it(disk, machine_dir):
    assert (machine_dir / "ownership.json").is_file()
    assert not any("ownership" in line for line in disk.tree())


def test_create_refuses_a_non_empty_directory_without_touching_it(machine_dir):
    root = machine_dir / "disk"
    root.mkdir(parents=True)
    (root / "keep.txt").write_text("precious")
    with pytest.raises(DiskError) as caught:
        Disk.create(root)
    assert caught.value.errno == errno.EEXIST
    assert str(root) in str(caught.value) and "remove it" in str(caught.value)
    assert os.listdir(root) == ["keep.txt"]
    assert (root / "keep.txt").read_text() == "precious"
    assert not (machine_dir / "ownership.json").exists()


def test_create_accepts_an_existing_empty_directory(machine_dir):
    (machine_dir / "disk").mkdir(parents=True)
    assert Disk.create(machine_dir / "disk").host_path("/etc/passwd").is_file()


def test_create_refuses_an_account_without_its_group_before_writing(machine_dir):
    orphan = Account("builder", 502, 4242, "/Users/builder", "/bin/bash", "builder")
    with pytest.raises(ValueError, match="gid 4242"):
        Disk.create(machine_dir / "disk", accounts=(*DEFAULT_ACCOUNTS, orphan),
                    groups=DEFAULT_GROUPS)
    assert not (machine_dir / "disk").exists()


def test_every_user_under_users_gets_a_home(machine_dir):
    second = Account("admin2", 502, 20, "/Users/admin2", "/bin/zsh", "Second Admin")
    disk = Disk.create(machine_dir / "disk", accounts=(*DEFAULT_ACCOUNTS, second))
    assert disk.ownership.owner("/Users/admin2/Library") == ("admin2", "staff")
    assert disk.accounts.account(502).shell == "/bin/zsh"


def test_opening_a_missing_disk_says_how_to_make_one(machine_dir):
    with pytest.raises(DiskError, match="Disk.create") as caught:
        Disk(machine_dir / "nowhere")
    assert caught.value.errno == errno.ENOENT


# Path resolution


def test_etc_passwd_resolves_into_private_etc(disk):
    assert disk.resolve("/etc/passwd") == "/private/etc/passwd"
    assert disk.host_path("/etc/passwd") == disk.root / "private/etc/passwd"


def test_dot_dot_after_a_symlink_goes_to_the_targets_parent(disk):
    assert disk.resolve("/tmp/../etc") == "/private/etc"


def test_dot_dot_above_root_stays_at_root(disk):
    assert disk.host_path("/../../..") == disk.root
    assert disk.resolve("../../etc/hosts", cwd="/Users") == "/private/etc/hosts"


def test_relative_paths_resolve_against_cwd(disk):
    assert disk.resolve("x", cwd="/tmp") == "/private/tmp/x"
    assert disk.resolve("./Library/../Library", cwd="/Users/cltbld") == "/Users/cltbld/Library"


def test_absolute_symlink_to_etc_stays_on_the_disk(real_disk):
    real_disk.add_symlink("/Users/cltbld/etc-link", "/etc")
    host = real_disk.host_path("/Users/cltbld/etc-link/passwd")
    assert host == real_disk.root / "private/etc/passwd"
    assert "cltbld" in host.read_text()  # the Mac's passwd, not the host's


def test_relative_symlink_climbing_past_root_stays_on_the_disk(real_disk):
    real_disk.add_symlink("/opt/up", "../../../../../../etc")
    assert real_disk.host_path("/opt/up/hosts") == real_disk.root / "private/etc/hosts"


def test_symlink_loop_fails_with_eloop(real_disk):
    real_disk.add_symlink("/opt/a", "/opt/b")
    real_disk.add_symlink("/opt/b", "a")
    with pytest.raises(DiskError) as caught:
        real_disk.host_path("/opt/a/file")
    assert caught.value.errno == errno.ELOOP
    assert "symbolic links" in str(caught.value)


def test_last_symlink_is_kept_when_not_following(real_disk):
    assert real_disk.resolve("/etc", follow_last=False) == "/etc"
    assert real_disk.resolve("/etc/", follow_last=False) == "/private/etc"
    assert real_disk.resolve("/etc/.", follow_last=False) == "/private/etc"


@pytest.mark.parametrize("path", ["/usr/bin/true", "/usr", "/bin/sh", "/sbin/reboot",
                                  "/dev/null", "/proc/self", "/lib64/ld.so"])
def test_host_trees_are_outside_the_disk(disk, path):
    with pytest.raises(OutsideDisk) as caught:
        disk.host_path(path)
    assert caught.value.mac_path == path
    assert isinstance(caught.value, ValueError)


def test_symlink_into_usr_bin_is_outside_with_the_resolved_path(real_disk):
    real_disk.add_symlink("/opt/true", "../usr/bin/true")
    with pytest.raises(OutsideDisk) as caught:
        real_disk.host_path("/opt/true")
    assert caught.value.mac_path == "/usr/bin/true"


def test_usr_local_bin_is_on_the_disk_even_before_it_exists(disk):
    assert disk.host_path("/usr/local/bin/x") == disk.root / "usr/local/bin/x"
    assert disk.resolve("/usr/bin/../local/bin") == "/usr/local/bin"


def test_missing_components_are_kept_literally(disk):
    assert disk.resolve("/opt/nope/deeper/file") == "/opt/nope/deeper/file"
    assert disk.resolve("/opt/nope/../../etc") == "/private/etc"


def test_mac_path_inverts_host_path(disk):
    assert disk.mac_path(disk.root) == "/"
    assert disk.mac_path(disk.host_path("/etc/hosts")) == "/private/etc/hosts"
    with pytest.raises(ValueError, match="not on the Mac's disk"):
        disk.mac_path(disk.root.parent / "ownership.json")


# Accounts


def test_accounts_are_found_by_name_and_by_uid_including_minus_two(disk):
    assert disk.accounts.account("root").uid == 0
    assert disk.accounts.account(501).name == "cltbld"
    assert disk.accounts.account(-2).name == "nobody"
    assert disk.accounts.account("nobody").home == "/var/empty"
    assert disk.accounts.account("nosuchuser") is None and disk.accounts.account(4242) is None


def test_groups_are_found_by_name_and_by_gid(disk):
    assert disk.accounts.group(20).name == "staff"
    assert disk.accounts.group("admin").members == ("root",)
    assert disk.accounts.group(-2).name == "nobody" and disk.accounts.group("nobody").members == ()
    assert disk.accounts.group("nosuchgroup") is None


def test_accounts_added_to_etc_passwd_by_a_script_are_seen_at_once(disk):
    passwd = disk.host_path("/etc/passwd")
    passwd.write_text(passwd.read_text() + "puppet:*:52:52:Puppet:/var/empty:/usr/bin/false\n"
                      + "broken line\n")
    assert disk.accounts.account("puppet").uid == 52
    assert disk.accounts.account(52).shell == "/usr/bin/false"


def test_default_accounts_include_the_setup_assistant_user():
    assert any(a.name == "cltbld" and a.uid == 501 and a.gid == 20 for a in DEFAULT_ACCOUNTS)


# Ownership table


def test_file_created_by_root_in_cltbld_home_is_root_staff(disk):
    disk.host_path("/Users/cltbld/new.txt").write_text("x")
    disk.ownership.record_created("/Users/cltbld/new.txt", "root")
    assert disk.ownership.owner("/Users/cltbld/new.txt") == ("root", "staff")


def test_file_created_by_cltbld_in_launchdaemons_keeps_the_directory_group(disk):
    disk.host_path("/Library/LaunchDaemons/x.plist").write_text("x")
    disk.ownership.record_created("/Library/LaunchDaemons/x.plist", "cltbld")
    assert disk.ownership.owner("/Library/LaunchDaemons/x.plist") == ("cltbld", "wheel")


def test_ownership_table_persists_across_disk_instances(disk):
    disk.add_file("/opt/tool/config", "a=1", owner="cltbld", group="admin")
    reopened = Disk(disk.root)
    assert reopened.ownership.owner("/opt/tool/config") == ("cltbld", "admin")
    assert reopened.ownership.owner("/opt/tool") == ("root", "wheel")


def test_ownership_table_is_written_without_leftover_temp_files(disk, machine_dir):
    disk.add_file("/opt/a", "1", owner="cltbld")
    disk.ownership.set_owner("/opt/a", group="staff")
    assert sorted(os.listdir(machine_dir)) == ["disk", "ownership.json"]


def test_ownership_follows_a_rename_of_a_directory(disk):
    disk.add_dir("/opt/old", owner="cltbld", group="staff")
    disk.add_file("/opt/old/inner/file", "x", owner="_www", group="_www")
    os.rename(disk.host_path("/opt/old"), disk.host_path("/opt/new"))
    disk.ownership.rename("/opt/old", "/opt/new")
    assert disk.ownership.owner("/opt/new") == ("cltbld", "staff")
    assert disk.ownership.owner("/opt/new/inner/file") == ("_www", "_www")
    assert disk.ownership.owner("/opt/new/inner") == ("root", "wheel")
    assert disk.ownership.owner("/opt/old/inner/file") == ("root", "wheel")


def test_renamed_file_keeps_its_group_in_a_directory_of_another_group(disk):
    disk.add_file("/Users/cltbld/job.plist", "x", group="staff")
    os.rename(disk.host_path("/Users/cltbld/job.plist"), disk.host_path("/Applications/job.plist"))
    disk.ownership.rename("/Users/cltbld/job.plist", "/Applications/job.plist")
    assert disk.ownership.owner("/Applications/job.plist") == ("root", "staff")


def test_chgrp_of_a_directory_leaves_existing_children_alone(disk):
    disk.add_file("/Library/LaunchDaemons/old.plist", "x")
    disk.ownership.set_owner("/Library/LaunchDaemons", group="staff")
    disk.add_file("/Library/LaunchDaemons/new.plist", "x", group="staff")
    assert disk.ownership.owner("/Library/LaunchDaemons/old.plist") == ("root", "wheel")
    disk.host_path("/Library/LaunchDaemons/later.plist").write_text("x")
    disk.ownership.record_created("/Library/LaunchDaemons/later.plist", "root")
    assert disk.ownership.owner("/Library/LaunchDaemons/later.plist") == ("root", "staff")


def test_set_owner_with_an_unknown_name_raises_unknown_account(disk):
    with pytest.raises(UnknownAccount) as caught:
        disk.ownership.set_owner("/opt", owner="mallory")
    assert (caught.value.name, caught.value.kind) == ("mallory", "user")
    assert isinstance(caught.value, KeyError)
    with pytest.raises(UnknownAccount) as caught:
        disk.ownership.set_owner("/opt", group="nogrp")
    assert caught.value.kind == "group" and "/etc/group" in str(caught.value)


def test_set_owner_of_a_missing_path_fails_with_enoent(disk):
    with pytest.raises(DiskError) as caught:
        disk.ownership.set_owner("/opt/missing", owner="cltbld")
    assert caught.value.errno == errno.ENOENT


def test_set_owner_accepts_numeric_ids_and_stores_names(disk):
    disk.ownership.set_owner("/opt", "501", "80")
    assert disk.ownership.owner("/opt") == ("cltbld", "admin")


def test_forget_drops_a_removed_tree(disk):
    disk.add_file("/opt/pkg/bin/tool", "x", owner="cltbld")
    disk.ownership.forget("/opt/pkg")
    assert disk.ownership.owner("/opt/pkg/bin/tool") == ("root", "wheel")


def test_owner_of_a_symlink_itself_or_its_target(real_disk):
    real_disk.add_symlink("/Users/cltbld/link", "/etc/hosts", owner="cltbld", group="staff")
    assert real_disk.ownership.owner("/Users/cltbld/link", follow_last=False) == ("cltbld", "staff")
    assert real_disk.ownership.owner("/Users/cltbld/link") == ("root", "wheel")


# Preparing a host


def test_add_file_makes_root_wheel_parents_and_applies_the_mode(disk):
    disk.add_file("/usr/local/bin/puppet", "#!/bin/sh\n", mode=0o755)
    assert mode_of(disk, "/usr/local/bin") == 0o755
    assert disk.ownership.owner("/usr/local/bin") == ("root", "wheel")
    assert mode_of(disk, "/usr/local/bin/puppet") == 0o755
    assert disk.host_path("/usr/local/bin/puppet").read_text() == "#!/bin/sh\n"


def test_add_file_without_parents_fails_with_enoent(disk):
    with pytest.raises(DiskError) as caught:
        disk.add_file("/usr/local/sbin/x", b"x", make_parents=False)
    assert caught.value.errno == errno.ENOENT
    assert not disk.host_path("/usr/local/sbin").exists()


def test_add_file_with_an_unknown_owner_writes_nothing(disk):
    with pytest.raises(UnknownAccount):
        disk.add_file("/opt/x/y", "data", owner="ghost")
    assert not disk.host_path("/opt/x").exists()


def test_add_symlink_refuses_to_replace_an_existing_entry(disk):
    with pytest.raises(DiskError) as caught:
        disk.add_symlink("/etc/hosts", "/dev/null")
    assert caught.value.errno == errno.EEXIST


# Whole-disk views


def test_empty_dir_empties_tmp_and_reports_what_went(real_disk):
    real_disk.add_file("/tmp/b.txt", "x", owner="cltbld")
    real_disk.add_file("/tmp/a/inner", "x")
    real_disk.add_symlink("/tmp/daemons", "/Library/LaunchDaemons")
    removed = real_disk.empty_dir("/tmp")
    assert removed == ["/private/tmp/a", "/private/tmp/a/inner", "/private/tmp/b.txt",
                       "/private/tmp/daemons"]
    assert os.listdir(real_disk.host_path("/tmp")) == []
    assert mode_of(real_disk, "/private/tmp") == 0o1777
    assert real_disk.host_path("/Library/LaunchDaemons").is_dir()
    assert real_disk.ownership.owner("/tmp/b.txt") == ("root", "wheel")


def test_empty_dir_of_a_file_fails_with_enotdir(disk):
    with pytest.raises(DiskError) as caught:
        disk.empty_dir("/etc/hosts")
    assert caught.value.errno == errno.ENOTDIR


def test_snapshots_of_two_fresh_disks_are_equal(tmp_path):
    first = Disk.create(tmp_path / "a" / "disk").snapshot()
    second = Disk.create(tmp_path / "b" / "disk").snapshot()
    assert first == second
    assert list(first) == sorted(first)
    assert first["/etc"][0] == "l" and first["/private/etc/passwd"][0] == "f"
    assert "/usr" not in first and "/usr/local" in first


def test_snapshot_notices_content_mode_and_owner_changes(disk):
    before = disk.snapshot()
    disk.ownership.set_owner("/etc/hosts", owner="cltbld")
    after = disk.snapshot()
    assert before["/private/etc/hosts"][4] == "root"
    assert after["/private/etc/hosts"][4] == "cltbld"
    os.chmod(disk.host_path("/etc/hosts"), 0o600)
    assert disk.snapshot()["/private/etc/hosts"][1] == 0o600


def test_tree_lists_dirs_files_and_symlinks_without_entering_links(real_disk):
    real_disk.add_symlink("/opt/link", "/etc")
    real_disk.add_file("/opt/f", "x")
    real_disk.add_dir("/opt/d")
    assert real_disk.tree("/opt") == ["/opt/d/", "/opt/f", "/opt/link -> /etc"]


def test_snapshot_records_a_fifo_without_opening_it(real_disk):
    os.mkfifo(real_disk.host_path("/tmp/pipe"))
    kind, _, size, digest, owner, group = real_disk.snapshot()["/private/tmp/pipe"]
    assert (kind, size, digest, owner, group) == ("o", 0, "", "root", "wheel")


def test_the_etc_var_and_tmp_aliases_name_the_same_paths_as_private():
    assert canonical("/var/tmp/semaphore/") == "/private/var/tmp/semaphore"
    assert canonical("/etc/puppet_role") == "/private/etc/puppet_role"
    assert canonical("/tmp") == "/private/tmp"
    assert canonical("/Library/LaunchDaemons/x.plist") == "/Library/LaunchDaemons/x.plist"
    assert canonical("/private/var/log") == "/private/var/log"

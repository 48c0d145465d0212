"""Which files a power cut can tear (macos-behaviour.md §9b), and how a torn file comes back."""
from __future__ import annotations

import pytest

from harness.mac.unflushed import Unflushed, tear


def test_a_file_written_in_the_last_seconds_can_be_torn_and_an_older_one_cannot():
    files = Unflushed()
    files.note("created", "/Library/LaunchDaemons/a.plist", 10.0)
    files.note("written", "/private/etc/issue", 14.0)
    assert files.recent(15.0, 5.0) == ["/Library/LaunchDaemons/a.plist", "/private/etc/issue"]
    assert files.recent(16.0, 5.0) == ["/private/etc/issue"]


def test_a_file_renamed_into_place_stays_whole_and_its_temporary_name_is_gone():
    files = Unflushed()
    files.note("created", "/Library/LaunchDaemons/.a.plist.tmp", 10.0)
    files.note("renamed", "/Library/LaunchDaemons/a.plist", 10.0, moved_from="/Library/LaunchDaemons/.a.plist.tmp")
    assert files.recent(10.0, 5.0) == []


def test_directories_boot_emptied_files_removed_files_and_a_graceful_shutdown_leave_nothing_to_tear():
    files = Unflushed()
    files.note("created", "/usr/local/sbin", 1.0, directory=True)
    files.note("created", "/private/tmp/log", 1.0)
    files.note("created", "/private/var/run/x.pid", 1.0)
    files.note("written", "/private/var/tmp/gone", 1.0)
    files.note("removed", "/private/var/tmp/gone", 1.0)
    assert files.recent(1.0, 5.0) == []
    files.note("written", "/private/var/tmp/kept", 1.0)
    files.flush()
    assert files.recent(1.0, 5.0) == []


def test_a_torn_file_comes_back_empty_or_with_its_first_half(tmp_path):
    empty, short = tmp_path / "a", tmp_path / "b"
    empty.write_bytes(b"<plist>0123456789</plist>")
    short.write_bytes(b"0123456789")
    assert tear(empty, "empty") == 0 and empty.read_bytes() == b""
    assert tear(short, "short") == 5 and short.read_bytes() == b"01234"
    assert tear(tmp_path, "empty") is None  # a directory is never torn
    with pytest.raises(ValueError, match="empty or short"):
        tear(short, "garbage")

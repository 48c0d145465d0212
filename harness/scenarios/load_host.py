"""Reading a scenario's host: the Mac before its first boot (`[host]`, its files and accounts),
how the script starts (`[start]`, perhaps through an M4 enrolment driver), what puppet does
(`[puppet]`), and around a driver, MDM's enrolment (`[mdm]`) and the secrets broker (`[broker]`)."""
from __future__ import annotations

from ..mac.accounts import DEFAULT_GROUPS, Account
from ..mac.paths import canonical
from ..fleet import KCPASSWORD, LOGINWINDOW, ROLE_FILE, VAULT
from ..world.broker import SecretsBroker
from ..world.enrolment import Enrolment
from . import checks
from .schema import (_WIPED_AT_BOOT, DARWIN_MAJOR, Checkout, FileSpec, Host, PuppetApply, PuppetPlan, RoleModel, Start,
                     StartHow, Tcc, darwin_release)
from .tables import Context, Table

_ROLE_NAME = checks.text("a puppet role name (lowercase letters, digits, _)", '"gecko_t_osx_1500_m4"',
                         r"[a-z][a-z0-9_]*")


def _role(value):
    """A role name, or false for a host MDM has not given a role yet (no /etc/puppet_role)."""
    return None if value is False else _ROLE_NAME.convert(value)


ROLE = checks.Check("a puppet role name (lowercase letters, digits, _), or false for no /etc/puppet_role",
                    '"gecko_t_osx_1500_m4"', _role)


def host(ctx: Context, table: Table) -> Host:
    version = table.get("macos_version", checks.VERSION, Host.macos_version)
    build = table.get("build_version", checks.BUILD, None)
    if build is None and table.has("macos_version"):
        raise table.fail("build_version", checks.BUILD.expected + " (required with host.macos_version)",
                         "nothing (the key is missing)", 'add the build of that version, e.g. '
                         'build_version = "24D70" (`sw_vers -buildVersion` on such a host)')
    kernel = table.get("kernel_release", checks.KERNEL, None) or kernel_of(ctx, table, "macos_version", version)
    scalars = dict(
        model=table.get("model", checks.text('a Mac model identifier like "Mac16,10"', '"Mac16,10"',
                                       r"[A-Za-z]+\d+,\d+"), Host.model),
        arch=table.get("arch", checks.choice(("arm64", "x86_64"), '"arm64"'), Host.arch),
        hostname=table.get("hostname", checks.text("a host name (letters, digits, dashes, dots)",
                                             '"macmini-m4-001.test.releng.mdc1.mozilla.com"',
                                             r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?"), Host.hostname),
        role=table.get("role", ROLE, Host.role),
        autologin=table.get("autologin", checks.boolean(), True), sip=table.get("sip", checks.boolean(), True),
        remote_login=table.get("remote_login", checks.boolean(), True), vault=table.get("vault", checks.boolean(), True),
        puppet_installed=table.get("puppet_installed", checks.boolean(), True),
        disk_free_mb=table.get("disk_free_mb", checks.integer(1, 1 << 20, "2048"), Host.disk_free_mb))
    # Accounts first: files may be owned by them.
    accounts = tuple(account(ctx, entry) for entry in table.tables("accounts", "host.accounts"))
    taken = {canonical(ROLE_FILE): "host.role"} if scalars["role"] else {}
    if scalars["vault"]:
        taken[canonical(VAULT)] = "host.vault"
    if scalars["autologin"]:
        taken.update({canonical(KCPASSWORD): "host.autologin", canonical(LOGINWINDOW): "host.autologin"})
    return Host(version, build or Host.build_version, kernel, **scalars,
                files=files(ctx, table.tables("files", "host.files"), taken, at_start=True),
                accounts=accounts, checkout=checkout(table.table("checkout", "host.checkout"))
                if table.has("checkout") else None)


def checkout(table: Table) -> Checkout:
    """[host.checkout]: the puppet checkout a managed host already has."""
    remote = table.get("remote", checks.text("a GitHub https URL (https://github.com/OWNER/REPO.git)",
                                             '"https://github.com/mozilla-platform-ops/ronin_puppet.git"',
                                             r"https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?(\.git)?"),
                       Checkout.remote)
    return Checkout(table.get("path", checks.mac_path(example=f'"{Checkout.path}"'), Checkout.path), remote,
                    table.get("branch", checks.text("a git branch name", '"master"', r"[A-Za-z0-9._][A-Za-z0-9._/-]*"),
                              Checkout.branch),
                    table.get("behind", checks.integer(0, 50, "2"), 0),
                    table.get("local_changes", checks.boolean(), False),
                    table.get("index_lock", checks.boolean(), False))


def files(ctx: Context, entries: list[Table], taken: dict[str, str], *, at_start: bool) -> tuple[FileSpec, ...]:
    """The files of [[host.files]] or of an update; `taken` maps the paths already set to
    the key that sets them."""
    files = []
    for entry in entries:
        spec = file_spec(ctx, entry, at_start=at_start)
        alias = canonical(spec.path)
        if alias in taken:
            raise entry.fail("path", f"a path not already set by {taken[alias]}", entry.value("path"),
                             f"remove this entry or {taken[alias]}; one of them is enough")
        taken[alias] = entry.at("path")
        files.append(spec)
    return tuple(files)


def kernel_of(ctx: Context, table: Table, key: str, version: str) -> str:
    release = darwin_release(version)
    if release is None:
        majors = ", ".join(str(major) for major in DARWIN_MAJOR)
        raise table.fail(key, f"a macOS major version macsim knows ({majors})", table.value(key),
                         "use a known version, or give its Darwin release with kernel_release "
                         "(host) or to_kernel_release (macos-update)")
    return release


def account(ctx: Context, table: Table) -> Account:
    name = table.get("name", checks.text("a user name (lowercase letters, digits, _ . -)", '"worker"',
                                   r"[a-z_][a-z0-9_.-]*"))
    if name in ctx.users:
        raise table.fail("name", "a user not already on the Mac", table.value("name"),
                         f"choose another name; these exist: {', '.join(ctx.users)}")
    uid = table.get("uid", checks.integer(0, 2**31 - 1, "502"))
    if uid in ctx.uids:
        raise table.fail("uid", "a uid not already used on the Mac", table.value("uid"),
                         f"choose one not in {', '.join(map(str, ctx.uids))}, e.g. {max(ctx.uids) + 1}")
    gids = {group.gid: group.name for group in DEFAULT_GROUPS}
    gid = table.get("gid", checks.Check("the gid of a group on the Mac: " + ", ".join(
        f"{gid} ({name})" for gid, name in gids.items()), "20", checks.choice(gids, "").convert))
    ctx.users.append(name)
    ctx.uids.append(uid)
    return Account(name, uid, gid, table.get("home", checks.mac_path(example=f'"/Users/{name}"')),
                   table.get("shell", checks.mac_path(on_disk=False, example='"/bin/bash"'), "/bin/bash"),
                   table.get("gecos", checks.text(empty=True), name))


def file_spec(ctx: Context, table: Table, *, at_start: bool) -> FileSpec:
    path = table.get("path", checks.mac_path())
    if at_start and any(path == top or path.startswith(top + "/") for top in _WIPED_AT_BOOT):
        raise table.fail("path", "a path that survives boot (macOS empties /tmp and /var/run "
                         "at every boot, the first one included)", table.value("path"),
                         'deliver it with an event instead: what = "deliver-file"')
    sources = [key for key in ("content", "content_file", "script_under_test") if table.has(key)]
    if len(sources) > 1:
        raise table.fail(sources[1], f"one of content, content_file and script_under_test, not "
                         f"{' and '.join(sources)}", "both", "keep one of them")
    directory = table.get("directory", checks.boolean(), False)
    if directory and sources:
        raise table.fail(sources[0], "no content for a folder (directory = true)", table.value(sources[0]),
                         f"remove {sources[0]}, or directory")
    content = table.get("content", checks.text("a string", '"text\\n"', empty=True, multiline=True), "")
    data = content_file(ctx, table) if table.has("content_file") else content.encode()
    return FileSpec(path, data, table.get("owner", ctx.name_check(ctx.users, "user"), "root"),
                    table.get("group", ctx.name_check(ctx.groups, "group"), "wheel"),
                    table.get("mode", checks.mode(), 0o755 if directory else 0o644),
                    table.get("script_under_test", checks.boolean(), False), directory)


def content_file(ctx: Context, table: Table) -> bytes:
    relative = table.get("content_file", checks.text("a path relative to the scenario file",
                                               '"files/vault.yaml"'))
    if relative.startswith("/"):
        raise table.fail("content_file", "a path relative to the scenario file", table.value("content_file"),
                         "write it relative to the scenario file's folder, so the scenario "
                         "works from any checkout")
    source = ctx.path.parent / relative
    if not source.is_file():
        what = "a directory" if source.is_dir() else "no such file"
        raise table.fail("content_file", "an existing file (relative to the scenario file)",
                         f"{what}: {source}", "create that file, or correct the path "
                         f"(it is relative to {ctx.path.parent})")
    return source.read_bytes()


def start(ctx: Context, table: Table) -> Start:
    how = table.get("how", checks.choice(StartHow, '"mdm-script-job"'), StartHow.MDM_SCRIPT_JOB)
    for key in ("at_s", "args", "env"):
        if how in (StartHow.DAEMON, StartHow.NONE) and table.has(key):
            raise table.fail(key, f'no {key} with how = "{how.value}" (nothing is started by hand)',
                             checks.describe(table.data[key]),
                             f'remove {key}, or use how = "mdm-script-job" or "ssh"')
    at_s = table.get("at_s", checks.seconds(example="0"), 0.0)
    ctx.before_the_end(table, "at_s", at_s)
    driver, driver_name = None, ""
    if table.has("driver"):
        if how is not StartHow.MDM_SCRIPT_JOB:
            raise table.fail("driver", 'no driver with how = "' + how.value + '" (MDM runs a driver as its '
                             'script-job)', table.value("driver"), 'use how = "mdm-script-job", or remove driver')
        source = _beside(ctx, table, "driver", '"../src/m4-enrolment-driver.sh"')
        driver, driver_name = source.read_bytes(), source.name
    return Start(how, at_s, table.get("args", checks.ARGS, ()), environment(table), driver, driver_name)


def _beside(ctx: Context, table: Table, key: str, example: str):
    """The file a key names, relative to the scenario file (so the scenario runs from any checkout)."""
    relative = table.get(key, checks.text("a path relative to the scenario file", example))
    if relative.startswith("/"):
        raise table.fail(key, "a path relative to the scenario file", table.value(key),
                         "write it relative to the scenario file's folder (the command line's --driver "
                         "takes any path)")
    source = ctx.path.parent / relative
    if not source.is_file():
        what = "a directory" if source.is_dir() else "no such file"
        raise table.fail(key, "an existing file (relative to the scenario file)", f"{what}: {source}",
                         f"create that file, or correct the path (it is relative to {ctx.path.parent})")
    return source


def environment(table: Table) -> tuple[tuple[str, str], ...]:
    """[start] env: variable names as a shell exports them, string values."""
    value = table.data.get("env", {})
    if not isinstance(value, dict):
        raise table.fail("env", "a table of NAME = \"value\"", checks.describe(value),
                         'write env = { FACTER_running_in_test_kitchen = "true" }')
    variables = Table(table.loader, value, table.at("env"))
    name_check = checks.text("a variable name (letters, digits, _; not starting with a digit)",
                             '"FACTER_running_in_test_kitchen"', r"[A-Za-z_][A-Za-z0-9_]*")
    pairs = []
    for name in value:
        try:
            name_check.convert(name)
        except checks.Bad:
            raise variables.fail(name, name_check.expected, f"the name {checks.render(name)}",
                                 "use a name a shell can export") from None
        pairs.append((name, variables.get(name, checks.text("a one-line string", '"true"', empty=True))))
    return tuple(pairs)


def puppet(ctx: Context, table: Table) -> PuppetPlan:
    model = table.get("role_model", checks.choice(RoleModel, '"m4"'), RoleModel.M4)
    entries = table.tables("applies", "puppet.applies")
    if table.has("applies") and not entries:
        raise table.fail("applies", "at least one [[puppet.applies]]", "[] (an empty array)",
                         "remove applies to get the default plan, or add [[puppet.applies]] entries")
    applies = tuple(PuppetApply(
        exit_code=entry.get("exit_code", checks.choice((0, 1, 2, 4, 6), "2"), 0),
        duration_s=entry.get("duration_s", checks.seconds(example="300"), 60.0),
        output=entry.get("output", checks.strings(checks.text("a one-line string", empty=True), "an array of "
                                            "one-line strings", '["Notice: Applied catalog"]'), ()),
        tcc=entry.get("tcc", checks.choice(Tcc, '"auto"'), Tcc.AUTO),
        writes_mb=entry.get("writes_mb", checks.integer(0, 1 << 20, "500"), 0)) for entry in entries)
    return PuppetPlan(model, applies or PuppetPlan.applies)


def mdm(ctx: Context, table: Table) -> Enrolment:
    """[mdm]: when MDM's enrolment gives the admin account its secure token and delivers the SCEP
    certificate, and what that certificate names."""
    name = checks.text("a certificate's common name (one line)", f'"{Enrolment.certificate_name}"')
    return Enrolment(table.get("secure_token_after_s", checks.seconds(example="120"), 0.0),
                     table.get("certificate_after_s", checks.seconds(example="240"), 0.0),
                     table.get("certificate_name", name, Enrolment.certificate_name),
                     table.get("certificate_issuer", name, Enrolment.certificate_issuer))


def broker(ctx: Context, table: Table, host: Host) -> SecretsBroker:
    """[broker]: the roles the secrets broker has a vault file for (default: the host's role),
    and the CA whose certificates it accepts."""
    roles = table.get("roles", checks.strings(_ROLE_NAME, "an array of puppet role names", '["gecko_t_osx_1500_m4"]'),
                      (host.role,) if host.role else ())
    issuer = table.get("trusted_issuer", checks.text("a CA's common name (one line)",
                                                     f'"{SecretsBroker.trusted_issuer}"'),
                       SecretsBroker.trusted_issuer)
    return SecretsBroker(tuple(roles), issuer)

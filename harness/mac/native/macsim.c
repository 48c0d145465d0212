/*
 * macsim's one native program, linked under many names inside the simulated Mac.
 *
 * What it does depends on the name it was started as:
 *   macsim-init   the boot's init: forks launchd jobs inside the Mac's pid namespace on the
 *                 controller's request, signals them, reaps every orphan, reports exits.
 *   bash, sh      registers the new shell with the controller, then execs the host's bash with
 *                 the connection on fd 198 and BASH_ENV pointing at the step hook, so every
 *                 simple command the shell runs is one step the controller sees and orders.
 *   macsim-step   one step from a subshell (which cannot share its parent's connection).
 *   anything else a macOS command shim: one request to the controller, then either print the
 *                 answer and exit with its status, or exec the command the answer names.
 *
 * It is a thin client on purpose: every decision lives in the Python controller. A request
 * and an answer are frames: a little-endian u32 byte count, then fields, each a u32 length and
 * its bytes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define SOCKET_PATH "/.macsim/run/ctl.sock"
#define HOST_BASH "/.macsim/host/usr/bin/bash"
#define STEP_HOOK "/.macsim/lib/stepper.bash"
#define BASH_FD 198
#define MAX_FIELDS 4096
/* Descriptors from here up are macsim's own (its connections, init's pipes): a write to one
 * is never a change to the Mac's disk, and the cut filter lets it through unseen. */
#define OWN_FD_FLOOR 190

extern char **environ;

struct buf {
    char *data;
    size_t len, cap;
};

static void die(const char *what)
{
    fprintf(stderr, "macsim: %s: %s\n", what, strerror(errno));
    _exit(255);
}

static void buf_put(struct buf *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 256;
        b->data = realloc(b->data, b->cap);
        if (!b->data)
            die("out of memory");
    }
    memcpy(b->data + b->len, src, n);
    b->len += n;
}

static void field(struct buf *b, const char *s, size_t n)
{
    uint32_t len = (uint32_t)n;
    buf_put(b, &len, 4);
    buf_put(b, s, n);
}

static void field_str(struct buf *b, const char *s) { field(b, s, strlen(s)); }

static void field_int(struct buf *b, long v)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%ld", v);
    field_str(b, tmp);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r == 0)
            return -1;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static void send_frame(int fd, struct buf *body)
{
    uint32_t total = (uint32_t)body->len;
    if (write_all(fd, (char *)&total, 4) < 0 || write_all(fd, body->data, body->len) < 0)
        die("cannot reach the macsim controller");
}

/* Reads one frame; fills fields[] with NUL-terminated copies. Returns the field count, -1 at EOF. */
static int recv_frame(int fd, char **fields, size_t *lens)
{
    uint32_t total;
    if (read_all(fd, (char *)&total, 4) < 0)
        return -1;
    char *data = malloc(total + 1);
    if (!data || read_all(fd, data, total) < 0)
        return -1;
    int n = 0;
    size_t off = 0;
    while (off + 4 <= total && n < MAX_FIELDS) {
        uint32_t len;
        memcpy(&len, data + off, 4);
        off += 4;
        char *f = malloc(len + 1);
        memcpy(f, data + off, len);
        f[len] = '\0';
        fields[n] = f;
        lens[n] = len;
        n++;
        off += len;
    }
    free(data);
    return n;
}

static int connect_controller(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, SOCKET_PATH, sizeof addr.sun_path - 1);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("cannot reach the macsim controller");
    int high = fcntl(fd, F_DUPFD_CLOEXEC, OWN_FD_FLOOR + 10);
    if (high < 0)
        die("fcntl");
    close(fd);
    return high;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The fields every request starts with: kind, name as invoked, cwd, pid, ppid. */
static void request_head(struct buf *b, const char *kind, const char *invoked)
{
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        strcpy(cwd, "?");
    field_str(b, kind);
    field_str(b, invoked);
    field_str(b, cwd);
    field_int(b, (long)getpid());
    field_int(b, (long)getppid());
}

static void request_argv_env(struct buf *b, int argc, char **argv)
{
    field_int(b, argc);
    for (int i = 0; i < argc; i++)
        field_str(b, argv[i]);
    int envc = 0;
    while (environ[envc])
        envc++;
    field_int(b, envc);
    for (int i = 0; i < envc; i++)
        field_str(b, environ[i]);
}

/* Answer "exit" CODE STDOUT STDERR, or "exec" STDERR PATH ARGC ARGV... ENVC ENV... */
static int act_on_answer(int n, char **f, size_t *lens)
{
    if (n >= 4 && strcmp(f[0], "exit") == 0) {
        write_all(1, f[2], lens[2]);
        write_all(2, f[3], lens[3]);
        return atoi(f[1]);
    }
    if (n >= 4 && strcmp(f[0], "exec") == 0) {
        write_all(2, f[1], lens[1]);
        const char *path = f[2];
        int argc = atoi(f[3]);
        if (4 + argc >= n)
            return 70;
        char **args = calloc((size_t)argc + 1, sizeof *args);
        for (int i = 0; i < argc; i++)
            args[i] = f[4 + i];
        int envc = atoi(f[4 + argc]);
        char **env = calloc((size_t)envc + 1, sizeof *env);
        for (int i = 0; i < envc && 5 + argc + i < n; i++)
            env[i] = f[5 + argc + i];
        execve(path, args, env);
        fprintf(stderr, "%s: %s\n", args[0], strerror(errno));
        return errno == ENOENT ? 127 : 126;
    }
    fprintf(stderr, "macsim: malformed answer from the controller\n");
    return 70;
}

static int run_shim(int argc, char **argv)
{
    int fd = connect_controller();
    struct buf b = {0};
    request_head(&b, "call", base_name(argv[0]));
    request_argv_env(&b, argc, argv);
    send_frame(fd, &b);
    char *f[MAX_FIELDS];
    size_t lens[MAX_FIELDS];
    int n = recv_frame(fd, f, lens);
    if (n < 0)
        _exit(255); /* the machine went down while we waited */
    return act_on_answer(n, f, lens);
}

static int run_step(int argc, char **argv)
{
    int fd = connect_controller();
    struct buf b = {0};
    request_head(&b, "step", "macsim-step");
    field_str(&b, argc > 1 ? argv[1] : "0");
    field_str(&b, argc > 2 ? argv[2] : "");
    send_frame(fd, &b);
    char *f[MAX_FIELDS];
    size_t lens[MAX_FIELDS];
    if (recv_frame(fd, f, lens) < 0)
        _exit(255);
    return 0;
}

static int run_bash(int argc, char **argv)
{
    int fd = connect_controller();
    struct buf b = {0};
    request_head(&b, "bash", base_name(argv[0]));
    request_argv_env(&b, argc, argv);
    send_frame(fd, &b);
    char *f[MAX_FIELDS];
    size_t lens[MAX_FIELDS];
    if (recv_frame(fd, f, lens) < 0)
        _exit(255);
    if (dup2(fd, BASH_FD) < 0)
        die("dup2");
    const char *user_env = getenv("BASH_ENV");
    if (user_env && strcmp(user_env, STEP_HOOK) != 0)
        setenv("__MACSIM_USER_BASH_ENV", user_env, 1);
    setenv("BASH_ENV", STEP_HOOK, 1);
    execv(HOST_BASH, argv);
    die("exec bash");
    return 255;
}

/* ---- init ---- */

static int emit(int out, const char *fmt, long a, long b)
{
    char line[96];
    int n = snprintf(line, sizeof line, fmt, a, b);
    return write_all(out, line, (size_t)n);
}

static int open_stdio(const char *path, int flags)
{
    if (!*path)
        path = "/dev/null";
    return open(path, flags, 0666);
}

static void spawn_child(int n, char **f)
{
    /* f: spawn ID CWD STDOUT STDERR UMASK ARGC ARGV... ENVC ENV... */
    const char *cwd = f[2], *out_path = f[3], *err_path = f[4];
    int argc = atoi(f[6]);
    char **args = calloc((size_t)argc + 1, sizeof *args);
    for (int i = 0; i < argc; i++)
        args[i] = f[7 + i];
    int envc = atoi(f[7 + argc]);
    char **env = calloc((size_t)envc + 1, sizeof *env);
    for (int i = 0; i < envc && 8 + argc + i < n; i++)
        env[i] = f[8 + argc + i];
    setsid();
    umask((mode_t)strtol(f[5], NULL, 8));
    if (chdir(cwd) < 0 && chdir("/") < 0)
        _exit(78);
    int in = open("/dev/null", O_RDONLY);
    int out = open_stdio(out_path, O_WRONLY | O_CREAT | O_APPEND);
    int err = open_stdio(err_path, O_WRONLY | O_CREAT | O_APPEND);
    if (in < 0 || out < 0 || err < 0)
        _exit(78);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    closefrom(3);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(args[0], args, env);
    _exit(78);
}

static void init_command(int out, int n, char **f)
{
    if (n >= 8 && strcmp(f[0], "spawn") == 0) {
        pid_t pid = fork();
        if (pid == 0)
            spawn_child(n, f);
        emit(out, "spawned %ld %ld\n", atol(f[1]), (long)pid);
        return;
    }
    /* A signal is queued by the time kill() returns, and acted on before its target runs
     * another instruction of its own; the ack tells the controller it may let others run. */
    if (n >= 3 && strcmp(f[0], "kill") == 0)
        kill((pid_t)atol(f[1]), atoi(f[2]));
    else if (n >= 3 && strcmp(f[0], "killpg") == 0)
        killpg((pid_t)atol(f[1]), atoi(f[2]));
    else if (n >= 2 && strcmp(f[0], "killall") == 0)
        kill(-1, atoi(f[1]));
    emit(out, "ack %ld %ld\n", 0, 0);
}

/* ---- cuts inside commands: the seccomp filter (harness/mac/cuts.py reads its notifications) ---- */

#define SECCOMP_NOTIFY 0x7fc00000U /* SECCOMP_RET_USER_NOTIF */
#define CHANGES_FILE (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)

struct bpf {
    struct sock_filter code[128];
    unsigned short len;
};

static void op(struct bpf *b, unsigned short code, unsigned char jt, unsigned char jf, unsigned int k)
{
    b->code[b->len++] = (struct sock_filter){code, jt, jf, k};
}

/* One test of the syscall number: on a match, jump to the check at `target` (an index). */
static void when(struct bpf *b, int nr, unsigned short target)
{
    op(b, BPF_JMP | BPF_JEQ | BPF_K, (unsigned char)(target - b->len - 1), 0, (unsigned int)nr);
}

/*
 * Every syscall that changes a file of the disk waits for the controller, which may cut the
 * power right there (between two changes of one command): opening for writing, writing (to a
 * descriptor below OWN_FD_FLOOR), renaming, linking, unlinking, making and removing folders,
 * truncating, changing modes. Nothing else is stopped.
 */
static int install_cut_filter(void)
{
    static const int writes[] = {
#ifdef __NR_write
        __NR_write,
#endif
        __NR_pwrite64, __NR_writev, __NR_pwritev, __NR_pwritev2, __NR_sendfile, __NR_ftruncate,
        __NR_fallocate, __NR_fchmod,
    };
    static const int always[] = {
#ifdef __NR_creat
        __NR_creat, __NR_rename, __NR_unlink, __NR_mkdir, __NR_rmdir, __NR_link, __NR_symlink, __NR_chmod,
#endif
        __NR_openat2, __NR_renameat, __NR_renameat2, __NR_unlinkat, __NR_mkdirat, __NR_linkat,
        __NR_symlinkat, __NR_truncate, __NR_fchmodat, __NR_copy_file_range,
    };
    size_t n_writes = sizeof writes / sizeof *writes, n_always = sizeof always / sizeof *always;
    struct bpf b = {.len = 0};
    /* the checks' places, once the number tests are laid out */
    unsigned short tests = 3, fd_check = (unsigned short)(tests + n_writes + n_always + 3);
#ifdef __NR_open
    fd_check++;
#endif
    unsigned short open_check = fd_check + 2, openat_check = open_check + 2;
    unsigned short notify = openat_check + 2, allow = notify + 1;
    op(&b, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, arch));
#if defined(__x86_64__)
    op(&b, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AUDIT_ARCH_X86_64);
#elif defined(__aarch64__)
    op(&b, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AUDIT_ARCH_AARCH64);
#else
    return -1;
#endif
    op(&b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    op(&b, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr));
    for (size_t i = 0; i < n_writes; i++)
        when(&b, writes[i], fd_check);
    for (size_t i = 0; i < n_always; i++)
        when(&b, always[i], notify);
#ifdef __NR_open
    when(&b, __NR_open, open_check);
#endif
    when(&b, __NR_openat, openat_check);
    op(&b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    if (b.len != fd_check)
        return -1; /* the layout above is wrong: no filter rather than a wrong one */
    op(&b, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, args[0]));
    op(&b, BPF_JMP | BPF_JGE | BPF_K, (unsigned char)(allow - b.len - 1), (unsigned char)(notify - b.len - 1), OWN_FD_FLOOR);
    op(&b, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, args[1]));
    op(&b, BPF_JMP | BPF_JSET | BPF_K, (unsigned char)(notify - b.len - 1), (unsigned char)(allow - b.len - 1), CHANGES_FILE);
    op(&b, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, args[2]));
    op(&b, BPF_JMP | BPF_JSET | BPF_K, (unsigned char)(notify - b.len - 1), (unsigned char)(allow - b.len - 1), CHANGES_FILE);
    op(&b, BPF_RET | BPF_K, 0, 0, SECCOMP_NOTIFY);
    op(&b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {.len = b.len, .filter = b.code};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    return (int)syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
}

static int run_init(int argc, char **argv)
{
    /* init's pipes go where the cut filter does not look (they are written all the time) */
    int in = fcntl(3, F_DUPFD_CLOEXEC, OWN_FD_FLOOR + 40), out = fcntl(4, F_DUPFD_CLOEXEC, OWN_FD_FLOOR + 41);
    close(3);
    close(4);
    int listener = argc > 1 && strcmp(argv[1], "--cuts") == 0 ? install_cut_filter() : -1;
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    sigdelset(&mask, SIGTERM);
    sigdelset(&mask, SIGINT);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    emit(out, "ready %ld %ld\n", (long)getpid(), (long)listener);
    struct pollfd fds[2] = {{.fd = in, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
    char *f[MAX_FIELDS];
    size_t lens[MAX_FIELDS];
    for (;;) {
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            die("poll");
        if (fds[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) < 0)
                continue;
            int status;
            pid_t pid;
            while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
                emit(out, "exit %ld %ld\n", (long)pid, (long)status);
        }
        if (fds[0].revents & (POLLIN | POLLHUP)) {
            int n = recv_frame(in, f, lens);
            if (n < 0)
                _exit(0); /* the controller is gone: the machine is off */
            init_command(out, n, f);
            for (int i = 0; i < n; i++)
                free(f[i]);
        }
    }
}

int main(int argc, char **argv)
{
    const char *name = base_name(argv[0]);
    if (strcmp(name, "macsim-init") == 0)
        return run_init(argc, argv);
    if (strcmp(name, "bash") == 0 || strcmp(name, "sh") == 0)
        return run_bash(argc, argv);
    if (strcmp(name, "macsim-step") == 0)
        return run_step(argc, argv);
    return run_shim(argc, argv);
}

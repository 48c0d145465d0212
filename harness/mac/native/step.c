/*
 * The step hook as a bash loadable builtin: `__macsim_step LINE FILE MAINPID`, which the DEBUG
 * trap of every bash on the simulated Mac runs before each simple command (stepper.bash
 * enables it with `enable -f` when bash can load it, and keeps its bash function otherwise).
 *
 * It speaks the hook's protocol without starting a process. The main shell (getpid() is
 * MAINPID, bash's $$) writes `S LINE FILE` on the connection its launcher left on fd 198 and
 * reads the go-ahead, a newline. A subshell cannot share that connection: the function runs
 * `macsim-step` for each of its commands (a fork and an exec every time); here the subshell
 * opens a connection of its own at its first step and keeps it for its life, sending one
 * `step` frame per command (native/macsim.c's framing) and waiting for the `go` frame.
 *
 * No answer means the controller is gone, and with it the machine: the shell must not run on,
 * so the builtin kills it, as the function does. It waits for the answer through bash's own
 * `zread`, as the function's `read` does, so a signal meets the same handling: SIGTERM at a
 * shutdown runs the script's EXIT trap and ends the shell, a trapped signal runs its handler.
 * A bash that does not export `zread` gets plain read(2), and an interrupted wait is no answer.
 *
 * bash's headers are not needed: a loadable builtin is found by its `NAME_struct` symbol, and
 * the three structures it touches have kept this layout since bash 2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SOCKET_PATH "/.macsim/run/ctl.sock"
#define MAIN_FD 198
/* A subshell's connection lives above the descriptors a script names (`exec 3>file`). */
#define SUBSHELL_FD_FLOOR 190

typedef struct word_desc {
    char *word;
    int flags;
} WORD_DESC;

typedef struct word_list {
    struct word_list *next;
    WORD_DESC *word;
} WORD_LIST;

struct builtin {
    char *name;
    int (*function)(WORD_LIST *);
    int flags;
    char *const *long_doc;
    const char *short_doc;
    char *handle;
};

#define BUILTIN_ENABLED 0x01

/* bash's read(2) that handles signals and traps when interrupted (lib/sh/zread.c). */
extern ssize_t zread(int fd, char *buf, size_t len) __attribute__((weak));

static int subshell_fd = -1;
static pid_t subshell_pid = 0;

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = zread ? zread(fd, p, n) : read(fd, p, n);
        if (r <= 0)
            return -1; /* EOF, or a signal: see the top of this file */
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* The main shell: `S LINE FILE\n`, then wait for a newline. */
static int main_step(const char *line, const char *file)
{
    size_t size = strlen(line) + strlen(file) + 5;
    char *text = malloc(size);
    if (!text)
        return -1;
    int n = snprintf(text, size, "S %s %s\n", line, file);
    int failed = write_all(MAIN_FD, text, (size_t)n);
    free(text);
    if (failed)
        return -1;
    char reply;
    do {
        if (read_all(MAIN_FD, &reply, 1) < 0)
            return -1;
    } while (reply != '\n');
    return 0;
}

static void put(char **at, const char *s, size_t n)
{
    uint32_t len = (uint32_t)n;
    memcpy(*at, &len, 4);
    memcpy(*at + 4, s, n);
    *at += 4 + n;
}

static int connect_controller(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, SOCKET_PATH, sizeof addr.sun_path - 1);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        close(fd);
        return -1;
    }
    int high = fcntl(fd, F_DUPFD_CLOEXEC, SUBSHELL_FD_FLOOR);
    close(fd);
    return high;
}

/* A subshell: one `step` frame (kind, name, cwd, pid, ppid, line, file), then the `go` frame. */
static int subshell_step(const char *line, const char *file)
{
    pid_t me = getpid();
    if (subshell_pid != me) {
        if (subshell_fd >= 0)
            close(subshell_fd); /* the parent subshell's connection, inherited by fork */
        subshell_fd = connect_controller();
        subshell_pid = me;
        if (subshell_fd < 0)
            return -1;
    }
    char cwd[4096], pid[24], ppid[24];
    if (!getcwd(cwd, sizeof cwd))
        strcpy(cwd, "?");
    snprintf(pid, sizeof pid, "%ld", (long)me);
    snprintf(ppid, sizeof ppid, "%ld", (long)getppid());
    const char *fields[] = {"step", "macsim-step", cwd, pid, ppid, line, file};
    size_t body = 0;
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        body += 4 + strlen(fields[i]);
    char *frame = malloc(4 + body);
    if (!frame)
        return -1;
    uint32_t total = (uint32_t)body;
    memcpy(frame, &total, 4);
    char *at = frame + 4;
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        put(&at, fields[i], strlen(fields[i]));
    int failed = write_all(subshell_fd, frame, 4 + body);
    free(frame);
    if (failed)
        return -1;
    uint32_t answer;
    if (read_all(subshell_fd, (char *)&answer, 4) < 0)
        return -1;
    char discard[64];
    while (answer > 0) {
        size_t chunk = answer < sizeof discard ? answer : sizeof discard;
        if (read_all(subshell_fd, discard, chunk) < 0)
            return -1;
        answer -= (uint32_t)chunk;
    }
    return 0;
}

static int macsim_step(WORD_LIST *list)
{
    const char *args[3] = {"0", "", ""};
    for (int i = 0; i < 3 && list; i++, list = list->next)
        if (list->word && list->word->word)
            args[i] = list->word->word;
    pid_t me = getpid();
    int failed = atol(args[2]) == (long)me ? main_step(args[0], args[1]) : subshell_step(args[0], args[1]);
    if (failed)
        kill(me, SIGKILL);
    return 0;
}

static char *const macsim_step_doc[] = {
    "Report one step to the macsim controller and wait for its go-ahead (macsim's step hook).",
    NULL,
};

struct builtin __macsim_step_struct = {
    "__macsim_step", macsim_step, BUILTIN_ENABLED, macsim_step_doc, "__macsim_step LINE FILE MAINPID", NULL,
};

/* spawn-init.c: how a contained run's child becomes pid 1 of its pid
 * namespace. The init itself is src/init/warren-init.c (it says what the
 * init does and why it is a program of its own); libwarren carries its bytes
 * (wr_init_image, made by src/init/embed.py), so nothing has to be installed
 * for a run, nor visible inside the run's root.
 *
 * The parent puts the image in a memfd once per process: made executable,
 * then sealed (no write, no resize, no new seal), and mode 0111: the tenant
 * may exec it but not read it, so the kernel makes the init non-dumpable from
 * its first instruction (/proc/1/mem, /proc/1/environ and ptrace are closed
 * to the run). A memfd lives on the kernel's internal tmpfs: no mount option
 * of the host (noexec) nor Landlock (which leaves such files alone) stands
 * between the child and the exec. */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "spawn-internal.h"
#include "util.h"

_Static_assert(INIT_EXIT_SETUP == WR_EXIT_SETUP, "the init's setup failures are warren's");

extern const unsigned char wr_init_image[];
extern const size_t wr_init_image_size;

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3: executable even where vm.memfd_noexec=1 */
#endif

static int init_fd = -1, init_err;

static void make_init_fd(void) {
    unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
    int fd = memfd_create(INIT_NAME, flags | MFD_EXEC);
    if (fd < 0 && errno == EINVAL) fd = memfd_create(INIT_NAME, flags); /* before 6.3 */
    if (fd < 0) {
        init_err = errno;
        return;
    }
    size_t done = 0;
    while (done < wr_init_image_size) {
        ssize_t n = write(fd, wr_init_image + done, wr_init_image_size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            init_err = n < 0 ? errno : EIO;
            close(fd);
            return;
        }
        done += (size_t)n;
    }
    if (fchmod(fd, 0111) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
        init_err = errno;
        close(fd);
        return;
    }
    init_fd = fd;
}

int wr_spawn_init_fd(wr_err *e) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_init_fd);
    if (init_fd < 0) return wr_sys(e, init_err, "cannot make the runs' init program (memfd)");
    return init_fd;
}

/* The command's side of a contained run: a clone of the child that shares
 * its memory (that is, warren's, until the child's own exec) on a stack of
 * its own, and runs only this before its execve. Its system calls are made
 * here directly: glibc's would set errno, a variable of the thread of
 * warren's that waits for the run, which may be running again by then. */
static long raw_syscall(long n, long a, long b, long c) {
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return ret;
}

/* What the command's clone is given, at the top of its own stack (the child's
 * frames are gone once it has exec'ed). */
typedef struct command_start {
    const plan *p;
    int gate[2]; /* read, write: a pipe the child's exec closes */
} command_start;
_Static_assert(sizeof(command_start) % 16 == 0, "the stack's top stays 16-byte aligned");

static int command_main(void *arg) {
    const command_start *c = arg;
    const plan *p = c->p;
    /* Until the child's exec, pid 1 is an image of the calling warren: its
     * /proc/1/cmdline, which anyone may read, would be warren's. The exec
     * closes the gate's write end after pid 1 has its new memory; the rest
     * of the init's exec goes on beside this one. */
    raw_syscall(SYS_close, c->gate[1], 0, 0);
    char byte;
    long r;
    do
        r = raw_syscall(SYS_read, c->gate[0], (long)&byte, 1);
    while (r == -EINTR);
    if (r == 0) r = raw_syscall(SYS_execve, (long)p->path, (long)p->argv, (long)p->envp);
    else if (r > 0) r = -EPROTO;
    report rep = {STEP_EXEC, (int)-r, 0};
    raw_syscall(SYS_write, INIT_FD_ERR, (long)&rep, sizeof rep);
    raw_syscall(SYS_exit_group, INIT_EXIT_SETUP, 0, 0);
    return INIT_EXIT_SETUP; /* not reached */
}

/* n in decimal, into buf (at least 12 bytes): no snprintf in the child. */
static void decimal(char *buf, long n) {
    char tmp[24];
    size_t len = 0;
    do
        tmp[len++] = (char)('0' + n % 10);
    while ((n /= 10) > 0);
    for (size_t i = 0; i < len; i++)
        buf[i] = tmp[len - 1 - i];
    buf[len] = '\0';
}

/* A failure once the error pipe is at INIT_FD_ERR (p->err_fd is closed). */
static _Noreturn void fail(step s, int errnum) {
    report r = {s, errnum, 0};
    ssize_t n = write(INIT_FD_ERR, &r, sizeof r);
    (void)n;
    _exit(WR_EXIT_SETUP);
}

_Noreturn void wr_spawn_exec_init(const plan *p, int listener) {
    /* The init's fds in place, still close-on-exec, and the init program
     * beside them; every other fd is closed now rather than at the execs,
     * so that the command's clone below copies only these. Each goes first
     * above the final numbers, so that one landing on another's number
     * cannot clobber it. A failure is reported on the original pipe until
     * the error pipe is at its place. */
    enum { INIT_PROGRAM_FD = INIT_FD_LISTENER + 1 };
    int high[4] = {-1, -1, -1, -1}, from[4] = {p->err_fd, p->status_fd, listener, p->init_fd};
    for (int i = 0; i < 4; i++)
        if (from[i] >= 0 && (high[i] = fcntl(from[i], F_DUPFD_CLOEXEC, INIT_PROGRAM_FD + 1)) < 0)
            wr_spawn_fail(p, STEP_INIT, errno, 0);
    for (int i = 0; i < 4; i++)
        if (high[i] >= 0 && dup3(high[i], INIT_FD_ERR + i, O_CLOEXEC) != INIT_FD_ERR + i)
            wr_spawn_fail(p, STEP_INIT, errno, 0);
    if (syscall(SYS_close_range, INIT_PROGRAM_FD + 1, ~0U, 0) < 0) fail(STEP_INIT, errno);
    /* The listener's number, once it is where the init keeps it: the parent
     * takes its copy with pidfd_getfd, before or after the exec. */
    if (listener >= 0) {
        report hand = {REPORT_LISTENER, 0, INIT_FD_LISTENER};
        if (write(INIT_FD_ERR, &hand, sizeof hand) != (ssize_t)sizeof hand)
            fail(STEP_SECCOMP, EPIPE);
    }
    /* The run's open-files limit, for the init and the command alike. */
    if (setrlimit(RLIMIT_NOFILE, &p->limits[WR_RUN_NOFILE]) < 0) fail(STEP_NOFILE, errno);

    /* The command, as this process's child: pid 2 of the run's pid
     * namespace once this process is the init. Its exec and most of the
     * init's go on at once, on two CPUs, where the init used to start it
     * only after its own exec. Its copies of the init's fds close at its
     * exec. */
    command_start *start =
        (command_start *)((char *)p->command_stack + p->command_stack_size) - 1;
    start->p = p;
    if (pipe2(start->gate, O_CLOEXEC) < 0) fail(STEP_COMMAND, errno);
    pid_t cmd = clone(command_main, start, CLONE_VM | SIGCHLD, start);
    if (cmd < 0) fail(STEP_COMMAND, errno);

    /* The init keeps its three fds across its exec. */
    for (int fd = INIT_FD_ERR; fd <= INIT_FD_LISTENER; fd++)
        if (fd != INIT_FD_LISTENER || listener >= 0)
            if (fcntl(fd, F_SETFD, 0) < 0) fail(STEP_INIT, errno);
    char pid_arg[24];
    decimal(pid_arg, cmd);
    char *argv[] = {(char *)INIT_NAME, NULL};
    char *envp[] = {(char *)INIT_MARK, pid_arg, NULL};
    syscall(SYS_execveat, INIT_PROGRAM_FD, "", argv, envp, AT_EMPTY_PATH);
    fail(STEP_INIT, errno);
}

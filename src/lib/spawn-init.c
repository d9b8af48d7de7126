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

/* The init's one environment entry: INIT_CMD_ENV and pid in decimal, in
 * buf (no allocation: the child may share a threaded parent's memory). */
static char *cmd_env(char *buf, size_t size, pid_t pid) {
    char digits[12];
    size_t n = 0, len = sizeof INIT_CMD_ENV - 1;
    unsigned v = (unsigned)pid;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < sizeof digits);
    if (len + n + 1 > size) return NULL;
    memcpy(buf, INIT_CMD_ENV, len);
    while (n)
        buf[len++] = digits[--n];
    buf[len] = '\0';
    return buf;
}

_Noreturn void wr_spawn_exec_init(const plan *p, int listener) {
    /* Held from here until the init waits for them, across its exec: the
     * command's end (SIGCHLD) and the termination signals the init forwards
     * (src/init says which). Blocked, they stay pending for it; pid 1 would
     * drop them otherwise, having no handler. */
    sigset_t held;
    sigemptyset(&held);
    static const int kept[] = {SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < ELEMENTSOF(kept); i++)
        sigaddset(&held, kept[i]);
    CHECK(p, STEP_INIT, sigprocmask(SIG_BLOCK, &held, NULL) == 0);

    /* The command first, as pid 2, by vfork: it shares this memory until its
     * exec (no page table copied), and this process waits meanwhile. The init
     * is exec'ed afterwards, while the command is already running, so its
     * exec is off the run's path to the command. Every fd but the stdio is
     * close-on-exec here (STEP_CLOSE_FDS): the command gets none of the
     * init's. */
    pid_t cmd = vfork();
    if (cmd == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(p->path, p->argv, p->envp);
        wr_spawn_fail(p, STEP_EXEC, errno, 0);
    }
    if (cmd < 0) wr_spawn_fail(p, STEP_INIT, errno, 0);

    /* Each fd goes first above the init's numbers, so that one landing on
     * another's number cannot clobber it; dup3 then places it without
     * close-on-exec. A failure is still reported on the original pipe; the
     * command, the init's child, ends with this process. */
    int high[3] = {-1, -1, -1}, from[3] = {p->err_fd, p->status_fd, listener};
    for (int i = 0; i < 3; i++)
        if (from[i] >= 0 && (high[i] = fcntl(from[i], F_DUPFD_CLOEXEC, INIT_FD_LISTENER + 1)) < 0)
            wr_spawn_fail(p, STEP_INIT, errno, 0);
    for (int i = 0; i < 3; i++)
        if (high[i] >= 0 && dup3(high[i], INIT_FD_ERR + i, 0) != INIT_FD_ERR + i)
            wr_spawn_fail(p, STEP_INIT, errno, 0);
    /* The listener's number, once it is where the init keeps it: the parent
     * takes its copy with pidfd_getfd, before or after the exec. */
    if (listener >= 0) {
        report hand = {REPORT_LISTENER, 0, INIT_FD_LISTENER};
        if (write(p->err_fd, &hand, sizeof hand) != (ssize_t)sizeof hand)
            wr_spawn_fail(p, STEP_SECCOMP, EPIPE, 0);
    }
    char env0[sizeof INIT_CMD_ENV + 12];
    char *argv[] = {(char *)INIT_NAME, NULL}, *envp[] = {cmd_env(env0, sizeof env0, cmd), NULL};
    syscall(SYS_execveat, p->init_fd, "", argv, envp, AT_EMPTY_PATH);
    wr_spawn_fail(p, STEP_INIT, errno, 0);
}

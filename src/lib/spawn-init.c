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

void wr_spawn_meet_init(wr_spawn_meet *m) {
    *m = (wr_spawn_meet){.listener = -1, .gate_r = -1, .gate_w = -1};
    atomic_init(&m->root_ready, 0);
    atomic_init(&m->command_state, 0);
    atomic_init(&m->init_exec, 0);
    atomic_init(&m->moved, 0);
    memcpy(m->init_env, INIT_ENV_COMMAND, sizeof INIT_ENV_COMMAND);
    m->init_envp[0] = m->init_env;
    m->init_envp[1] = NULL;
}

/* The child: the command's pid, in decimal, after the entry's name. */
static void name_command(wr_spawn_meet *m, pid_t command) {
    char digits[12];
    size_t n = 0;
    unsigned long v = (unsigned long)command;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < sizeof digits);
    char *out = m->init_env + sizeof INIT_ENV_COMMAND - 1;
    while (n)
        *out++ = digits[--n];
    *out = '\0';
}

_Noreturn void wr_spawn_exec_init(const plan *p, int listener, pid_t command) {
    /* Each fd goes first above the init's numbers, so that one landing on
     * another's number cannot clobber it; dup3 then places it without
     * close-on-exec. A failure is still reported on the original pipe. */
    _Static_assert(INIT_FD_STATUS == INIT_FD_ERR + 1 && INIT_FD_LISTENER == INIT_FD_ERR + 2 &&
                       INIT_FD_GATE == INIT_FD_ERR + 3,
                   "the init's fds follow each other");
    int high[4] = {-1, -1, -1, -1},
        from[4] = {p->err_fd, p->status_fd, listener, p->meet->gate_w};
    for (int i = 0; i < 4; i++)
        if (from[i] >= 0 && (high[i] = fcntl(from[i], F_DUPFD_CLOEXEC, INIT_FD_GATE + 1)) < 0)
            wr_spawn_fail(p, STEP_INIT, errno, 0);
    for (int i = 0; i < 4; i++)
        if (high[i] >= 0 && dup3(high[i], INIT_FD_ERR + i, 0) != INIT_FD_ERR + i)
            wr_spawn_fail(p, STEP_INIT, errno, 0);
    /* The listener's number, once it is where the init keeps it: the parent
     * takes its copy with pidfd_getfd, before or after the exec. */
    if (listener >= 0) {
        report hand = {REPORT_LISTENER, 0, INIT_FD_LISTENER};
        if (write(p->err_fd, &hand, sizeof hand) != (ssize_t)sizeof hand)
            wr_spawn_fail(p, STEP_LISTENER, EPIPE, 0);
    }
    wr_spawn_limit_files(p);
    name_command(p->meet, command);
    char *argv[] = {(char *)INIT_NAME, NULL};
    /* The init closes the gate (INIT_FD_GATE) as it starts; the command,
     * seeing it closed, checks this too, so that its closing by the child's
     * exit (a failed exec) does not count. */
    atomic_store(&p->meet->init_exec, 1);
    syscall(SYS_execveat, p->init_fd, "", argv, p->meet->init_envp, AT_EMPTY_PATH);
    int errnum = errno;
    atomic_store(&p->meet->init_exec, 0);
    wr_spawn_fail(p, STEP_INIT, errnum, 0);
}

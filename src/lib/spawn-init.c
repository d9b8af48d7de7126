/* spawn-init.c: pid 1 of a contained run's pid namespace. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn-internal.h"
#include "util.h"

/* Contained runs: the child stays as pid 1 of the run's pid namespace, a
 * minimal init, and the command runs as its child (pid 2). An init is needed
 * because pid 1 is the namespace's reaper: a command that is not written to
 * be one (a shell, python) leaves its orphans as zombies, and, being pid 1,
 * it would ignore every signal it has no handler for, SIGTERM included.
 *
 * It is the child itself, forked in-process, rather than a small helper
 * binary exec'ed as pid 1: it is already set up (every step of spawn-child.c applies to
 * it as to the command, seccomp and Landlock included, so it is no more
 * privileged than the command), it costs one vfork instead of an execve of a
 * second program, and no helper path has to exist inside the new root. It
 * allocates nothing and calls only system calls (the parent may have
 * threads). vfork shares the init's memory with the command only until
 * execve, while the init waits; so no page table is copied.
 *
 * The init forwards the termination signals sent to it (by wr_run_signal, or
 * by the command's own processes) to the command; signals the kernel sends to
 * the terminal's process group (^C) already reach the command, so those are
 * not sent twice. It reaps every child that ends, and when the command ends
 * it writes the command's wait status on status_fd (so the run reports the
 * command's exit code or signal, not the init's) and exits with the same
 * code (128+N for signal N); the kernel then ends whatever is left in the
 * namespace. */
static const int init_forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};

/* The init is a fork of the supervising warren: without this, the run would
 * read warren's own command line in /proc/1/cmdline (the daemon's options, a
 * tenant's id) and its environment in /proc/1/environ, both still in the
 * copied memory. PR_SET_MM_MAP points them at a constant instead: the command
 * line becomes "warren-init", the environment empty. It is the one form of
 * PR_SET_MM that needs no capability (it keeps every other field as it is,
 * read by the parent from /proc/self/stat), so it works in a user namespace
 * too. The name (/proc/1/comm) follows. The kernel reads the command line
 * only from anonymous memory, so the text is a copy on the child's stack, in
 * child_main's frame, which lives as long as the init. */

int wr_spawn_init_identity(const plan *p, const char title[static sizeof INIT_TITLE]) {
    struct prctl_mm_map m = *p->mm;
    m.brk = (uint64_t)syscall(SYS_brk, 0); /* the one field that moves (malloc) */
    m.arg_start = (uint64_t)(uintptr_t)title;
    m.arg_end = m.arg_start + sizeof INIT_TITLE; /* with its NUL: nothing read past it */
    m.env_start = m.env_end = m.arg_end;
    m.auxv = NULL;
    m.auxv_size = 0;
    m.exe_fd = (uint32_t)-1;
    if (prctl(PR_SET_MM, PR_SET_MM_MAP, &m, sizeof m, 0) < 0) return -errno;
    return prctl(PR_SET_NAME, title, 0, 0, 0) < 0 ? -errno : 0;
}

/* The fields PR_SET_MM_MAP must be given, as they are: fixed by execve, so
 * read once per process. */
static struct prctl_mm_map own_mm;
static int own_mm_err;

static void read_own_mm(void) {
    char buf[2048];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    own_mm_err = EIO;
    if (n <= 0) return;
    buf[n] = '\0';
    /* The name (field 2) may hold spaces and ')': fields go on after the last. */
    char *s = strrchr(buf, ')');
    if (!s) return;
    unsigned long long f[53] = {0};
    int field = 2;
    for (char *tok = s + 1; field < 52;) {
        while (*tok == ' ')
            tok++;
        if (!*tok) break;
        char *end;
        f[++field] = strtoull(tok, &end, 10);
        if (end == tok) f[field] = 0; /* the state letter */
        tok = end == tok ? tok + 1 : end;
    }
    if (field < 51) return; /* a kernel older than 3.5 */
    own_mm = (struct prctl_mm_map){
        .start_code = f[26], .end_code = f[27], .start_stack = f[28], .start_data = f[45],
        .end_data = f[46], .start_brk = f[47], .arg_start = f[48], .arg_end = f[49],
        .env_start = f[50], .env_end = f[51]};
    own_mm_err = 0;
}

int wr_spawn_mm_layout(const struct prctl_mm_map **ret, wr_err *e) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, read_own_mm);
    if (own_mm_err) return wr_sys(e, own_mm_err, "cannot read /proc/self/stat (memory layout)");
    *ret = &own_mm;
    return 0;
}

_Noreturn void wr_spawn_init(const plan *p) {
    /* Its memory is a copy of warren's: not for the command to read through
     * /proc/1/mem or ptrace, even where the uid did not change (a user
     * namespace keeps it dumpable). Set here, once the parent has taken the
     * seccomp listener (pidfd_getfd needs the init dumpable without root).
     * The command's own exec makes it dumpable again as usual. */
    CHECK(p, STEP_INIT, prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0);
    /* Blocked before the command exists, so none is lost before the loop;
     * blocked signals are queued for pid 1 even from outside its namespace. */
    sigset_t set, none;
    sigemptyset(&set);
    sigemptyset(&none);
    for (size_t i = 0; i < ELEMENTSOF(init_forwarded); i++)
        sigaddset(&set, init_forwarded[i]);
    sigaddset(&set, SIGCHLD);
    CHECK(p, STEP_INIT, sigprocmask(SIG_BLOCK, &set, NULL) == 0);

    pid_t cmd = vfork();
    if (cmd == 0) {
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(p->path, p->argv, p->envp);
        wr_spawn_fail(p, STEP_EXEC, errno, 0);
    }
    if (cmd < 0) wr_spawn_fail(p, STEP_INIT, errno, 0);
    /* The command has exec'ed (or failed and said so): the parent reads EOF
     * once this copy of the error pipe is closed too. The init keeps none of
     * the run's stdio, so a reader of the run's output sees its end when the
     * command's processes close theirs. */
    close(p->err_fd);
    close(STDIN_FILENO);
    close(STDOUT_FILENO);
    close(STDERR_FILENO);

    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&set, &si);
        if (sig < 0) continue;
        if (sig != SIGCHLD) {
            if (si.si_code <= 0) kill(cmd, sig); /* SI_USER, SI_QUEUE, SI_TKILL: sent */
            continue;
        }
        int status;
        pid_t done;
        while ((done = waitpid(-1, &status, WNOHANG)) > 0) {
            if (done != cmd) continue; /* an orphan, reaped */
            ssize_t n = write(p->status_fd, &status, sizeof status);
            (void)n;
            _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        }
    }
}

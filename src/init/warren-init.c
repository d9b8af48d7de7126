/* warren-init: pid 1 of a contained run's pid namespace.
 *
 * A command that is not written to be an init (a shell, python) would, as
 * pid 1, leave its orphans as zombies and ignore every signal it has no
 * handler for, SIGTERM included. So a run's child, once it has started the
 * command's own process (pid 2, which sets itself up and execs the command:
 * spawn-command.c) and built the run's root, execs this program, which
 * stays:
 *   - it forwards the termination signals sent to it (by wr_run_signal, or by
 *     the command's own processes) to the command; signals the kernel sends
 *     to the terminal's process group (^C) already reach the command, so
 *     those are not sent twice;
 *   - it reaps every child that ends;
 *   - when the command ends it writes the command's wait status on the
 *     status pipe (the run reports the command's exit code or signal, not
 *     the init's) and exits with the same code (128+N for signal N); the
 *     kernel then ends whatever is left in the namespace.
 * It runs as the tenant, without capabilities, and not dumpable.
 *
 * Why a program of its own, exec'ed from a sealed memfd (spawn-init.c): the
 * child can then be cloned sharing warren's memory until this exec (vfork's
 * contract), so no page table of the supervising warren (the CLI, or a
 * daemon with every tenant in its heap) is copied for a run, nor any page
 * faulted in by copy-on-write afterwards; and pid 1 holds nothing of
 * warren's memory for the run to read.
 *
 * It is built without a C library: no start-up code to run before main (a
 * static glibc spends about 0.3 ms there), nothing linked that the init does
 * not call. The system calls are the x86-64 ones; spawn-protocol.h has the
 * interface. */
#include <asm/unistd.h>
#include <linux/errno.h>
#include <linux/prctl.h>
#include <linux/signal.h>
#include <linux/wait.h>
#include <stddef.h>
#include <stdint.h>

#include "raw-syscall.h"
#include "spawn-protocol.h"

#if !defined(__x86_64__)
#error "warren-init makes x86-64 system calls"
#endif

/* --- system calls -------------------------------------------------------------- */

/* Every call here takes at most four arguments. */
#define SYS(n, a, b, c, d) RAW((n), (a), (b), (c), (d))

static _Noreturn void exit_group(int code) {
    for (;;)
        SYS(__NR_exit_group, code, 0, 0, 0);
}

/* The kernel's sigset_t: one bit per signal, 64 of them. */
typedef uint64_t ksigset;
#define SIGBIT(s) ((ksigset)1 << ((s) - 1))

static const int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};

/* The command's pid, from the one environment entry the child gives the
 * init (spawn-protocol.h); -1 if there is none. */
static long command_pid(char **envp) {
    static const char name[] = INIT_ENV_COMMAND;
    for (char **p = envp; *p; p++) {
        const char *v = *p;
        size_t i = 0;
        while (i < sizeof name - 1 && v[i] == name[i])
            i++;
        if (i < sizeof name - 1) continue;
        long pid = 0;
        for (v += i; *v >= '0' && *v <= '9' && pid < (1L << 30); v++)
            pid = pid * 10 + (*v - '0');
        return *v == '\0' && pid > 1 ? pid : -1;
    }
    return -1;
}

static _Noreturn void init_main(char **envp) {
    /* First: the command's process waits for this (spawn-command.c), so
     * that nothing of the run ever sees pid 1 before it is this program. */
    SYS(__NR_close, INIT_FD_GATE, 0, 0, 0);
    /* Set again, though the exec of a file the run cannot read already made
     * pid 1 not dumpable: nothing of it is for the run to read or trace. */
    SYS(__NR_prctl, PR_SET_DUMPABLE, 0, 0, 0);
    /* The exec named it after its fd; /proc/1/comm says what it is. */
    SYS(__NR_prctl, PR_SET_NAME, INIT_NAME, 0, 0);

    long cmd = command_pid(envp);
    if (cmd < 0) {
        report r = {STEP_INIT, EINVAL, 0};
        SYS(__NR_write, INIT_FD_ERR, &r, sizeof r, 0);
        exit_group(INIT_EXIT_SETUP);
    }

    /* Exactly these blocked: the child came with every signal blocked, and
     * any sent before now is still pending for the loop below (blocked
     * signals are queued for pid 1 even from outside its namespace). */
    ksigset set = SIGBIT(SIGCHLD);
    for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
        set |= SIGBIT(forwarded[i]);
    SYS(__NR_rt_sigprocmask, SIG_SETMASK, &set, 0, sizeof set);

    /* The parent reads EOF on the error pipe once the command has exec'ed
     * and this copy is closed. The init keeps none of the run's stdio, so a
     * reader of the run's output sees its end when the command's processes
     * close theirs. */
    SYS(__NR_close, INIT_FD_ERR, 0, 0, 0);
    for (int fd = 0; fd < 3; fd++)
        SYS(__NR_close, fd, 0, 0, 0);

    for (;;) {
        /* siginfo_t: si_signo, si_errno, si_code, then the rest. */
        int info[32];
        long sig = SYS(__NR_rt_sigtimedwait, &set, info, 0, sizeof set);
        if (sig < 0) continue;
        if (sig != SIGCHLD) {
            if (info[2] <= 0) SYS(__NR_kill, cmd, sig, 0, 0); /* SI_USER, SI_QUEUE, SI_TKILL: sent */
            continue;
        }
        int status;
        long done;
        while ((done = SYS(__NR_wait4, -1, &status, WNOHANG, 0)) > 0) {
            if (done != cmd) continue; /* an orphan, reaped */
            SYS(__NR_write, INIT_FD_STATUS, &status, sizeof status, 0);
            int code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f);
            exit_group(code);
        }
    }
}

/* The entry: the kernel leaves argc, argv, NULL, envp on the stack. The
 * stack is 16-byte aligned here; the call pushes the return address, as the
 * ABI expects at a function's entry. */
_Noreturn void warren_init_start(long *sp);
_Noreturn void warren_init_start(long *sp) {
    long argc = sp[0];
    char **envp = (char **)(sp + 1 + argc + 1);
    init_main(envp);
}

__asm__(".text\n"
        ".globl _start\n"
        ".type _start, @function\n"
        "_start:\n"
        "    xorl %ebp, %ebp\n"
        "    movq %rsp, %rdi\n"
        "    andq $-16, %rsp\n"
        "    call warren_init_start\n"
        "    hlt\n"
        ".size _start, .-_start\n");

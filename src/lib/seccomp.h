/* The strong level's system-call filter.
 *
 * Built with libseccomp in the parent, where allocating is fine, and exported
 * as a classic BPF program; the child loads it with seccomp(2), the last step
 * before execve, which allocates nothing (spawn.c).
 *
 * Policy, for the native ABI (x86-64):
 *  - an allowlist of what ordinary programs need (shells, coreutils, python3,
 *    gcc and its tools, node, servers on loopback): allowed;
 *  - clone3: ENOSYS without notification (its flags sit in memory the filter
 *    cannot read; libc falls back to clone, whose flags it can);
 *  - clone with any CLONE_NEW* flag, unshare, setns, mount and friends,
 *    ptrace, process_vm_readv/writev, bpf, perf_event_open, keyctl/add_key/
 *    request_key, userfaultfd, io_uring_*, kexec_*, *_module, reboot, swapon/
 *    off, pivot_root, chroot, acct, quotactl, name_to_handle_at/
 *    open_by_handle_at, personality changes other than the default, and ioctl
 *    TIOCSTI or TIOCLINUX (matched on the low 32 bits, so the high-bit variant
 *    of CVE-2019-10063 is refused too): refused with EPERM;
 *  - socket and socketpair for an address family other than AF_UNIX, AF_INET,
 *    AF_INET6 and AF_NETLINK (AF_VSOCK, which no namespace separates, packet,
 *    alg and the rarely used protocols): refused with EAFNOSUPPORT, as a
 *    kernel without the family would;
 *  - every other system call (unknown to this list, or newer than it), and
 *    prlimit64 on another process: refused with ENOSYS, so libc falls back to
 *    an older call;
 *  - any other ABI (32-bit x86, x32): the process is killed.
 * With `notify`, every refusal except clone3's goes through a user
 * notification listener instead of the kernel answering directly: the
 * supervisor (the process waiting for the run) records which call was refused
 * and answers with the same errno. A run that refuses nothing never wakes the
 * supervisor, so it is not slowed down. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct wr_seccomp wr_seccomp;

/* Builds the filter. Returns 0 and a handle to free with wr_seccomp_free. */
int wr_seccomp_build(bool notify, wr_seccomp **ret, wr_err *e);
void wr_seccomp_free(wr_seccomp *f);

/* In the child, after no_new_privs: loads the filter with seccomp(2) only.
 * Returns the listener fd (notify; close-on-exec) or 0, or -errno. */
int wr_seccomp_load(const wr_seccomp *f);

/* Supervisor side. Reads one notification from the listener (blocking; call
 * when poll says it is readable), answers it with the policy's errno and fills
 * *ret with what was refused. -ENOENT if the notification was already gone
 * (the task died meanwhile): not an error; *ret is filled when the
 * notification was received before the task died. */
typedef struct wr_seccomp_refusal {
    int nr;        /* system call number */
    char name[32]; /* its name, or "syscall_<nr>" */
    int errnum;    /* what the task was answered: EPERM, ENOSYS or EAFNOSUPPORT */
    uint32_t pid;  /* the task, in the supervisor's pid namespace */
} wr_seccomp_refusal;
int wr_seccomp_handle(int listener, wr_seccomp_refusal *ret, wr_err *e);

/* The exported program (classic BPF instructions) and a filter made back from
 * one, so that seccomp-cache.c can keep the compiled program between
 * processes: compiling it takes libseccomp ~1.6 ms, loading it ~1 us. */
const void *wr_seccomp_program(const wr_seccomp *f, size_t *ret_len, bool *ret_notify);
int wr_seccomp_from_program(bool notify, const void *insns, size_t len, wr_seccomp **ret,
                            wr_err *e);

/* The filter wr_seccomp_build(notify) makes, taken from the cache in state_dir
 * when one matches this program, libseccomp and kernel (else built and stored
 * there). */
int wr_seccomp_cached(const char *state_dir, bool notify, wr_seccomp **ret, wr_err *e);

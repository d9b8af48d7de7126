/* raw-syscall.h: system calls that return -errno and leave errno alone.
 *
 * A contained run's child and its command's process (spawn-command.c) run
 * at once in the same memory, with the same thread pointer, so glibc's
 * errno, a thread-local variable, is one variable for both (and for the
 * waiting parent thread). A call that fails as expected on one side (a mask
 * for a /proc file this kernel lacks: ENOENT) would overwrite the errno the
 * other side is about to read. So the command's process makes every call
 * through here (the result carries the error): it neither reads nor writes
 * errno, and the child's stays the child's. */
#ifndef WARREN_RAW_SYSCALL_H
#define WARREN_RAW_SYSCALL_H

/* No C library header on x86-64: warren-init, built without one, makes its
 * system calls through here too. */
#if defined(__x86_64__)
static inline long wr_raw_syscall(long n, long a, long b, long c, long d, long e, long f) {
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#else
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>
/* Elsewhere through glibc: errno is then shared as described above. */
static inline long wr_raw_syscall(long n, long a, long b, long c, long d, long e, long f) {
    long r = syscall(n, a, b, c, d, e, f);
    return r < 0 ? -errno : r;
}
#endif

/* RAW(SYS_x, args...): up to six arguments, each passed as a long. */
#define RAW(...) RAW_(__VA_ARGS__, 0, 0, 0, 0, 0, 0, 0)
#define RAW_(n, a, b, c, d, e, f, ...)                                                             \
    wr_raw_syscall((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

#endif

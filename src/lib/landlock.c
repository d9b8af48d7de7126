/* Landlock for the strong level (see landlock.h).
 *
 * The system call numbers, structures and access bits below are the kernel's
 * Landlock uapi, written out here because Debian's <linux/landlock.h> stops at
 * ABI 2. They carry a WR_ prefix so they never clash with that header. Each bit
 * is used only when the running kernel's ABI has it: asking for a bit the
 * kernel does not know makes it refuse the whole ruleset. */
#include "landlock.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "raw-syscall.h"
#include "util.h"

/* System calls (the same numbers on every architecture that has them). */
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#endif
#ifndef __NR_landlock_add_rule
#define __NR_landlock_add_rule 445
#endif
#ifndef __NR_landlock_restrict_self
#define __NR_landlock_restrict_self 446
#endif

/* landlock_create_ruleset() flags. */
#define WR_LL_CREATE_RULESET_VERSION (1U << 0)

/* landlock_add_rule() rule types. */
#define WR_LL_RULE_PATH_BENEATH 1

/* struct landlock_ruleset_attr as of ABI 6. The kernel is given only the
 * prefix the running ABI knows: handled_access_fs alone before ABI 4, with
 * handled_access_net from ABI 4, with scoped from ABI 6. */
struct wr_ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net; /* ABI 4 */
    uint64_t scoped;             /* ABI 6 */
};

/* struct landlock_path_beneath_attr: packed, no padding after parent_fd. */
struct wr_ll_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

/* Filesystem access rights. */
#define WR_LL_FS_EXECUTE (UINT64_C(1) << 0)
#define WR_LL_FS_WRITE_FILE (UINT64_C(1) << 1)
#define WR_LL_FS_READ_FILE (UINT64_C(1) << 2)
#define WR_LL_FS_READ_DIR (UINT64_C(1) << 3)
#define WR_LL_FS_REMOVE_DIR (UINT64_C(1) << 4)
#define WR_LL_FS_REMOVE_FILE (UINT64_C(1) << 5)
#define WR_LL_FS_MAKE_CHAR (UINT64_C(1) << 6)
#define WR_LL_FS_MAKE_DIR (UINT64_C(1) << 7)
#define WR_LL_FS_MAKE_REG (UINT64_C(1) << 8)
#define WR_LL_FS_MAKE_SOCK (UINT64_C(1) << 9)
#define WR_LL_FS_MAKE_FIFO (UINT64_C(1) << 10)
#define WR_LL_FS_MAKE_BLOCK (UINT64_C(1) << 11)
#define WR_LL_FS_MAKE_SYM (UINT64_C(1) << 12)
#define WR_LL_FS_REFER (UINT64_C(1) << 13)     /* ABI 2 */
#define WR_LL_FS_TRUNCATE (UINT64_C(1) << 14)  /* ABI 3 */
#define WR_LL_FS_IOCTL_DEV (UINT64_C(1) << 15) /* ABI 5 */

/* Network access rights (ABI 4). Not used: the network is the namespace's
 * job, and handling these without port rules would forbid all TCP. */
#define WR_LL_NET_BIND_TCP (UINT64_C(1) << 0)
#define WR_LL_NET_CONNECT_TCP (UINT64_C(1) << 1)

/* Scopes (ABI 6). */
#define WR_LL_SCOPE_ABSTRACT_UNIX_SOCKET (UINT64_C(1) << 0)
#define WR_LL_SCOPE_SIGNAL (UINT64_C(1) << 1)

/* landlock_restrict_self() flags (ABI 7): audit logging of denials. Not used:
 * warren enforces with the kernel's default logging (flags 0). */
#define WR_LL_RESTRICT_SELF_LOG_SAME_EXEC_OFF (1U << 0)
#define WR_LL_RESTRICT_SELF_LOG_NEW_EXEC_ON (1U << 1)
#define WR_LL_RESTRICT_SELF_LOG_SUBDOMAINS_OFF (1U << 2)

/* The rights a rule on a file that is not a directory may carry; the kernel
 * refuses any other bit there with EINVAL. */
#define WR_LL_FS_FILE_BITS                                                                         \
    (WR_LL_FS_EXECUTE | WR_LL_FS_WRITE_FILE | WR_LL_FS_READ_FILE | WR_LL_FS_TRUNCATE |             \
     WR_LL_FS_IOCTL_DEV)

/* Every filesystem right the given ABI knows. */
static uint64_t fs_all(int abi) {
    uint64_t m = WR_LL_FS_EXECUTE | WR_LL_FS_WRITE_FILE | WR_LL_FS_READ_FILE | WR_LL_FS_READ_DIR |
                 WR_LL_FS_REMOVE_DIR | WR_LL_FS_REMOVE_FILE | WR_LL_FS_MAKE_CHAR |
                 WR_LL_FS_MAKE_DIR | WR_LL_FS_MAKE_REG | WR_LL_FS_MAKE_SOCK | WR_LL_FS_MAKE_FIFO |
                 WR_LL_FS_MAKE_BLOCK | WR_LL_FS_MAKE_SYM;
    if (abi >= 2) m |= WR_LL_FS_REFER;
    if (abi >= 3) m |= WR_LL_FS_TRUNCATE;
    if (abi >= 5) m |= WR_LL_FS_IOCTL_DEV;
    return m;
}

int wr_landlock_abi(void) {
    long r = syscall(__NR_landlock_create_ruleset, NULL, 0, WR_LL_CREATE_RULESET_VERSION);
    return r > 0 ? (int)r : 0;
}

int wr_landlock_ruleset(int *ret_abi, wr_err *e) {
    int abi = wr_landlock_abi();
    if (abi <= 0)
        return wr_fail(e, WR_ERR_SYSTEM, EOPNOTSUPP,
                       "Landlock: the kernel has none, or it is disabled");

    struct wr_ll_ruleset_attr attr = {
        .handled_access_fs = fs_all(abi),
        .handled_access_net = 0,
        /* Not WR_LL_SCOPE_SIGNAL: a contained run's init is not in the
         * command's domain (spawn-command.c), and `kill 1` must reach it, to
         * be forwarded; the run's pid namespace already leaves nothing else
         * to signal but its own processes, and the uid nothing of other
         * tenants'. */
        .scoped = abi >= 6 ? WR_LL_SCOPE_ABSTRACT_UNIX_SOCKET : 0,
    };
    size_t size = abi >= 6   ? sizeof attr
                  : abi >= 4 ? offsetof(struct wr_ll_ruleset_attr, scoped)
                             : offsetof(struct wr_ll_ruleset_attr, handled_access_net);

    /* Ruleset fds are always close-on-exec. */
    long fd = syscall(__NR_landlock_create_ruleset, &attr, size, 0U);
    if (fd < 0) return wr_sys(e, errno, "Landlock ruleset (ABI %d)", abi);
    if (ret_abi) *ret_abi = abi;
    return (int)fd;
}

int wr_landlock_allow(int ruleset, int fd, wr_landlock_access access, int abi) {
    uint64_t mask;
    switch (access) {
    case WR_LANDLOCK_READ:
        mask = WR_LL_FS_EXECUTE | WR_LL_FS_READ_FILE | WR_LL_FS_READ_DIR;
        break;
    case WR_LANDLOCK_WRITE:
        mask = fs_all(abi);
        break;
    case WR_LANDLOCK_DEVICE:
        mask = WR_LL_FS_READ_FILE | WR_LL_FS_WRITE_FILE;
        if (abi >= 3) mask |= WR_LL_FS_TRUNCATE;
        if (abi >= 5) mask |= WR_LL_FS_IOCTL_DEV;
        break;
    default:
        return -EINVAL;
    }
    if (abi <= 0) return -EINVAL;

    /* Raw calls: a contained run's command process adds its rules beside
     * the child, whose errno is its own (raw-syscall.h). */
    struct stat st;
    long r = RAW(SYS_fstat, fd, &st);
    if (r < 0) return (int)r;
    if (!S_ISDIR(st.st_mode)) mask &= WR_LL_FS_FILE_BITS;

    struct wr_ll_path_beneath_attr rule = {.allowed_access = mask, .parent_fd = fd};
    r = RAW(__NR_landlock_add_rule, ruleset, WR_LL_RULE_PATH_BENEATH, &rule, 0U);
    return r < 0 ? (int)r : 0;
}

int wr_landlock_enforce(int ruleset) {
    long r = RAW(__NR_landlock_restrict_self, ruleset, 0U);
    return r < 0 ? (int)r : 0;
}

/* Capabilities: a run keeps none (see caps.h).
 *
 * These run in a contained run's command process, beside the child in the
 * same memory: their own system calls leave errno alone (raw-syscall.h).
 *
 * libcap-ng clears the effective, permitted, inheritable and ambient sets.
 * The bounding set is dropped here with PR_CAPBSET_DROP instead of through
 * capng_apply(CAPNG_SELECT_BOUNDS): libcap-ng 0.8.3 rereads the process's
 * sets from /proc/<tid>/status with fopen() on that path, which allocates,
 * and this runs in a freshly created child. */
#include "caps.h"

#include <cap-ng.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "raw-syscall.h"
#include "util.h"

/* Capability numbers fit in two 32-bit words; the kernel answers EINVAL past
 * its last one, which ends every loop below well before this bound. */
#define WR_CAP_LIMIT 64

int wr_caps_drop_bounding(void) {
    /* Dropping from the bounding set needs CAP_SETPCAP in the effective set,
     * which wr_caps_drop_all removes. */
    for (int c = 0; c < WR_CAP_LIMIT; c++) {
        long r = RAW(SYS_prctl, PR_CAPBSET_DROP, c);
        if (r == 0) continue;
        if (r == -EINVAL) break; /* past the kernel's last capability */
        return (int)r;
    }
    return 0;
}

int wr_caps_drop_all(void) {
    /* The uid change that follows must not keep the permitted set. */
    long r = RAW(SYS_prctl, PR_SET_KEEPCAPS, 0);
    if (r < 0) return (int)r;

    /* libcap-ng's state is per thread; a child created without fork()'s
     * atfork handlers could still hold the parent thread's id in it. Pid 0
     * names the calling thread. */
    capng_setpid(0);
    capng_clear(CAPNG_SELECT_CAPS | CAPNG_SELECT_AMBIENT);
    /* Keep only what the caller's setgroups/setresgid/setresuid needs; the
     * kernel clears the permitted and effective sets when the uid changes
     * from 0 to another uid, and wr_caps_verify_none checks that it did. */
    if (capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_SETUID, CAP_SETGID, -1) < 0)
        return -EINVAL;
    errno = 0;
    if (capng_apply(CAPNG_SELECT_CAPS | CAPNG_SELECT_AMBIENT) != 0)
        return errno > 0 ? -errno : -EPERM;
    return 0;
}

int wr_caps_verify_none(void) {
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {{0}};
    long r = RAW(SYS_capget, &hdr, data);
    if (r < 0) return (int)r;
    for (size_t i = 0; i < ELEMENTSOF(data); i++)
        if (data[i].effective || data[i].permitted || data[i].inheritable) return -EPERM;

    /* The ambient set needs no look of its own: the kernel keeps it within
     * the permitted and inheritable sets, both empty above. */
    for (int c = 0; c < WR_CAP_LIMIT; c++) {
        r = RAW(SYS_prctl, PR_CAPBSET_READ, c);
        if (r == -EINVAL) break;
        if (r != 0) return -EPERM;
    }

    if (RAW(SYS_prctl, PR_GET_NO_NEW_PRIVS) != 1) return -EPERM;
    return 0;
}

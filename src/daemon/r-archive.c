/* Export and import over HTTP, without holding the loop.
 *
 * GET /v1/tenants/{id}/export streams the archive as it is made: a
 * `warren-full export TENANT -` helper writes it into a pipe, and the response
 * reads the pipe; when the pipe is empty the connection is suspended and the
 * loop watches the pipe to resume it. If the helper fails midway the
 * response is cut off (the client sees an incomplete chunked body), never
 * finished as if complete.
 *
 * PUT /v1/tenants/{id}/import takes the archive as the body, spooled to an
 * unnamed file (server.c) after the token was checked, then runs `warren-full
 * import TENANT - --json` on it; the connection waits, suspended, for the
 * helper's pidfd, and the answer is the helper's JSON. The helpers are
 * warren's own programs: the import's isolation (a private mount namespace,
 * extraction as the tenant) is the library's, as for `warren import`. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "handlers.h"
#include "program.h"
#include "util.h"

extern char **environ;

/* Starts warren-full with argv (argv[0] replaced), stdin/stdout as given.
 * The helper is warren's own work, not a run: it gets the daemon's first
 * CPUs, not the ones the daemon keeps to (supervisor.c). */
static int helper(warren *w, char **argv, int in, int out, pid_t *ret, wr_err *e) {
    char path[4096];
    int r = wr_full_program(path, sizeof path, e);
    if (r < 0) return r;
    argv[0] = path;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (in >= 0)
        posix_spawn_file_actions_adddup2(&fa, in, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out, 1);
    /* The daemon blocks SIGTERM/SIGINT for its signalfd; the helper must not. */
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
    wr_supervisor_widen(w);
    int err = posix_spawn(ret, path, &fa, &at, argv, environ);
    wr_supervisor_narrow(w);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return err ? wr_sys(e, err, "cannot start %s", path) : 0;
}

/* --- export ------------------------------------------------------------------ */

/* Exports and imports in progress, so that a stopping daemon can wait for
 * them and, past its grace period, end their helpers. */
static size_t active;
static pid_t helpers[64];

static void helper_add(pid_t p) {
    active++;
    for (size_t i = 0; i < ELEMENTSOF(helpers); i++)
        if (!helpers[i]) {
            helpers[i] = p;
            return;
        }
}

static void helper_done(pid_t p) {
    active--;
    for (size_t i = 0; i < ELEMENTSOF(helpers); i++)
        if (helpers[i] == p) helpers[i] = 0;
}

size_t archive_active(void) {
    return active;
}

void archive_abort_all(void) {
    for (size_t i = 0; i < ELEMENTSOF(helpers); i++)
        if (helpers[i]) kill(helpers[i], SIGKILL);
}

typedef struct export_stream {
    loop_tag tag;
    srv *s;
    struct MHD_Connection *conn;
    int fd;
    pid_t pid;
    bool watched;
    char tenant[WR_TENANT_ID_MAX + 1];
} export_stream;

static void export_readable(srv *s, loop_tag *t, uint32_t events) {
    export_stream *x = (export_stream *)t;
    srv_unwatch(s, x->fd);
    x->watched = false;
    MHD_resume_connection(x->conn);
}

static ssize_t export_read(void *cls, uint64_t pos, char *buf, size_t max) {
    export_stream *x = cls;
    for (;;) {
        ssize_t n = read(x->fd, buf, max);
        if (n > 0) return n;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            /* Nothing yet: park the connection until the pipe has data. */
            if (!x->watched && srv_watch(x->s, x->fd, &x->tag, EPOLLIN) == 0) {
                x->watched = true;
                MHD_suspend_connection(x->conn);
                return 0;
            }
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        /* EOF: complete only if the helper says so. */
        int st = 0;
        pid_t p;
        do
            p = waitpid(x->pid, &st, 0);
        while (p < 0 && errno == EINTR);
        helper_done(x->pid);
        x->pid = 0;
        if (!(p > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        /* The library audits imports; an export is audited where it completes. */
        char detail[96];
        snprintf(detail, sizeof detail, "{\"via\":\"api\",\"bytes\":%llu}",
                 (unsigned long long)pos);
        wr_audit_note(srv_warren(x->s), "export", x->tenant, detail);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
}

static void export_free(void *cls) {
    export_stream *x = cls;
    if (x->watched) srv_unwatch(x->s, x->fd);
    close(x->fd);
    if (x->pid > 0) {
        /* The client went away: the helper's next write fails; make sure. */
        kill(x->pid, SIGTERM);
        waitpid(x->pid, NULL, 0);
        helper_done(x->pid);
    }
    free(x);
}

int h_export(dreq *r) {
    wr_err e = WR_ERR_INIT;
    wr_tenant t;
    if (wr_tenant_get(srv_warren(r->s), r->params[0], &t, &e) < 0) return reply_wr_err(r, &e);
    /* zst (default) or gz: pactown's archives are .tar.gz. */
    const char *format = req_query(r, "format");
    if (!format) format = "zst";
    bool gz = streq(format, "gz");
    if (!gz && !streq(format, "zst"))
        return reply_error(r, 400, "invalid", "format %s: expected zst or gz", format);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return reply_error(r, 500, "system", "pipe: %s", strerror(errno));
    char *argv[] = {NULL, "export", r->params[0], "-", "--format", gz ? "gz" : "zst", NULL};
    pid_t pid;
    int q = helper(srv_warren(r->s), argv, -1, p[1], &pid, &e);
    close(p[1]);
    if (q < 0) {
        close(p[0]);
        return reply_wr_err(r, &e);
    }
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    export_stream *x = calloc(1, sizeof *x);
    if (!x) {
        close(p[0]);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return MHD_NO;
    }
    helper_add(pid);
    *x = (export_stream){{export_readable}, r->s, r->conn, p[0], pid, false, ""};
    snprintf(x->tenant, sizeof x->tenant, "%s", t.saas_user_id);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, export_read, x, export_free);
    if (!resp) {
        export_free(x);
        return MHD_NO;
    }
    char disp[128];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s.tar.%s\"", t.linux_username,
             gz ? "gz" : "zst");
    MHD_add_response_header(resp, "Content-Type", gz ? "application/gzip" : "application/zstd");
    MHD_add_response_header(resp, "Content-Disposition", disp);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    r->status = 200;
    int ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* --- import ------------------------------------------------------------------ */

typedef struct import_job {
    loop_tag tag;
    dreq *r;
    int pidfd, outfd;
    pid_t pid;
} import_job;

static unsigned status_of_code(const char *code) {
    static const struct {
        const char *code;
        unsigned status;
    } map[] = {{"invalid", 400}, {"not_found", 404}, {"exists", 409}, {"denied", 403},
               {"busy", 503},    {"limit", 413},     {"unsafe", 422}};
    for (size_t i = 0; code && i < ELEMENTSOF(map); i++)
        if (streq(code, map[i].code)) return map[i].status;
    return 500;
}

static void import_done(srv *s, loop_tag *t, uint32_t events) {
    import_job *j = (import_job *)t;
    dreq *r = j->r;
    srv_unwatch(s, j->pidfd);
    int st = 0;
    while (waitpid(j->pid, &st, 0) < 0 && errno == EINTR) {
    }
    helper_done(j->pid);
    char buf[16384];
    ssize_t n = pread(j->outfd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    json_t *out = json_loads(buf, 0, NULL);
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (ok) {
        r->later_status = 200;
        r->later = out ? out : json_object();
    } else {
        json_t *err = json_object_get(out, "error");
        const char *code = json_string_value(json_object_get(err, "code"));
        const char *msg = json_string_value(json_object_get(err, "message"));
        r->later_status = status_of_code(code);
        r->later = r->compat ? json_pack("{s:s}", "detail", msg ? msg : "import failed")
                             : json_pack("{s:{s:s,s:s}}", "error", "code", code ? code : "system",
                                         "message", msg ? msg : "import failed");
        json_decref(out);
    }
    close(j->pidfd);
    close(j->outfd);
    r->suspended = false;
    MHD_resume_connection(r->conn);
    free(j);
}

int h_import(dreq *r) {
    int replace = parse_bool(req_query(r, "replace"), false);
    if (replace < 0) return reply_error(r, 400, "invalid", "replace: expected true or false");
    const char *from = req_query(r, "from");
    if (r->upload_fd < 0 || r->upload_len == 0)
        return reply_error(r, 400, "invalid", "the request body must be the archive");
    wr_err e = WR_ERR_INIT;
    wr_tenant t;
    if (wr_tenant_get(srv_warren(r->s), r->params[0], &t, &e) < 0) return reply_wr_err(r, &e);
    const char *dir = wr_config_of(srv_warren(r->s))->state_dir;
    int outfd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (outfd < 0 || lseek(r->upload_fd, 0, SEEK_SET) < 0) {
        if (outfd >= 0) close(outfd);
        return reply_error(r, 500, "system", "cannot prepare the import: %s", strerror(errno));
    }
    char *argv[10] = {NULL, "import", r->params[0], "-", "--json"};
    int n = 5;
    if (replace) argv[n++] = "--replace";
    if (from) argv[n++] = "--from", argv[n++] = (char *)from;
    argv[n] = NULL;
    pid_t pid;
    if (helper(srv_warren(r->s), argv, r->upload_fd, outfd, &pid, &e) < 0) {
        close(outfd);
        return reply_wr_err(r, &e);
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    import_job *j = calloc(1, sizeof *j);
    if (pidfd < 0 || !j) {
        free(j);
        if (pidfd >= 0) close(pidfd);
        waitpid(pid, NULL, 0);
        close(outfd);
        return reply_error(r, 500, "system", "cannot watch the import");
    }
    helper_add(pid);
    *j = (import_job){{import_done}, r, pidfd, outfd, pid};
    srv_watch(r->s, pidfd, &j->tag, EPOLLIN);
    r->suspended = true;
    MHD_suspend_connection(r->conn);
    return MHD_YES;
}

/* The `warren` command: a table of subcommands (main.c) over the library.
 * Each subcommand file turns parsed arguments into library calls and prints
 * the result; errors go through cli_fail, the one place that prints them and
 * picks the exit code. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "config.h"
#include "err.h"
#include "tenant.h"
#include "tenant-json.h"

/* Exit codes (README, docs/ERRORS.md). */
enum {
    EXIT_OK = 0,
    EXIT_FAILURE_ = 1,
    EXIT_USAGE = 2,
    EXIT_NOT_FOUND = 3,
};

/* Options a command accepts besides the global ones. */
enum {
    OPT_KEEP_HOME = 1u << 0,
    OPT_EXIST_OK = 1u << 1,
    OPT_RUN = 1u << 2, /* --level --service --cwd --env --timeout --tty --shell */
    OPT_AUDIT = 1u << 3, /* --tenant --since --type --limit */
    OPT_SERVE = 1u << 4, /* --listen --socket --bench-floor */
    OPT_NET = 1u << 6, /* --mode */
    OPT_QUOTA = 1u << 5, /* --memory --cpu --cpu-weight --pids --nofile --storage --inodes --net-* */
    OPT_ARCHIVE = 1u << 7, /* --force --format --replace --from */
};

/* `nargs` of a command whose positional arguments continue after the first. */
#define NARGS_AT_LEAST_ONE (~0u)
/* `nargs` of a command with one optional positional argument. */
#define NARGS_AT_MOST_ONE (~0u - 1)

typedef struct cli {
    wr_config cfg;
    bool json;
    bool keep_home;
    bool exist_ok;
    /* run */
    const char *level, *service, *cwd, *shell;
    char **env; /* NULL-terminated */
    size_t nenv;
    double timeout;
    bool tty;
    bool verbose;
    /* audit */
    const char *tenant, *since, *type, *limit;
    /* serve */
    const char *listen, *socket;
    bool bench_floor;
    /* quota set: each --memory 512M etc. in the order given */
    const char *quota_name[16], *quota_value[16];
    size_t nquota;
    /* net set */
    const char *net_mode;
    /* export, import */
    bool force, replace;
    const char *format; /* export: "zst" or "gz"; else by the name */
    const char *from;
    warren *w; /* opened by cli_open on first use */
} cli;

typedef struct command {
    const char *name; /* "user create" */
    const char *args; /* "TENANT" */
    unsigned nargs;   /* positional arguments after the name */
    unsigned opts;    /* OPT_* it accepts */
    const char *summary;
    const char *help; /* paragraph for `warren help NAME` */
    int (*run)(cli *c, char **args);
} command;

extern const command cli_commands[];
extern const unsigned cli_ncommands;

int cli_open(cli *c);
/* Runs the command in warren-full (main.c's FULL()); returns only on failure. */
int cli_forward(cli *c, char **args);
/* Prints the error (and, with --json, {"error":...} on stdout); returns the exit code. */
int cli_fail(cli *c, const wr_err *e);
/* The same for `warren run`, whose own failures all exit 125 (126 and 127:
 * the program could not be executed or found), so that none is taken for
 * an exit code of the program's. */
int cli_run_fail(cli *c, const wr_err *e);
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* output.c */
json_t *stats_json(const wr_stats *s);
void print_json(json_t *j); /* prints and releases */
void format_time(double t, char *buf, size_t n);

int cmd_user_create(cli *c, char **args);
int cmd_user_get(cli *c, char **args);
int cmd_user_list(cli *c, char **args);
int cmd_user_stats(cli *c, char **args);
int cmd_user_delete(cli *c, char **args);
int cmd_sandbox_path(cli *c, char **args);
int cmd_demo(cli *c, char **args);
int cmd_repair(cli *c, char **args);
int cmd_run(cli *c, char **args);
int cmd_audit(cli *c, char **args);
int cmd_quota_get(cli *c, char **args);
int cmd_quota_set(cli *c, char **args);
int cmd_quota_defaults(cli *c, char **args);
int cmd_quota_set_defaults(cli *c, char **args);
int cmd_stats(cli *c, char **args);
int cmd_top(cli *c, char **args);
int cmd_freeze(cli *c, char **args);
int cmd_thaw(cli *c, char **args);
int cmd_kill(cli *c, char **args);
int cmd_serve(cli *c, char **args);
int cmd_net_get(cli *c, char **args);
int cmd_net_set(cli *c, char **args);
int cmd_net_helper(cli *c, char **args);
/* progress.c: the export/import progress bar on stderr (a terminal only). */
struct wr_progress;
void cli_progress(const struct wr_progress *p, void *userdata);
bool cli_progress_wanted(void);
int cmd_export(cli *c, char **args);
int cmd_import(cli *c, char **args);
int cmd_help(cli *c, char **args);
void print_usage(FILE *f);
void print_command_help(FILE *f, const command *cmd);

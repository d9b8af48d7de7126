/* warren: the command line. Parses global options, finds the subcommand in the
 * table and runs it. Options may stand anywhere; `--` ends them. */
#include <getopt.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"

const command cli_commands[] = {
    {"user create", "TENANT", 1, OPT_EXIST_OK, "create a tenant: account, home, sandboxes/",
     "Creates the Linux account (user and group, UID = GID, locked password, no shell) and the\n"
     "home <users-base>/<account> with sandboxes/ and .cache/, all owned by the tenant, mode "
     "0700.\n"
     "Fails if the tenant exists, unless --exist-ok (then prints the existing tenant).",
     cmd_user_create},
    {"user get", "TENANT", 1, 0, "show a tenant", "Prints the tenant; exit 3 if it does not exist.",
     cmd_user_get},
    {"user list", "", 0, 0, "list all tenants", "Lists every tenant in UID order.", cmd_user_list},
    {"user stats", "TENANT", 1, 0, "sandbox count and disk usage of a tenant",
     "Counts the sandboxes and the disk space the home uses (allocated blocks, each file once,\n"
     "no link followed, no other filesystem entered).",
     cmd_user_stats},
    {"user delete", "TENANT", 1, OPT_KEEP_HOME, "delete a tenant and everything it owns",
     "Ends every process of the tenant, removes its home (unless --keep-home), its account\n"
     "and its registry entry. A kept home's UID is never handed out again.",
     cmd_user_delete},
    {"sandbox path", "TENANT SERVICE", 2, 0, "print (and create) a service's sandbox",
     "Prints <home>/sandboxes/<SERVICE>, creating it (0700, owned by the tenant) if missing.\n"
     "SERVICE is [A-Za-z0-9][A-Za-z0-9._-]{0,63}.",
     cmd_sandbox_path},
    {"run", "TENANT [-- CMD [ARG...]]", NARGS_AT_LEAST_ONE, OPT_RUN,
     "run a program as the tenant, isolated",
     "Runs CMD (or --shell 'CMD STRING' through /bin/sh -c) as the tenant at --level basic,\n"
     "container or strong (the default), in --cwd (inside the home) or the sandbox of\n"
     "--service, with a clean environment plus each --env KEY=VALUE, for at most --timeout\n"
     "seconds. --tty gives it a terminal. --verbose ends with a line on stderr: level, the\n"
     "Landlock ABI enforced, times and peak memory. Output streams through. Exit status: the\n"
     "program's, 128+N for signal N; 125 if warren could not set the run up, 126 if the\n"
     "program could not be executed, 127 if it was not found.",
     cmd_run},
    {"audit", "TENANT", 1, 0, "system calls the strong level refused the tenant",
     "Lists each system call the strong level's filter refused the tenant's runs, with how\n"
     "often and when first and last.",
     cmd_audit},
    {"repair", "", 0, 0, "bring registry, account files and homes back into agreement",
     "Checks every tenant's account lines and restores missing ones, removes accounts warren\n"
     "made that no tenant owns, and retires the UIDs of homes that belong to no tenant. Data is\n"
     "never deleted. Runs by itself once after every boot. Exit 1 if a tenant's account name\n"
     "is held by an account with another UID (left alone).",
     cmd_repair},
    {"demo", "", 0, 0, "the user-isolation demo: two tenants, a sandbox each, their stats",
     "Creates (or reuses) user_alice and user_bob with real accounts and a my-api sandbox each,\n"
     "then prints their statistics, as pactown's demo does.",
     cmd_demo},
    {"help", "[COMMAND...]", 0, 0, "show help", "Shows the commands, or one command's help.",
     cmd_help},
};
const unsigned cli_ncommands = ELEMENTSOF(cli_commands);

int cli_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("warren: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nTry 'warren help'.\n", stderr);
    va_end(ap);
    return EXIT_USAGE;
}

int cli_fail(cli *c, const wr_err *e) {
    fprintf(stderr, "warren: %s\n", e->msg[0] ? e->msg : "failed");
    if (c->json) {
        json_t *j =
            json_pack("{s:{s:s,s:s}}", "error", "code", wr_kind_name(e->kind), "message", e->msg);
        print_json(j);
    }
    return wr_err_exit_code(e);
}

int cli_open(cli *c) {
    if (c->w) return 0;
    wr_err e = WR_ERR_INIT;
    if (wr_open(&c->cfg, &c->w, &e) < 0) return cli_fail(c, &e);
    return 0;
}

/* Matches the longest command name that the leading words spell. */
static const command *find_command(int nwords, char **words, int *ret_used) {
    for (unsigned i = 0; i < cli_ncommands; i++) {
        const char *name = cli_commands[i].name, *sp = strchr(name, ' ');
        if (!sp) {
            if (nwords >= 1 && streq(words[0], name)) {
                *ret_used = 1;
                return &cli_commands[i];
            }
            continue;
        }
        size_t l = (size_t)(sp - name);
        if (nwords >= 2 && strlen(words[0]) == l && !strncmp(words[0], name, l) &&
            streq(words[1], sp + 1)) {
            *ret_used = 2;
            return &cli_commands[i];
        }
    }
    return NULL;
}

enum {
    O_USERS_BASE = 256,
    O_STATE_DIR,
    O_PREFIX,
    O_UID_RANGE,
    O_JSON,
    O_KEEP_HOME,
    O_EXIST_OK,
    O_HELP,
    O_LEVEL,
    O_SERVICE,
    O_CWD,
    O_ENV,
    O_TIMEOUT,
    O_TTY,
    O_SHELL,
    O_VERBOSE,
};

static const struct option options[] = {
    {"users-base", required_argument, NULL, O_USERS_BASE},
    {"state-dir", required_argument, NULL, O_STATE_DIR},
    {"prefix", required_argument, NULL, O_PREFIX},
    {"uid-range", required_argument, NULL, O_UID_RANGE},
    {"json", no_argument, NULL, O_JSON},
    {"keep-home", no_argument, NULL, O_KEEP_HOME},
    {"exist-ok", no_argument, NULL, O_EXIST_OK},
    {"help", no_argument, NULL, O_HELP},
    {"level", required_argument, NULL, O_LEVEL},
    {"service", required_argument, NULL, O_SERVICE},
    {"cwd", required_argument, NULL, O_CWD},
    {"env", required_argument, NULL, O_ENV},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"tty", no_argument, NULL, O_TTY},
    {"shell", required_argument, NULL, O_SHELL},
    {"verbose", no_argument, NULL, O_VERBOSE},
    {0},
};

int main(int argc, char **argv) {
    cli c = {0};
    wr_err e = WR_ERR_INIT;
    if (wr_config_defaults(&c.cfg, &e) < 0 || wr_config_from_env(&c.cfg, &e) < 0)
        return cli_fail(&c, &e);

    bool help = false;
    unsigned used_opts = 0;
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        int r = 0;
        switch (o) {
        case O_USERS_BASE:
            r = wr_config_set_users_base(&c.cfg, optarg, &e);
            break;
        case O_STATE_DIR:
            r = wr_config_set_state_dir(&c.cfg, optarg, &e);
            break;
        case O_PREFIX:
            r = wr_config_set_prefix(&c.cfg, optarg, &e);
            break;
        case O_UID_RANGE:
            r = wr_config_set_uid_range(&c.cfg, optarg, &e);
            break;
        case O_JSON:
            c.json = true;
            break;
        case O_KEEP_HOME:
            c.keep_home = true;
            used_opts |= OPT_KEEP_HOME;
            break;
        case O_EXIST_OK:
            c.exist_ok = true;
            used_opts |= OPT_EXIST_OK;
            break;
        case 'h':
        case O_HELP:
            help = true;
            break;
        case O_LEVEL:
            c.level = optarg;
            used_opts |= OPT_RUN;
            break;
        case O_SERVICE:
            c.service = optarg;
            used_opts |= OPT_RUN;
            break;
        case O_CWD:
            c.cwd = optarg;
            used_opts |= OPT_RUN;
            break;
        case O_SHELL:
            c.shell = optarg;
            used_opts |= OPT_RUN;
            break;
        case O_TTY:
            c.tty = true;
            used_opts |= OPT_RUN;
            break;
        case O_VERBOSE:
            c.verbose = true;
            used_opts |= OPT_RUN;
            break;
        case O_ENV: {
            char **v = realloc(c.env, (c.nenv + 2) * sizeof *v);
            if (!v) return cli_usage_error("out of memory");
            c.env = v;
            c.env[c.nenv++] = optarg;
            c.env[c.nenv] = NULL;
            used_opts |= OPT_RUN;
            break;
        }
        case O_TIMEOUT: {
            char *end;
            errno = 0;
            c.timeout = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(c.timeout > 0) || c.timeout > 1e7)
                return cli_usage_error("--timeout '%s': expected seconds > 0", optarg);
            used_opts |= OPT_RUN;
            break;
        }
        case ':':
            return cli_usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("unknown option '%s'", argv[optind - 1]);
        }
        if (r < 0) {
            fprintf(stderr, "warren: %s\n", e.msg);
            return EXIT_USAGE;
        }
    }

    int nwords = argc - optind;
    char **words = argv + optind;
    if (nwords == 0) {
        print_usage(help ? stdout : stderr);
        return help ? EXIT_OK : EXIT_USAGE;
    }
    int used = 0;
    const command *cmd = find_command(nwords, words, &used);
    if (!cmd) {
        if (nwords >= 2 && find_command(1, words, &used) == NULL)
            for (unsigned i = 0; i < cli_ncommands; i++)
                if (!strncmp(cli_commands[i].name, words[0], strlen(words[0])) &&
                    cli_commands[i].name[strlen(words[0])] == ' ')
                    return cli_usage_error("unknown command '%s %s'", words[0], words[1]);
        return cli_usage_error("unknown command '%s'", words[0]);
    }
    if (help) {
        print_command_help(stdout, cmd);
        return EXIT_OK;
    }
    unsigned stray = used_opts & ~cmd->opts;
    if (stray)
        return cli_usage_error("'%s' does not take %s", cmd->name,
                               stray & OPT_KEEP_HOME  ? "--keep-home"
                               : stray & OPT_EXIST_OK ? "--exist-ok"
                                                      : "the options of 'run'");
    int nargs = nwords - used;
    bool count_ok = cmd->nargs == NARGS_AT_LEAST_ONE ? nargs >= 1 : (unsigned)nargs == cmd->nargs;
    if (cmd->run != cmd_help && !count_ok)
        return cli_usage_error("usage: warren %s %s", cmd->name, cmd->args);
    int rc = cmd->run(&c, words + used);
    wr_close(c.w);
    free(c.env);
    return rc;
}

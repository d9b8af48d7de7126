/* warren: the command line. Parses global options, finds the subcommand in the
 * table and runs it. Options may stand anywhere; `--` ends them. */
#include <getopt.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "program.h"
#include "run.h"
#include "util.h"

/* Commands whose libraries (libmicrohttpd, libarchive, libnl, libnftables) would
 * slow every start of `warren` are run by warren-full; `warren` hands them over
 * with the words the user typed (src/lib/program.h says why). */
#ifdef WARREN_CORE
#define FULL(fn) cli_forward
#else
#define FULL(fn) fn
#endif

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
     "program's, 128+N for signal N; 125 for any failure of warren's own (the message says\n"
     "which), 126 if the program could not be executed, 127 if it was not found. While\n"
     "`warren serve` runs on the same state directory, the run is handed to it, with\n"
     "warren's own stdio (faster; WARREN_RUN_LOCAL=1 runs it here).",
     cmd_run},
    {"audit", "[TENANT]", NARGS_AT_MOST_ONE, OPT_AUDIT,
     "the audit log; with TENANT, also the system calls refused it",
     "Lists audit events oldest first: tenants created and deleted, runs started and ended,\n"
     "tokens, denied and cross-tenant requests, and each system call the strong level refused\n"
     "(summed: how often, when first and last). Filters: --tenant T (or TENANT), --type TYPE,\n"
     "--since S (seconds since the epoch, YYYY-MM-DD[THH:MM:SS] UTC, or an age: 90s, 15m,\n"
     "2h, 7d), --limit N. With TENANT, --json also gives its refused_syscalls list.",
     cmd_audit},
    {"serve", "", 0, OPT_SERVE, "run the REST API daemon",
     "Serves the REST API (docs/API.md) on --listen ADDR:PORT (default 127.0.0.1:8801) and on\n"
     "the root-only Unix socket --socket PATH (default <state-dir>/warren.sock). The admin\n"
     "token is generated on first start into <state-dir>/admin.token (0600), or read from\n"
     "WARREN_ADMIN_TOKEN_FILE. SIGTERM or SIGINT: stop accepting, let runs finish within the\n"
     "grace period (WARREN_GRACE_SECONDS, default 10), then end them.",
     FULL(cmd_serve)},
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
    {"quota get", "TENANT", 1, 0, "a tenant's quotas: its own values and what is enforced",
     "Shows each quota of the tenant: its own value (or '-': the host default applies) and\n"
     "the effective one. Sizes are bytes (K/M/G/T), cpu is cores, rates are bits per second.",
     cmd_quota_get},
    {"quota set", "TENANT", 1, OPT_QUOTA, "change a tenant's quotas",
     "Sets any of --memory SIZE (RAM, swap off), --cpu CORES (0.5 = half a core, or 50%),\n"
     "--cpu-weight 1..10000 (share under contention, 100 = even), --pids N, --nofile N (open\n"
     "files per process), --storage SIZE, --inodes N, --net-rate RATE (both directions; or\n"
     "--net-egress/--net-ingress), e.g. --memory 512M --cpu 0.5 --net-rate 10mbit. Each takes\n"
     "'max' (unlimited) or 'default' (back to the host default). Running runs get the new\n"
     "memory, cpu and pids limits at once; --nofile applies to new runs. A value the kernel\n"
     "refuses changes nothing.",
     cmd_quota_set},
    {"quota defaults", "", 0, 0, "the host-wide default quotas",
     "Shows the host-wide defaults every tenant gets where it has no value of its own.",
     cmd_quota_defaults},
    {"quota set-defaults", "", 0, OPT_QUOTA, "change the host-wide default quotas",
     "Takes the options of 'quota set'; every tenant without a value of its own follows.",
     cmd_quota_set_defaults},
    {"stats", "TENANT", 1, 0, "a tenant's resource use, from the kernel's counters",
     "Memory now and at peak, CPU seconds and time throttled, processes now and at peak,\n"
     "storage used, network bytes in and out, OOM kills, refused system calls, and a health\n"
     "word: ok, throttled, over-quota or oom-killed (in the last 10 minutes).",
     cmd_stats},
    {"top", "", 0, 0, "resource use of every tenant",
     "One line per tenant with the figures of 'warren stats', busiest memory first.", cmd_top},
    {"freeze", "TENANT", 1, 0, "stop every process of the tenant where it stands",
     "Freezes every process of every run of the tenant (cgroup freezer) and returns once the\n"
     "kernel says all are frozen. New runs of a frozen tenant start frozen. 'warren thaw'\n"
     "lets them go on.",
     cmd_freeze},
    {"thaw", "TENANT", 1, 0, "let a frozen tenant's processes go on", "Undoes 'warren freeze'.",
     cmd_thaw},
    {"kill", "TENANT", 1, 0, "end every process of the tenant now",
     "Kills every process of every run of the tenant at once (cgroup.kill) and waits until\n"
     "they are gone. The tenant stays; its next run starts afresh.",
     cmd_kill},
    {"net get", "TENANT", 1, 0, "a tenant's network mode, addresses, rates and traffic",
     "Shows the network mode (none: loopback only; nat: an address of its own, masqueraded\n"
     "out), the tenant's and its gateway's addresses, the rate limits (set with 'quota set\n"
     "--net-rate') and the bytes and packets it sent and received (docs/NETWORK.md).",
     FULL(cmd_net_get)},
    {"net set", "TENANT", 1, OPT_NET, "change a tenant's network mode",
     "Takes --mode none (default: loopback only) or --mode nat (a veth pair, an address from\n"
     "WARREN_NET_RANGE, masquerade; no way to the host, link-local addresses or other\n"
     "tenants). Applies to running runs at once. Root mode only.",
     FULL(cmd_net_set)},
    {"net helper", "OP ARG...", NARGS_AT_LEAST_ONE, 0, "(internal) kernel steps of the nat network",
     "Internal: the light warren hands links, qdiscs and the ruleset to warren-full this way\n"
     "(pair, rates, unpair, rules). Not for people; see docs/NETWORK.md.",
     FULL(cmd_net_helper)},
    {"export", "TENANT FILE|-", 2, OPT_ARCHIVE, "write a tenant's whole home to an archive",
     "Writes the home (every sandbox) to FILE as .tar.zst, or .tar.gz if FILE ends in .tar.gz\n"
     "or .tgz; '-' streams zstd to stdout. --format zst|gz chooses instead of the name. The\n"
     "tenant's runs are frozen for the copy, so the\n"
     "archive is one instant of the home. A manifest inside names the tenant and holds each\n"
     "file's size and sha256. An existing FILE is refused unless --force; a failed export\n"
     "leaves no file. A progress bar shows on a terminal (docs/ARCHIVES.md).",
     FULL(cmd_export)},
    {"import", "TENANT FILE|-", 2, OPT_ARCHIVE, "make an archive the tenant's home",
     "Imports a warren archive or a pactown .tar.gz (FILE, or '-' for stdin) as the tenant's\n"
     "home, creating the tenant if missing. A home with files is replaced only with\n"
     "--replace (the tenant's runs end first). An archive of another tenant is refused unless\n"
     "--from ID names it. Only files, directories, symlinks and hard links within the archive\n"
     "are taken, all owned by the tenant, without set-id bits; checksums are verified; the\n"
     "home changes only if everything succeeded. Size limit: the tenant's storage quota, else\n"
     "WARREN_IMPORT_LIMIT (bytes, default 10G) (docs/ARCHIVES.md).",
     FULL(cmd_import)},
    {"help", "[COMMAND...]", 0, 0, "show help", "Shows the commands, or one command's help.",
     cmd_help},
};
const unsigned cli_ncommands = ELEMENTSOF(cli_commands);

/* main's argv before getopt permuted it: what cli_forward hands over. */
static char **cli_argv;

int cli_forward(cli *c, char **args) {
    wr_err e = WR_ERR_INIT;
    wr_full_exec(cli_argv, &e);
    return cli_fail(c, &e);
}

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
    O_VERSION,
    O_LEVEL,
    O_SERVICE,
    O_CWD,
    O_ENV,
    O_TIMEOUT,
    O_TTY,
    O_SHELL,
    O_VERBOSE,
    O_TENANT,
    O_SINCE,
    O_TYPE,
    O_LIMIT,
    O_LISTEN,
    O_SOCKET,
    O_BENCH_FLOOR,
    O_NET_MODE,
    O_FORCE,
    O_FORMAT,
    O_REPLACE,
    O_FROM,
    O_QUOTA_FIRST, /* one value per quota option, in quota_options' order */
};

/* quota set: the option names are wr_quota_parse_option's. */
static const char *const quota_options[] = {"memory",  "cpu",      "cpu-weight", "pids",
                                            "nofile",  "storage",  "inodes",     "net-rate",
                                            "net-egress", "net-ingress"};

static const struct option options[] = {
    {"users-base", required_argument, NULL, O_USERS_BASE},
    {"state-dir", required_argument, NULL, O_STATE_DIR},
    {"prefix", required_argument, NULL, O_PREFIX},
    {"uid-range", required_argument, NULL, O_UID_RANGE},
    {"json", no_argument, NULL, O_JSON},
    {"keep-home", no_argument, NULL, O_KEEP_HOME},
    {"exist-ok", no_argument, NULL, O_EXIST_OK},
    {"help", no_argument, NULL, O_HELP},
    {"version", no_argument, NULL, O_VERSION},
    {"level", required_argument, NULL, O_LEVEL},
    {"service", required_argument, NULL, O_SERVICE},
    {"cwd", required_argument, NULL, O_CWD},
    {"env", required_argument, NULL, O_ENV},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"tty", no_argument, NULL, O_TTY},
    {"shell", required_argument, NULL, O_SHELL},
    {"verbose", no_argument, NULL, O_VERBOSE},
    {"tenant", required_argument, NULL, O_TENANT},
    {"since", required_argument, NULL, O_SINCE},
    {"type", required_argument, NULL, O_TYPE},
    {"limit", required_argument, NULL, O_LIMIT},
    {"listen", required_argument, NULL, O_LISTEN},
    {"socket", required_argument, NULL, O_SOCKET},
    {"bench-floor", no_argument, NULL, O_BENCH_FLOOR},
    {"mode", required_argument, NULL, O_NET_MODE},
    {"force", no_argument, NULL, O_FORCE},
    {"format", required_argument, NULL, O_FORMAT},
    {"replace", no_argument, NULL, O_REPLACE},
    {"from", required_argument, NULL, O_FROM},
    {"memory", required_argument, NULL, O_QUOTA_FIRST + 0},
    {"cpu", required_argument, NULL, O_QUOTA_FIRST + 1},
    {"cpu-weight", required_argument, NULL, O_QUOTA_FIRST + 2},
    {"pids", required_argument, NULL, O_QUOTA_FIRST + 3},
    {"nofile", required_argument, NULL, O_QUOTA_FIRST + 4},
    {"storage", required_argument, NULL, O_QUOTA_FIRST + 5},
    {"inodes", required_argument, NULL, O_QUOTA_FIRST + 6},
    {"net-rate", required_argument, NULL, O_QUOTA_FIRST + 7},
    {"net-egress", required_argument, NULL, O_QUOTA_FIRST + 8},
    {"net-ingress", required_argument, NULL, O_QUOTA_FIRST + 9},
    {0},
};

/* An option's mistake is told once the command is known: `warren run` exits
 * 125 for it, as for its other failures (cmd-run.c), every other command 2. */
static char usage_mistake[512];
__attribute__((format(printf, 1, 2))) static void mistake(const char *fmt, ...) {
    if (usage_mistake[0]) return; /* the first one is what went wrong */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(usage_mistake, sizeof usage_mistake, fmt, ap);
    va_end(ap);
}

static int usage_exit(const command *cmd) {
    return cmd && cmd->run == cmd_run ? WR_EXIT_SETUP : EXIT_USAGE;
}

int main(int argc, char **argv) {
    cli c = {0};
    cli_argv = calloc((size_t)argc + 1, sizeof *cli_argv);
    if (!cli_argv) return cli_usage_error("out of memory");
    memcpy(cli_argv, argv, (size_t)argc * sizeof *argv);
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
        case O_VERSION:
            /* Whatever else the line says: a script asking which warren
             * this is gets only that. */
            printf("warren %s\n", WARREN_VERSION);
            return EXIT_OK;
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
        case O_TENANT:
            c.tenant = optarg;
            used_opts |= OPT_AUDIT;
            break;
        case O_SINCE:
            c.since = optarg;
            used_opts |= OPT_AUDIT;
            break;
        case O_TYPE:
            c.type = optarg;
            used_opts |= OPT_AUDIT;
            break;
        case O_LIMIT:
            c.limit = optarg;
            used_opts |= OPT_AUDIT;
            break;
        case O_LISTEN:
            c.listen = optarg;
            used_opts |= OPT_SERVE;
            break;
        case O_SOCKET:
            c.socket = optarg;
            used_opts |= OPT_SERVE;
            break;
        case O_BENCH_FLOOR:
            c.bench_floor = true;
            used_opts |= OPT_SERVE;
            break;
        case O_NET_MODE:
            c.net_mode = optarg;
            used_opts |= OPT_NET;
            break;
        case O_FORCE:
            c.force = true;
            used_opts |= OPT_ARCHIVE;
            break;
        case O_FORMAT:
            c.format = optarg;
            used_opts |= OPT_ARCHIVE;
            break;
        case O_REPLACE:
            c.replace = true;
            used_opts |= OPT_ARCHIVE;
            break;
        case O_FROM:
            c.from = optarg;
            used_opts |= OPT_ARCHIVE;
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
                mistake("--timeout '%s': expected seconds > 0", optarg);
            used_opts |= OPT_RUN;
            break;
        }
        case ':':
            mistake("option '%s' needs a value", argv[optind - 1]);
            break;
        default:
            if (o >= O_QUOTA_FIRST && o < O_QUOTA_FIRST + (int)ELEMENTSOF(quota_options) &&
                c.nquota < ELEMENTSOF(c.quota_name)) {
                c.quota_name[c.nquota] = quota_options[o - O_QUOTA_FIRST];
                c.quota_value[c.nquota++] = optarg;
                used_opts |= OPT_QUOTA;
                break;
            }
            mistake("unknown option '%s'", argv[optind - 1]);
        }
        if (r < 0) mistake("%s", e.msg);
    }

    int nwords = argc - optind;
    char **words = argv + optind;
    int used = 0;
    const command *cmd = nwords ? find_command(nwords, words, &used) : NULL;
    if (usage_mistake[0]) {
        cli_usage_error("%s", usage_mistake);
        return usage_exit(cmd);
    }
    if (nwords == 0) {
        print_usage(help ? stdout : stderr);
        return help ? EXIT_OK : EXIT_USAGE;
    }
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
    if (stray) {
        cli_usage_error("'%s' does not take %s", cmd->name,
                        stray & OPT_KEEP_HOME  ? "--keep-home"
                        : stray & OPT_EXIST_OK ? "--exist-ok"
                        : stray & OPT_AUDIT    ? "the options of 'audit'"
                        : stray & OPT_SERVE    ? "the options of 'serve'"
                        : stray & OPT_NET      ? "--mode"
                        : stray & OPT_QUOTA    ? "the options of 'quota set'"
                        : stray & OPT_ARCHIVE  ? "--force, --format, --replace or --from"
                                               : "the options of 'run'");
        return usage_exit(cmd);
    }
    int nargs = nwords - used;
    bool count_ok = cmd->nargs == NARGS_AT_LEAST_ONE  ? nargs >= 1
                    : cmd->nargs == NARGS_AT_MOST_ONE ? nargs <= 1
                                                      : (unsigned)nargs == cmd->nargs;
    if (cmd->run != cmd_help && !count_ok) {
        cli_usage_error("usage: warren %s %s", cmd->name, cmd->args);
        return usage_exit(cmd);
    }
    int rc = cmd->run(&c, words + used);
    wr_close(c.w);
    free(c.env);
    return rc;
}

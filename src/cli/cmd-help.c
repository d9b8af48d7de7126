/* warren help [COMMAND...] */
#include <stdio.h>
#include <string.h>

#include "cli.h"

void print_usage(FILE *f) {
    fputs("usage: warren [OPTIONS] COMMAND [ARGS]\n\n"
          "warren gives each tenant of a platform a Linux account and a private home with a\n"
          "sandbox per service.\n\nCommands:\n",
          f);
    for (unsigned i = 0; i < cli_ncommands; i++) {
        char head[64];
        snprintf(head, sizeof head, "%s %s", cli_commands[i].name, cli_commands[i].args);
        fprintf(f, "  %-28s %s\n", head, cli_commands[i].summary);
    }
    fputs("\nOptions (also as environment variables):\n"
          "  --users-base DIR    homes live here (WARREN_USERS_BASE; /home/warren_users)\n"
          "  --state-dir DIR     the registry lives here (WARREN_STATE_DIR; /var/lib/warren)\n"
          "  --prefix P          account name prefix (WARREN_USER_PREFIX; warren_)\n"
          "  --uid-range A-B     UIDs for tenants (WARREN_UID_RANGE; 60001-299999)\n"
          "  --json              print the result as JSON\n"
          "  -h, --help          help for warren or for a command\n"
          "  --version           print warren's version\n\n"
          "Exit codes: 0 ok, 1 failure, 2 usage or invalid input, 3 not found.\n"
          "Run 'warren help COMMAND' for the options of one command.\n",
          f);
}

void print_command_help(FILE *f, const command *cmd) {
    fprintf(f, "usage: warren %s%s%s%s%s %s\n\n%s\n\n%s\n", cmd->name,
            !(cmd->opts & OPT_ARCHIVE)    ? ""
            : strcmp(cmd->name, "export") ? " [--replace] [--from ID]"
                                          : " [--force]",
            cmd->opts & OPT_KEEP_HOME ? " [--keep-home]" : "",
            cmd->opts & OPT_EXIST_OK ? " [--exist-ok]" : "",
            cmd->opts & OPT_RUN ? " [--level L] [--service S] [--cwd DIR] [--env K=V]...\n"
                                  "       [--timeout S] [--tty] [--shell CMD] [--verbose]"
                                : " [--json]",
            cmd->args, cmd->summary, cmd->help);
}

int cmd_help(cli *c, char **args) {
    (void)c;
    if (!args[0]) {
        print_usage(stdout);
        return EXIT_OK;
    }
    for (unsigned i = 0; i < cli_ncommands; i++) {
        const command *cmd = &cli_commands[i];
        char two[128];
        snprintf(two, sizeof two, "%s %s", args[0], args[1] ? args[1] : "");
        if (strcmp(cmd->name, args[0]) == 0 || strcmp(cmd->name, two) == 0) {
            print_command_help(stdout, cmd);
            return EXIT_OK;
        }
    }
    return cli_usage_error("no command '%s'", args[0]);
}

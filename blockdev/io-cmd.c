/*
 * minivmm-io's command table and dispatcher: a command line is split at spaces, the name
 * (or its one-letter alias) looked up, the argument count and write permission checked with
 * qemu-io's messages, and the handler run with getopt reset for its options. Also the
 * `help` command, which lists the table. The commands themselves live in io-rw.c, io-aio.c
 * and io-misc.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "util/error.h"
#include "blockdev/io-cmds.h"

static const IoCmd io_help_cmd;

/* Sorted by name, as `help` lists them. */
static const IoCmd *const io_cmds[] = {
    &io_aio_flush_cmd, &io_aio_read_cmd, &io_aio_write_cmd, &io_discard_cmd, &io_flush_cmd,
    &io_help_cmd,      &io_info_cmd,     &io_length_cmd,    &io_map_cmd,     &io_read_cmd,
    &io_readv_cmd,     &io_truncate_cmd, &io_write_cmd,     &io_writev_cmd,
};

static const IoCmd *io_find_command(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(io_cmds); i++) {
        const IoCmd *ct = io_cmds[i];

        if (!strcmp(ct->name, name) || (ct->altname && !strcmp(ct->altname, name))) {
            return ct;
        }
    }
    return NULL;
}

/* "name args -- oneline"; an empty args string still gets its space, as in qemu-io. */
static void io_help_oneline(const char *name, const IoCmd *ct)
{
    printf("%s ", name);
    if (ct->args) {
        printf("%s ", ct->args);
    }
    printf("-- %s\n", ct->oneline);
}

void io_command_usage(const IoCmd *ct)
{
    io_help_oneline(ct->name, ct);
}

static int io_help_f(BlockBackend *blk, int argc, char **argv)
{
    const IoCmd *ct;

    if (argc == 1) {
        for (size_t i = 0; i < G_N_ELEMENTS(io_cmds); i++) {
            io_help_oneline(io_cmds[i]->name, io_cmds[i]);
        }
        printf("\nUse 'help commandname' for extended help.\n");
        return 0;
    }
    ct = io_find_command(argv[1]);
    if (!ct) {
        printf("command %s not found\n", argv[1]);
        return -EINVAL;
    }
    io_help_oneline(argv[1], ct);
    if (ct->help) {
        ct->help();
    }
    return 0;
}

static const IoCmd io_help_cmd = {
    .name = "help",
    .altname = "?",
    .func = io_help_f,
    .argmin = 0,
    .argmax = 1,
    .args = "[command]",
    .oneline = "help for one or all commands",
    .no_file_ok = true,
};

/* qemu-io's three wordings for a wrong argument count. */
static bool io_check_argc(const IoCmd *ct, int argc, const char *name)
{
    int n = argc - 1;

    if (n >= ct->argmin && (ct->argmax == -1 || n <= ct->argmax)) {
        return true;
    }
    if (ct->argmax == -1) {
        fprintf(stderr, "bad argument count %d to %s, expected at least %d arguments\n", n, name,
                ct->argmin);
    } else if (ct->argmin == ct->argmax) {
        fprintf(stderr, "bad argument count %d to %s, expected %d arguments\n", n, name,
                ct->argmin);
    } else {
        fprintf(stderr, "bad argument count %d to %s, expected between %d and %d arguments\n", n,
                name, ct->argmin, ct->argmax);
    }
    return false;
}

static int io_run(BlockBackend *blk, const IoCmd *ct, int argc, char **argv)
{
    if (!blk && !ct->no_file_ok) {
        fprintf(stderr, "no file open, try 'help open'\n");
        return -EINVAL;
    }
    if (!io_check_argc(ct, argc, argv[0])) {
        return -EINVAL;
    }
    if (ct->needs_write && blk_is_read_only(blk)) {
        error_report("Block node is read-only");
        return -EPERM;
    }
    optind = 0; /* glibc: a full reinitialisation of getopt for the command's options */
    return ct->func(blk, argc, argv);
}

int io_command(BlockBackend *blk, const char *line)
{
    g_auto(GStrv) words = g_strsplit(line, " ", -1);
    g_autofree char **argv = g_new0(char *, g_strv_length(words) + 1);
    const IoCmd *ct;
    int argc = 0;

    for (char **w = words; *w; w++) {
        if (**w) {
            argv[argc++] = *w;
        }
    }
    if (!argc) {
        return 0;
    }
    ct = io_find_command(argv[0]);
    if (!ct) {
        fprintf(stderr, "command \"%s\" not found\n", argv[0]);
        return -EINVAL;
    }
    return io_run(blk, ct, argc, argv);
}

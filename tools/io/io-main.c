/*
 * minivmm-io: an I/O exerciser for the block layer with qemu-io's command line, commands
 * and output, so that tests can drive the block layer without a guest and compare with
 * Debian's qemu-io. Parses the program options (format, cache/aio/discard modes, read-only,
 * snapshot, copy-on-read, extra driver options), opens the image as backend "hda", runs each -c command in order
 * (or commands read from stdin), waits for outstanding aio, and exits 1 if any command
 * failed. The commands are in io-*.c; not an interactive shell with line editing.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config-host.h"
#include "util/error.h"
#include "util/main-loop.h"
#include "util/opts.h"
#include "blockdev/io-cmds.h"

typedef struct IoOptions {
    int flags; /* BDRV_O_* */
    bool writethrough;
    const char *format;
    JsonObject *driver_opts; /* from -o, may be empty */
    GPtrArray *cmds;         /* the -c strings */
} IoOptions;

static void io_usage(const char *name)
{
    printf("Usage: %s [OPTIONS]... [-c STRING]... [file]\n"
           "minivmm disk exerciser (qemu-io compatible)\n"
           "\n"
           "  -c, --cmd STRING     execute command with its arguments\n"
           "                       from the given string\n"
           "  -f, --format FMT     specifies the block driver to use\n"
           "  -r, --read-only      export read-only\n"
           "  -s, --snapshot       use snapshot file\n"
           "  -n, --nocache        disable host cache, short for -t none\n"
           "  -C, --copy-on-read   enable copy-on-read\n"
           "  -U, --force-share    force shared permissions (with -r)\n"
           "  -k, --native-aio     use kernel AIO implementation\n"
           "                       (Linux only, prefer use of -i)\n"
           "  -i, --aio=MODE       use AIO mode (threads, native or io_uring)\n"
           "  -t, --cache=MODE     use the given cache mode for the image\n"
           "                       (none, writeback, writethrough, directsync, unsafe)\n"
           "  -d, --discard=MODE   use the given discard mode for the image\n"
           "                       (ignore or unmap; default unmap)\n"
           "  -o, --option OPTS    driver options as key=value[,key=value...], e.g.\n"
           "                       detect-zeroes=unmap, cache.no-flush=on; throttling.*\n"
           "                       as on -drive limits the aio_* commands\n"
           "  -h, --help           display this help and exit\n"
           "  -V, --version        output version information and exit\n"
           "\n"
           "See '%s -c help' for information on available commands.\n",
           name, name);
}

/* -o key=value,...: merged into the options the image is opened with. */
static bool io_add_driver_opts(IoOptions *o, const char *str)
{
    static const OptsList io_opts_list = {.name = "option"};
    Error *err = NULL;
    Opts *opts = opts_parse(&io_opts_list, str, false, &err);
    JsonObject *dict;
    GList *members;

    if (!opts) {
        error_report_err(err);
        return false;
    }
    dict = opts_to_dict(opts);
    members = json_object_get_members(dict);
    for (GList *m = members; m; m = m->next) {
        json_object_set_member(o->driver_opts, m->data, json_object_dup_member(dict, m->data));
    }
    g_list_free(members);
    json_object_unref(dict);
    opts_free(opts);
    return true;
}

/* One program option; invalid values end the program, as in qemu-io. */
static void io_handle_opt(IoOptions *o, int c, const char *arg, const char *prog)
{
    switch (c) {
    case 'c':
        g_ptr_array_add(o->cmds, (char *)arg);
        break;
    case 'f':
        o->format = arg;
        break;
    case 'r':
        o->flags &= ~BDRV_O_RDWR;
        break;
    case 'U':
        o->flags |= BDRV_O_FORCE_SHARE;
        break;
    case 's':
        o->flags |= BDRV_O_SNAPSHOT;
        break;
    case 'C':
        o->flags |= BDRV_O_COPY_ON_READ;
        break;
    case 'n':
        o->flags |= BDRV_O_NOCACHE;
        o->writethrough = false;
        break;
    case 'k':
        o->flags |= BDRV_O_NATIVE_AIO;
        break;
    case 'i':
        if (!bdrv_parse_aio(arg, &o->flags)) {
            error_report("Invalid aio option: %s", arg);
            exit(1);
        }
        break;
    case 't':
        if (!bdrv_parse_cache_mode(arg, &o->flags, &o->writethrough)) {
            error_report("Invalid cache option: %s", arg);
            exit(1);
        }
        break;
    case 'd':
        if (!bdrv_parse_discard_flags(arg, &o->flags)) {
            error_report("Invalid discard option: %s", arg);
            exit(1);
        }
        break;
    case 'o':
        if (!io_add_driver_opts(o, arg)) {
            exit(1);
        }
        break;
    case 'V':
        printf("%s version " MINIVMM_VERSION "\n", prog);
        exit(0);
    case 'h':
        io_usage(prog);
        exit(0);
    default:
        io_usage(prog);
        exit(1);
    }
}

static void io_parse_args(IoOptions *o, int argc, char **argv)
{
    static const struct option lopt[] = {
        {"help", no_argument, NULL, 'h'},          {"version", no_argument, NULL, 'V'},
        {"cmd", required_argument, NULL, 'c'},     {"format", required_argument, NULL, 'f'},
        {"read-only", no_argument, NULL, 'r'},     {"nocache", no_argument, NULL, 'n'},
        {"native-aio", no_argument, NULL, 'k'},    {"aio", required_argument, NULL, 'i'},
        {"discard", required_argument, NULL, 'd'}, {"cache", required_argument, NULL, 't'},
        {"option", required_argument, NULL, 'o'},  {"snapshot", no_argument, NULL, 's'},
        {"copy-on-read", no_argument, NULL, 'C'},  {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, "hVc:d:f:rsnCki:t:o:U", lopt, NULL)) != -1) {
        io_handle_opt(o, c, optarg, g_get_prgname());
    }
    if (argc - optind > 1) {
        io_usage(g_get_prgname());
        exit(1);
    }
}

/*
 * -o throttling.*=... (minivmm's addition; qemu-io has none): limits for the asynchronous
 * commands, whose timers need the main loop.
 */
static bool io_set_limits(BlockBackend *blk, const ThrottleConfig *limits, const char *group)
{
    Error *err = NULL;

    if (!throttle_enabled(limits)) {
        return true;
    }
    main_loop_init();
    if (!blk_set_io_limits(blk, limits, group, &err)) {
        error_report_err(err);
        return false;
    }
    return true;
}

static BlockBackend *io_open(IoOptions *o, const char *filename)
{
    JsonObject *options = json_object_ref(o->driver_opts);
    Error *err = NULL;
    BlockBackend *blk;
    int flags = o->flags | (o->writethrough ? 0 : BDRV_O_CACHE_WB);
    ThrottleConfig limits;
    g_autofree char *group = NULL;

    if (!throttle_config_take_opts(options, &limits, &group, &err)) {
        error_report_err(err);
        json_object_unref(options);
        return NULL;
    }
    if (o->format) {
        json_object_set_string_member(options, "driver", o->format);
    }
    blk = blk_new_open("hda", filename, options, flags, &err);
    if (!blk) {
        error_reportf_err(err, "can't open device %s: ", filename);
        return NULL;
    }
    if (!bdrv_prompt_key(blk_bs(blk), filename, false)) {
        blk_unref(blk);
        return NULL;
    }
    blk_set_enable_write_cache(blk, !o->writethrough);
    if (!io_set_limits(blk, &limits, group)) {
        blk_unref(blk);
        return NULL;
    }
    return blk;
}

/* Without -c: one command per line from stdin, each after a prompt. */
static int io_command_loop_stdin(BlockBackend *blk)
{
    char line[1024];
    int last_error = 0, ret;

    for (;;) {
        printf("%s> ", g_get_prgname());
        fflush(stdout);
        if (!fgets(line, sizeof(line), stdin)) {
            return last_error;
        }
        line[strcspn(line, "\n")] = '\0';
        if (!strcmp(line, "quit") || !strcmp(line, "q")) {
            return last_error;
        }
        ret = io_command(blk, line);
        last_error = ret < 0 ? ret : last_error;
    }
}

static int io_run_commands(IoOptions *o, BlockBackend *blk)
{
    int last_error = 0, ret;

    if (!o->cmds->len) {
        return io_command_loop_stdin(blk);
    }
    for (guint i = 0; i < o->cmds->len; i++) {
        ret = io_command(blk, g_ptr_array_index(o->cmds, i));
        fflush(stdout);
        last_error = ret < 0 ? ret : last_error;
    }
    return last_error;
}

int main(int argc, char **argv)
{
    IoOptions o = {.flags = BDRV_O_UNMAP | BDRV_O_RDWR, .writethrough = true};
    BlockBackend *blk = NULL;
    int ret;

    signal(SIGPIPE, SIG_IGN);
    g_set_prgname("minivmm-io");
    error_set_progname("minivmm-io");
    o.driver_opts = json_object_new();
    o.cmds = g_ptr_array_new();
    io_parse_args(&o, argc, argv);
    if (optind < argc && !(blk = io_open(&o, argv[optind]))) {
        exit(1);
    }
    ret = io_run_commands(&o, blk);
    io_aio_drain();
    if (blk) {
        blk_unref(blk);
    }
    json_object_unref(o.driver_opts);
    g_ptr_array_free(o.cmds, true);
    return ret < 0 ? 1 : 0;
}

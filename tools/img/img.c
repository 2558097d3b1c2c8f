/*
 * minivmm-img: the disk image utility, with qemu-img's command line ("minivmm-img COMMAND
 * [options] filename") and output. main() picks the subcommand from the table below and
 * hands it the rest of argv; adding a subcommand is one file and one table line. The
 * top-level options are qemu-img's -h/--help and -V/--version.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config-host.h"
#include "util/error.h"
#include "tools/img/img.h"

static const ImgCmd img_cmds[] = {
    {"amend", img_amend, "[-p] [-q] [-f fmt] [-t cache] [--force] -o options filename"},
    {"bench", img_bench,
     "[-c count] [-d depth] [-f fmt] [--flush-interval=flush_interval] [-i aio] [-n] "
     "[--no-drain] [-o offset] [--pattern=pattern] [-q] [-s buffer_size] [-S step_size] "
     "[-t cache] [-U] [-w] filename"},
    {"check", img_check, "[-q] [-f fmt] [--output=ofmt] [-r [leaks | all]] [-U] filename"},
    {"commit", img_commit, "[-q] [-f fmt] [-t cache] [-b base] [-d] [-p] filename"},
    {"compare", img_compare, "[-f fmt] [-F fmt] [-T src_cache] [-p] [-q] [-s] [-U] filename1 filename2"},
    {"convert", img_convert,
     "[-U] [-c] [-p] [-q] [-n] [-f fmt] [-t cache] [-T src_cache] [-O output_fmt] [-o options] "
     "[-B backing_file [-F backing_fmt]] [-l snapshot_param] [-S sparse_size] "
     "[-m num_coroutines] [-W] "
     "filename [filename2 [...]] output_filename"},
    {"create", img_create,
     "[-q] [-f fmt] [-b backing_file [-F backing_fmt]] [-u] [-o options] filename [size]"},
    {"info", img_info, "[-f fmt] [--output=ofmt] [--backing-chain] [-U] filename"},
    {"map", img_map, "[-f fmt] [--output=ofmt] [-U] filename"},
    {"measure", img_measure,
     "[--output=ofmt] [-O output_fmt] [-o options] [--size N | [-f fmt] [-l snapshot_param] "
     "[-U] filename]"},
    {"rebase", img_rebase,
     "[-U] [-q] [-f fmt] [-t cache] [-T src_cache] [-p] [-u] -b backing_file [-F backing_fmt] "
     "filename"},
    {"resize", img_resize,
     "[-f fmt] [--preallocation=prealloc] [-q] [--shrink] filename [+ | -]size"},
    {"snapshot", img_snapshot,
     "[-U] [-q] [-f fmt] [-l | -a snapshot | -c snapshot | -d snapshot] filename"},
};

static void img_version(void)
{
    printf("%s version " MINIVMM_VERSION "\n", g_get_prgname());
}

void img_help(void)
{
    img_version();
    printf("usage: %s [standard options] command [command options]\n"
           "minivmm disk image utility (qemu-img compatible)\n"
           "\n"
           "    '-h', '--help'       display this help and exit\n"
           "    '-V', '--version'    output version information and exit\n"
           "\n"
           "Command syntax:\n",
           g_get_prgname());
    for (size_t i = 0; i < G_N_ELEMENTS(img_cmds); i++) {
        printf("  %s %s\n", img_cmds[i].name, img_cmds[i].syntax);
    }
    printf("\n"
           "Parameters to bench subcommand:\n"
           "  'count' is the number of requests (default 75000)\n"
           "  'depth' is the number of requests in flight at once (default 64)\n"
           "  'aio' is threads, native or io_uring; '-n' means native\n"
           "  'cache' is none, writeback (the default), writethrough, directsync or unsafe\n"
           "  '-w' writes instead of reading; 'buffer_size' is the request size (default 4k)\n");
    exit(0);
}

/* Options before the subcommand name. */
static void img_parse_global(int argc, char **argv)
{
    static const struct option lopt[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = img_getopt(argc, argv, "+:hV", lopt)) != -1) {
        switch (c) {
        case 'h':
            img_help();
        case 'V':
            img_version();
            exit(0);
        }
    }
}

int main(int argc, char **argv)
{
    const char *name;

    signal(SIGPIPE, SIG_IGN);
    g_set_prgname("minivmm-img");
    error_set_progname("minivmm-img");
    if (argc < 2) {
        img_error_exit("Not enough arguments");
    }
    img_parse_global(argc, argv);
    if (optind >= argc) {
        img_error_exit("Not enough arguments");
    }
    name = argv[optind];
    for (size_t i = 0; i < G_N_ELEMENTS(img_cmds); i++) {
        if (!strcmp(name, img_cmds[i].name)) {
            argv += optind;
            argc -= optind;
            optind = 0;
            return img_cmds[i].handler(argc, argv);
        }
    }
    img_error_exit("Command not found: %s", name);
}

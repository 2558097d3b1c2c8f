/*
 * The qtest protocol: each input line goes to qtest_process_line() on the in-process pc
 * machine (so memory commands hit real RAM, ROM and unassigned space, port commands real
 * devices), with the server on a null chardev for the "IRQ" lines. Lengths above 64 KiB are
 * refused before processing, only to keep executions fast: the protocol allows 16 MiB,
 * which a byte-wise MMIO loop turns into seconds; so are clock commands that would move the
 * clock past FUZZ_CLOCK_LIMIT (see harness.h). Every reply must start with OK or FAIL. The
 * machine is reset after each input, but the virtual clock only moves forward, so clock time
 * carries over from input to input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "harness.h"
#include "system/qtest.h"
#include "util/chardev.h"

#define QTEST_FUZZ_MAX_LEN 65536

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_machine_init();
    if (!qtest_server_init(chr_new_null("qtest"), NULL, NULL)) {
        abort();
    }
    return 0;
}

/* The words of line as qtest_process_line() splits them (at most 3). */
static unsigned qtest_fuzz_words(const char *line, char **all, const char *w[3])
{
    unsigned n = 0;

    for (int i = 0; all[i] && n < 3; i++) {
        if (*all[i]) {
            w[n++] = all[i];
        }
    }
    return n;
}

/* Lines the harness keeps from the VMM: memory commands longer than the cap, and clock
 * commands that would take the clock past FUZZ_CLOCK_LIMIT. */
static bool qtest_fuzz_refused(const char *line)
{
    static const char *const with_len[] = {"read", "write", "b64read", "b64write", "memset"};
    g_auto(GStrv) all = g_strsplit_set(line, " \t", -1);
    const char *w[3] = {NULL};
    unsigned n = qtest_fuzz_words(line, all, w);
    uint64_t arg = n >= 2 ? g_ascii_strtoull(w[1], NULL, 0) : 0;

    if (n >= 1 && !strcmp(w[0], "clock_set")) {
        return arg > FUZZ_CLOCK_LIMIT;
    }
    if (n >= 1 && !strcmp(w[0], "clock_step")) {
        /* Without an argument: the next timer, never far off; stop well before the limit. */
        int64_t room = FUZZ_CLOCK_LIMIT - fuzz_clock_now();
        return n == 1 ? room < FUZZ_CLOCK_LIMIT / 2 : arg > (uint64_t)room;
    }
    for (unsigned i = 0; n == 3 && i < G_N_ELEMENTS(with_len); i++) {
        if (!strcmp(w[0], with_len[i])) {
            return g_ascii_strtoull(w[2], NULL, 0) > QTEST_FUZZ_MAX_LEN;
        }
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *text = g_strndup((const char *)data, size);
    g_auto(GStrv) lines = g_strsplit(text, "\n", 64);

    for (int i = 0; lines[i]; i++) {
        g_autofree char *reply = NULL;

        if (qtest_fuzz_refused(lines[i])) {
            continue;
        }
        reply = qtest_process_line(lines[i]);
        if (strncmp(reply, "OK", 2) != 0 && strncmp(reply, "FAIL", 4) != 0) {
            fprintf(stderr, "qtest: '%s' -> '%s': neither OK nor FAIL\n", lines[i], reply);
            abort();
        }
    }
    fuzz_machine_reset();
    return 0;
}

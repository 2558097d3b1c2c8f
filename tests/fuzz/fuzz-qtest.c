/*
 * The qtest protocol: each input line goes to qtest_process_line() on the in-process pc
 * machine (so memory commands hit real RAM, ROM and unassigned space, port commands real
 * devices), with the server on a null chardev for the "IRQ" lines. Lengths above 64 KiB are
 * refused before processing, only to keep executions fast: the protocol allows 16 MiB,
 * which a byte-wise MMIO loop turns into seconds. The machine is reset after each input, but
 * the virtual clock only moves forward, so clock time carries over from input to input.
 */
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

/* True when the length word of a memory command exceeds the cap; words are split as
 * qtest_process_line() splits them. */
static bool qtest_fuzz_too_long(const char *line)
{
    static const char *const with_len[] = {"read", "write", "b64read", "b64write", "memset"};
    g_auto(GStrv) all = g_strsplit_set(line, " \t", -1);
    const char *w[3] = {NULL};
    unsigned n = 0;

    for (int i = 0; all[i] && n < 3; i++) {
        if (*all[i]) {
            w[n++] = all[i];
        }
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
        if (!qtest_fuzz_too_long(lines[i])) {
            g_free(qtest_process_line(lines[i]));
        }
    }
    fuzz_machine_reset();
    return 0;
}

/*
 * qemu-img's simple progress output for commands that copy data (-p): "    (P/100%)\r"
 * lines on stdout, a new line only when P moved by at least 1 %, and a final line break.
 * Not a progress bar for terminals; nothing is printed unless enabled.
 */
#include <stdio.h>
#include "tools/img/img.h"

static bool progress_on;
static float progress_shown;

static void progress_show(float pct)
{
    printf("    (%3.2f/100%%)\r", pct);
    fflush(stdout);
    progress_shown = pct;
}

void img_progress_init(bool enabled)
{
    progress_on = enabled;
    if (enabled) {
        progress_show(0);
    }
}

void img_progress_update(uint64_t done, uint64_t total)
{
    float pct = total ? (float)done * 100 / total : 100;

    if (progress_on && pct - progress_shown >= 1.0f) {
        progress_show(pct);
    }
}

void img_progress_end(void)
{
    if (progress_on) {
        progress_show(100);
        printf("\n");
        progress_on = false;
    }
}

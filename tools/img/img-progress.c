/*
 * qemu-img's simple progress output for commands that copy or compare data: "    (P/100%)\r"
 * lines on stdout, printed at 0 %, at 100 %, and whenever P has moved more than the
 * command's minimum step since the last line (1 % for convert, commit and rebase, 2 % for
 * compare, as qemu-img), then a final line break. Nothing is printed unless enabled.
 */
#include <stdio.h>
#include <unistd.h>
#include "tools/img/img.h"

static bool progress_on;
static float progress_min_step;
static float progress_current;
static float progress_last;

void img_progress_init(bool enabled, float min_step)
{
    progress_on = enabled;
    progress_min_step = min_step;
    progress_current = progress_last = 0;
    img_progress_set(0);
}

void img_progress_set(float pct)
{
    pct = MIN(MAX(pct, 0), 100);
    progress_current = pct;
    if (progress_on &&
        (pct > progress_last + progress_min_step || pct == 100 || pct == 0)) {
        progress_last = pct;
        printf("    (%3.2f/100%%)\r", pct);
        fflush(stdout);
    }
}

void img_progress_add(float delta)
{
    img_progress_set(progress_current + delta);
}

void img_progress_update(uint64_t done, uint64_t total)
{
    img_progress_set(total ? (float)done * 100 / total : 100);
}

void img_progress_end(bool done)
{
    if (progress_on) {
        if (done) {
            img_progress_set(100);
        }
        printf("\n");
        progress_on = false;
    }
}

bool img_progress_default(bool requested, bool quiet)
{
    return !quiet && (requested || isatty(STDOUT_FILENO));
}

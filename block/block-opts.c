/*
 * The mode names users type for cache, aio and discard (-drive, minivmm-io -t/-i/-d,
 * minivmm-img -t/-i) turned into open flags, in one place. Not option parsing: callers
 * find the strings and report errors in their own words.
 */
#include <string.h>
#include "block/block.h"

bool bdrv_parse_cache_mode(const char *mode, int *flags, bool *writethrough)
{
    *flags &= ~(BDRV_O_NOCACHE | BDRV_O_NO_FLUSH);
    *writethrough = false;
    if (!strcmp(mode, "none") || !strcmp(mode, "off")) {
        *flags |= BDRV_O_NOCACHE;
    } else if (!strcmp(mode, "directsync")) {
        *flags |= BDRV_O_NOCACHE;
        *writethrough = true;
    } else if (!strcmp(mode, "unsafe")) {
        *flags |= BDRV_O_NO_FLUSH;
    } else if (!strcmp(mode, "writethrough")) {
        *writethrough = true;
    } else if (strcmp(mode, "writeback") != 0) {
        return false;
    }
    return true;
}

bool bdrv_parse_aio(const char *mode, int *flags)
{
    *flags &= ~(BDRV_O_NATIVE_AIO | BDRV_O_IO_URING);
    if (!strcmp(mode, "native")) {
        *flags |= BDRV_O_NATIVE_AIO;
    } else if (!strcmp(mode, "io_uring")) {
        *flags |= BDRV_O_IO_URING;
    } else if (strcmp(mode, "threads") != 0) {
        return false;
    }
    return true;
}

bool bdrv_parse_discard_flags(const char *mode, int *flags)
{
    if (!strcmp(mode, "off") || !strcmp(mode, "ignore")) {
        *flags &= ~BDRV_O_UNMAP;
    } else if (!strcmp(mode, "on") || !strcmp(mode, "unmap")) {
        *flags |= BDRV_O_UNMAP;
    } else {
        return false;
    }
    return true;
}

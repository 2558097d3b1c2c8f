/*
 * Disk geometry: what the user gave, else a guess from the MBR's partition table, else
 * one from the size (include/hw/hd-geometry.h).
 */
#include <string.h>
#include "blockdev/blockdev.h"
#include "hw/hd-geometry.h"

#define MBR_PARTITIONS 0x1be

int hd_bios_chs_auto_trans(const HdGeometry *g)
{
    if (g->cyls <= 1024 && g->heads <= 16 && g->secs <= 63) {
        return BIOS_ATA_TRANSLATION_NONE;
    }
    return BIOS_ATA_TRANSLATION_LBA;
}

static uint64_t medium_sectors(BlockBackend *blk)
{
    int64_t len = blk_getlength(blk);
    return len > 0 ? (uint64_t)len / 512 : 0;
}

/* 16 heads, 63 sectors, the cylinders the size gives. */
static void chs_for_size(uint64_t sectors, HdGeometry *g)
{
    uint64_t cyls = sectors / (16 * 63);

    g->cyls = cyls > 16383 ? 16383 : cyls < 2 ? 2 : cyls;
    g->heads = 16;
    g->secs = 63;
}

/* The logical geometry the first usable partition entry ends on (assumed to end on a
 * cylinder boundary). */
static bool guess_lchs(BlockBackend *blk, uint64_t sectors, HdGeometry *g)
{
    uint8_t mbr[512];

    if (blk_pread(blk, 0, mbr, sizeof(mbr)) < 0 || mbr[510] != 0x55 || mbr[511] != 0xaa) {
        return false;
    }
    for (int i = 0; i < 4; i++) {
        const uint8_t *p = mbr + MBR_PARTITIONS + i * 16;
        uint32_t nr_sects = p[12] | p[13] << 8 | p[14] << 16 | (uint32_t)p[15] << 24;
        uint32_t heads = p[5] + 1, secs = p[6] & 63;
        uint64_t cyls;

        if (!nr_sects || !p[5] || !secs) {
            continue;
        }
        cyls = sectors / (heads * secs);
        if (cyls < 1 || cyls > 16383) {
            continue;
        }
        *g = (HdGeometry){cyls, heads, secs};
        return true;
    }
    return false;
}

int hd_geometry_guess(BlockBackend *blk, HdGeometry *g)
{
    uint64_t sectors = medium_sectors(blk);
    HdGeometry l;

    if (!blk_is_inserted(blk) || !guess_lchs(blk, sectors, &l)) {
        chs_for_size(sectors, g);
        return hd_bios_chs_auto_trans(g);
    }
    if (l.heads > 16) { /* made under a translating BIOS: a standard physical geometry */
        chs_for_size(sectors, g);
        return g->cyls * g->heads <= 131072 ? BIOS_ATA_TRANSLATION_LARGE : BIOS_ATA_TRANSLATION_LBA;
    }
    *g = l;
    return BIOS_ATA_TRANSLATION_NONE;
}

static bool in_range(const char *what, uint32_t v, uint32_t max, Error **errp)
{
    if (v < 1 || v > max) {
        error_setg(errp, "%s must be between 1 and %u", what, max);
        return false;
    }
    return true;
}

bool hd_geometry_config(BlockBackend *blk, HdGeometry *g, int *trans, const HdGeometry *max,
                        Error **errp)
{
    DriveInfo *dinfo = blk_legacy_dinfo(blk);

    if (!g->cyls && !g->heads && !g->secs && dinfo) {
        *g = (HdGeometry){dinfo->cyls, dinfo->heads, dinfo->secs};
        if (trans) {
            *trans = dinfo->trans;
        }
    }
    if (!g->cyls && !g->heads && !g->secs) {
        int guessed = hd_geometry_guess(blk, g);
        if (trans && *trans == BIOS_ATA_TRANSLATION_AUTO) {
            *trans = guessed;
        }
    } else if (trans && *trans == BIOS_ATA_TRANSLATION_AUTO) {
        *trans = hd_bios_chs_auto_trans(g);
    }
    return in_range("cyls", g->cyls, max->cyls, errp) &&
           in_range("heads", g->heads, max->heads, errp) &&
           in_range("secs", g->secs, max->secs, errp);
}

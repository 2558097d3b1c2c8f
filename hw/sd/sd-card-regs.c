/*
 * The SD card's registers, byte for byte as QEMU 7.2's sd-card has them: the contents of
 * CID, CSD (version 1.0 up to 2 GiB, 2.0 above) and SCR, of the SWITCH_FUNC status and the
 * tuning block; the rules for changing CSD (CMD27) and PWD (CMD42); the drive sizes a CSD
 * may describe. Pure functions on byte arrays: the card's state machine is sd-card.c, their
 * only user.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <glib.h>
#include "util/error.h"
#include "sd-card-int.h"

/* The 7-bit CRC of the spec (x^7 + x^3 + 1), as it ends the CID and the CSD. */
static uint8_t sd_crc7(const uint8_t *buf, size_t len)
{
    uint8_t crc = 0;

    for (size_t i = 0; i < len * 8; i++) {
        bool in = (buf[i / 8] >> (7 - i % 8)) & 1;
        bool top = (crc >> 6) & 1;

        crc = (crc << 1) & 0x7f;
        if (in != top) {
            crc ^= 0x09;
        }
    }
    return crc;
}

void sd_card_make_cid(uint8_t cid[16])
{
    static const uint8_t fields[15] = {
        0xaa, 'X',  'Y',             /* MID, OID */
        'Q',  'E',  'M',  'U',  '!', /* PNM */
        0x01,                        /* PRV */
        0xde, 0xad, 0xbe, 0xef,      /* PSN */
        0x00, 0x62,                  /* MDT: February 2006 */
    };

    memcpy(cid, fields, sizeof(fields));
    cid[15] = sd_crc7(cid, 15) << 1 | 1;
}

/* CSD version 1.0: C_SIZE_MULT 7, READ_BL_LEN 9, or 10 to say 2 GiB. */
static void sd_make_csd_v1(uint8_t *c, uint64_t size)
{
    unsigned bl_len = size == SDSC_MAX_CAPACITY ? 10 : 9;
    uint32_t c_size = (uint32_t)(size >> (9 + bl_len)) - 1; /* wraps for tiny drives */

    c[0] = 0x00;                        /* CSD_STRUCTURE 1.0 */
    c[1] = 0x26;                        /* TAAC */
    c[2] = 0x00;                        /* NSAC */
    c[3] = 0x32;                        /* TRAN_SPEED: 25 MHz */
    c[4] = 0x5f;                        /* CCC 0x5f5 ... */
    c[5] = 0x50 | bl_len;               /* ... and READ_BL_LEN */
    c[6] = 0xe0 | ((c_size >> 10) & 3); /* partial and misaligned reads, C_SIZE */
    c[7] = c_size >> 2;
    c[8] = 0x3f | (c_size << 6);     /* VDD_R_CURR_MIN/MAX */
    c[9] = 0xfc | (7 >> 1);          /* VDD_W_CURR_MIN/MAX, C_SIZE_MULT */
    c[10] = 0x80 | 0x40 | (63 >> 1); /* ERASE_BLK_EN, SECTOR_SIZE 63 */
    c[11] = 0x80 | 127;              /* WP_GRP_SIZE 127: 2 MiB groups */
    c[12] = 0x90 | (bl_len >> 2);    /* WP_GRP_ENABLE, R2W_FACTOR 4, WRITE_BL_LEN */
    c[13] = 0x20 | ((bl_len << 6) & 0xc0);
    c[14] = 0x00;
}

/* CSD version 2.0: C_SIZE counts 512 KiB units. */
static void sd_make_csd_v2(uint8_t *c, uint64_t size)
{
    static const uint8_t fixed[15] = {0x40, 0x0e, 0x00, 0x32, 0x5b, 0x59, 0x00, 0,
                                      0,    0,    0x7f, 0x80, 0x0a, 0x40, 0x00};
    uint64_t c_size = size / (512 * 1024) - 1;

    memcpy(c, fixed, sizeof(fixed));
    c[7] = c_size >> 16;
    c[8] = c_size >> 8;
    c[9] = c_size;
}

void sd_card_make_csd(uint8_t csd[16], uint64_t size)
{
    if (size <= SDSC_MAX_CAPACITY) {
        sd_make_csd_v1(csd, size);
    } else {
        sd_make_csd_v2(csd, size);
    }
    csd[15] = sd_crc7(csd, 15) << 1 | 1;
}

void sd_card_make_scr(uint8_t scr[8], unsigned spec_version)
{
    memset(scr, 0, 8);
    scr[0] = spec_version == 1 ? 1 : 2; /* SCR 1.0, SD_SPEC */
    scr[1] = 0x25;                      /* SD_SECURITY 2, 1 and 4 bit buses */
    if (spec_version >= 3) {
        scr[2] = 0x80; /* SD_SPEC3 */
    }
}

/* Data structure version 0: what each group supports, then the function each group was
 * asked for echoed back, for mode 0 and mode 1 alike. */
void sd_card_make_switch_status(uint8_t status[64], uint32_t arg)
{
    static const uint8_t supported[14] = {0x00, 0x01, 0x80, 0x01, 0x80, 0x01, 0x80,
                                          0x01, 0x80, 0x01, 0x80, 0x43, 0x80, 0x03};

    memset(status, 0, 64);
    memcpy(status, supported, sizeof(supported));
    for (int group = 0; group < 6; group++) {
        status[16 - group / 2] |= ((arg >> (4 * group)) & 0xf) << (4 * (group % 2));
    }
}

/* CMD19: the pattern of the spec's table 4-2 (v3.01). */
const uint8_t sd_card_tuning_block[64] = {
    0xff, 0x0f, 0xff, 0x00, 0x0f, 0xfc, 0xc3, 0xcc, 0xc3, 0x3c, 0xcc, 0xff, 0xfe, 0xff, 0xfe, 0xef,
    0xff, 0xdf, 0xff, 0xdd, 0xff, 0xfb, 0xff, 0xfb, 0xbf, 0xff, 0x7f, 0xff, 0x77, 0xf7, 0xbd, 0xef,
    0xff, 0xf0, 0xff, 0xf0, 0x0f, 0xfc, 0xcc, 0x3c, 0xcc, 0x33, 0xcc, 0xcf, 0xff, 0xef, 0xff, 0xee,
    0xff, 0xfd, 0xff, 0xfd, 0xdf, 0xff, 0xbf, 0xff, 0xbb, 0xff, 0xf7, 0xff, 0xf7, 0x7f, 0x7b, 0xde,
};

/* CMD27: only bytes 14 and 15 may change, and COPY and PERM_WRITE_PROTECT cannot be
 * cleared. False (CSD_OVERWRITE) and csd untouched otherwise. */
bool sd_card_program_csd(uint8_t csd[16], const uint8_t data[16])
{
    static const uint8_t writable[16] = {[14] = 0xfc, [15] = 0xfe};

    for (int i = 0; i < 16; i++) {
        if ((csd[i] | writable[i]) != (data[i] | writable[i])) {
            return false;
        }
    }
    if (csd[14] & ~data[14] & 0x60) {
        return false;
    }
    for (int i = 0; i < 16; i++) {
        csd[i] = (csd[i] | writable[i]) & data[i];
    }
    return true;
}

/*
 * CMD42 but for its forced erase, with QEMU 7.2's rules. data: byte 0 holds LOCK_UNLOCK,
 * CLR_PWD and SET_PWD (bits 2..0), byte 1 PWDS_LEN, then the current password and the new
 * one, in a block of blk_len bytes. PWDS_LEN must exceed the current password's length,
 * even to unlock. False: LOCK_UNLOCK_FAILED, nothing changed.
 */
bool sd_card_set_password(const uint8_t *data, uint32_t blk_len, uint8_t pwd[16], uint32_t *pwd_len,
                          bool *locked)
{
    bool lock = data[0] & 4, clr = data[0] & 2, set = data[0] & 1;
    uint32_t len = blk_len > 1 ? data[1] : 0, new_len = len - *pwd_len;

    if (blk_len < 2 + len || len <= *pwd_len || new_len > 16 || memcmp(pwd, data + 2, *pwd_len)) {
        return false;
    }
    if ((new_len && !set) || (clr && (set || lock)) || (lock && !*pwd_len && !set) ||
        (!set && !clr && *locked == lock)) {
        return false;
    }
    if (set) {
        memcpy(pwd, data + 2 + *pwd_len, new_len);
        *pwd_len = new_len;
    }
    *pwd_len = clr ? 0 : *pwd_len;
    *locked = lock;
    return true;
}

/* QEMU's size_to_str(): three significant digits, the next unit from 1000 of the last. */
static char *sd_size_to_str(uint64_t val)
{
    static const char *const suffixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    int i = 0;

    while (i < 6 && val >= 1000ull << (10 * i)) {
        i++;
    }
    return g_strdup_printf("%0.3g %sB", (double)val / (double)(1ull << (10 * i)), suffixes[i]);
}

/* QEMU takes only powers of 2 (or no medium): its CSDs describe no other size exactly. */
bool sd_card_check_size(uint64_t size, Error **errp)
{
    /* QEMU's pow2ceil(): 0 when the next power of 2 does not fit */
    uint64_t next = size >> 63 ? 0 : 1ull << (64 - __builtin_clzll(size | 1));
    g_autofree char *have = NULL, *want = NULL;

    if (!(size & (size - 1))) {
        return true;
    }
    have = sd_size_to_str(size);
    want = sd_size_to_str(next);
    error_setg(errp, "Invalid SD card size: %s", have);
    error_append_hint(errp,
                      "SD card size has to be a power of 2, e.g. %s.\n"
                      "You can resize disk images with 'qemu-img resize <imagefile> "
                      "<new-size>'\n(note that this will lose data if you make the image "
                      "smaller than it currently is).\n",
                      want);
    return false;
}

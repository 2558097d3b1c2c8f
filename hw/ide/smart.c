/*
 * SMART for the IDE disk, answering as QEMU's drive does: ENABLE/DISABLE OPERATIONS,
 * ATTRIBUTE AUTOSAVE, RETURN STATUS, READ DATA and READ THRESHOLDS (QEMU's seven attributes),
 * READ LOG (summary error log, self-test log) and EXECUTE OFFLINE IMMEDIATE (which records
 * a passed self-test). Every command needs the SMART signature in LBA mid/high (0x4f/0xc2).
 */
#include <string.h>
#include <glib.h>
#include "ide-int.h"

enum {
    SMART_READ_DATA = 0xd0,
    SMART_READ_THRESH = 0xd1,
    SMART_ATTR_AUTOSAVE = 0xd2,
    SMART_EXECUTE_OFFLINE = 0xd4,
    SMART_READ_LOG = 0xd5,
    SMART_ENABLE = 0xd8,
    SMART_DISABLE = 0xd9,
    SMART_STATUS = 0xda,
};

#define SMART_SELFTEST_MAX 21
#define SMART_SELFTEST_SIZE 24

/* id, flags, hflags, value, worst, raw (6 bytes), threshold: QEMU's table. */
static const uint8_t smart_attributes[][12] = {
    {0x01, 0x03, 0x00, 0x64, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06}, /* read errors */
    {0x03, 0x03, 0x00, 0x64, 0x64, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* spin up */
    {0x04, 0x02, 0x00, 0x64, 0x64, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14}, /* start/stop */
    {0x05, 0x03, 0x00, 0x64, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x24}, /* remapped */
    {0x09, 0x03, 0x00, 0x64, 0x64, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* power-on h */
    {0x0c, 0x03, 0x00, 0x64, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* cycles */
    {190, 0x03, 0x00, 0x45, 0x45, 0x1f, 0x00, 0x1f, 0x1f, 0x00, 0x00, 0x32},  /* airflow °C */
};

/* Byte 511 makes the 512 bytes sum to zero. */
static void smart_checksum(uint8_t *buf)
{
    uint8_t sum = 0;

    for (int n = 0; n < 511; n++) {
        sum += buf[n];
    }
    buf[511] = 0x100 - sum;
}

static void smart_send(IDEState *s)
{
    smart_checksum(s->io_buffer);
    s->status = READY_STAT | SEEK_STAT;
    ide_transfer_start(s, 0, 512, PIO_IN, ide_transfer_stop);
    ide_set_irq(s->bus);
}

static void smart_read_data(IDEState *s, bool thresholds)
{
    uint8_t *buf = s->io_buffer;

    memset(buf, 0, 512);
    buf[0] = 0x01; /* structure version */
    for (size_t n = 0; n < G_N_ELEMENTS(smart_attributes); n++) {
        if (thresholds) {
            buf[2 + n * 12] = smart_attributes[n][0];
            buf[3 + n * 12] = smart_attributes[n][11];
        } else {
            memcpy(buf + 2 + n * 12, smart_attributes[n], 11);
        }
    }
    if (!thresholds) {
        buf[362] = 0x02 | (s->smart_autosave ? 0x80 : 0x00);
        buf[363] =
            s->smart_selftest_count
                ? s->smart_selftest_data[3 + (s->smart_selftest_count - 1) * SMART_SELFTEST_SIZE]
                : 0;
        buf[364] = 0x20;
        buf[365] = 0x01;
        buf[367] = (1 << 4) | (1 << 3) | 1; /* offline collection: execute, self-test */
        buf[368] = 0x03;
        buf[370] = 0x01; /* error logging */
        buf[372] = 0x02; /* minutes for a short test */
        buf[373] = 0x36; /* ... an extended one */
        buf[374] = 0x01; /* ... a conveyance one */
    }
    smart_send(s);
}

static bool smart_read_log(IDEState *s)
{
    uint8_t *buf = s->io_buffer;

    memset(buf, 0, 512);
    buf[0] = 0x01;
    switch (s->sector) {
    case 0x01: /* summary error log: no entries */
        break;
    case 0x06: /* self-test log */
        buf[508] = s->smart_selftest_count;
        if (s->smart_selftest_count) {
            memcpy(buf + 2, s->smart_selftest_data + 2, 504);
        }
        break;
    default:
        return false;
    }
    smart_send(s);
    return true;
}

static bool smart_execute_offline(IDEState *s)
{
    unsigned n;

    if (s->sector > 2) { /* off-line routine, short or extended self-test */
        return false;
    }
    if (++s->smart_selftest_count > SMART_SELFTEST_MAX) {
        s->smart_selftest_count = 1;
    }
    n = 2 + (s->smart_selftest_count - 1) * SMART_SELFTEST_SIZE;
    s->smart_selftest_data[n] = s->sector;
    s->smart_selftest_data[n + 1] = 0x00; /* passed and finished */
    s->smart_selftest_data[n + 2] = 0x34; /* power-on hours */
    s->smart_selftest_data[n + 3] = 0x12;
    return true;
}

/* SMART (0xb0): true when the command is over (as ide_exec_cmd's handlers). */
bool ide_cmd_smart(IDEState *s, uint8_t cmd)
{
    if (s->hcyl != 0xc2 || s->lcyl != 0x4f || (!s->smart_enabled && s->feature != SMART_ENABLE)) {
        goto abort;
    }
    switch (s->feature) {
    case SMART_DISABLE:
    case SMART_ENABLE:
        s->smart_enabled = s->feature == SMART_ENABLE;
        return true;
    case SMART_ATTR_AUTOSAVE:
        if (s->sector != 0x00 && s->sector != 0xf1) {
            goto abort;
        }
        s->smart_autosave = s->sector == 0xf1;
        return true;
    case SMART_STATUS: /* never an exceeded threshold */
        s->hcyl = 0xc2;
        s->lcyl = 0x4f;
        return true;
    case SMART_READ_THRESH:
    case SMART_READ_DATA:
        smart_read_data(s, s->feature == SMART_READ_THRESH);
        return false;
    case SMART_READ_LOG:
        if (!smart_read_log(s)) {
            goto abort;
        }
        return false;
    case SMART_EXECUTE_OFFLINE:
        if (!smart_execute_offline(s)) {
            goto abort;
        }
        return true;
    }
abort:
    ide_abort_command(s);
    return true;
}

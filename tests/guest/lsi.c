/*
 * The test payload's polling LSI 53C895A driver: see lsi.h. SCRIPTS encodings are the
 * datasheet's (block move, I/O SELECT / WAIT RESELECT, transfer control JUMP / INT).
 */
#include "io.h"
#include "lsi.h"

#define LSI_CMD_TIMEOUT_MS 30000 /* a stopped VM (werror=stop) must not time us out */

static PCIDevice lsi_pci[32];

uint8_t lsi_rd(LSI *l, uint8_t reg)
{
    return inb(l->io + reg);
}

void lsi_wr(LSI *l, uint8_t reg, uint8_t v)
{
    outb(l->io + reg, v);
}

uint32_t lsi_rdl(LSI *l, uint8_t reg)
{
    return inl(l->io + reg);
}

void lsi_soft_reset(LSI *l)
{
    lsi_wr(l, LSI_ISTAT0, ISTAT_SRST);
    lsi_wr(l, LSI_ISTAT0, 0);
}

bool lsi_open(LSI *l)
{
    int n = pci_enumerate(lsi_pci, ARRAY_SIZE(lsi_pci));

    for (int i = 0; i < n; i++) {
        PCIDevice *d = &lsi_pci[i];
        if (d->vendor_id != 0x1000 || d->device_id != 0x0012 || !d->bar[0].io) {
            continue;
        }
        /* Bus mastering: SCRIPTS fetch and data phases go to our memory. */
        pci_config_writel(d, PCI_COMMAND, pci_config_readl(d, PCI_COMMAND) | 0x7);
        l->pci = d;
        l->io = d->bar[0].addr;
        lsi_soft_reset(l);
        return true;
    }
    return false;
}

void lsi_emit(LSIScript *s, uint32_t insn, uint32_t addr)
{
    volatile uint32_t *w = (volatile uint32_t *)LSI_SCRIPT;

    w[s->n++] = insn;
    w[s->n++] = addr;
}

uint32_t lsi_move(unsigned phase, uint32_t count)
{
    return 0x08000000u | phase << 24 | (count & 0xffffff);
}

LSIResult lsi_run(LSI *l, uint32_t timeout_ms)
{
    LSIResult r = {.status = 0xff, .msgin = 0xff};
    uint64_t deadline;

    /* Latched interrupts of an earlier program: reading clears them. */
    lsi_rd(l, LSI_DSTAT);
    lsi_rd(l, LSI_SIST0);
    lsi_rd(l, LSI_SIST1);
    *(volatile uint8_t *)LSI_STATUS = 0xff;
    *(volatile uint8_t *)LSI_MSGIN = 0xff;
    deadline = clock_ns() + (uint64_t)timeout_ms * 1000000;
    outl(l->io + LSI_DSP, LSI_SCRIPT);
    while (!((r.istat = lsi_rd(l, LSI_ISTAT0)) & (ISTAT_DIP | ISTAT_SIP))) {
        if (clock_ns() > deadline) {
            r.timeout = true;
            return r;
        }
    }
    r.dsps = lsi_rdl(l, LSI_DSPS);
    r.dstat = lsi_rd(l, LSI_DSTAT);
    r.sist0 = lsi_rd(l, LSI_SIST0);
    r.sist1 = lsi_rd(l, LSI_SIST1);
    r.status = *(volatile uint8_t *)LSI_STATUS;
    r.msgin = *(volatile uint8_t *)LSI_MSGIN;
    return r;
}

void lsi_script_cmd(LSIScript *s, unsigned target, const uint8_t *cdb, unsigned cdb_len, int phase,
                    uint64_t data, uint32_t count)
{
    *(volatile uint8_t *)LSI_MSGOUT = 0x80; /* IDENTIFY, LUN 0, no disconnect privilege */
    memcpy((void *)LSI_CDB, cdb, cdb_len);
    lsi_emit(s, 0x40000000u | target << 16, 0); /* SELECT target */
    lsi_emit(s, lsi_move(LSI_PH_MO, 1), LSI_MSGOUT);
    lsi_emit(s, lsi_move(LSI_PH_CMD, cdb_len), LSI_CDB);
    lsi_emit(s, 0x87820000u, 0x18);                  /* JUMP REL +3 if not MSG IN */
    lsi_emit(s, lsi_move(LSI_PH_MI, 2), LSI_MSGTMP); /* SAVE DATA POINTER, DISCONNECT */
    lsi_emit(s, 0x50000000u, 0);                     /* WAIT RESELECT */
    lsi_emit(s, lsi_move(LSI_PH_MI, 1), LSI_MSGTMP); /* IDENTIFY */
    lsi_emit(s, 0x838a0000u, 8);                     /* JUMP REL +1 if STATUS: an error */
    /* Without data, SeaBIOS's zero-length DATA IN move: QEMU's target stays in DATA IN
     * after such a CDB until the command completes, and only a move waits for that. */
    if (phase == LSI_NO_DATA) {
        lsi_emit(s, lsi_move(LSI_PH_DI, 0), LSI_DATA);
    } else {
        lsi_emit(s, lsi_move(phase, count), (uint32_t)data);
    }
    lsi_emit(s, lsi_move(LSI_PH_ST, 1), LSI_STATUS);
    lsi_emit(s, lsi_move(LSI_PH_MI, 1), LSI_MSGIN);
    lsi_emit(s, 0x98080000u, LSI_INT_DONE); /* INT */
}

LSIResult lsi_cmd_raw(LSI *l, unsigned target, const uint8_t *cdb, unsigned cdb_len, int phase,
                      uint64_t data, uint32_t count)
{
    LSIScript s = {0};

    lsi_script_cmd(&s, target, cdb, cdb_len, phase, data, count);
    return lsi_run(l, LSI_CMD_TIMEOUT_MS);
}

LSIResult lsi_take_status(LSI *l)
{
    LSIScript s = {0};

    lsi_emit(&s, lsi_move(LSI_PH_ST, 1), LSI_STATUS);
    lsi_emit(&s, lsi_move(LSI_PH_MI, 1), LSI_MSGIN);
    lsi_emit(&s, 0x98080000u, LSI_INT_DONE);
    return lsi_run(l, LSI_CMD_TIMEOUT_MS);
}

LSIResult lsi_cmd(LSI *l, unsigned target, const uint8_t *cdb, unsigned cdb_len, int phase,
                  uint64_t data, uint32_t count)
{
    LSIResult r = lsi_cmd_raw(l, target, cdb, cdb_len, phase, data, count);

    if (!r.timeout && r.sist0 == SIST0_MA && !r.sist1 && (lsi_rd(l, LSI_SSTAT1) & 7) == LSI_PH_ST) {
        r = lsi_take_status(l);
    }
    return r;
}

bool lsi_done(const LSIResult *r)
{
    return !r->timeout && r->dstat == (DSTAT_DFE | DSTAT_SIR) && !r->sist0 && !r->sist1 &&
           r->dsps == LSI_INT_DONE && r->msgin == 0x00;
}

int32_t lsi_sense(LSI *l, unsigned target)
{
    static const uint8_t cdb[6] = {0x03, 0, 0, 0, 18, 0};
    volatile uint8_t *sense = (volatile uint8_t *)LSI_SENSE;
    LSIResult r;

    memset((void *)LSI_SENSE, 0, 18);
    r = lsi_cmd(l, target, cdb, sizeof(cdb), LSI_PH_DI, LSI_SENSE, 18);
    if (!lsi_done(&r) || r.status != 0) {
        return -1;
    }
    return (sense[2] & 0xf) << 16 | sense[12] << 8 | sense[13];
}

bool lsi_ready(LSI *l, unsigned target)
{
    static const uint8_t tur[6] = {0};

    for (int i = 0; i < 4; i++) {
        LSIResult r = lsi_cmd(l, target, tur, sizeof(tur), LSI_NO_DATA, 0, 0);
        if (lsi_done(&r) && r.status == 0) {
            return true;
        }
    }
    return false;
}

uint64_t lsi_capacity(LSI *l, unsigned target)
{
    static const uint8_t cdb[10] = {0x25};
    volatile uint8_t *b = (volatile uint8_t *)LSI_SENSE;
    LSIResult r = lsi_cmd(l, target, cdb, sizeof(cdb), LSI_PH_DI, LSI_SENSE, 8);

    if (!lsi_done(&r) || r.status != 0) {
        return 0;
    }
    return ((uint64_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]) + 1;
}


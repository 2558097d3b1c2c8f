/*
 * The LSI 53C895A SCRIPTS processor: fetches two- and three-dword instructions at DSP and
 * runs them (block moves, which drive the SCSI phases of the connected command; I/O
 * instructions: SELECT, WAIT DISCONNECT, WAIT RESELECT, SET, CLEAR; register
 * read-modify-write; JUMP/CALL/RETURN/INT with carry, phase and data compares; memory
 * moves; LOAD/STORE), and the initiator's side of each phase: IDENTIFY and tag messages out,
 * the CDB, data chunks of the request, status, and COMMAND COMPLETE, DISCONNECT or the
 * reselection's IDENTIFY in.
 *
 * The guest writes these programs: every fetch and transfer is bounds-checked (a miss is a
 * bus fault, DSTAT BF), byte counts are 24-bit, and one run executes at most LSI_MAX_INSN
 * instructions (a memory move counts one per 4 KiB) before it pauses and goes on from a
 * timer 500 us of guest time later, as QEMU 7.2 does, so a looping program cannot hold the
 * machine. Unlike QEMU, the pause doubles (up to 128 ms) while the program keeps looping
 * and the CPU does not signal it (ISTAT0.SIGP), so a loop costs next to nothing. QEMU
 * 2.2 ended such a run with an unexpected disconnect instead, which breaks drivers that
 * poll memory from SCRIPTS. Instructions that need the target (block moves, phase
 * compares) wait, without spinning, while the target has no data or status yet.
 * Not the register file (lsi53c895a-regs.c) nor the PCI device (lsi53c895a.c).
 */
#include <string.h>
#include "hw/lsi53c895a.h"
#include "hw/memory.h"

#define LSI_COPY_CHUNK 4096

static int32_t lsi_sext24(uint32_t v)
{
    return (int32_t)(v << 8) >> 8;
}

/* ---- Memory as the SCRIPTS processor sees it ---- */

/* [addr, addr + len) inside the memory BAR n of the adapter itself: offset, else -1. */
static int64_t lsi_own_bar_offset(LSIState *s, int n, uint64_t addr, uint32_t len)
{
    uint64_t base = pci_bar_address(s->pci, n);

    if (base == PCI_BAR_UNMAPPED || addr < base || addr - base + len > s->pci->bars[n].size) {
        return -1;
    }
    return addr - base;
}

/*
 * Guest RAM, or the adapter's own registers and SCRIPTS RAM (drivers run SCRIPTS from the
 * on-chip RAM and move register contents with memory moves). Nothing else: no other
 * device's MMIO, so a program cannot reach back into the adapter through a side door.
 */
static bool lsi_mem_access(LSIState *s, uint64_t addr, void *buf, uint32_t len, bool write,
                           bool regs_ok)
{
    uint8_t *p = buf;
    int64_t off;

    if (len == 0) {
        return true;
    }
    off = lsi_own_bar_offset(s, 2, addr, len);
    if (off >= 0) {
        if (write) {
            memcpy(s->scripts_ram + off, buf, len);
        } else {
            memcpy(buf, s->scripts_ram + off, len);
        }
        return true;
    }
    off = lsi_own_bar_offset(s, 1, addr, len);
    if (off >= 0) {
        if (!regs_ok) {
            return false;
        }
        for (uint32_t i = 0; i < len; i++) {
            if (write) {
                lsi_reg_writeb(s, (off + i) & 0xff, p[i]);
            } else {
                p[i] = lsi_reg_readb(s, (off + i) & 0xff);
            }
        }
        return true;
    }
    return write ? guest_mem_write(addr, buf, len) : guest_mem_read(addr, buf, len);
}

static bool lsi_mem_read(LSIState *s, uint64_t addr, void *buf, uint32_t len)
{
    return lsi_mem_access(s, addr, buf, len, false, true);
}

static bool lsi_mem_write(LSIState *s, uint64_t addr, const void *buf, uint32_t len)
{
    return lsi_mem_access(s, addr, (void *)buf, len, true, true);
}

static bool lsi_read_dword(LSIState *s, uint64_t addr, uint32_t *val)
{
    uint8_t b[4];

    if (!lsi_mem_read(s, addr, b, 4)) {
        return false;
    }
    *val = b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
    return true;
}

/* ---- Interrupts and phases ---- */

/* SCRIPTS stop; whatever they were waiting for is forgotten. */
static void lsi_stop(LSIState *s)
{
    s->istat1 &= ~LSI_ISTAT1_SRUN;
    s->waiting = LSI_NOWAIT;
    s->in_data_move = false;
}

void lsi_scsi_interrupt(LSIState *s, uint8_t stat0, uint8_t stat1)
{
    /* Fatal or enabled interrupts stop SCRIPTS; CMP, SEL, RSL, GEN and HTH only when
     * enabled. A selection timeout stops at the next instruction that needs the bus. */
    uint8_t mask0 = s->sien0 | ~(LSI_SIST0_CMP | LSI_SIST0_SEL | LSI_SIST0_RSL);
    uint8_t mask1 = (s->sien1 | ~(LSI_SIST1_GEN | LSI_SIST1_HTH)) & ~LSI_SIST1_STO;

    s->sist0 |= stat0;
    s->sist1 |= stat1;
    if ((s->sist0 & mask0) || (s->sist1 & mask1)) {
        lsi_stop(s);
    }
    lsi_update_irq(s);
}

void lsi_dma_interrupt(LSIState *s, uint8_t stat)
{
    s->dstat |= stat;
    lsi_update_irq(s);
    lsi_stop(s);
}

void lsi_set_phase(LSIState *s, int phase)
{
    s->sbcl = (s->sbcl & ~LSI_PHASE_MASK) | phase | LSI_SBCL_REQ;
    s->sstat1 = (s->sstat1 & ~LSI_PHASE_MASK) | phase;
}

static void lsi_disconnect(LSIState *s)
{
    s->scntl1 &= ~LSI_SCNTL1_CON;
    s->sstat1 &= ~LSI_PHASE_MASK;
    s->sbcl = 0;
}

static int lsi_phase(LSIState *s)
{
    return s->sstat1 & LSI_PHASE_MASK;
}

/* A phase mismatch: jump through PMJAD1/2 when enabled, else SIST0 MA. */
void lsi_bad_phase(LSIState *s, bool out, int new_phase)
{
    if (s->ccntl0 & LSI_CCNTL0_ENPMJ) {
        if (s->ccntl0 & LSI_CCNTL0_PMJCTL) {
            s->dsp = out ? s->pmjad1 : s->pmjad2;
        } else {
            s->dsp = s->scntl2 & LSI_SCNTL2_WSR ? s->pmjad2 : s->pmjad1;
        }
    } else {
        lsi_scsi_interrupt(s, LSI_SIST0_MA, 0);
        lsi_stop(s);
    }
    lsi_set_phase(s, new_phase);
}

static void lsi_bad_selection(LSIState *s)
{
    lsi_scsi_interrupt(s, 0, LSI_SIST1_STO);
    lsi_disconnect(s);
}

static void lsi_add_msg_byte(LSIState *s, uint8_t b)
{
    if (s->msg_len < LSI_MAX_MSGIN) {
        s->msg[s->msg_len++] = b;
    }
}

bool lsi_irq_on_rsl(LSIState *s)
{
    return (s->sien0 & LSI_SIST0_RSL) && (s->scid & LSI_SCID_RRE);
}

LSIRequest *lsi_pending_request(LSIState *s)
{
    for (GList *l = s->queue.head; l; l = l->next) {
        LSIRequest *p = l->data;

        if (p->pending) {
            return p;
        }
    }
    return NULL;
}

/* The target of a disconnected command reselects us: IDENTIFY (and its tag) in MSG IN. */
void lsi_reselect(LSIState *s, LSIRequest *p)
{
    unsigned id = (p->tag >> 8) & 0xf;

    g_queue_remove(&s->queue, p);
    s->current = p;
    s->ssid = id | 0x80;
    if (!(s->dcntl & LSI_DCNTL_COM)) {
        s->sfbr = 1 << (id & 7); /* 53C700 compatibility */
    }
    s->scntl1 |= LSI_SCNTL1_CON;
    lsi_set_phase(s, LSI_PHASE_MI);
    s->msg_action = p->out ? LSI_MSG_ACTION_DOUT : LSI_MSG_ACTION_DIN;
    p->dma_len = p->pending;
    p->pending = 0;
    lsi_add_msg_byte(s, 0x80);
    if (p->tag & LSI_TAG_VALID) {
        lsi_add_msg_byte(s, 0x20);
        lsi_add_msg_byte(s, p->tag & 0xff);
    }
    if (p->completed) {
        /* It ended without data (an error): straight to STATUS after the IDENTIFY. */
        s->msg_action = LSI_MSG_ACTION_STATUS;
        s->status = p->status;
        s->command_complete = true;
        s->current = NULL;
        g_free(p);
    }
    if (lsi_irq_on_rsl(s)) {
        lsi_scsi_interrupt(s, LSI_SIST0_RSL, 0);
    }
}

/* ---- Phases of a block move ---- */

/* The connected target has no chunk or status for us yet: REQ is not asserted. */
static bool lsi_target_busy(LSIState *s)
{
    return s->current && s->current->dma_len == 0 && (s->scntl1 & LSI_SCNTL1_CON);
}

/* Where a data phase moves: DNAD and, in the 40/64-bit modes, the high bits. */
static uint64_t lsi_data_address(LSIState *s)
{
    uint64_t high = 0;

    if (s->ccntl1 & LSI_CCNTL1_EN64TIBMV) { /* both table indirect modes, 40- and 64-bit */
        high = s->dnad64;
    } else if (s->dbms) {
        high = s->dbms;
    } else if (s->sbms) {
        high = s->sbms;
    }
    return high << 32 | s->dnad;
}

/* Move chunks between guest memory and the request until the count or the data runs out. */
static void lsi_dma_pump(LSIState *s)
{
    s->in_pump = true;
    while (s->dbc && s->current && s->current->dma_len && (s->istat1 & LSI_ISTAT1_SRUN)) {
        LSIRequest *p = s->current;
        uint32_t n = MIN(s->dbc, p->dma_len);
        bool ok;

        if (!p->dma_buf) {
            p->dma_buf = scsi_req_buf(p->req);
        }
        ok = lsi_mem_access(s, lsi_data_address(s), p->dma_buf, n, !s->dma_out, false);
        if (!ok) {
            lsi_dma_interrupt(s, LSI_DSTAT_BF);
            break;
        }
        s->csbc += n;
        s->dnad += n;
        s->dbc -= n;
        p->dma_len -= n;
        p->dma_buf += n;
        if (p->dma_len == 0) {
            p->dma_buf = NULL;
            scsi_req_continue(p->req); /* may complete the request: s->current goes */
        }
    }
    s->in_pump = false;
}

static void lsi_block_move_end(LSIState *s)
{
    s->in_data_move = false;
    s->dfifo = s->dbc & 0xff;
    s->ctest5 = (s->ctest5 & 0xfc) | ((s->dbc >> 8) & 3);
    s->sbc = s->dbc;
    s->rbc -= s->dbc;
    s->ua = s->dnad;
}

/* The data phase of a block move went as far as it can: true when the move is over. */
static bool lsi_data_move_progress(LSIState *s)
{
    lsi_dma_pump(s);
    if (s->dbc && s->current && (s->istat1 & LSI_ISTAT1_SRUN)) {
        s->waiting = LSI_WAIT_DMA;
        return false;
    }
    if (s->waiting == LSI_WAIT_DMA) {
        s->waiting = LSI_NOWAIT;
    }
    lsi_block_move_end(s);
    return true;
}

static void lsi_do_command(LSIState *s)
{
    uint8_t cdb[SCSI_CDB_MAX] = {0};
    unsigned id = (s->select_tag >> 8) & 0xf;
    LSIRequest *p;
    int32_t n;

    s->dbc = MIN(s->dbc, SCSI_CDB_MAX);
    if (!lsi_mem_read(s, s->dnad, cdb, s->dbc)) {
        lsi_dma_interrupt(s, LSI_DSTAT_BF);
        return;
    }
    s->sfbr = cdb[0];
    if (!scsi_target_exists(&s->bus, id) || s->current) {
        lsi_bad_selection(s);
        return;
    }
    s->command_complete = false;
    p = g_new0(LSIRequest, 1);
    p->tag = s->select_tag;
    s->current = p;
    p->req = scsi_req_new(&s->bus, id, s->current_lun, p->tag, cdb, s->dbc, p);
    n = scsi_req_enqueue(p->req); /* may call transfer_data or complete */
    if (s->command_complete) {
        return;
    }
    lsi_set_phase(s, n < 0 ? LSI_PHASE_DO : LSI_PHASE_DI);
    if (n && p->dma_len == 0 && s->disc_allowed) {
        /* Nothing ready yet and the IDENTIFY let the target go: disconnect until it is. */
        lsi_add_msg_byte(s, 0x02); /* SAVE DATA POINTER */
        lsi_add_msg_byte(s, 0x04); /* DISCONNECT */
        lsi_set_phase(s, LSI_PHASE_MI);
        s->msg_action = LSI_MSG_ACTION_DISCONNECT;
        p->out = n < 0;
        p->pending = 0;
        s->current = NULL;
        g_queue_push_tail(&s->queue, p);
    }
}

static void lsi_do_status(LSIState *s)
{
    uint8_t status = s->status;

    s->dbc = 1;
    s->sfbr = status;
    if (!lsi_mem_write(s, s->dnad, &status, 1)) {
        lsi_dma_interrupt(s, LSI_DSTAT_BF);
        return;
    }
    lsi_set_phase(s, LSI_PHASE_MI);
    s->msg_action = LSI_MSG_ACTION_DISCONNECT;
    lsi_add_msg_byte(s, 0x00); /* COMMAND COMPLETE */
}

static void lsi_do_msgin(LSIState *s)
{
    uint32_t len = MIN(s->msg_len, s->dbc);

    if (len == 0) {
        return;
    }
    s->sfbr = s->msg[0];
    if (!lsi_mem_write(s, s->dnad, s->msg, len)) {
        lsi_dma_interrupt(s, LSI_DSTAT_BF);
        return;
    }
    s->sidl = s->msg[len - 1];
    s->msg_len -= len;
    if (s->msg_len) {
        memmove(s->msg, s->msg + len, s->msg_len);
        return;
    }
    switch (s->msg_action) {
    case LSI_MSG_ACTION_COMMAND:
        lsi_set_phase(s, LSI_PHASE_CMD);
        break;
    case LSI_MSG_ACTION_DISCONNECT:
        lsi_disconnect(s);
        break;
    case LSI_MSG_ACTION_DOUT:
        lsi_set_phase(s, LSI_PHASE_DO);
        break;
    case LSI_MSG_ACTION_DIN:
        lsi_set_phase(s, LSI_PHASE_DI);
        break;
    case LSI_MSG_ACTION_STATUS:
        lsi_set_phase(s, LSI_PHASE_ST);
        break;
    }
}

/* The next MSG OUT byte; false when the move's count is exhausted or memory faults. */
static bool lsi_get_msgbyte(LSIState *s, uint8_t *b)
{
    if (s->dbc == 0) {
        return false;
    }
    if (!lsi_mem_read(s, s->dnad, b, 1)) {
        lsi_dma_interrupt(s, LSI_DSTAT_BF);
        return false;
    }
    s->dnad++;
    s->dbc--;
    return true;
}

static LSIRequest *lsi_find_by_tag(LSIState *s, uint32_t tag)
{
    for (GList *l = s->queue.head; l; l = l->next) {
        LSIRequest *p = l->data;

        if (p->tag == tag) {
            return p;
        }
    }
    return NULL;
}

/* ABORT, CLEAR QUEUE, BUS DEVICE RESET: every command of the selected target goes. */
static void lsi_abort_target(LSIState *s, uint32_t tag)
{
    GList *l = s->queue.head;

    if (s->current) {
        lsi_request_cancel(s, s->current);
    }
    while (l) {
        LSIRequest *p = l->data;

        l = l->next;
        if ((p->tag & 0xff00) == (tag & 0xff00)) {
            lsi_request_cancel(s, p);
        }
    }
    lsi_disconnect(s);
}

static bool lsi_msgout_extended(LSIState *s)
{
    uint8_t len, code, skip;

    if (!lsi_get_msgbyte(s, &len) || !lsi_get_msgbyte(s, &code)) {
        return true;
    }
    switch (code) {
    case 1:
        skip = 2;
        break; /* SDTR */
    case 3:
        skip = 1;
        break; /* WDTR */
    case 4:
        skip = 5;
        break; /* PPR */
    default:
        return false;
    }
    skip = MIN(skip, s->dbc);
    s->dnad += skip;
    s->dbc -= skip;
    return true;
}

static void lsi_do_msgout(LSIState *s)
{
    uint32_t tag = s->current ? s->current->tag : s->select_tag;
    uint8_t msg, b;

    while (lsi_get_msgbyte(s, &msg)) {
        s->sfbr = msg;
        switch (msg) {
        case 0x04: /* DISCONNECT */
            lsi_disconnect(s);
            break;
        case 0x08: /* NO OPERATION */
            lsi_set_phase(s, LSI_PHASE_CMD);
            break;
        case 0x01: /* extended: transfer agreements, which need nothing from us */
            if (!lsi_msgout_extended(s)) {
                goto reject;
            }
            break;
        case 0x20: /* SIMPLE, HEAD OF QUEUE, ORDERED queue tags */
        case 0x21:
        case 0x22:
            if (lsi_get_msgbyte(s, &b)) {
                s->select_tag |= b | LSI_TAG_VALID;
            }
            break;
        case 0x0d: { /* ABORT TAG */
            LSIRequest *p = s->current ? s->current : lsi_find_by_tag(s, tag);

            if (p) {
                lsi_request_cancel(s, p);
            }
            lsi_disconnect(s);
            break;
        }
        case 0x06: /* ABORT */
        case 0x0c: /* BUS DEVICE RESET */
        case 0x0e: /* CLEAR QUEUE */
            lsi_abort_target(s, tag);
            break;
        default:
            if (!(msg & 0x80)) {
                goto reject;
            }
            /* IDENTIFY */
            s->current_lun = msg & 7;
            s->disc_allowed = msg & 0x40;
            lsi_set_phase(s, LSI_PHASE_CMD);
            break;
        }
    }
    return;
reject:
    lsi_set_phase(s, LSI_PHASE_MI);
    lsi_add_msg_byte(s, 0x07); /* MESSAGE REJECT */
    s->msg_action = LSI_MSG_ACTION_COMMAND;
}

/* ---- Instructions ---- */

/* Wait for the target's REQ and run the instruction at ia again when it comes. */
static void lsi_wait_target(LSIState *s, uint32_t ia)
{
    s->dsp = ia;
    s->waiting = LSI_WAIT_TARGET;
}

/* Bits 63:32 of a table indirect move's address in the 64-bit mode: a register chosen by
 * the table entry's top byte. */
static uint32_t lsi_ti64_high(LSIState *s, unsigned selector)
{
    switch (selector) {
    case 0x10:
        return s->mmrs;
    case 0x11:
        return s->mmws;
    case 0x12:
        return s->sfs;
    case 0x13:
        return s->drs;
    case 0x14:
        return s->sbms;
    case 0x15:
        return s->dbms;
    default:
        return selector < 0x10 ? s->scratch[2 + selector] : 0; /* SCRATCHC..SCRATCHR */
    }
}

/* Count and address of a block move: direct, indirect or table indirect, and the high
 * address bits of the 40- and 64-bit modes (CCNTL1). False on a bus fault. */
static bool lsi_block_move_operands(LSIState *s, uint32_t insn, uint32_t *addr, uint32_t *high)
{
    uint32_t count;

    s->dbc = insn & 0xffffff;
    *high = 0;
    if (insn & (1 << 29)) { /* indirect: the address is at addr */
        return lsi_read_dword(s, *addr, addr);
    }
    if (insn & (1 << 28)) { /* table indirect: count and address at DSA + offset */
        uint32_t entry = s->dsa + lsi_sext24(*addr);

        if (!lsi_read_dword(s, entry, &count) || !lsi_read_dword(s, entry + 4, addr)) {
            return false;
        }
        s->dbc = count & 0xffffff;
        if ((s->ccntl1 & LSI_CCNTL1_40BIT) == LSI_CCNTL1_40BIT) {
            *high = count >> 24;
        } else if (s->ccntl1 & LSI_CCNTL1_EN64TIBMV) {
            *high = lsi_ti64_high(s, (count >> 24) & 0x1f);
        }
        return true;
    }
    if (s->ccntl1 & LSI_CCNTL1_EN64DBMV) { /* a third dword: bits 63:32 */
        if (!lsi_read_dword(s, s->dsp, &s->dbms)) {
            return false;
        }
        s->dsp += 4;
    }
    return true;
}

static void lsi_block_move(LSIState *s, uint32_t insn, uint32_t addr)
{
    uint32_t ia = s->dsp - 8, high;
    int phase = (insn >> 24) & 7;

    if (s->sist1 & LSI_SIST1_STO) {
        lsi_stop(s);
        return;
    }
    s->ia = ia;
    if (!lsi_block_move_operands(s, insn, &addr, &high)) {
        lsi_dma_interrupt(s, LSI_DSTAT_BF);
        return;
    }
    s->rbc = s->dbc;
    if (lsi_target_busy(s)) {
        lsi_wait_target(s, ia);
        return;
    }
    if (!(s->scntl1 & LSI_SCNTL1_CON) || lsi_phase(s) != phase ||
        ((phase == LSI_PHASE_DO || phase == LSI_PHASE_DI) && !s->current)) {
        lsi_scsi_interrupt(s, LSI_SIST0_MA, 0);
        return;
    }
    s->dnad = addr;
    s->dnad64 = high;
    switch (phase) {
    case LSI_PHASE_DO:
    case LSI_PHASE_DI:
        s->dma_out = phase == LSI_PHASE_DO;
        s->in_data_move = true;
        lsi_data_move_progress(s);
        return;
    case LSI_PHASE_CMD:
        lsi_do_command(s);
        break;
    case LSI_PHASE_ST:
        lsi_do_status(s);
        break;
    case LSI_PHASE_MO:
        lsi_do_msgout(s);
        break;
    case LSI_PHASE_MI:
        lsi_do_msgin(s);
        break;
    default:
        break;
    }
    lsi_block_move_end(s);
}

static uint32_t lsi_io_target_id(LSIState *s, uint32_t insn, bool *ok)
{
    uint32_t id = insn;

    *ok = true;
    if (insn & (1 << 25)) { /* table indirect: the id is at DSA + offset */
        *ok = lsi_read_dword(s, s->dsa + lsi_sext24(insn), &id);
    }
    return (id >> 16) & 0xf;
}

static void lsi_select(LSIState *s, uint32_t insn, uint32_t id)
{
    s->sdid = id;
    if (s->scntl1 & LSI_SCNTL1_CON) {
        s->dsp = s->dnad; /* reselected meanwhile: the alternate address */
        return;
    }
    s->sstat0 |= LSI_SSTAT0_WOA;
    s->scntl1 &= ~LSI_SCNTL1_IARB;
    if (id >= LSI_MAX_TARGETS || !scsi_target_exists(&s->bus, id)) {
        lsi_bad_selection(s);
        return;
    }
    s->select_tag = id << 8;
    s->msg_len = 0; /* what a previous target left unread is gone with it */
    s->current_lun = 0;
    s->disc_allowed = false;
    s->scntl1 |= LSI_SCNTL1_CON;
    if (insn & (1 << 3)) {
        s->socl |= LSI_SOCL_ATN;
        s->sbcl |= LSI_SBCL_ATN;
    }
    s->sbcl |= LSI_SBCL_BSY;
    lsi_set_phase(s, LSI_PHASE_MO);
    s->waiting = LSI_NOWAIT;
}

static void lsi_wait_reselect(LSIState *s)
{
    LSIRequest *p;

    if (s->istat0 & LSI_ISTAT0_SIGP) {
        s->dsp = s->dnad;
        return;
    }
    if (lsi_irq_on_rsl(s) || s->current) {
        return;
    }
    p = lsi_pending_request(s);
    if (p) {
        lsi_reselect(s, p);
    } else {
        s->waiting = LSI_WAIT_RESELECT;
    }
}

static void lsi_set_clear(LSIState *s, uint32_t insn, bool set)
{
    if (insn & (1 << 3)) {
        if (set) {
            s->socl |= LSI_SOCL_ATN;
            s->sbcl |= LSI_SBCL_ATN;
            lsi_set_phase(s, LSI_PHASE_MO);
        } else {
            s->socl &= ~LSI_SOCL_ATN;
            s->sbcl &= ~LSI_SBCL_ATN;
        }
    }
    if (insn & (1 << 6)) {
        s->sbcl = set ? s->sbcl | LSI_SBCL_ACK : s->sbcl & ~LSI_SBCL_ACK;
    }
    if (insn & (1 << 10)) {
        s->carry = set;
    }
}

static void lsi_io(LSIState *s, uint32_t insn, uint32_t addr)
{
    bool ok;
    uint32_t id = lsi_io_target_id(s, insn, &ok);

    if (!ok) {
        lsi_dma_interrupt(s, LSI_DSTAT_BF);
        return;
    }
    if (insn & (1 << 26)) {
        addr = s->dsp + lsi_sext24(addr);
    }
    s->dnad = addr;
    switch ((insn >> 27) & 7) {
    case 0:
        lsi_select(s, insn, id);
        break;
    case 1: /* WAIT DISCONNECT */
        s->scntl1 &= ~LSI_SCNTL1_CON;
        if (!s->current) {
            LSIRequest *p = lsi_pending_request(s);

            if (p) {
                lsi_reselect(s, p);
            }
        }
        break;
    case 2:
        lsi_wait_reselect(s);
        break;
    case 3:
        lsi_set_clear(s, insn, true);
        break;
    case 4:
        lsi_set_clear(s, insn, false);
        break;
    }
}

static uint8_t lsi_alu(LSIState *s, unsigned op, uint8_t a, uint8_t b)
{
    uint8_t r;

    switch (op) {
    case 0:
        return b; /* MOVE */
    case 1:       /* SHL through carry */
        r = (a << 1) | s->carry;
        s->carry = a >> 7;
        return r;
    case 2:
        return a | b;
    case 3:
        return a ^ b;
    case 4:
        return a & b;
    case 5: /* SHR through carry */
        r = (a >> 1) | (s->carry << 7);
        s->carry = a & 1;
        return r;
    case 6: /* ADD */
        r = a + b;
        s->carry = r < b;
        return r;
    default: /* ADC */
        r = a + b + s->carry;
        s->carry = s->carry ? r <= b : r < b;
        return r;
    }
}

/* Register read/write: SFBR to register, register to SFBR, read-modify-write. */
static void lsi_register_op(LSIState *s, uint32_t insn)
{
    unsigned reg = ((insn >> 16) & 0x7f) | (insn & 0x80);
    unsigned kind = (insn >> 27) & 7, op = (insn >> 24) & 7;
    uint8_t data8 = insn >> 8, a = 0, b = data8, r;

    if (kind == 5) {
        a = s->sfbr;
    } else if (op) {
        a = lsi_reg_readb(s, reg);
    }
    if (kind == 7 && (insn & (1 << 23))) {
        b = s->sfbr;
    }
    r = lsi_alu(s, op, a, b);
    if (kind == 6) {
        s->sfbr = r;
    } else {
        lsi_reg_writeb(s, reg, r);
    }
}

static void lsi_transfer_control(LSIState *s, uint32_t insn, uint32_t addr)
{
    bool jmp = insn & (1 << 19), cond = jmp;

    if (!(insn & 0x002e0000)) {
        return; /* no compare and jump-if-false: never taken */
    }
    if (s->sist1 & LSI_SIST1_STO) {
        lsi_stop(s);
        return;
    }
    if ((insn & (1 << 17)) && lsi_target_busy(s)) {
        lsi_wait_target(s, s->dsp - 8);
        return;
    }
    if (cond == jmp && (insn & (1 << 21))) {
        cond = s->carry;
    }
    if (cond == jmp && (insn & (1 << 17))) {
        cond = lsi_phase(s) == (int)((insn >> 24) & 7);
    }
    if (cond == jmp && (insn & (1 << 18))) {
        uint8_t mask = ~insn >> 8;

        cond = (s->sfbr & mask) == (insn & mask);
    }
    if (cond != jmp) {
        return;
    }
    if (insn & (1 << 23)) {
        addr = s->dsp + lsi_sext24(addr);
    }
    switch ((insn >> 27) & 7) {
    case 0: /* JUMP */
        s->adder = addr;
        s->dsp = addr;
        break;
    case 1: /* CALL */
        s->temp = s->dsp;
        s->dsp = addr;
        break;
    case 2: /* RETURN */
        s->dsp = s->temp;
        break;
    case 3: /* INT, INTFLY */
        if (insn & (1 << 20)) {
            s->istat0 |= LSI_ISTAT0_INTF;
            lsi_update_irq(s);
        } else {
            lsi_dma_interrupt(s, LSI_DSTAT_SIR);
        }
        break;
    default:
        lsi_dma_interrupt(s, LSI_DSTAT_IID);
        break;
    }
}

/* MEMORY MOVE; returns the cost in instructions of the run's budget. */
static unsigned lsi_memory_move(LSIState *s, uint32_t insn, uint32_t src)
{
    uint32_t count = insn & 0xffffff, dest;
    uint8_t buf[LSI_COPY_CHUNK];

    if (!lsi_read_dword(s, s->dsp, &dest)) {
        lsi_dma_interrupt(s, LSI_DSTAT_BF);
        return 1;
    }
    s->dsp += 4;
    while (count) {
        uint32_t n = MIN(count, LSI_COPY_CHUNK);

        if (!lsi_mem_read(s, src, buf, n) || !lsi_mem_write(s, dest, buf, n)) {
            lsi_dma_interrupt(s, LSI_DSTAT_BF);
            break;
        }
        src += n;
        dest += n;
        count -= n;
    }
    return 1 + (insn & 0xffffff) / LSI_COPY_CHUNK;
}

static void lsi_load_store(LSIState *s, uint32_t insn, uint32_t addr)
{
    unsigned n = insn & 7, reg = (insn >> 16) & 0xff;
    uint8_t data[7];

    if (insn & (1 << 28)) {
        addr = s->dsa + lsi_sext24(addr);
    }
    if (insn & (1 << 24)) { /* LOAD */
        if (!lsi_mem_read(s, addr, data, n)) {
            lsi_dma_interrupt(s, LSI_DSTAT_BF);
            return;
        }
        for (unsigned i = 0; i < n; i++) {
            lsi_reg_writeb(s, reg + i, data[i]);
        }
    } else {
        for (unsigned i = 0; i < n; i++) {
            data[i] = lsi_reg_readb(s, reg + i);
        }
        if (!lsi_mem_write(s, addr, data, n)) {
            lsi_dma_interrupt(s, LSI_DSTAT_BF);
        }
    }
}

/* Fetch and run one instruction; returns its cost in the run's budget. */
static unsigned lsi_step(LSIState *s)
{
    uint32_t insn, addr;

    if (!lsi_read_dword(s, s->dsp, &insn)) {
        lsi_dma_interrupt(s, LSI_DSTAT_BF);
        return 1;
    }
    if (insn == 0) {
        s->dsp += 4; /* an empty opcode is one dword long */
        return 1;
    }
    if (!lsi_read_dword(s, s->dsp + 4, &addr)) {
        lsi_dma_interrupt(s, LSI_DSTAT_BF);
        return 1;
    }
    s->dsps = addr;
    s->dcmd = insn >> 24;
    s->dsp += 8;
    switch (insn >> 30) {
    case 0:
        lsi_block_move(s, insn, addr);
        break;
    case 1:
        if (((insn >> 27) & 7) < 5) {
            lsi_io(s, insn, addr);
        } else {
            lsi_register_op(s, insn);
        }
        break;
    case 2:
        lsi_transfer_control(s, insn, addr);
        break;
    default:
        if (!(insn & (1 << 29))) {
            return lsi_memory_move(s, insn, addr);
        }
        lsi_load_store(s, insn, addr);
        break;
    }
    return 1;
}

/*
 * Run SCRIPTS until they stop, wait for the target, or use up the budget. Callbacks from
 * the bus arrive here too; when the loop is already on the stack (a request answering
 * synchronously), they only update state and the outer loop carries on.
 */
void lsi_scripts_run(LSIState *s)
{
    unsigned spent = 0;

    if (s->in_run) {
        return;
    }
    s->in_run = true;
    s->istat1 |= LSI_ISTAT1_SRUN;
    while (s->istat1 & LSI_ISTAT1_SRUN) {
        if (s->waiting == LSI_WAIT_DMA && !lsi_data_move_progress(s)) {
            break;
        }
        if (s->waiting != LSI_NOWAIT) {
            break;
        }
        if (spent >= LSI_MAX_INSN) {
            /* Perhaps polling memory the CPU will change: let the rest of the machine run. */
            s->waiting = LSI_WAIT_SCRIPTS;
            timer_mod(s->scripts_timer, clock_get_ns(CLOCK_VIRTUAL) + s->pause_ns);
            s->pause_ns = MIN(s->pause_ns * 2, LSI_SCRIPTS_PAUSE_MAX_NS);
            break;
        }
        spent += lsi_step(s);
        if ((s->istat1 & LSI_ISTAT1_SRUN) && s->waiting == LSI_NOWAIT &&
            (s->dcntl & LSI_DCNTL_SSM)) {
            lsi_dma_interrupt(s, LSI_DSTAT_SSI);
        }
    }
    if (s->waiting != LSI_WAIT_SCRIPTS) {
        s->pause_ns = LSI_SCRIPTS_PAUSE_NS;
    }
    s->in_run = false;
}

void lsi_scripts_timer(void *opaque)
{
    LSIState *s = opaque;

    if (s->waiting == LSI_WAIT_SCRIPTS) {
        s->waiting = LSI_NOWAIT;
        lsi_scripts_run(s);
    }
}

/* The CPU set ISTAT0.SIGP: a paused loop may be waiting for it, so resume it soon. */
void lsi_scripts_poke(LSIState *s)
{
    if (s->waiting == LSI_WAIT_SCRIPTS && s->pause_ns > LSI_SCRIPTS_PAUSE_NS) {
        s->pause_ns = LSI_SCRIPTS_PAUSE_NS;
        timer_mod(s->scripts_timer, clock_get_ns(CLOCK_VIRTUAL) + LSI_SCRIPTS_PAUSE_NS);
    }
}

void lsi_target_ready(LSIState *s)
{
    if (s->in_pump) {
        return; /* the pump moves the new chunk itself */
    }
    if (s->waiting == LSI_WAIT_TARGET || (s->waiting == LSI_WAIT_RESELECT && s->current)) {
        s->waiting = LSI_NOWAIT;
    }
    if (s->waiting == LSI_WAIT_DMA && !s->current) {
        s->waiting = LSI_NOWAIT; /* the command ended short; lsi_command_complete saw to it */
        lsi_block_move_end(s);
    }
    if (s->waiting == LSI_NOWAIT && !(s->istat1 & LSI_ISTAT1_SRUN)) {
        return; /* SCRIPTS stopped: the guest's driver picks things up */
    }
    lsi_scripts_run(s);
}

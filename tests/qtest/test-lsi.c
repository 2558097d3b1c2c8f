/*
 * The LSI 53C895A SCSI adapter as a driver sees it, through the qtest protocol: PCI
 * identity and BARs (lsi53c895a and lsi53c810), register reset values and read-back through
 * the I/O and memory BARs, SCRIPTS RAM, and SCRIPTS programs the test writes into guest RAM
 * (SeaBIOS's shape: SELECT, IDENTIFY, the CDB, a disconnect/reselect detour when the target
 * takes one, data, status, COMMAND COMPLETE, INT) running INQUIRY, READ CAPACITY(10) and a
 * WRITE(10)/READ(10) round trip on a scsi-hd; Linux's ways (disconnect privilege with a
 * queue tag, reselection as an interrupt, SCRIPTS in SCRIPTS RAM, 64/40-bit moves, phase
 * mismatch jumps); selection timeout, illegal instruction, register and memory operations,
 * a looping program, software resets (one with a read in flight), a second adapter, the
 * INTx line, and device_del of the adapter with a read in flight. Every assertion holds for QEMU 7.2 too (QTEST_QEMU=1), which has no -drive
 * if=scsi on pc: both VMMs get -device lsi53c895a -device scsi-hd, and the if=scsi tests
 * (the adapter it makes, HMP drive_add of if=scsi onto it) and the bus-fault test (QEMU
 * reads unassigned memory as zeros) run on minivmm only.
 */
#include <string.h>
#include <unistd.h>
#include <linux/pci.h>
#include "libqpci.h"
#include "util/bswap.h"

#define LSI_DISK_SECTORS 2048 /* 1 MiB */
#define LSI_SCRIPT 0x200000ULL
#define LSI_MSGOUT 0x210000ULL
#define LSI_CDB 0x210100ULL
#define LSI_STATUS 0x210200ULL
#define LSI_MSGIN 0x210300ULL
#define LSI_MSGTMP 0x210400ULL
#define LSI_TABLE 0x210500ULL
#define LSI_DATA 0x220000ULL
#define LSI_DATA2 0x230000ULL
#define LSI_INT_DONE 0x00c0ffee

/* Registers */
#define SCNTL0 0x00
#define SCID 0x04
#define GPREG 0x07
#define DSTAT 0x0c
#define SSTAT1 0x0e
#define SSTAT2 0x0f
#define DSA 0x10
#define ISTAT0 0x14
#define ISTAT1 0x15
#define CTEST0 0x18
#define CTEST2 0x1a
#define TEMP 0x1c
#define DBC 0x24
#define DCMD 0x27
#define DSP 0x2c
#define DSPS 0x30
#define SCRATCHA 0x34
#define DIEN 0x39
#define SIEN0 0x40
#define SIST0 0x42
#define SIST1 0x43
#define MACNTL 0x46
#define RESPID0 0x4a
#define STEST4 0x52
#define SCRATCHB 0x5c
#define SCRATCHJ 0x7c

typedef struct LSI {
    QTestState *qts;
    QPCIBus bus;
    QPCIDevice dev;
    uint16_t io;
    uint64_t mmio, ram;
    char img[64];
} LSI;

typedef struct LSIResult {
    uint8_t istat0, dstat, sist0, sist1;
    uint32_t dsps;
    uint8_t status, msgin;
} LSIResult;

/* ---- set-up ---- */

/* When its heads are set, the next image gets an MBR whose first partition ends on this
 * logical geometry (what the disk's geometry is guessed from). */
static struct {
    unsigned heads, secs;
} lsi_mbr;

static void lsi_fill_image(int fd)
{
    uint8_t sector[512];

    for (unsigned lba = 0; lba < LSI_DISK_SECTORS; lba++) {
        for (unsigned i = 0; i < sizeof(sector); i++) {
            sector[i] = (uint8_t)(lba * 7 + i);
        }
        if (lba == 0 && lsi_mbr.heads) {
            uint8_t *p = sector + 0x1be;

            memset(p, 0, 64);
            p[5] = lsi_mbr.heads - 1;             /* end head */
            p[6] = lsi_mbr.secs;                  /* end sector (cylinder bits 0) */
            p[12] = (LSI_DISK_SECTORS - 1) & 0xff; /* sector count, little-endian */
            p[13] = (LSI_DISK_SECTORS - 1) >> 8;
            sector[510] = 0x55;
            sector[511] = 0xaa;
        }
        g_assert_cmpint(pwrite(fd, sector, sizeof(sector), lba * 512ULL), ==, sizeof(sector));
    }
}

/* The VMM's arguments are before, the image's path, after; started by init. */
static void lsi_start_with(LSI *l, const char *before, const char *after,
                           QTestState *(*init)(const char *))
{
    g_autofree char *args = NULL;
    int fd;

    memset(l, 0, sizeof(*l));
    strcpy(l->img, "/tmp/test-lsi-XXXXXX");
    fd = mkstemp(l->img);
    g_assert_cmpint(fd, >=, 0);
    lsi_fill_image(fd);
    close(fd);
    args = g_strdup_printf("%s%s%s", before, l->img, after);
    l->qts = init(args);
    qpci_bus_init(&l->bus, l->qts);
    g_assert_true(qpci_device_find(&l->bus, PCI_DEVFN(2, 0), &l->dev));
}

static void lsi_start_args(LSI *l, const char *before, const char *after)
{
    lsi_start_with(l, before, after, qtest_init);
}

static void lsi_map(LSI *l)
{
    QPCIBar io = qpci_iomap(&l->dev, 0), mmio = qpci_iomap(&l->dev, 1);
    QPCIBar ram = qpci_iomap(&l->dev, 2);

    qpci_device_enable(&l->dev);
    l->io = io.addr;
    l->mmio = mmio.addr;
    l->ram = ram.addr;
}

/* A scsi-hd at scsi-id 0, spelled the way both VMMs accept. */
static void lsi_start_unmapped(LSI *l)
{
    lsi_start_args(l, "-m 128 -drive if=none,id=d0,file=",
                   ",format=raw "
                   "-device lsi53c895a,id=scsi0 -device scsi-hd,drive=d0,scsi-id=0");
}

static void lsi_start(LSI *l)
{
    lsi_start_unmapped(l);
    lsi_map(l);
}

static void lsi_stop(LSI *l)
{
    qtest_quit(l->qts);
    unlink(l->img);
}

static uint8_t lsi_rd(LSI *l, uint8_t reg)
{
    return qtest_inb(l->qts, l->io + reg);
}

static void lsi_wr(LSI *l, uint8_t reg, uint8_t val)
{
    qtest_outb(l->qts, l->io + reg, val);
}

/* ---- SCRIPTS ---- */

typedef struct Script {
    uint32_t w[128];
    unsigned n;
} Script;

static void emit(Script *s, uint32_t insn, uint32_t addr)
{
    g_assert_cmpuint(s->n + 2, <=, G_N_ELEMENTS(s->w));
    s->w[s->n++] = insn;
    s->w[s->n++] = addr;
}

enum { PH_DO = 0, PH_DI = 1, PH_CMD = 2, PH_ST = 3, PH_MO = 6, PH_MI = 7 };

static uint32_t move(unsigned phase, uint32_t count)
{
    return 0x08000000 | phase << 24 | count;
}

/* Write the program at LSI_SCRIPT, start it, wait until it stops with an interrupt. */
static LSIResult lsi_run(LSI *l, const Script *s)
{
    LSIResult r = {0};

    for (unsigned i = 0; i < s->n; i++) {
        qtest_writel(l->qts, LSI_SCRIPT + 4 * i, s->w[i]);
    }
    qtest_outl(l->qts, l->io + DSP, LSI_SCRIPT);
    for (int i = 0; i < 5000; i++) {
        r.istat0 = lsi_rd(l, ISTAT0);
        if (r.istat0 & 3) {
            break;
        }
        g_usleep(1000);
    }
    r.dsps = qtest_inl(l->qts, l->io + DSPS);
    r.dstat = lsi_rd(l, DSTAT);
    r.sist0 = lsi_rd(l, SIST0);
    r.sist1 = lsi_rd(l, SIST1);
    r.status = qtest_readb(l->qts, LSI_STATUS);
    r.msgin = qtest_readb(l->qts, LSI_MSGIN);
    return r;
}

/*
 * One command to target id as SeaBIOS sends it: IDENTIFY without disconnect privilege; if
 * the target goes to MSG IN after the CDB anyway (QEMU disconnects when data is not ready),
 * take the messages, wait for the reselection and its IDENTIFY, then move the data.
 */
static LSIResult lsi_cmd(LSI *l, unsigned id, const uint8_t *cdb, unsigned cdb_len, int phase,
                         uint64_t data, uint32_t len)
{
    Script s = {0};

    qtest_writeb(l->qts, LSI_MSGOUT, 0x80);
    qtest_memwrite(l->qts, LSI_CDB, cdb, cdb_len);
    qtest_writeb(l->qts, LSI_STATUS, 0xff);
    qtest_writeb(l->qts, LSI_MSGIN, 0xff);
    emit(&s, 0x40000000 | id << 16, 0); /* SELECT id */
    emit(&s, move(PH_MO, 1), LSI_MSGOUT);
    emit(&s, move(PH_CMD, cdb_len), LSI_CDB);
    emit(&s, 0x87820000, 0x18);           /* JUMP REL if not MSG IN: skip 3 */
    emit(&s, move(PH_MI, 2), LSI_MSGTMP); /* SAVE DATA POINTER, DISCONNECT */
    emit(&s, 0x50000000, 0);              /* WAIT RESELECT */
    emit(&s, move(PH_MI, 1), LSI_MSGTMP); /* IDENTIFY */
    if (phase >= 0) {
        emit(&s, 0x838a0000, 8); /* JUMP REL if STATUS (an error): skip 1 */
        emit(&s, move(phase, len), data);
    }
    emit(&s, move(PH_ST, 1), LSI_STATUS);
    emit(&s, move(PH_MI, 1), LSI_MSGIN);
    emit(&s, 0x98080000, LSI_INT_DONE); /* INT */
    return lsi_run(l, &s);
}

static void assert_done(const LSIResult *r, uint8_t status)
{
    g_assert_cmphex(r->sist0, ==, 0);
    g_assert_cmphex(r->sist1, ==, 0);
    g_assert_cmphex(r->dstat, ==, 0x80 | 0x04); /* DFE, SIR */
    g_assert_cmphex(r->dsps, ==, LSI_INT_DONE);
    g_assert_cmphex(r->status, ==, status);
    g_assert_cmphex(r->msgin, ==, 0x00); /* COMMAND COMPLETE */
}

static void rw10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t count)
{
    memset(cdb, 0, 10);
    cdb[0] = op;
    stl_be_p(cdb + 2, lba);
    stw_be_p(cdb + 7, count);
}

/* ---- tests ---- */

static void test_pci_identity(void)
{
    LSI l;

    lsi_start_unmapped(&l);
    g_assert_cmphex(qpci_config_readw(&l.dev, PCI_VENDOR_ID), ==, 0x1000);
    g_assert_cmphex(qpci_config_readw(&l.dev, PCI_DEVICE_ID), ==, 0x0012);
    g_assert_cmphex(qpci_config_readl(&l.dev, PCI_CLASS_REVISION), ==, 0x01000000);
    g_assert_cmphex(qpci_config_readw(&l.dev, PCI_SUBSYSTEM_VENDOR_ID), ==, 0x0000);
    g_assert_cmphex(qpci_config_readw(&l.dev, PCI_SUBSYSTEM_ID), ==, 0x1000);
    g_assert_cmphex(qpci_config_readb(&l.dev, PCI_HEADER_TYPE), ==, 0x00);
    g_assert_cmphex(qpci_config_readb(&l.dev, PCI_LATENCY_TIMER), ==, 0xff);
    g_assert_cmphex(qpci_config_readb(&l.dev, PCI_INTERRUPT_PIN), ==, 0x01);
    g_assert_cmphex(qpci_config_readw(&l.dev, PCI_COMMAND), ==, 0x0000);
    g_assert_cmphex(qpci_config_readw(&l.dev, PCI_STATUS), ==, 0x0000);
    qpci_config_writel(&l.dev, PCI_BASE_ADDRESS_0, 0xffffffff);
    g_assert_cmphex(qpci_config_readl(&l.dev, PCI_BASE_ADDRESS_0), ==, 0xffffff01);
    qpci_config_writel(&l.dev, PCI_BASE_ADDRESS_1, 0xffffffff);
    g_assert_cmphex(qpci_config_readl(&l.dev, PCI_BASE_ADDRESS_1), ==, 0xfffffc00);
    qpci_config_writel(&l.dev, PCI_BASE_ADDRESS_2, 0xffffffff);
    g_assert_cmphex(qpci_config_readl(&l.dev, PCI_BASE_ADDRESS_2), ==, 0xffffe000);
    for (int bar = 3; bar < 6; bar++) {
        qpci_config_writel(&l.dev, PCI_BASE_ADDRESS_0 + 4 * bar, 0xffffffff);
        g_assert_cmphex(qpci_config_readl(&l.dev, PCI_BASE_ADDRESS_0 + 4 * bar), ==, 0);
    }
    lsi_stop(&l);
}

/* QEMU's other model: the same adapter under the 53C810's device ID. */
static void test_lsi53c810(void)
{
    static const uint8_t inquiry[6] = {0x12, 0, 0, 0, 36, 0};
    LSIResult r;
    LSI l;

    lsi_start_args(&l, "-m 128 -device lsi53c810,id=scsi0 -drive if=none,id=d0,format=raw,file=",
                   " -device scsi-hd,drive=d0");
    g_assert_cmphex(qpci_config_readw(&l.dev, PCI_VENDOR_ID), ==, 0x1000);
    g_assert_cmphex(qpci_config_readw(&l.dev, PCI_DEVICE_ID), ==, 0x0001);
    g_assert_cmphex(qpci_config_readl(&l.dev, PCI_CLASS_REVISION), ==, 0x01000000);
    lsi_map(&l);
    r = lsi_cmd(&l, 0, inquiry, sizeof(inquiry), PH_DI, LSI_DATA, 36);
    assert_done(&r, 0x00);
    lsi_stop(&l);
}

static void assert_reset_values(LSI *l)
{
    g_assert_cmphex(lsi_rd(l, SCNTL0), ==, 0xc0);
    g_assert_cmphex(lsi_rd(l, SCID), ==, 0x07);
    g_assert_cmphex(lsi_rd(l, GPREG), ==, 0x7f);
    g_assert_cmphex(lsi_rd(l, SSTAT1), ==, 0x00);
    g_assert_cmphex(lsi_rd(l, SSTAT2), ==, 0x02);
    g_assert_cmphex(lsi_rd(l, ISTAT0), ==, 0x00);
    g_assert_cmphex(lsi_rd(l, ISTAT1), ==, 0x00);
    g_assert_cmphex(lsi_rd(l, DSTAT), ==, 0x80);
    g_assert_cmphex(lsi_rd(l, CTEST0), ==, 0xff);
    g_assert_cmphex(lsi_rd(l, CTEST2), ==, 0x11);
    g_assert_cmphex(lsi_rd(l, DCMD), ==, 0x40);
    g_assert_cmphex(lsi_rd(l, DIEN), ==, 0x00);
    g_assert_cmphex(lsi_rd(l, SIEN0), ==, 0x00);
    g_assert_cmphex(lsi_rd(l, MACNTL), ==, 0x0f);
    g_assert_cmphex(lsi_rd(l, RESPID0), ==, 0x80);
    g_assert_cmphex(lsi_rd(l, STEST4), ==, 0xe0);
    g_assert_cmphex(qtest_inl(l->qts, l->io + DSA), ==, 0);
    g_assert_cmphex(qtest_inl(l->qts, l->io + DSP), ==, 0);
    g_assert_cmphex(qtest_inl(l->qts, l->io + SCRATCHA), ==, 0);
    g_assert_cmphex(qtest_inl(l->qts, l->io + SCRATCHJ), ==, 0);
}

static void test_registers(void)
{
    LSI l;

    lsi_start(&l);
    assert_reset_values(&l);
    g_assert_cmphex(lsi_rd(&l, 0x44), ==, 0xff); /* not implemented: SLPAR */
    /* Dword, word and byte access through the I/O BAR. */
    qtest_outl(l.qts, l.io + DSA, 0x12345678);
    g_assert_cmphex(qtest_inl(l.qts, l.io + DSA), ==, 0x12345678);
    g_assert_cmphex(qtest_inw(l.qts, l.io + DSA + 2), ==, 0x1234);
    g_assert_cmphex(lsi_rd(&l, DSA + 1), ==, 0x56);
    qtest_outw(l.qts, l.io + TEMP + 2, 0xbeef);
    lsi_wr(&l, TEMP, 0x01);
    g_assert_cmphex(qtest_inl(l.qts, l.io + TEMP), ==, 0xbeef0001);
    qtest_outl(l.qts, l.io + SCRATCHB, 0xa5a55a5a);
    qtest_outl(l.qts, l.io + SCRATCHJ, 0xfeedface);
    g_assert_cmphex(qtest_inl(l.qts, l.io + SCRATCHB), ==, 0xa5a55a5a);
    /* The same registers through the memory BAR. */
    g_assert_cmphex(qtest_readl(l.qts, l.mmio + DSA), ==, 0x12345678);
    g_assert_cmphex(qtest_readl(l.qts, l.mmio + SCRATCHJ), ==, 0xfeedface);
    qtest_writel(l.qts, l.mmio + SCRATCHA, 0x0badf00d);
    g_assert_cmphex(qtest_inl(l.qts, l.io + SCRATCHA), ==, 0x0badf00d);
    g_assert_cmphex(qtest_readb(l.qts, l.mmio + SCID), ==, 0x07);
    /* DBC is 24 bits wide under DCMD. */
    qtest_outl(l.qts, l.io + DBC, 0xffffffff);
    g_assert_cmphex(qtest_inl(l.qts, l.io + DBC), ==, 0x40ffffff);
    /* SCRIPTS RAM */
    qtest_writel(l.qts, l.ram, 0xcafebabe);
    qtest_writel(l.qts, l.ram + 0x1ffc, 0x01020304);
    g_assert_cmphex(qtest_readl(l.qts, l.ram), ==, 0xcafebabe);
    g_assert_cmphex(qtest_readb(l.qts, l.ram + 0x1ffd), ==, 0x03);
    g_assert_cmphex(qtest_readw(l.qts, l.ram + 2), ==, 0xcafe);
    lsi_stop(&l);
}

static void test_soft_reset(void)
{
    LSI l;

    lsi_start(&l);
    qtest_outl(l.qts, l.io + DSA, 0x12345678);
    qtest_outl(l.qts, l.io + SCRATCHA, 0x87654321);
    lsi_wr(&l, DIEN, 0x7d);
    lsi_wr(&l, SIEN0, 0xff);
    lsi_wr(&l, SCID, 0x47);
    lsi_wr(&l, ISTAT0, 0x40);
    lsi_wr(&l, ISTAT0, 0x00);
    assert_reset_values(&l);
    lsi_stop(&l);
}

static void test_inquiry(void)
{
    static const uint8_t inquiry[6] = {0x12, 0, 0, 0, 36, 0};
    uint8_t buf[36];
    LSIResult r;
    LSI l;

    lsi_start(&l);
    qtest_memset(l.qts, LSI_DATA, 0xee, sizeof(buf));
    r = lsi_cmd(&l, 0, inquiry, sizeof(inquiry), PH_DI, LSI_DATA, sizeof(buf));
    assert_done(&r, 0x00);
    g_assert_cmphex(r.istat0 & 0x01, ==, 0x01); /* DIP */
    qtest_memread(l.qts, LSI_DATA, buf, sizeof(buf));
    g_assert_cmphex(buf[0], ==, 0x00); /* direct access block device */
    g_assert_cmpmem(buf + 8, 4, "QEMU", 4);
    /* DSTAT was read: the interrupt is gone, SCRIPTS stopped. */
    g_assert_cmphex(lsi_rd(&l, ISTAT0), ==, 0x00);
    g_assert_cmphex(lsi_rd(&l, ISTAT1) & 0x02, ==, 0x00);
    /* Bus free after COMMAND COMPLETE. */
    g_assert_cmphex(lsi_rd(&l, SSTAT2), ==, 0x02);
    lsi_stop(&l);
}

/* A direct MOVE; in the 64-bit mode a third dword holds the high address bits (0). */
static void emit_move64(Script *s, bool dac, unsigned phase, uint32_t count, uint32_t addr)
{
    emit(s, move(phase, count), addr);
    if (dac) {
        s->w[s->n++] = 0;
    }
}

/* INQUIRY with every block move in the 64-bit mode (CCNTL1.EN64DBMV), then with its data
 * moved by a table indirect MOVE in the 40-bit mode (high bits in the table entry). */
static void test_wide_addressing(void)
{
    static const uint8_t inquiry[6] = {0x12, 0, 0, 0, 36, 0};
    LSIResult r;
    LSI l;

    lsi_start(&l);
    for (int dac = 1; dac >= 0; dac--) {
        Script s = {0};

        qtest_writeb(l.qts, LSI_MSGOUT, 0x80);
        qtest_memwrite(l.qts, LSI_CDB, inquiry, sizeof(inquiry));
        qtest_memset(l.qts, LSI_DATA, 0xee, 64);
        qtest_writel(l.qts, LSI_TABLE + 8, 36);
        qtest_writel(l.qts, LSI_TABLE + 12, LSI_DATA);
        qtest_outl(l.qts, l.io + DSA, LSI_TABLE);
        lsi_wr(&l, 0x57, dac ? 0x01 : 0x06); /* CCNTL1 */
        emit(&s, 0x40000000, 0);
        emit_move64(&s, dac, PH_MO, 1, LSI_MSGOUT);
        emit_move64(&s, dac, PH_CMD, 6, LSI_CDB);
        if (dac) {
            emit_move64(&s, dac, PH_DI, 36, LSI_DATA);
        } else {
            emit(&s, 0x19000000, 8); /* MOVE table indirect DATA IN, DSA + 8 */
        }
        emit_move64(&s, dac, PH_ST, 1, LSI_STATUS);
        emit_move64(&s, dac, PH_MI, 1, LSI_MSGIN);
        emit(&s, 0x98080000, LSI_INT_DONE);
        r = lsi_run(&l, &s);
        assert_done(&r, 0x00);
        g_assert_cmphex(qtest_readl(l.qts, LSI_DATA + 8), ==, 0x554d4551); /* "QEMU" */
        g_assert_cmphex(qtest_readb(l.qts, LSI_DATA + 36), ==, 0xee);
    }
    lsi_stop(&l);
}

/*
 * A data move longer than the data: the target goes to STATUS with bytes left, a phase
 * mismatch. SIST0.MA stops SCRIPTS; with CCNTL0.ENPMJ they jump to PMJAD1 instead.
 */
static void test_phase_mismatch(void)
{
    static const uint8_t inquiry[6] = {0x12, 0, 0, 0, 36, 0};
    LSIResult r;
    LSI l;

    lsi_start(&l);
    for (int jump = 0; jump < 2; jump++) {
        Script s = {0};

        qtest_writeb(l.qts, LSI_MSGOUT, 0x80);
        qtest_memwrite(l.qts, LSI_CDB, inquiry, sizeof(inquiry));
        lsi_wr(&l, 0x56, jump ? 0x80 : 0x00);               /* CCNTL0.ENPMJ */
        qtest_outl(l.qts, l.io + 0xc0, LSI_SCRIPT + 0x100); /* PMJAD1 */
        emit(&s, 0x40000000, 0);
        emit(&s, move(PH_MO, 1), LSI_MSGOUT);
        emit(&s, move(PH_CMD, 6), LSI_CDB);
        emit(&s, move(PH_DI, 64), LSI_DATA);
        emit(&s, 0x98080000, 0xbad);
        s.n = 0x100 / 4;
        emit(&s, move(PH_ST, 1), LSI_STATUS);
        emit(&s, move(PH_MI, 1), LSI_MSGIN);
        emit(&s, 0x98080000, LSI_INT_DONE);
        r = lsi_run(&l, &s);
        if (jump) {
            assert_done(&r, 0x00);
        } else {
            g_assert_cmphex(r.sist0, ==, 0x80); /* MA */
            g_assert_cmphex(r.dstat, ==, 0x80);
            g_assert_cmphex(lsi_rd(&l, SSTAT1) & 7, ==, PH_ST);
            g_assert_cmphex(qtest_inl(l.qts, l.io + DBC) & 0xffffff, ==, 64 - 36);
            /* The driver takes the status itself. */
            r = lsi_run(&l, &(Script){.w = {move(PH_ST, 1), LSI_STATUS, move(PH_MI, 1), LSI_MSGIN,
                                            0x98080000, LSI_INT_DONE},
                                      .n = 6});
            assert_done(&r, 0x00);
        }
    }
    lsi_stop(&l);
}

static void test_read_capacity(void)
{
    static const uint8_t cdb[10] = {0x25};
    uint8_t buf[8];
    LSIResult r;
    LSI l;

    lsi_start(&l);
    r = lsi_cmd(&l, 0, cdb, sizeof(cdb), PH_DI, LSI_DATA, sizeof(buf));
    /* The disk is new: the first command other than INQUIRY reports the power-on reset. */
    if (r.status == 0x02) {
        r = lsi_cmd(&l, 0, cdb, sizeof(cdb), PH_DI, LSI_DATA, sizeof(buf));
    }
    assert_done(&r, 0x00);
    qtest_memread(l.qts, LSI_DATA, buf, sizeof(buf));
    g_assert_cmphex(buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3], ==, LSI_DISK_SECTORS - 1);
    g_assert_cmphex(buf[4] << 24 | buf[5] << 16 | buf[6] << 8 | buf[7], ==, 512);
    lsi_stop(&l);
}

/* MODE SENSE(6) of a page of len bytes (after its 2-byte header), with DBD: the page's
 * bytes into d. */
static void lsi_mode_page(LSI *l, uint8_t page, uint8_t *d, size_t len)
{
    const uint8_t total = 4 + 2 + len; /* mode parameter header, page header, page */
    const uint8_t cdb[6] = {0x1a, 0x08, page, 0, total, 0};
    uint8_t buf[64];
    LSIResult r;

    r = lsi_cmd(l, 0, cdb, sizeof(cdb), PH_DI, LSI_DATA, total);
    if (r.status == 0x02) { /* the power-on unit attention */
        r = lsi_cmd(l, 0, cdb, sizeof(cdb), PH_DI, LSI_DATA, total);
    }
    assert_done(&r, 0x00);
    qtest_memread(l->qts, LSI_DATA, buf, total);
    g_assert_cmphex(buf[3], ==, 0); /* no block descriptor */
    g_assert_cmphex(buf[4] & 0x3f, ==, page);
    g_assert_cmphex(buf[5], ==, len);
    memcpy(d, buf + 6, len);
}

/*
 * Mode pages 04h (rigid disk) and 05h (flexible disk) give the geometry as QEMU settles it
 * at realize: the cyls/heads/secs properties, else the MBR's logical geometry with at most
 * 16 heads, else 16 heads, 63 sectors and the cylinders of the size (at least 2).
 */
static void test_mode_sense_geometry(void)
{
    static const struct {
        unsigned mbr_heads, mbr_secs;
        const char *props;
        unsigned cyls, heads, secs;
    } cases[] = {
        {0, 0, "", 2, 16, 63},
        {8, 32, "", LSI_DISK_SECTORS / (8 * 32), 8, 32},
        {32, 63, "", 2, 16, 63}, /* made under a translating BIOS: the size's */
        {8, 32, ",cyls=1000,heads=10,secs=20", 1000, 10, 20},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *after = g_strdup_printf(
            ",format=raw -device lsi53c895a,id=scsi0 -device scsi-hd,drive=d0,scsi-id=0%s",
            cases[i].props);
        uint8_t rigid[0x16], flex[0x1e];
        LSI l;

        lsi_mbr.heads = cases[i].mbr_heads;
        lsi_mbr.secs = cases[i].mbr_secs;
        lsi_start_args(&l, "-m 128 -drive if=none,id=d0,file=", after);
        lsi_mbr.heads = 0;
        lsi_map(&l);
        lsi_mode_page(&l, 0x04, rigid, sizeof(rigid));
        g_assert_cmpuint(rigid[0] << 16 | rigid[1] << 8 | rigid[2], ==, cases[i].cyls);
        g_assert_cmpuint(rigid[3], ==, cases[i].heads);
        lsi_mode_page(&l, 0x05, flex, sizeof(flex));
        g_assert_cmpuint(flex[2], ==, cases[i].heads);
        g_assert_cmpuint(flex[3], ==, cases[i].secs);
        g_assert_cmpuint(flex[6] << 8 | flex[7], ==, cases[i].cyls);
        lsi_stop(&l);
    }
}

static void test_write_read(void)
{
    static const uint8_t tur[6] = {0x00};
    uint8_t cdb[10], out[2048], in[2048], want[512];
    LSIResult r;
    LSI l;

    lsi_start(&l);
    /* Clear the power-on unit attention if the disk reports one. */
    r = lsi_cmd(&l, 0, tur, sizeof(tur), -1, 0, 0);
    g_assert_cmphex(r.dstat, ==, 0x84);
    /* What the image holds: sector 5 as lsi_fill_image wrote it. */
    rw10(cdb, 0x28, 5, 1);
    r = lsi_cmd(&l, 0, cdb, sizeof(cdb), PH_DI, LSI_DATA, 512);
    assert_done(&r, 0x00);
    for (unsigned i = 0; i < 512; i++) {
        want[i] = (uint8_t)(5 * 7 + i);
    }
    qtest_memread(l.qts, LSI_DATA, in, 512);
    g_assert_cmpmem(in, 512, want, 512);
    /* Four sectors out and back in. */
    for (unsigned i = 0; i < sizeof(out); i++) {
        out[i] = (uint8_t)(i * 13 + 1);
    }
    qtest_memwrite(l.qts, LSI_DATA, out, sizeof(out));
    rw10(cdb, 0x2a, 100, 4);
    r = lsi_cmd(&l, 0, cdb, sizeof(cdb), PH_DO, LSI_DATA, sizeof(out));
    assert_done(&r, 0x00);
    qtest_memset(l.qts, LSI_DATA2, 0, sizeof(in));
    rw10(cdb, 0x28, 100, 4);
    r = lsi_cmd(&l, 0, cdb, sizeof(cdb), PH_DI, LSI_DATA2, sizeof(in));
    assert_done(&r, 0x00);
    qtest_memread(l.qts, LSI_DATA2, in, sizeof(in));
    g_assert_cmpmem(in, sizeof(in), out, sizeof(out));
    lsi_stop(&l);
}

/*
 * As Linux's sym53c8xx: IDENTIFY with disconnect privilege and a SIMPLE QUEUE TAG. The read
 * is not ready at once, so the target disconnects (SAVE DATA POINTER, DISCONNECT) and comes
 * back with IDENTIFY and the tag; the data follows.
 */
static void test_disconnect_reselect(void)
{
    static const uint8_t tur[6] = {0x00}, msgout[3] = {0xc0, 0x20, 0x5a};
    uint8_t cdb[10], msgs[5], want[4096], in[4096];
    Script s = {0};
    LSIResult r;
    LSI l;

    lsi_start(&l);
    lsi_cmd(&l, 0, tur, sizeof(tur), -1, 0, 0);
    rw10(cdb, 0x28, 8, 8);
    qtest_memwrite(l.qts, LSI_MSGOUT, msgout, sizeof(msgout));
    qtest_memwrite(l.qts, LSI_CDB, cdb, sizeof(cdb));
    qtest_memset(l.qts, LSI_MSGTMP, 0xff, sizeof(msgs));
    emit(&s, 0x41000000, 0); /* SELECT ATN 0 */
    emit(&s, move(PH_MO, 3), LSI_MSGOUT);
    emit(&s, move(PH_CMD, 10), LSI_CDB);
    emit(&s, move(PH_MI, 2), LSI_MSGTMP);     /* SAVE DATA POINTER, DISCONNECT */
    emit(&s, 0x48000000, 0);                  /* WAIT DISCONNECT */
    emit(&s, 0x50000000, 0);                  /* WAIT RESELECT */
    emit(&s, move(PH_MI, 3), LSI_MSGTMP + 2); /* IDENTIFY, SIMPLE QUEUE TAG */
    emit(&s, move(PH_DI, sizeof(in)), LSI_DATA);
    emit(&s, move(PH_ST, 1), LSI_STATUS);
    emit(&s, move(PH_MI, 1), LSI_MSGIN);
    emit(&s, 0x98080000, LSI_INT_DONE);
    r = lsi_run(&l, &s);
    assert_done(&r, 0x00);
    qtest_memread(l.qts, LSI_MSGTMP, msgs, sizeof(msgs));
    g_assert_cmphex(msgs[0], ==, 0x02);
    g_assert_cmphex(msgs[1], ==, 0x04);
    g_assert_cmphex(msgs[2], ==, 0x80);
    g_assert_cmphex(msgs[3], ==, 0x20);
    g_assert_cmphex(msgs[4], ==, 0x5a);
    for (unsigned i = 0; i < sizeof(want); i++) {
        want[i] = (uint8_t)((8 + i / 512) * 7 + i % 512);
    }
    qtest_memread(l.qts, LSI_DATA, in, sizeof(in));
    g_assert_cmpmem(in, sizeof(in), want, sizeof(want));
    lsi_stop(&l);
}

/*
 * Reselection as an interrupt, which Linux's driver asks for (SCID.RRE, SIEN0.RSL): the
 * SCRIPTS stop after the disconnect; once the data is ready and no interrupt is pending the
 * target reselects with SIST0.RSL, SSID and SFBR naming it, in MSG IN; a second program
 * takes the IDENTIFY, the data, status and COMMAND COMPLETE.
 */
static void test_reselect_interrupt(void)
{
    static const uint8_t tur[6] = {0x00};
    uint8_t cdb[10], in[512], want[512];
    Script s = {0}, s2 = {0};
    LSIResult r;
    LSI l;

    lsi_start(&l);
    lsi_cmd(&l, 0, tur, sizeof(tur), -1, 0, 0);
    lsi_wr(&l, SCID, 0x67);
    lsi_wr(&l, SIEN0, 0x10);
    rw10(cdb, 0x28, 3, 1);
    qtest_writeb(l.qts, LSI_MSGOUT, 0xc0);
    qtest_memwrite(l.qts, LSI_CDB, cdb, sizeof(cdb));
    emit(&s, 0x40000000, 0);
    emit(&s, move(PH_MO, 1), LSI_MSGOUT);
    emit(&s, move(PH_CMD, 10), LSI_CDB);
    emit(&s, move(PH_MI, 2), LSI_MSGTMP);
    emit(&s, 0x48000000, 0); /* WAIT DISCONNECT */
    emit(&s, 0x98080000, 1); /* INT 1: idle */
    r = lsi_run(&l, &s);
    g_assert_cmphex(r.dstat, ==, 0x84);
    g_assert_cmphex(r.dsps, ==, 1);
    if (!(r.sist0 & 0x10)) { /* the data was not ready yet when DSTAT was read */
        for (int i = 0; i < 5000 && !(lsi_rd(&l, ISTAT0) & 0x02); i++) {
            g_usleep(1000);
        }
        r.sist0 = lsi_rd(&l, SIST0);
    }
    g_assert_cmphex(r.sist0, ==, 0x10);          /* RSL */
    g_assert_cmphex(lsi_rd(&l, 0x0a), ==, 0x80); /* SSID: valid, id 0 */
    g_assert_cmphex(lsi_rd(&l, SSTAT1) & 7, ==, PH_MI);
    emit(&s2, move(PH_MI, 1), LSI_MSGTMP);
    emit(&s2, move(PH_DI, sizeof(in)), LSI_DATA);
    emit(&s2, move(PH_ST, 1), LSI_STATUS);
    emit(&s2, move(PH_MI, 1), LSI_MSGIN);
    emit(&s2, 0x98080000, LSI_INT_DONE);
    r = lsi_run(&l, &s2);
    assert_done(&r, 0x00);
    g_assert_cmphex(qtest_readb(l.qts, LSI_MSGTMP), ==, 0x80);
    for (unsigned i = 0; i < sizeof(want); i++) {
        want[i] = (uint8_t)(3 * 7 + i);
    }
    qtest_memread(l.qts, LSI_DATA, in, sizeof(in));
    g_assert_cmpmem(in, sizeof(in), want, sizeof(want));
    lsi_stop(&l);
}

/* Send READ(10) of the whole disk to target 0 and stop the SCRIPTS with it running. */
static void lsi_read_in_flight(LSI *l)
{
    uint8_t cdb[10];
    Script s = {0};
    LSIResult r;

    rw10(cdb, 0x28, 0, LSI_DISK_SECTORS);
    qtest_writeb(l->qts, LSI_MSGOUT, 0x80);
    qtest_memwrite(l->qts, LSI_CDB, cdb, sizeof(cdb));
    emit(&s, 0x40000000, 0);
    emit(&s, move(PH_MO, 1), LSI_MSGOUT);
    emit(&s, move(PH_CMD, 10), LSI_CDB);
    emit(&s, 0x98080000, 0x99);
    r = lsi_run(l, &s);
    g_assert_cmphex(r.dsps, ==, 0x99);
}

/* A software reset with a 1 MiB read in flight cancels it; the adapter works afterwards. */
static void test_reset_during_io(void)
{
    static const uint8_t inquiry[6] = {0x12, 0, 0, 0, 36, 0};
    LSIResult r;
    LSI l;

    lsi_start(&l);
    lsi_read_in_flight(&l);
    lsi_wr(&l, ISTAT0, 0x40);
    lsi_wr(&l, ISTAT0, 0x00);
    assert_reset_values(&l);
    r = lsi_cmd(&l, 0, inquiry, sizeof(inquiry), PH_DI, LSI_DATA, 36);
    assert_done(&r, 0x00);
    lsi_stop(&l);
}

static void test_selection_timeout(void)
{
    static const uint8_t tur[6] = {0x00};
    LSIResult r;
    LSI l;

    lsi_start(&l);
    r = lsi_cmd(&l, 3, tur, sizeof(tur), -1, 0, 0);
    g_assert_cmphex(r.istat0 & 0x03, ==, 0x02); /* SIP */
    g_assert_cmphex(r.sist1, ==, 0x04);         /* STO */
    g_assert_cmphex(r.sist0, ==, 0x00);
    g_assert_cmphex(r.dstat, ==, 0x80);
    g_assert_cmphex(lsi_rd(&l, SSTAT2), ==, 0x02);
    /* The adapter still works: target 0 answers. */
    r = lsi_cmd(&l, 0, tur, sizeof(tur), -1, 0, 0);
    g_assert_cmphex(r.dstat, ==, 0x84);
    lsi_stop(&l);
}

/* Two adapters without id=: their buses are scsi.0 and scsi.1, as QEMU names them. */
static void test_second_adapter(void)
{
    static const uint8_t tur[6] = {0x00};
    LSIResult r;
    LSI l;

    lsi_start_args(&l,
                   "-m 128 -device lsi53c895a -device lsi53c895a "
                   "-drive if=none,id=d0,format=raw,file=",
                   " -device scsi-hd,drive=d0,bus=scsi.1");
    lsi_map(&l);
    r = lsi_cmd(&l, 0, tur, sizeof(tur), -1, 0, 0);
    g_assert_cmphex(r.sist1, ==, 0x04); /* nothing on the first adapter's bus */
    g_assert_true(qpci_device_find(&l.bus, PCI_DEVFN(3, 0), &l.dev));
    lsi_map(&l);
    r = lsi_cmd(&l, 0, tur, sizeof(tur), -1, 0, 0);
    g_assert_cmphex(r.dstat, ==, 0x84);
    g_assert_cmphex(r.sist1, ==, 0x00);
    lsi_stop(&l);
}

static void test_illegal_instruction(void)
{
    Script s = {0};
    LSIResult r;
    LSI l;

    lsi_start(&l);
    emit(&s, 0xa0080000, 0); /* transfer control, opcode 4 */
    r = lsi_run(&l, &s);
    g_assert_cmphex(r.istat0 & 0x03, ==, 0x01);
    g_assert_cmphex(r.dstat, ==, 0x81); /* DFE, IID */
    g_assert_cmphex(r.sist0 | r.sist1, ==, 0);
    lsi_stop(&l);
}

/* Register moves, CALL/RETURN, carry and data compares: SCRATCHA counts to three. */
static void test_register_ops(void)
{
    Script s = {0};
    LSIResult r;
    LSI l;

    lsi_start(&l);
    emit(&s, 0x78340000, 0); /* MOVE 0 TO SCRATCHA0 */
    /* loop (script + 8): */
    emit(&s, 0x88080000, LSI_SCRIPT + 6 * 4 * 2); /* CALL incr */
    emit(&s, 0x72340000, 0);                      /* MOVE SCRATCHA0 TO SFBR */
    emit(&s, 0x80040003, LSI_SCRIPT + 8);         /* JUMP loop IF NOT 3 */
    emit(&s, 0x98080000, 0x1234);                 /* INT 0x1234 */
    emit(&s, 0x98080000, 0xdead);                 /* not reached */
    /* incr (script + 48): */
    emit(&s, 0x7e340100, 0); /* MOVE SCRATCHA0 + 1 TO SCRATCHA0 */
    emit(&s, 0x90080000, 0); /* RETURN */
    r = lsi_run(&l, &s);
    g_assert_cmphex(r.dstat, ==, 0x84);
    g_assert_cmphex(r.dsps, ==, 0x1234);
    g_assert_cmphex(qtest_inl(l.qts, l.io + SCRATCHA), ==, 3);
    lsi_stop(&l);
}

/* MEMORY MOVE and DSA-relative LOAD/STORE. */
static void test_memory_ops(void)
{
    Script s = {0};
    LSIResult r;
    LSI l;

    lsi_start(&l);
    qtest_writel(l.qts, LSI_TABLE, 0x11223344);
    qtest_writel(l.qts, LSI_DATA, 0x55667788);
    qtest_outl(l.qts, l.io + DSA, LSI_TABLE - 0x10);
    emit(&s, 0xc0000004, LSI_DATA);     /* MEMORY MOVE 4, LSI_DATA, */
    s.w[s.n++] = LSI_DATA2;             /*   LSI_DATA2 */
    emit(&s, 0xf15c0004, 0x10);         /* LOAD SCRATCHB, 4, DSA REL 0x10 */
    emit(&s, 0xe05c0004, LSI_DATA + 8); /* STORE SCRATCHB, 4, LSI_DATA + 8 */
    emit(&s, 0x98080000, 0x77);
    r = lsi_run(&l, &s);
    g_assert_cmphex(r.dstat, ==, 0x84);
    g_assert_cmphex(qtest_readl(l.qts, LSI_DATA2), ==, 0x55667788);
    g_assert_cmphex(qtest_inl(l.qts, l.io + SCRATCHB), ==, 0x11223344);
    g_assert_cmphex(qtest_readl(l.qts, LSI_DATA + 8), ==, 0x11223344);
    lsi_stop(&l);
}

/* SCRIPTS fetched from SCRIPTS RAM (BAR2), and a memory move from the registers (BAR1). */
static void test_scripts_ram(void)
{
    Script s = {0};
    LSI l;

    lsi_start(&l);
    qtest_outl(l.qts, l.io + SCRATCHA, 0x600dcafe);
    emit(&s, 0xc0000004, l.mmio + SCRATCHA); /* MEMORY MOVE 4, SCRATCHA, LSI_DATA */
    s.w[s.n++] = LSI_DATA;
    emit(&s, 0x80080000, l.ram + 0x100); /* JUMP to the INT */
    for (unsigned i = 0; i < s.n; i++) {
        qtest_writel(l.qts, l.ram + 4 * i, s.w[i]);
    }
    qtest_writel(l.qts, l.ram + 0x100, 0x98080000);
    qtest_writel(l.qts, l.ram + 0x104, 0x5151);
    qtest_outl(l.qts, l.io + DSP, l.ram);
    g_assert_cmphex(lsi_rd(&l, ISTAT0), ==, 0x01);
    g_assert_cmphex(lsi_rd(&l, DSTAT), ==, 0x84);
    g_assert_cmphex(qtest_inl(l.qts, l.io + DSPS), ==, 0x5151);
    g_assert_cmphex(qtest_inl(l.qts, l.io + DSP), ==, l.ram + 0x108);
    g_assert_cmphex(qtest_readl(l.qts, LSI_DATA), ==, 0x600dcafe);
    lsi_stop(&l);
}

/*
 * A program polling memory: the run stops after its budget and goes on later (QEMU 7.2:
 * from a timer of guest time), the VMM answers meanwhile, and the program sees the CPU's
 * write once it resumes (minivmm only: QEMU's stopped machine has no guest time).
 */
static void test_endless_loop(void)
{
    Script s = {0};
    LSI l;

    lsi_start(&l);
    qtest_writel(l.qts, LSI_TABLE, 0);
    emit(&s, 0xe1340001, LSI_TABLE);  /* LOAD SCRATCHA0, 1, LSI_TABLE */
    emit(&s, 0x72340000, 0);          /* MOVE SCRATCHA0 TO SFBR */
    emit(&s, 0x800c0000, LSI_SCRIPT); /* JUMP LSI_SCRIPT IF 0 */
    emit(&s, 0x98080000, 0x4321);     /* INT 0x4321 */
    for (unsigned i = 0; i < s.n; i++) {
        qtest_writel(l.qts, LSI_SCRIPT + 4 * i, s.w[i]);
    }
    qtest_outl(l.qts, l.io + DSP, LSI_SCRIPT);
    g_usleep(20000);
    g_assert_cmphex(lsi_rd(&l, ISTAT0), ==, 0x00);
    g_assert_cmphex(lsi_rd(&l, ISTAT1) & 0x02, ==, 0x02); /* SRUN */
    g_assert_cmphex(lsi_rd(&l, SCID), ==, 0x07);
    if (qtest_has_clock(l.qts)) {
        /* A second of looping: the pause has grown to 128 ms. SIGP brings it back. */
        qtest_clock_step(l.qts, 1000000000);
        g_assert_cmphex(lsi_rd(&l, ISTAT0), ==, 0x00);
        qtest_writel(l.qts, LSI_TABLE, 1);
        lsi_wr(&l, ISTAT0, 0x20);
        qtest_clock_step(l.qts, 1000000);
        g_assert_cmphex(lsi_rd(&l, ISTAT0) & 0x03, ==, 0x01);
        g_assert_cmphex(lsi_rd(&l, DSTAT), ==, 0x84);
        g_assert_cmphex(qtest_inl(l.qts, l.io + DSPS), ==, 0x4321);
    }
    /* A software reset stops it. */
    lsi_wr(&l, ISTAT0, 0x40);
    lsi_wr(&l, ISTAT0, 0x00);
    g_assert_cmphex(lsi_rd(&l, ISTAT1), ==, 0x00);
    lsi_stop(&l);
}

/* DIEN gates INTA: PIRQB for slot 2, steered to IRQ 11. */
static void test_intx(void)
{
    Script s = {0};
    QPCIDevice piix3;
    LSI l;

    lsi_start(&l);
    g_assert_true(qpci_device_find(&l.bus, PCI_DEVFN(1, 0), &piix3));
    qpci_config_writeb(&piix3, 0x61, 11);
    qtest_irq_intercept_in(l.qts, "ioapic");
    lsi_wr(&l, DIEN, 0x04); /* SIR */
    emit(&s, 0x98080000, 1);
    qtest_writel(l.qts, LSI_SCRIPT, s.w[0]);
    qtest_writel(l.qts, LSI_SCRIPT + 4, s.w[1]);
    g_assert_false(qtest_get_irq(l.qts, 11));
    qtest_outl(l.qts, l.io + DSP, LSI_SCRIPT);
    g_assert_true(qtest_get_irq(l.qts, 11));
    g_assert_cmphex(lsi_rd(&l, DSTAT), ==, 0x84);
    g_assert_false(qtest_get_irq(l.qts, 11));
    /* Masked: the status is there, the line stays low. */
    lsi_wr(&l, DIEN, 0x00);
    qtest_outl(l.qts, l.io + DSP, LSI_SCRIPT);
    g_assert_cmphex(lsi_rd(&l, ISTAT0), ==, 0x01);
    g_assert_false(qtest_get_irq(l.qts, 11));
    lsi_stop(&l);
}

/* minivmm only: SCRIPTS outside RAM is a bus fault (QEMU reads zeros there). */
static void test_bus_fault(void)
{
    static const uint8_t cdb[10] = {0x25}, tur[6] = {0x00};
    LSIResult r;
    LSI l;

    if (qtest_is_qemu()) {
        g_test_skip("QEMU reads unassigned memory as zeros");
        return;
    }
    lsi_start(&l);
    qtest_outl(l.qts, l.io + DSP, 0xd0000000);
    g_assert_cmphex(lsi_rd(&l, ISTAT0) & 0x01, ==, 0x01);
    g_assert_cmphex(lsi_rd(&l, DSTAT), ==, 0xa0); /* DFE, BF */
    /* A data move into nowhere faults too, and the adapter recovers after a reset. */
    lsi_cmd(&l, 0, tur, sizeof(tur), -1, 0, 0);
    r = lsi_cmd(&l, 0, cdb, sizeof(cdb), PH_DI, 0xfff00000, 8);
    g_assert_cmphex(r.dstat & 0x20, ==, 0x20);
    lsi_wr(&l, ISTAT0, 0x40);
    lsi_wr(&l, ISTAT0, 0x00);
    r = lsi_cmd(&l, 0, cdb, sizeof(cdb), PH_DI, LSI_DATA, 8);
    if (r.status == 0x02) {
        r = lsi_cmd(&l, 0, cdb, sizeof(cdb), PH_DI, LSI_DATA, 8);
    }
    assert_done(&r, 0x00);
    lsi_stop(&l);
}

/* READ CAPACITY(10) of scsi-id id: the last LBA (a unit attention is answered first). */
static uint32_t lsi_last_lba(LSI *l, unsigned id)
{
    static const uint8_t cdb[10] = {0x25};
    uint8_t buf[8];
    LSIResult r = lsi_cmd(l, id, cdb, sizeof(cdb), PH_DI, LSI_DATA, sizeof(buf));

    if (r.status == 0x02) {
        r = lsi_cmd(l, id, cdb, sizeof(cdb), PH_DI, LSI_DATA, sizeof(buf));
    }
    assert_done(&r, 0x00);
    qtest_memread(l->qts, LSI_DATA, buf, sizeof(buf));
    return ldl_be_p(buf);
}

/* minivmm only (QEMU 7.2's pc has no if=scsi): -drive if=scsi makes the adapter. */
static void test_drive_if_scsi(void)
{
    LSI l;

    if (qtest_is_qemu()) {
        g_test_skip("QEMU 7.2's pc machine does not support if=scsi");
        return;
    }
    lsi_start_args(&l, "-m 128 -drive if=scsi,file=", ",format=raw");
    g_assert_cmphex(qpci_config_readw(&l.dev, PCI_DEVICE_ID), ==, 0x0012);
    lsi_map(&l);
    g_assert_cmpuint(lsi_last_lba(&l, 0), ==, LSI_DISK_SECTORS - 1);
    lsi_stop(&l);
}

/* HMP drive_add of if=scsi puts a disk on the running adapter (2.2's pci_drive_hot_add). */
static void test_drive_add(void)
{
    static const uint8_t tur[6] = {0x00};
    char img2[] = "/tmp/test-lsi-add-XXXXXX";
    g_autofree char *cmd = NULL;
    JsonNode *reply;
    LSIResult r;
    LSI l;
    int fd;

    if (qtest_is_qemu()) {
        g_test_skip("QEMU 7.2 has no drive_add for if=scsi");
        return;
    }
    fd = mkstemp(img2);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, 1 << 20), ==, 0);
    close(fd);
    lsi_start_with(&l, "-m 128 -drive if=scsi,file=", ",format=raw", qtest_init_unix);
    lsi_map(&l);
    r = lsi_cmd(&l, 3, tur, sizeof(tur), -1, 0, 0);
    g_assert_cmphex(r.sist1, ==, 0x04); /* STO: nobody at scsi-id 3 yet */
    cmd = g_strdup_printf("{\"execute\": \"human-monitor-command\", \"arguments\": "
                          "{\"command-line\": \"drive_add 0:2 if=scsi,file=%s,format=raw,"
                          "unit=3\"}}",
                          img2);
    reply = qtest_qmp(l.qts, "%s", cmd);
    g_assert_cmpstr(json_object_get_string_member(json_node_get_object(reply), "return"), ==,
                    "OK bus 0, unit 3\r\n");
    json_node_unref(reply);
    g_assert_cmpuint(lsi_last_lba(&l, 3), ==, (1 << 20) / 512 - 1);
    g_assert_cmpuint(lsi_last_lba(&l, 0), ==, LSI_DISK_SECTORS - 1);
    lsi_stop(&l);
    unlink(img2);
}

static void lsi_qmp_ok(LSI *l, const char *cmd)
{
    JsonNode *reply = qtest_qmp(l->qts, "%s", cmd);

    g_assert_true(json_object_has_member(json_node_get_object(reply), "return"));
    json_node_unref(reply);
}

static const char *lsi_qmp_error(LSI *l, const char *cmd, char *desc, size_t size)
{
    JsonNode *reply = qtest_qmp(l->qts, "%s", cmd);
    JsonObject *err = json_object_get_object_member(json_node_get_object(reply), "error");

    g_assert_nonnull(err);
    g_strlcpy(desc, json_object_get_string_member(err, "desc"), size);
    json_node_unref(reply);
    return desc;
}

/* The DEVICE_DELETED the next one is: its "device". */
static void lsi_expect_deleted(LSI *l, const char *id)
{
    JsonNode *ev = qtest_qmp_eventwait(l->qts, "DEVICE_DELETED");
    JsonObject *data = json_object_get_object_member(json_node_get_object(ev), "data");
    g_autofree char *path = g_strdup_printf("/machine/peripheral/%s", id);

    g_assert_cmpstr(json_object_get_string_member(data, "device"), ==, id);
    g_assert_cmpstr(json_object_get_string_member(data, "path"), ==, path);
    json_node_unref(ev);
}

/*
 * device_del of the adapter (QEMU 2.2 allows it, as for any PCI device on the pc machine):
 * nothing goes until the guest ejects the slot through the PIIX4's ACPI registers; then the
 * disk goes first, with its -drive drive and a read in flight, then the adapter and its bus.
 * A new adapter in the same slot works.
 */
static void test_hot_unplug(void)
{
    static const uint8_t tur[6] = {0x00};
    char desc[256];
    JsonNode *reply;
    LSIResult r;
    LSI l;

    lsi_start_with(&l, "-m 128 -drive if=none,id=d0,file=",
                   ",format=raw -device lsi53c895a,id=scsi0,addr=2 "
                   "-device scsi-hd,drive=d0,scsi-id=0,id=sd0",
                   qtest_init_unix);
    lsi_map(&l);
    g_assert_cmphex(qtest_inl(l.qts, 0xae0c) & 1u << 2, !=, 0); /* PCI_RMV: removable */
    lsi_read_in_flight(&l);
    lsi_qmp_ok(&l, "{\"execute\": \"device_del\", \"arguments\": {\"id\": \"scsi0\"}}");
    g_assert_cmphex(qtest_inl(l.qts, 0xae04), ==, 1u << 2); /* PCI_DOWN */
    g_assert_cmphex(qpci_config_readw(&l.dev, PCI_VENDOR_ID), ==, 0x1000);
    qtest_outl(l.qts, 0xae08, 1u << 2);                     /* PCI_EJ: the guest ejects */
    lsi_expect_deleted(&l, "sd0");
    lsi_expect_deleted(&l, "scsi0");
    g_assert_cmphex(qpci_config_readw(&l.dev, PCI_VENDOR_ID), ==, 0xffff);
    reply = qtest_qmp(l.qts, "{\"execute\": \"query-block\"}");
    g_assert_cmpuint(json_array_get_length(json_object_get_array_member(
                         json_node_get_object(reply), "return")), ==, 0);
    json_node_unref(reply);
    g_assert_cmpstr(lsi_qmp_error(&l, "{\"execute\": \"device_add\", \"arguments\": "
                                      "{\"driver\": \"scsi-hd\", \"bus\": \"scsi0.0\", "
                                      "\"drive\": \"d0\"}}", desc, sizeof(desc)),
                    ==, "Bus 'scsi0.0' not found");
    lsi_qmp_ok(&l, "{\"execute\": \"device_add\", \"arguments\": "
                   "{\"driver\": \"lsi53c895a\", \"id\": \"scsi1\", \"addr\": \"2\"}}");
    g_assert_cmphex(qpci_config_readw(&l.dev, PCI_DEVICE_ID), ==, 0x0012);
    lsi_map(&l);
    r = lsi_cmd(&l, 0, tur, sizeof(tur), -1, 0, 0);
    g_assert_cmphex(r.sist1, ==, 0x04); /* STO: the new adapter has no disk */
    lsi_stop(&l);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/lsi/pci/identity", test_pci_identity);
    g_test_add_func("/lsi/pci/lsi53c810", test_lsi53c810);
    g_test_add_func("/lsi/registers", test_registers);
    g_test_add_func("/lsi/soft-reset", test_soft_reset);
    g_test_add_func("/lsi/inquiry", test_inquiry);
    g_test_add_func("/lsi/wide-addressing", test_wide_addressing);
    g_test_add_func("/lsi/phase-mismatch", test_phase_mismatch);
    g_test_add_func("/lsi/read-capacity", test_read_capacity);
    g_test_add_func("/lsi/write-read", test_write_read);
    g_test_add_func("/lsi/mode-sense-geometry", test_mode_sense_geometry);
    g_test_add_func("/lsi/disconnect-reselect", test_disconnect_reselect);
    g_test_add_func("/lsi/reselect-interrupt", test_reselect_interrupt);
    g_test_add_func("/lsi/reset-during-io", test_reset_during_io);
    g_test_add_func("/lsi/selection-timeout", test_selection_timeout);
    g_test_add_func("/lsi/second-adapter", test_second_adapter);
    g_test_add_func("/lsi/illegal-instruction", test_illegal_instruction);
    g_test_add_func("/lsi/scripts/register-ops", test_register_ops);
    g_test_add_func("/lsi/scripts/memory-ops", test_memory_ops);
    g_test_add_func("/lsi/scripts/scripts-ram", test_scripts_ram);
    g_test_add_func("/lsi/scripts/endless-loop", test_endless_loop);
    g_test_add_func("/lsi/intx", test_intx);
    g_test_add_func("/lsi/bus-fault", test_bus_fault);
    g_test_add_func("/lsi/drive-if-scsi", test_drive_if_scsi);
    g_test_add_func("/lsi/drive-add", test_drive_add);
    g_test_add_func("/lsi/hot-unplug", test_hot_unplug);
    return g_test_run();
}

/*
 * The LSI 53C895A register file: one byte at a time, with the side effects of reading the
 * interrupt status registers (DSTAT, SIST0/1 clear on read) and of writing the control ones
 * (ISTAT0 abort/signal/reset, SCNTL1 bus reset, DSP and DCNTL starting the SCRIPTS
 * processor). Registers QEMU does not implement read 0xff and ignore writes, as there.
 * Not the SCRIPTS processor (lsi53c895a-scripts.c) nor the PCI side (lsi53c895a.c).
 */
#include "hw/lsi53c895a.h"

static uint8_t lsi_byte_of(uint32_t reg, unsigned byte)
{
    return reg >> (8 * byte);
}

static void lsi_set_byte_of(uint32_t *reg, unsigned byte, uint8_t val)
{
    *reg = (*reg & ~(0xffu << (8 * byte))) | (uint32_t)val << (8 * byte);
}

/* The 32-bit registers, by the offset of their first byte; NULL for the rest. */
static uint32_t *lsi_reg32(LSIState *s, unsigned base)
{
    switch (base) {
    case LSI_DSA:
        return &s->dsa;
    case LSI_TEMP:
        return &s->temp;
    case LSI_DNAD:
        return &s->dnad;
    case LSI_DSP:
        return &s->dsp;
    case LSI_DSPS:
        return &s->dsps;
    case LSI_ADDER:
        return &s->adder;
    case LSI_MMRS:
        return &s->mmrs;
    case LSI_MMWS:
        return &s->mmws;
    case LSI_SFS:
        return &s->sfs;
    case LSI_DRS:
        return &s->drs;
    case LSI_SBMS:
        return &s->sbms;
    case LSI_DBMS:
        return &s->dbms;
    case LSI_DNAD64:
        return &s->dnad64;
    case LSI_PMJAD1:
        return &s->pmjad1;
    case LSI_PMJAD2:
        return &s->pmjad2;
    case LSI_RBC:
        return &s->rbc;
    case LSI_UA:
        return &s->ua;
    case LSI_IA:
        return &s->ia;
    case LSI_SBC:
        return &s->sbc;
    case LSI_CSBC:
        return &s->csbc;
    default:
        if (base == LSI_SCRATCHA) {
            return &s->scratch[0];
        }
        if (base >= LSI_SCRATCHB && base <= LSI_SCRATCHR) {
            return &s->scratch[(base - LSI_SCRATCHB) / 4 + 1];
        }
        return NULL;
    }
}

static uint8_t lsi_dstat_read(LSIState *s)
{
    uint8_t ret = s->dstat | LSI_DSTAT_DFE;

    if (!(s->istat0 & LSI_ISTAT0_INTF)) {
        s->dstat = 0;
    }
    lsi_update_irq(s);
    return ret;
}

static uint8_t lsi_ctest2_read(LSIState *s)
{
    uint8_t ret = s->ctest2 | LSI_CTEST2_DACK | LSI_CTEST2_CM;

    if (s->istat0 & LSI_ISTAT0_SIGP) {
        s->istat0 &= ~LSI_ISTAT0_SIGP;
        ret |= LSI_CTEST2_SIGP;
    }
    return ret;
}

static uint8_t lsi_sist_read(LSIState *s, uint8_t *sist)
{
    uint8_t ret = *sist;

    *sist = 0;
    lsi_update_irq(s);
    return ret;
}

uint8_t lsi_reg_readb(LSIState *s, unsigned offset)
{
    uint32_t *reg;

    if (offset >= LSI_REGS_SIZE) {
        return 0xff; /* LOAD/STORE running past the last register */
    }
    switch (offset) {
    case LSI_SCNTL0:
        return s->scntl0;
    case LSI_SCNTL1:
        return s->scntl1;
    case LSI_SCNTL2:
        return s->scntl2;
    case LSI_SCNTL3:
        return s->scntl3;
    case LSI_SCID:
        return s->scid;
    case LSI_SXFER:
        return s->sxfer;
    case LSI_SDID:
        return s->sdid;
    case LSI_GPREG:
        return 0x7f;
    case LSI_SFBR:
        return 0x00; /* reads as the chip revision from the host */
    case LSI_SOCL:
        return s->socl;
    case LSI_SSID:
        return s->ssid;
    case LSI_SBCL:
        return s->sbcl;
    case LSI_DSTAT:
        return lsi_dstat_read(s);
    case LSI_SSTAT0:
        return s->sstat0;
    case LSI_SSTAT1:
        return s->sstat1;
    case LSI_SSTAT2:
        return s->scntl1 & LSI_SCNTL1_CON ? 0 : 2;
    case LSI_ISTAT0:
        return s->istat0;
    case LSI_ISTAT1:
        return s->istat1;
    case LSI_MBOX0:
        return s->mbox0;
    case LSI_MBOX1:
        return s->mbox1;
    case LSI_CTEST0:
        return 0xff;
    case LSI_CTEST1:
        return 0x00;
    case LSI_CTEST2:
        return lsi_ctest2_read(s);
    case LSI_CTEST3:
        return s->ctest3;
    case LSI_DFIFO:
        return s->dfifo;
    case LSI_CTEST4:
        return s->ctest4;
    case LSI_CTEST5:
        return s->ctest5;
    case LSI_CTEST6:
        return 0x00;
    case LSI_DBC:
    case LSI_DBC + 1:
    case LSI_DBC + 2:
        return lsi_byte_of(s->dbc, offset - LSI_DBC);
    case LSI_DCMD:
        return s->dcmd;
    case LSI_DMODE:
        return s->dmode;
    case LSI_DIEN:
        return s->dien;
    case LSI_SBR:
        return s->sbr;
    case LSI_DCNTL:
        return s->dcntl;
    case LSI_SIEN0:
        return s->sien0;
    case LSI_SIEN1:
        return s->sien1;
    case LSI_SIST0:
        return lsi_sist_read(s, &s->sist0);
    case LSI_SIST1:
        return lsi_sist_read(s, &s->sist1);
    case LSI_MACNTL:
        return 0x0f;
    case LSI_GPCNTL:
        return 0x0f;
    case LSI_STIME0:
        return s->stime0;
    case LSI_RESPID0:
        return s->respid0;
    case LSI_RESPID1:
        return s->respid1;
    case LSI_STEST1:
        return s->stest1;
    case LSI_STEST2:
        return s->stest2;
    case LSI_STEST3:
        return s->stest3;
    case LSI_SIDL:
        return s->sidl; /* the last MSG IN byte: Linux's driver reads it */
    case LSI_STEST4:
        return 0xe0;
    case LSI_CCNTL0:
        return s->ccntl0;
    case LSI_CCNTL1:
        return s->ccntl1;
    case LSI_SBDL:
        /* Drivers peek at the data lines during MSG IN: the next message byte. */
        if ((s->sstat1 & LSI_PHASE_MASK) == LSI_PHASE_MI && s->msg_len) {
            return s->msg[0];
        }
        return 0x00;
    case LSI_SBDL + 1:
        return 0x00;
    default:
        break;
    }
    reg = lsi_reg32(s, offset & ~3u);
    return reg ? lsi_byte_of(*reg, offset & 3) : 0xff;
}

static void lsi_istat0_write(LSIState *s, uint8_t val)
{
    s->istat0 = (s->istat0 & 0x0f) | (val & 0xf0);
    if (val & LSI_ISTAT0_ABRT) {
        lsi_dma_interrupt(s, LSI_DSTAT_ABRT);
    }
    if (val & LSI_ISTAT0_INTF) {
        s->istat0 &= ~LSI_ISTAT0_INTF;
        lsi_update_irq(s);
    }
    if (val & LSI_ISTAT0_SIGP) {
        lsi_scripts_poke(s); /* a program polling for new work comes back soon */
    }
    if (s->waiting == LSI_WAIT_RESELECT && (val & LSI_ISTAT0_SIGP)) {
        /* SIGP ends WAIT RESELECT at its alternate address. */
        s->waiting = LSI_NOWAIT;
        s->dsp = s->dnad;
        lsi_scripts_run(s);
    }
    if (val & LSI_ISTAT0_SRST) {
        lsi_device_reset(s);
    }
}

static void lsi_scntl1_write(LSIState *s, uint8_t val)
{
    s->scntl1 = val & ~0x01; /* SST is the START sequence's own bit */
    if (!(val & LSI_SCNTL1_RST)) {
        s->sstat0 &= ~LSI_SSTAT0_RST;
        return;
    }
    if (!(s->sstat0 & LSI_SSTAT0_RST)) {
        scsi_bus_reset(&s->bus);
        s->sstat0 |= LSI_SSTAT0_RST;
        lsi_scsi_interrupt(s, LSI_SIST0_RST, 0);
    }
}

static void lsi_dsp_write(LSIState *s, unsigned byte, uint8_t val)
{
    lsi_set_byte_of(&s->dsp, byte, val);
    /* Writing the last byte starts SCRIPTS unless in manual start mode. */
    if (byte == 3 && !(s->dmode & LSI_DMODE_MAN) && !(s->istat1 & LSI_ISTAT1_SRUN)) {
        lsi_scripts_run(s);
    }
}

static void lsi_dcntl_write(LSIState *s, uint8_t val)
{
    s->dcntl = val & ~(LSI_DCNTL_PFF | LSI_DCNTL_STD);
    if ((val & LSI_DCNTL_STD) && !(s->istat1 & LSI_ISTAT1_SRUN)) {
        lsi_scripts_run(s);
    }
}

void lsi_reg_writeb(LSIState *s, unsigned offset, uint8_t val)
{
    uint32_t *reg;

    if (offset >= LSI_REGS_SIZE) {
        return;
    }
    switch (offset) {
    case LSI_SCNTL0:
        s->scntl0 = val;
        return;
    case LSI_SCNTL1:
        lsi_scntl1_write(s, val);
        return;
    case LSI_SCNTL2:
        s->scntl2 = val & ~(LSI_SCNTL2_WSR | LSI_SCNTL2_WSS);
        return;
    case LSI_SCNTL3:
        s->scntl3 = val;
        return;
    case LSI_SCID:
        s->scid = val;
        return;
    case LSI_SXFER:
        s->sxfer = val;
        return;
    case LSI_SDID:
        s->sdid = val & 0xf;
        return;
    case LSI_SFBR:
        s->sfbr = val;
        return; /* SCRIPTS register moves write it */
    case LSI_ISTAT0:
        lsi_istat0_write(s, val);
        return;
    case LSI_MBOX0:
        s->mbox0 = val;
        return;
    case LSI_MBOX1:
        s->mbox1 = val;
        return;
    case LSI_CTEST2:
        s->ctest2 = val & LSI_CTEST2_PCICIE;
        return;
    case LSI_CTEST3:
        s->ctest3 = val & 0x0f;
        return;
    case LSI_CTEST4:
        s->ctest4 = val;
        return;
    case LSI_CTEST5:
        s->ctest5 = val;
        return;
    case LSI_DBC:
    case LSI_DBC + 1:
    case LSI_DBC + 2:
        lsi_set_byte_of(&s->dbc, offset - LSI_DBC, val);
        return;
    case LSI_DSP:
    case LSI_DSP + 1:
    case LSI_DSP + 2:
    case LSI_DSP + 3:
        lsi_dsp_write(s, offset - LSI_DSP, val);
        return;
    case LSI_DMODE:
        s->dmode = val;
        return;
    case LSI_DIEN:
        s->dien = val;
        lsi_update_irq(s);
        return;
    case LSI_SBR:
        s->sbr = val;
        return;
    case LSI_DCNTL:
        lsi_dcntl_write(s, val);
        return;
    case LSI_SIEN0:
        s->sien0 = val;
        lsi_update_irq(s);
        return;
    case LSI_SIEN1:
        s->sien1 = val;
        lsi_update_irq(s);
        return;
    case LSI_STIME0:
        s->stime0 = val;
        return;
    case LSI_STIME1:
        /* The general purpose timer expires at once: enough for the drivers that arm it. */
        if (val & 0xf) {
            lsi_scsi_interrupt(s, 0, LSI_SIST1_GEN);
        }
        return;
    case LSI_RESPID0:
        s->respid0 = val;
        return;
    case LSI_RESPID1:
        s->respid1 = val;
        return;
    case LSI_STEST1:
        s->stest1 = val;
        return;
    case LSI_STEST2:
        s->stest2 = val;
        return;
    case LSI_STEST3:
        s->stest3 = val;
        return;
    case LSI_CCNTL0:
        s->ccntl0 = val;
        return;
    case LSI_CCNTL1:
        s->ccntl1 = val;
        return;
    case LSI_ADDER:
    case LSI_ADDER + 1:
    case LSI_ADDER + 2:
    case LSI_ADDER + 3:
        return; /* read-only */
    default:
        break;
    }
    reg = lsi_reg32(s, offset & ~3u);
    if (reg) {
        lsi_set_byte_of(reg, offset & 3, val);
    }
}

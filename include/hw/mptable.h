/*
 * The Intel MultiProcessor Specification 1.4 table a PC BIOS leaves in low memory: CPUs, the
 * I/O APIC and which interrupt source reaches which I/O APIC pin. Built by the VMM for boots
 * that run no firmware (-kernel). See hw/i386/mptable.c.
 */
#ifndef HW_MPTABLE_H
#define HW_MPTABLE_H

#include <stdint.h>
#include <glib.h>

typedef struct MPTablePCIIRQ {
    uint8_t devfn;
    uint8_t pin;        /* 1..4 = INTA..INTD */
    uint8_t irq;        /* the I/O APIC pin (= ISA IRQ) it is routed to */
} MPTablePCIIRQ;

typedef struct MPTableConfig {
    unsigned cpus;                  /* local APIC IDs 0..cpus-1, CPU 0 the bootstrap one */
    uint32_t cpu_signature;         /* CPUID 1 EAX */
    uint32_t cpu_features;          /* CPUID 1 EDX */
    uint8_t ioapic_id;
    uint32_t ioapic_addr;
    const MPTablePCIIRQ *pci;
    unsigned n_pci;
} MPTableConfig;

/* The floating pointer structure followed by the configuration table, to be copied to
 * guest address addr (16-byte aligned). */
GByteArray *mptable_build(const MPTableConfig *c, uint32_t addr);

#endif

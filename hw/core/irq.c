/*
 * Interrupt lines: the board's GSIs, forwarded to the accelerator (KVM_IRQ_LINE) and shown
 * to an optional observer (qtest). Level bookkeeping of shared PCI lines lives in the PCI
 * core; this file only forwards.
 */
#include <glib.h>
#include "hw/irq.h"
#include "hw/irq-internal.h"

static IrqBackend *backend;
static void (*observer)(unsigned gsi, bool level);
static bool levels[IRQ_NUM_GSI];

void irq_set_backend(IrqBackend *fn)
{
    backend = fn;
}

void irq_set_observer(void (*fn)(unsigned gsi, bool level))
{
    observer = fn;
}

void irq_set_level(unsigned gsi, bool level)
{
    if (gsi >= IRQ_NUM_GSI) {
        return;
    }
    if (observer && levels[gsi] != level) {
        observer(gsi, level);
    }
    levels[gsi] = level;
    if (backend) {
        backend(gsi, level);
    }
}

void irq_pulse(unsigned gsi)
{
    irq_set_level(gsi, true);
    irq_set_level(gsi, false);
}

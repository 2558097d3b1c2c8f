/*
 * Interrupt lines into the in-kernel PIC/IOAPIC (GSIs 0-23). Level-sensitive sources call
 * irq_set_level(); edge sources pulse. Observers (qtest's irq_intercept_in) can watch lines.
 */
#ifndef HW_IRQ_H
#define HW_IRQ_H

#include <stdbool.h>

#define IRQ_NUM_GSI 24

void irq_set_level(unsigned gsi, bool level);
void irq_pulse(unsigned gsi);
/* A hook that sees every line change (qtest); NULL removes it. */
void irq_set_observer(void (*fn)(unsigned gsi, bool level));

#endif

/*
 * The hook through which the accelerator (KVM) receives interrupt line changes.
 */
#ifndef HW_IRQ_INTERNAL_H
#define HW_IRQ_INTERNAL_H

#include <stdbool.h>

typedef void IrqBackend(unsigned gsi, bool level);
void irq_set_backend(IrqBackend *fn);

#endif

/*
 * The Xen platform PCI device (hw/xen/xen-platform.c), for the Xen emulation's callback.
 */
#ifndef HW_XEN_XEN_PLATFORM_H
#define HW_XEN_XEN_PLATFORM_H

#include <stdbool.h>

/* Its INTA, the event channel callback of type "PCI INTx"; nothing without the device. */
void xen_platform_set_irq(bool level);
/* Its devfn on bus 0, or -1 when there is none. */
int xen_platform_devfn(void);

#endif

/*
 * Xen PV block backend ("xen-disk", hw/xen/xen-block.c).
 */
#ifndef HW_XEN_XEN_BLOCK_H
#define HW_XEN_XEN_BLOCK_H

#include "util/error.h"

/* One xen-disk per -drive if=xen (index N: vdev xvd<'a'+N>); called by the machine when
 * Xen emulation is on. False with errp when one cannot be created. */
bool xen_block_create_drives(Error **errp);

#endif

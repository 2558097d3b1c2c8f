/*
 * Between the device registry (qdev.c, qdev-help.c) and the property code (qdev-props.c).
 */
#ifndef HW_CORE_QDEV_INT_H
#define HW_CORE_QDEV_INT_H

#include "hw/qdev.h"

const char *qdev_prop_type_name(const Property *prop);
bool qdev_prop_set_value(DeviceState *dev, const Property *prop, const char *value, Error **errp);
void qdev_prop_set_defaults(DeviceState *dev);
/* Free strings, detach drives. */
void qdev_prop_release(DeviceState *dev);
const Property *qdev_prop_find(const DeviceClass *dc, const char *name);
int32_t qdev_get_bootindex(DeviceState *dev);
bool qdev_parse_pci_devfn(const char *value, int32_t *devfn);
/* Registered types, in registration order. */
GPtrArray *qdev_classes(void);
/* Take dev off its bus and out of the device list, then free it (qdev-unplug.c). */
void qdev_forget(DeviceState *dev);
void qdev_free(DeviceState *dev);
/* The buses parent provides (a new array; the buses stay registered). */
GPtrArray *qbus_children_of(DeviceState *parent);
/* Unregister and free a bus whose parent is going; a device still on it loses its bus. */
void qbus_delete(BusState *bus);

#endif

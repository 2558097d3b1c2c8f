/*
 * "xen-disk": a -drive offered to the Xen guest as a PV block device (vbd), the xenbus side
 * of a blkback-like backend. Realize writes what a toolstack and the backend write into
 * xenstore (the frontend's device/vbd/<id> directory and our backend/vbd/1/<id>); a watch
 * on the frontend's state node drives the state machine InitWait -> Connected -> Closing ->
 * Closed -> InitWait; a guest reset or unplug drops the connection. Single-page rings only
 * (no max-ring-page-order), one queue, no persistent grants, no indirect descriptors, no
 * media change or resize events. The ring and the I/O are xen-block-ring.c; the device is
 * bus-less, as Xen's own backends hang off no emulated bus.
 */
#include <inttypes.h>
#include <string.h>
#include <glib.h>
#include "blockdev/blockdev.h"
#include "hw/machine.h"
#include "hw/xen/xen.h"
#include "hw/xen/xen-block.h"
#include "xen-block-int.h"

#define XEN_BLOCK_PROTOCOL "x86_64-abi" /* the 64-bit guest's ring layout */
#define XEN_BLOCK_MAX_DISKS 26          /* xvda to xvdz */

static GList *xen_block_devices; /* of XenBlockDev *, realized */

/* The frontend's directory is the guest's (dom0 may read it), ours is dom0's. */
static const XsPerm xen_block_fe_perms[] = {{XEN_GUEST_DOMID, XS_PERM_NONE}, {0, XS_PERM_READ}};
static const XsPerm xen_block_be_perms[] = {{0, XS_PERM_NONE}, {XEN_GUEST_DOMID, XS_PERM_READ}};

/* ---- vdev ---- */

/*
 * "xvdX" (X from a to z) or a decimal virtual-device number. xvda..xvdp are the 202 major's
 * (disk << 4); the others need the extended form ((1 << 28) | disk << 8), as in Xen's
 * vbd-interface document.
 */
static bool xen_block_parse_vdev(const char *vdev, uint32_t *vbd, Error **errp)
{
    guint64 number;

    if (!vdev) {
        error_setg(errp, "vdev property not set");
        return false;
    }
    if (strlen(vdev) == 4 && g_str_has_prefix(vdev, "xvd") && g_ascii_islower(vdev[3])) {
        unsigned disk = vdev[3] - 'a';

        *vbd = disk < 16 ? (202u << 8) | disk << 4 : (1u << 28) | disk << 8;
        return true;
    }
    if (g_ascii_isdigit(vdev[0]) &&
        g_ascii_string_to_unsigned(vdev, 10, 1, INT32_MAX, &number, NULL)) {
        *vbd = (uint32_t)number;
        return true;
    }
    error_setg(errp, "invalid virtual disk specifier '%s'", vdev);
    error_append_hint(errp, "Use xvdX (X from a to z) or a decimal virtual-device number.\n");
    return false;
}

static XenBlockDev *xen_block_find(uint32_t vbd)
{
    for (GList *l = xen_block_devices; l; l = l->next) {
        XenBlockDev *s = l->data;

        if (s->vbd == vbd) {
            return s;
        }
    }
    return NULL;
}

/* ---- xenstore nodes ---- */

/* A directory (name NULL) with its permissions, then its nodes; the first error sticks. */
typedef struct XenBlockNodes {
    const char *dir;
    const XsPerm *perms;
    int ret;
    char *failed; /* the node whose write failed */
} XenBlockNodes;

static void xen_block_node(XenBlockNodes *w, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void xen_block_node(XenBlockNodes *w, const char *name, const char *fmt, ...)
{
    g_autofree char *path = name ? g_strdup_printf("%s/%s", w->dir, name) : g_strdup(w->dir);
    g_autofree char *value = NULL;
    va_list ap;

    if (w->ret < 0) {
        return;
    }
    va_start(ap, fmt);
    value = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    w->ret = xenstore_write(path, value);
    if (!w->ret && !name) { /* the nodes created below inherit the directory's */
        w->ret = xenstore_set_perms(path, w->perms, 2);
    }
    if (w->ret < 0) {
        w->failed = g_steal_pointer(&path);
    }
}

static bool xen_block_nodes_done(XenBlockNodes *w, Error **errp)
{
    if (w->ret < 0) {
        error_setg_errno(errp, -w->ret, "could not write xenstore node %s", w->failed);
        g_free(w->failed);
        return false;
    }
    return true;
}

static uint64_t xen_block_sectors(XenBlockDev *s)
{
    int64_t len = blk_is_inserted(s->blk) ? blk_getlength(s->blk) : 0;

    return len > 0 ? (uint64_t)len / BLKIF_SECTOR_SIZE : 0;
}

/* A CD-ROM is read-only, with a medium or without (QEMU makes media=cdrom read-only). */
static bool xen_block_read_only(XenBlockDev *s)
{
    return s->cdrom || blk_is_read_only(s->blk);
}

static unsigned xen_block_info(XenBlockDev *s)
{
    return (s->cdrom ? VDISK_CDROM | VDISK_REMOVABLE : 0) |
           (xen_block_read_only(s) ? VDISK_READONLY : 0);
}

/* What the toolstack and the backend write into our directory before InitWait. */
static void xen_block_backend_nodes(XenBlockDev *s, XenBlockNodes *w)
{
    BlockDriverState *bs = blk_bs(s->blk);

    xen_block_node(w, NULL, "%s", "");
    xen_block_node(w, "frontend", "%s", s->fe_path);
    xen_block_node(w, "frontend-id", "%u", XEN_GUEST_DOMID);
    xen_block_node(w, "online", "1");
    xen_block_node(w, "state", "%d", XenbusStateInitialising);
    xen_block_node(w, "dev", "%s", s->vdev);
    xen_block_node(w, "type", "file");
    xen_block_node(w, "params", "%s", bs ? bdrv_get_filename(bs) : "");
    xen_block_node(w, "mode", "%s", xen_block_read_only(s) ? "r" : "w");
    xen_block_node(w, "device-type", "%s", s->cdrom ? "cdrom" : "disk");
    xen_block_node(w, "removable", "%d", s->cdrom);
    xen_block_node(w, "sectors", "%" PRIu64, xen_block_sectors(s));
    xen_block_node(w, "sector-size", "%u", BLKIF_SECTOR_SIZE);
    xen_block_node(w, "info", "%u", xen_block_info(s));
    xen_block_node(w, "feature-flush-cache", "1");
    xen_block_node(w, "feature-persistent", "0");
    if (s->discard) {
        xen_block_node(w, "feature-discard", "1");
        xen_block_node(w, "discard-granularity", "%u", BLKIF_SECTOR_SIZE);
        xen_block_node(w, "discard-alignment", "0");
        xen_block_node(w, "discard-secure", "0");
    }
}

/* The toolstack's part of the frontend's directory. */
static void xen_block_frontend_nodes(XenBlockDev *s, XenBlockNodes *w)
{
    xen_block_node(w, NULL, "%s", "");
    xen_block_node(w, "backend", "%s", s->be_path);
    xen_block_node(w, "backend-id", "0");
    xen_block_node(w, "state", "%d", XenbusStateInitialising);
    xen_block_node(w, "virtual-device", "%u", s->vbd);
    xen_block_node(w, "device-type", "%s", s->cdrom ? "cdrom" : "disk");
}

static void xen_block_set_state(XenBlockDev *s, unsigned state)
{
    g_autofree char *path = g_strdup_printf("%s/state", s->be_path);

    if (s->be_state != state) {
        s->be_state = state;
        xenstore_printf(path, "%u", state);
    }
}

static void xen_block_frontend_changed(void *opaque, const char *path);

/* Both directories from scratch, backend state InitWait, the watch on the frontend. */
static bool xen_block_publish(XenBlockDev *s, Error **errp)
{
    XenBlockNodes be = {.dir = s->be_path, .perms = xen_block_be_perms};
    XenBlockNodes fe = {.dir = s->fe_path, .perms = xen_block_fe_perms};
    g_autofree char *fe_state = g_strdup_printf("%s/state", s->fe_path);

    xenstore_rm(s->fe_path);
    xenstore_rm(s->be_path);
    xen_block_backend_nodes(s, &be);
    xen_block_frontend_nodes(s, &fe);
    if (!xen_block_nodes_done(&be, errp) || !xen_block_nodes_done(&fe, errp)) {
        return false;
    }
    s->be_state = XenbusStateInitialising;
    xen_block_set_state(s, XenbusStateInitWait);
    s->watch = xenstore_watch(fe_state, xen_block_frontend_changed, s);
    return true;
}

/* ---- the state machine ---- */

/* The frontend's state; Unknown when the node is gone, -1 for what is no state. */
static int xen_block_frontend_state(XenBlockDev *s)
{
    g_autofree char *path = g_strdup_printf("%s/state", s->fe_path);
    g_autofree char *value = xenstore_read(path);
    guint64 state;

    if (!value) {
        return XenbusStateUnknown;
    }
    if (!g_ascii_isdigit(value[0]) ||
        !g_ascii_string_to_unsigned(value, 10, 0, XenbusStateClosed, &state, NULL)) {
        return -1;
    }
    return (int)state;
}

/* A frontend node as a number no larger than max. */
static bool xen_block_read_fe_uint(XenBlockDev *s, const char *name, uint64_t max, uint32_t *out,
                                   Error **errp)
{
    g_autofree char *path = g_strdup_printf("%s/%s", s->fe_path, name);
    uint64_t value;

    if (!xenstore_read_uint(path, &value) || value > max) {
        error_setg(errp, "reading %s", path);
        return false;
    }
    *out = (uint32_t)value;
    return true;
}

/* ring-ref (one page), event-channel and protocol, as the frontend wrote them. */
static bool xen_block_read_frontend(XenBlockDev *s, uint32_t *ring_ref, uint32_t *port,
                                    Error **errp)
{
    g_autofree char *path = g_strdup_printf("%s/protocol", s->fe_path);
    g_autofree char *protocol = NULL;

    if (!xen_block_read_fe_uint(s, "ring-ref", UINT32_MAX, ring_ref, errp) ||
        !xen_block_read_fe_uint(s, "event-channel", UINT32_MAX, port, errp)) {
        return false;
    }
    protocol = xenstore_read(path);
    if (protocol && strcmp(protocol, XEN_BLOCK_PROTOCOL) != 0) {
        error_setg(errp, "unsupported protocol '%.64s'", protocol);
        return false;
    }
    return true;
}

/* The frontend is Initialised (or Connected): map its ring, bind its channel, Connected. */
static void xen_block_connect(XenBlockDev *s)
{
    g_autofree char *sectors = g_strdup_printf("%s/sectors", s->be_path);
    g_autofree char *error = g_strdup_printf("%s/error", s->be_path);
    uint32_t ring_ref, port;
    Error *err = NULL;

    s->limits = (XenBlockLimits){.sectors = xen_block_sectors(s),
                                 .read_only = xen_block_read_only(s),
                                 .discard = s->discard};
    if (!xen_block_read_frontend(s, &ring_ref, &port, &err) ||
        !xen_block_ring_connect(s, ring_ref, port, &err)) {
        xenstore_write(error, error_get_pretty(err));
        error_free(err);
        xen_block_set_state(s, XenbusStateClosing);
        return;
    }
    xenstore_rm(error);
    xenstore_printf(sectors, "%" PRIu64, s->limits.sectors);
    xen_block_set_state(s, XenbusStateConnected);
}

/* As blkback: Closing is answered with Closing (a Linux guest shutting down waits for it),
 * Closed with Closed, and Initialising after either starts over. */
static void xen_block_step(XenBlockDev *s, int fe_state)
{
    switch (fe_state) {
    case XenbusStateInitialised:
    case XenbusStateConnected:
        if (s->be_state == XenbusStateInitWait) {
            xen_block_connect(s);
        }
        break;
    case XenbusStateInitialising:
        if (s->be_state == XenbusStateClosing || s->be_state == XenbusStateClosed) {
            xen_block_set_state(s, XenbusStateInitWait);
        }
        break;
    case XenbusStateClosing:
        xen_block_ring_disconnect(s, false);
        xen_block_set_state(s, XenbusStateClosing);
        break;
    case XenbusStateClosed:
    case XenbusStateUnknown:
        xen_block_ring_disconnect(s, false);
        xen_block_set_state(s, XenbusStateClosed);
        break;
    default: /* InitWait is no frontend state; neither is garbage */
        break;
    }
}

/*
 * A guest reset: the Xen emulation has forgotten the guest's channels and grants, and
 * xenstore starts over with a bare tree (xen_emu_reset, whose reset handler is registered
 * before any xen-disk is realized, so it runs before ours). Drop the connection and
 * publish the device again.
 */
static void xen_block_reset_device(XenBlockDev *s)
{
    Error *err = NULL;

    xen_block_ring_disconnect(s, true);
    xenstore_unwatch(s->watch);
    s->watch = NULL;
    if (!xen_block_publish(s, &err)) {
        error_reportf_err(err, "xen-disk %s: ", s->vdev);
    }
}

/*
 * One change at a time: a drain inside one runs the main loop, which may deliver another
 * watch event or a machine reset for this device; those are done when it returns.
 */
static void xen_block_run_changes(XenBlockDev *s)
{
    if (s->in_change) {
        return;
    }
    s->in_change = true;
    while (s->reset_pending || s->recheck) {
        if (s->reset_pending) {
            s->reset_pending = s->recheck = false;
            xen_block_reset_device(s);
        } else {
            s->recheck = false;
            xen_block_step(s, xen_block_frontend_state(s));
        }
    }
    s->in_change = false;
}

static void xen_block_frontend_changed(void *opaque, const char *path)
{
    XenBlockDev *s = opaque;

    s->recheck = true;
    xen_block_run_changes(s);
}

static void xen_block_machine_reset(void *opaque)
{
    for (GList *l = xen_block_devices; l; l = l->next) {
        XenBlockDev *s = l->data;

        s->reset_pending = true;
        xen_block_run_changes(s);
    }
}

/* ---- the device ---- */

static void xen_block_finalize(DeviceState *qdev)
{
    XenBlockDev *s = (XenBlockDev *)qdev;

    g_free(s->fe_path);
    g_free(s->be_path);
}

static bool xen_block_check(XenBlockDev *s, Error **errp)
{
    if (!xen_enabled()) {
        error_setg(errp, "xen-disk needs Xen emulation (-accel kvm,xen-version=...)");
        return false;
    }
    if (!s->blk) {
        error_setg(errp, "drive property not set");
        return false;
    }
    if (!xen_block_parse_vdev(s->vdev, &s->vbd, errp)) {
        return false;
    }
    if (xen_block_find(s->vbd)) {
        error_setg(errp, "vdev '%s': virtual-device %u is in use already", s->vdev, s->vbd);
        return false;
    }
    return true;
}

static bool xen_block_realize(DeviceState *qdev, Error **errp)
{
    static bool reset_registered;
    XenBlockDev *s = (XenBlockDev *)qdev;
    DriveInfo *dinfo;

    if (!xen_block_check(s, errp)) {
        return false;
    }
    dinfo = blk_legacy_dinfo(s->blk);
    s->cdrom = dinfo && dinfo->media_cd;
    if (!s->cdrom && !blk_is_inserted(s->blk)) {
        error_setg(errp, "device needs media, but drive is empty");
        return false;
    }
    s->discard = blk_is_inserted(s->blk) && !blk_is_read_only(s->blk) &&
                 (bdrv_get_flags(blk_bs(s->blk)) & BDRV_O_UNMAP);
    s->fe_path = g_strdup_printf("/local/domain/%u/device/vbd/%u", XEN_GUEST_DOMID, s->vbd);
    s->be_path = g_strdup_printf("/local/domain/0/backend/vbd/%u/%u", XEN_GUEST_DOMID, s->vbd);
    if (!xen_block_publish(s, errp)) {
        xenstore_rm(s->fe_path);
        xenstore_rm(s->be_path);
        xen_block_finalize(qdev);
        return false;
    }
    xen_block_devices = g_list_append(xen_block_devices, s);
    if (!reset_registered) {
        reset_registered = true;
        machine_register_reset(xen_block_machine_reset, NULL);
    }
    return true;
}

/* Unplug: the guest loses the disk at once (no Closing handshake first). */
static void xen_block_unrealize(DeviceState *qdev)
{
    XenBlockDev *s = (XenBlockDev *)qdev;

    xen_block_devices = g_list_remove(xen_block_devices, s);
    s->in_change = true; /* nothing may reconnect during the drain */
    xenstore_unwatch(s->watch);
    s->watch = NULL;
    xen_block_ring_disconnect(s, false);
    xenstore_rm(s->fe_path);
    xenstore_rm(s->be_path);
}

static const Property xen_block_props[] = {
    DEFINE_PROP_STRING("vdev", XenBlockDev, vdev),
    DEFINE_PROP_DRIVE("drive", XenBlockDev, blk),
    DEFINE_PROP_END,
};

static const DeviceClass xen_block_class = {
    .name = "xen-disk",
    .desc = "Xen disk device",
    .category = DEVICE_CATEGORY_STORAGE,
    .instance_size = sizeof(XenBlockDev),
    .props = xen_block_props,
    .hotpluggable = true,
    .realize = xen_block_realize,
    .unrealize = xen_block_unrealize,
    .finalize = xen_block_finalize,
};

static void __attribute__((constructor)) xen_block_register(void)
{
    qdev_register(&xen_block_class);
}

/* ---- -drive if=xen ---- */

static bool xen_block_create_one(BlockBackend *blk, const DriveInfo *dinfo, Error **errp)
{
    char vdev[] = "xvda";
    DeviceState *dev;

    if (dinfo->unit >= XEN_BLOCK_MAX_DISKS) {
        error_setg(errp, "drive '%s': if=xen takes index 0 to %d (xvda to xvdz)", blk_name(blk),
                   XEN_BLOCK_MAX_DISKS - 1);
        return false;
    }
    vdev[3] += dinfo->unit;
    dev = qdev_create_on_bus("xen-disk", NULL, errp, "drive", blk_name(blk), "vdev", vdev, NULL);
    return dev != NULL;
}

bool xen_block_create_drives(Error **errp)
{
    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        DriveInfo *dinfo = blk_legacy_dinfo(blk);

        if (!dinfo || dinfo->type != IF_XEN || blk_get_attached_dev(blk)) {
            continue;
        }
        if (!xen_block_create_one(blk, dinfo, errp)) {
            return false;
        }
    }
    return true;
}

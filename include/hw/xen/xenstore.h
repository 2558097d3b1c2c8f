/*
 * The in-VMM xenstore: a tree of nodes (path -> value, permissions), watches and
 * transactions, served to the guest over the xenstore ring page (XS_* messages, see
 * xen-abi.h) and to the VMM's own backends through the calls below, which act as domain 0
 * (privileged: no permission checks). Everything runs under the BQL.
 */
#ifndef HW_XEN_XENSTORE_H
#define HW_XEN_XENSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One permission: the first of a node's list names its owner and what every domain not
 * listed may do; the others grant to one domain each. */
enum { XS_PERM_NONE = 0, XS_PERM_READ = 1, XS_PERM_WRITE = 2, XS_PERM_BOTH = 3 };
typedef struct XsPerm {
    uint16_t domid;
    uint8_t perm;
} XsPerm;

/*
 * Start (or restart, after a guest reboot) with the tree a toolstack gives a new guest:
 * "/", "/local", "/local/domain", "/local/domain/<guest_domid>" (owned by the guest, with
 * "domid" and "name" under it) and nothing else; none of the guest's watches and
 * transactions. Domain 0's watches stay (their owners are devices that outlive the reboot)
 * and each fires once, as if just registered. The ring connection is dropped until
 * xenstore_attach_ring().
 */
void xenstore_reset(unsigned guest_domid);

/*
 * Serve the guest over ring (the 4096-byte ring page, host memory): requests are read when
 * xenstore_ring_kick() is called (the guest sent on the xenstore event channel); after
 * writing responses or watch events the server calls notify(opaque). ring NULL detaches.
 */
void xenstore_attach_ring(void *ring, void (*notify)(void *opaque), void *opaque);
void xenstore_ring_kick(void);

/* Domain 0's access. Paths are absolute; parents are created as needed (inheriting the
 * parent's permissions, as xenstored does). Return 0 or a negative errno: -ENOENT,
 * -EINVAL (malformed path), -E2BIG (value too long). */
int xenstore_write(const char *path, const char *value);
int xenstore_printf(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The value (g_free it), or NULL if the node does not exist. */
char *xenstore_read(const char *path);
/* The value parsed as an unsigned decimal integer: false if absent or not a number. */
bool xenstore_read_uint(const char *path, uint64_t *value);
/* Remove a node and everything below it. */
int xenstore_rm(const char *path);
int xenstore_set_perms(const char *path, const XsPerm *perms, unsigned n);

/*
 * A domain 0 watch: fn(opaque, path) runs for every change (write, mkdir, rm, permission
 * change, committed transaction) at path or below it, with the changed node's path, and
 * once right after registration with path itself, as xenstored fires a new watch. It runs
 * after the change is complete, never from inside a xenstore call of the watcher's own
 * (deferred to the main loop), so a watcher may read and write the store.
 */
typedef struct XsWatch XsWatch;
typedef void XsWatchFn(void *opaque, const char *path);
XsWatch *xenstore_watch(const char *path, XsWatchFn *fn, void *opaque);
void xenstore_unwatch(XsWatch *w);

#endif

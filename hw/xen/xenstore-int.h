/*
 * Between the parts of the xenstore: the tree (xenstore.c: nodes, permissions, transactions),
 * the watches (xenstore-watch.c) and the guest's connection (xenstore-ring.c: the ring page
 * and the XS_* wire protocol). Operations take the acting domain (0: the VMM, privileged)
 * and a transaction (NULL: the live tree) and return 0 or a negative errno. Backends use
 * include/hw/xen/xenstore.h, not this.
 */
#ifndef HW_XEN_XENSTORE_INT_H
#define HW_XEN_XENSTORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>
#include "hw/xen/xenstore.h"

typedef struct XsTx XsTx;

/* The domain served on the ring (lazily set up as XEN_GUEST_DOMID before any reset). */
unsigned xs_guest_domid(void);

/*
 * A path as a domain sent it, made absolute ("/local/domain/<domid>/" before a relative
 * one) and checked: NULL when malformed. *strip is how many leading bytes of the absolute
 * path the sender did not write (0 for an absolute path), for echoing it back in events.
 * A path starting with '@' is not relative: with watch set, "@introduceDomain" and
 * "@releaseDomain" are accepted as they are, and nothing else.
 */
char *xs_path_canonical(unsigned domid, const char *path, bool watch, size_t *strip);
/* A decimal number made of digits only, at most max. */
bool xs_parse_uint(const char *s, uint64_t max, uint64_t *value);
/* Whether a node with these permissions (XsPerm) is readable to domid. */
bool xs_perms_readable(const GArray *perms, unsigned domid);

int xs_op_read(unsigned domid, XsTx *tx, const char *path, GByteArray *value);
int xs_op_write(unsigned domid, XsTx *tx, const char *path, const void *value, size_t len);
int xs_op_mkdir(unsigned domid, XsTx *tx, const char *path);
int xs_op_rm(unsigned domid, XsTx *tx, const char *path);
/* The children's names, each NUL-terminated, and the node's generation (XS_DIRECTORY_PART). */
int xs_op_directory(unsigned domid, XsTx *tx, const char *path, GByteArray *names, uint64_t *gen);
int xs_op_get_perms(unsigned domid, XsTx *tx, const char *path, GArray *perms);
int xs_op_set_perms(unsigned domid, XsTx *tx, const char *path, const XsPerm *perms, unsigned n);

XsTx *xs_tx_begin(void);
/* End and free tx: commit (0, or -EAGAIN when a node it used changed meanwhile) or abort. */
int xs_tx_end(XsTx *tx, bool commit);

/* Deliver the watch events of the operations done since the last call. */
void xs_fire_changes(void);

/*
 * A guest's watch on an absolute path: unlike the VMM's, fn runs at once from
 * xs_fire_changes(), with the event path as the guest named the watch (its first strip bytes
 * dropped), only for nodes domid may read, and with no first event (the wire protocol sends
 * it after the reply). Removed with xenstore_unwatch().
 */
XsWatch *xs_watch_add(unsigned domid, const char *path, size_t strip, XsWatchFn *fn, void *opaque);
/* Fire the watches one change concerns; removed: the subtree at path went away. perms are the
 * node's (before its removal), old_perms (or NULL) those a permission change replaced. */
void xs_watches_fire(const char *path, bool removed, const GArray *perms, const GArray *old_perms);
/* After a reset: drop the VMM's pending events and fire each VMM watch once. */
void xs_watches_reset(void);

/* Forget the guest's connection, watches and transactions (xenstore-ring.c). */
void xs_conn_drop(void);

#endif

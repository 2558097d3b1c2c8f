/*
 * The xenstore tree and its rules, as xenstored keeps them: nodes under canonical absolute
 * paths, each with a value (any bytes), children and a permission list; the guest's
 * permission checks; transactions as private overlays, checked at commit against the
 * generation of every node they used; the changes that watches fire for; the VMM's calls.
 * Domain 0 is the VMM: privileged. Not the watches (xenstore-watch.c), not the ring or the
 * wire format (xenstore-ring.c); one guest, no domain introduction.
 *
 * Caps on what the guest can make the store hold: XS_QUOTA_NODES nodes owned by it and
 * XS_QUOTA_PERMS entries in a permission list it sets (xenstored's default quotas; ENOSPC),
 * and XS_TX_BYTES of paths and node copies per transaction (once over, its next operation
 * fails with ENOSPC). A commit does not re-check the node quota, so open transactions can
 * each add up to XS_QUOTA_NODES more. A reset drops the guest's watches and transactions but
 * keeps the VMM's watches (their backends reset themselves) and fires each of them once.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <glib.h>
#include "hw/xen/xen-abi.h"
#include "hw/xen/xen.h"
#include "xenstore-int.h"

#define XS_QUOTA_NODES 1000
#define XS_QUOTA_PERMS 5
#define XS_TX_BYTES (512 * 1024)
#define XS_PATH_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_@-."

typedef struct XsNode {
    GBytes *value;
    GArray *perms;       /* XsPerm, never changed in place: shared by copies and changes */
    GPtrArray *children; /* leaf names, oldest first */
    uint64_t gen;        /* when last changed: a transaction that used the node conflicts */
} XsNode;

/* One change, whose watches fire once the operation (or the transaction) is complete. */
typedef struct XsChange {
    char *path;
    bool removed;      /* the subtree went: watches below path fire too */
    GArray *perms;     /* who may see the event: readers of the node... */
    GArray *old_perms; /* ...or, after a permission change, its readers before (or NULL) */
} XsChange;

struct XsTx {
    GHashTable *overlay; /* path -> private XsNode, or NULL where the transaction removed it */
    GHashTable *seen;    /* path -> generation (0: absent) when the transaction first used it */
    GPtrArray *changes;  /* XsChange, fired at commit */
    size_t bytes;        /* what overlay, seen and changes hold, against XS_TX_BYTES */
};

static GHashTable *tree; /* path -> XsNode */
static unsigned guest_domid;
static uint64_t last_gen;
static GPtrArray *changes; /* XsChange of the live tree, not fired yet */

/* ---- paths ---- */

static bool path_valid(const char *path)
{
    size_t len = strlen(path);

    return path[0] == '/' && len <= XENSTORE_ABS_PATH_MAX && strspn(path, XS_PATH_CHARS) == len &&
           !strstr(path, "//") && (len == 1 || path[len - 1] != '/');
}

char *xs_path_canonical(unsigned domid, const char *path, bool watch, size_t *strip)
{
    char *abs;

    *strip = 0;
    if (path[0] == '@') {
        return watch && (!strcmp(path, "@introduceDomain") || !strcmp(path, "@releaseDomain"))
                   ? g_strdup(path)
                   : NULL;
    }
    if (path[0] == '/') {
        abs = g_strdup(path);
    } else {
        abs = g_strdup_printf("/local/domain/%u/%s", domid, path);
        *strip = strlen(abs) - strlen(path);
    }
    if (!path_valid(abs)) {
        g_free(abs);
        return NULL;
    }
    return abs;
}

/* The parent of a path other than "/". */
static char *path_parent(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash == path ? g_strdup("/") : g_strndup(path, slash - path);
}

static const char *path_leaf(const char *path)
{
    return strrchr(path, '/') + 1;
}

static char *path_child(const char *path, const char *leaf)
{
    return g_strconcat(strcmp(path, "/") ? path : "", "/", leaf, NULL);
}

bool xs_parse_uint(const char *s, uint64_t max, uint64_t *value)
{
    guint64 v;

    if (!s[0] || strspn(s, "0123456789") != strlen(s) ||
        !g_ascii_string_to_unsigned(s, 10, 0, max, &v, NULL)) {
        return false;
    }
    *value = v;
    return true;
}

/* ---- permissions ---- */

static GArray *perms_new(const XsPerm *perms, unsigned n)
{
    GArray *array = g_array_sized_new(FALSE, FALSE, sizeof(XsPerm), n);

    g_array_append_vals(array, perms, n);
    return array;
}

/* What domid may do with a node: its owner (and domain 0) anything, others as listed. */
static unsigned perms_for(const GArray *perms, unsigned domid)
{
    const XsPerm *p = (const XsPerm *)perms->data;

    if (domid == 0 || p[0].domid == domid) {
        return XS_PERM_BOTH;
    }
    for (guint i = 1; i < perms->len; i++) {
        if (p[i].domid == domid) {
            return p[i].perm;
        }
    }
    return p[0].perm;
}

static bool perms_allow(const GArray *perms, unsigned domid, unsigned want)
{
    return (perms_for(perms, domid) & want) == want;
}

bool xs_perms_readable(const GArray *perms, unsigned domid)
{
    return perms_allow(perms, domid, XS_PERM_READ);
}

/* A new node's permissions: its parent's, except that a guest owns what it creates. */
static GArray *perms_inherit(GArray *parent, unsigned domid)
{
    GArray *perms;

    if (domid == 0) {
        return g_array_ref(parent);
    }
    perms = perms_new((const XsPerm *)parent->data, parent->len);
    g_array_index(perms, XsPerm, 0).domid = domid;
    return perms;
}

/* ---- nodes, seen through a transaction (tx) or in the live tree (tx NULL) ---- */

/* A node without value or children; takes perms. */
static XsNode *node_new(GArray *perms)
{
    XsNode *node = g_new0(XsNode, 1);

    node->value = g_bytes_new(NULL, 0);
    node->perms = perms;
    node->children = g_ptr_array_new_with_free_func(g_free);
    return node;
}

static void node_free(gpointer p)
{
    XsNode *node = p;

    if (node) {
        g_bytes_unref(node->value);
        g_array_unref(node->perms);
        g_ptr_array_unref(node->children);
        g_free(node);
    }
}

static XsNode *node_copy(const XsNode *src)
{
    XsNode *node = node_new(g_array_ref(src->perms));

    g_bytes_unref(node->value);
    node->value = g_bytes_ref(src->value);
    for (guint i = 0; i < src->children->len; i++) {
        g_ptr_array_add(node->children, g_strdup(src->children->pdata[i]));
    }
    node->gen = src->gen;
    return node;
}

/* What a private copy of the node costs a transaction. */
static size_t node_size(const XsNode *node)
{
    size_t size = sizeof(*node) + g_bytes_get_size(node->value) + node->perms->len * sizeof(XsPerm);

    for (guint i = 0; i < node->children->len; i++) {
        size += strlen(node->children->pdata[i]) + 1 + sizeof(gpointer);
    }
    return size;
}

static bool owned_by(const XsNode *node, unsigned domid)
{
    return node && g_array_index(node->perms, XsPerm, 0).domid == domid;
}

/* The node at path or NULL; a transaction notes the generation it saw first. */
static XsNode *node_get(XsTx *tx, const char *path)
{
    gpointer node;

    if (tx && g_hash_table_lookup_extended(tx->overlay, path, NULL, &node)) {
        return node;
    }
    node = g_hash_table_lookup(tree, path);
    if (tx && !g_hash_table_contains(tx->seen, path)) {
        uint64_t *gen = g_new(uint64_t, 1);

        *gen = node ? ((XsNode *)node)->gen : 0;
        g_hash_table_insert(tx->seen, g_strdup(path), gen);
        tx->bytes += strlen(path) + 1 + sizeof(*gen);
    }
    return node;
}

/* The existing node at path, to be changed: in a transaction, its private copy. */
static XsNode *node_modify(XsTx *tx, const char *path)
{
    XsNode *node = node_get(tx, path);

    if (tx && !g_hash_table_contains(tx->overlay, path)) {
        node = node_copy(node);
        g_hash_table_insert(tx->overlay, g_strdup(path), node);
        tx->bytes += strlen(path) + 1 + node_size(node);
    }
    node->gen = ++last_gen;
    return node;
}

static void node_put(XsTx *tx, const char *path, XsNode *node)
{
    node->gen = ++last_gen;
    g_hash_table_replace(tx ? tx->overlay : tree, g_strdup(path), node);
    if (tx) {
        tx->bytes += strlen(path) + 1 + node_size(node);
    }
}

static void node_del(XsTx *tx, const char *path)
{
    if (tx) {
        g_hash_table_replace(tx->overlay, g_strdup(path), NULL);
        tx->bytes += strlen(path) + 1;
    } else {
        g_hash_table_remove(tree, path);
    }
}

/* Why an absent path cannot be used: EACCES when its nearest existing ancestor is hidden,
 * so that a guest learns nothing about what it may not read. */
static int missing_errno(XsTx *tx, unsigned domid, const char *path)
{
    g_autofree char *p = g_strdup(path);
    XsNode *node = NULL;

    while (!node && strcmp(p, "/")) {
        char *parent = path_parent(p);

        g_free(p);
        p = parent;
        node = node_get(tx, p);
    }
    return node && !perms_allow(node->perms, domid, XS_PERM_READ) ? -EACCES : -ENOENT;
}

static int node_lookup(XsTx *tx, unsigned domid, const char *path, unsigned want, XsNode **node)
{
    *node = node_get(tx, path);
    if (!*node) {
        return missing_errno(tx, domid, path);
    }
    return perms_allow((*node)->perms, domid, want) ? 0 : -EACCES;
}

/* How many nodes domid owns, as tx sees the tree. */
static unsigned nodes_owned(XsTx *tx, unsigned domid)
{
    GHashTableIter it;
    gpointer path, node;
    unsigned n = 0;

    g_hash_table_iter_init(&it, tree);
    while (g_hash_table_iter_next(&it, NULL, &node)) {
        n += owned_by(node, domid);
    }
    if (tx) {
        g_hash_table_iter_init(&it, tx->overlay);
        while (g_hash_table_iter_next(&it, &path, &node)) {
            n -= owned_by(g_hash_table_lookup(tree, path), domid);
            n += owned_by(node, domid);
        }
    }
    return n;
}

/* Add the absent path under its existing parent. */
static XsNode *node_add(XsTx *tx, unsigned domid, const char *parent_path, const char *path)
{
    XsNode *parent = node_modify(tx, parent_path);
    XsNode *node = node_new(perms_inherit(parent->perms, domid));

    g_ptr_array_add(parent->children, g_strdup(path_leaf(path)));
    node_put(tx, path, node);
    return node;
}

/* Create the absent path and its missing ancestors, as domid: the nearest existing ancestor
 * must be writable to it, and a guest must stay within its node quota. */
static int node_create(XsTx *tx, unsigned domid, const char *path, XsNode **node)
{
    g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func(g_free); /* deepest first */
    g_autofree char *base = g_strdup(path);
    XsNode *parent;

    while (!(parent = node_get(tx, base))) {
        g_ptr_array_add(missing, base);
        base = path_parent(base);
    }
    if (!perms_allow(parent->perms, domid, XS_PERM_WRITE)) {
        return -EACCES;
    }
    if (domid && nodes_owned(tx, domid) + missing->len > XS_QUOTA_NODES) {
        return -ENOSPC;
    }
    for (guint i = missing->len; i-- > 0;) {
        const char *parent_path = i + 1 < missing->len ? missing->pdata[i + 1] : base;

        *node = node_add(tx, domid, parent_path, missing->pdata[i]);
    }
    return 0;
}

static void subtree_remove(XsTx *tx, const char *path)
{
    XsNode *node = node_get(tx, path);

    for (guint i = 0; node && i < node->children->len; i++) {
        g_autofree char *child = path_child(path, node->children->pdata[i]);

        subtree_remove(tx, child);
    }
    node_del(tx, path);
}

static void children_remove(GPtrArray *children, const char *leaf)
{
    for (guint i = 0; i < children->len; i++) {
        if (!strcmp(children->pdata[i], leaf)) {
            g_ptr_array_remove_index(children, i);
            return;
        }
    }
}

/* ---- changes ---- */

static void change_free(gpointer p)
{
    XsChange *c = p;

    g_free(c->path);
    g_array_unref(c->perms);
    if (c->old_perms) {
        g_array_unref(c->old_perms);
    }
    g_free(c);
}

static void change_add(XsTx *tx, const char *path, bool removed, GArray *perms, GArray *old_perms)
{
    XsChange *c = g_new0(XsChange, 1);

    c->path = g_strdup(path);
    c->removed = removed;
    c->perms = g_array_ref(perms);
    c->old_perms = old_perms ? g_array_ref(old_perms) : NULL;
    if (tx) {
        tx->bytes += sizeof(*c) + strlen(path) + 1;
    }
    g_ptr_array_add(tx ? tx->changes : changes, c);
}

void xs_fire_changes(void)
{
    g_autoptr(GPtrArray) batch = changes;

    changes = g_ptr_array_new_with_free_func(change_free);
    for (guint i = 0; i < batch->len; i++) {
        const XsChange *c = batch->pdata[i];

        xs_watches_fire(c->path, c->removed, c->perms, c->old_perms);
    }
}

/* ---- operations ---- */

/* A transaction over its budget is refused further work. */
static int op_begin(XsTx *tx)
{
    return tx && tx->bytes > XS_TX_BYTES ? -ENOSPC : 0;
}

int xs_op_read(unsigned domid, XsTx *tx, const char *path, GByteArray *value)
{
    XsNode *node;
    int ret = op_begin(tx);

    if (!ret) {
        ret = node_lookup(tx, domid, path, XS_PERM_READ, &node);
    }
    if (!ret) {
        gsize len;
        const guint8 *data = g_bytes_get_data(node->value, &len);

        g_byte_array_append(value, data, len);
    }
    return ret;
}

int xs_op_write(unsigned domid, XsTx *tx, const char *path, const void *value, size_t len)
{
    XsNode *node;
    int ret = op_begin(tx);

    if (ret) {
        return ret;
    }
    node = node_get(tx, path);
    if (!node) {
        ret = node_create(tx, domid, path, &node);
    } else if (perms_allow(node->perms, domid, XS_PERM_WRITE)) {
        node = node_modify(tx, path);
    } else {
        ret = -EACCES;
    }
    if (ret) {
        return ret;
    }
    g_bytes_unref(node->value);
    node->value = g_bytes_new(value, len);
    if (tx) {
        tx->bytes += len;
    }
    change_add(tx, path, false, node->perms, NULL);
    return 0;
}

/* Making an existing node is no error, and no change. */
int xs_op_mkdir(unsigned domid, XsTx *tx, const char *path)
{
    XsNode *node;
    int ret = op_begin(tx);

    if (ret) {
        return ret;
    }
    node = node_get(tx, path);
    if (node) {
        return perms_allow(node->perms, domid, XS_PERM_WRITE) ? 0 : -EACCES;
    }
    ret = node_create(tx, domid, path, &node);
    if (!ret) {
        change_add(tx, path, false, node->perms, NULL);
    }
    return ret;
}

/* Removing an absent node whose parent exists succeeds, as in xenstored. */
int xs_op_rm(unsigned domid, XsTx *tx, const char *path)
{
    g_autofree char *parent_path = NULL;
    XsNode *node;
    int ret = op_begin(tx);

    if (ret || !strcmp(path, "/")) {
        return ret ? ret : -EINVAL;
    }
    parent_path = path_parent(path);
    node = node_get(tx, path);
    if (!node) {
        ret = missing_errno(tx, domid, path);
        return ret == -ENOENT && node_get(tx, parent_path) ? 0 : ret;
    }
    if (!perms_allow(node->perms, domid, XS_PERM_WRITE)) {
        return -EACCES;
    }
    change_add(tx, path, true, node->perms, NULL);
    subtree_remove(tx, path);
    children_remove(node_modify(tx, parent_path)->children, path_leaf(path));
    return 0;
}

int xs_op_directory(unsigned domid, XsTx *tx, const char *path, GByteArray *names, uint64_t *gen)
{
    XsNode *node;
    int ret = op_begin(tx);

    if (!ret) {
        ret = node_lookup(tx, domid, path, XS_PERM_READ, &node);
    }
    if (ret) {
        return ret;
    }
    for (guint i = 0; i < node->children->len; i++) {
        const char *name = node->children->pdata[i];

        g_byte_array_append(names, (const guint8 *)name, strlen(name) + 1);
    }
    *gen = node->gen;
    return 0;
}

int xs_op_get_perms(unsigned domid, XsTx *tx, const char *path, GArray *perms)
{
    XsNode *node;
    int ret = op_begin(tx);

    if (!ret) {
        ret = node_lookup(tx, domid, path, XS_PERM_READ, &node);
    }
    if (!ret) {
        g_array_append_vals(perms, node->perms->data, node->perms->len);
    }
    return ret;
}

static int perms_check(unsigned domid, const XsPerm *perms, unsigned n)
{
    if (n == 0) {
        return -EINVAL;
    }
    for (unsigned i = 0; i < n; i++) {
        if (perms[i].perm > XS_PERM_BOTH) {
            return -EINVAL;
        }
    }
    return domid && n > XS_QUOTA_PERMS ? -ENOSPC : 0;
}

/* Only the owner changes a node's permissions, and a guest cannot give a node away. */
int xs_op_set_perms(unsigned domid, XsTx *tx, const char *path, const XsPerm *perms, unsigned n)
{
    g_autoptr(GArray) old = NULL;
    XsNode *node;
    int ret = op_begin(tx);

    if (!ret) {
        ret = perms_check(domid, perms, n);
    }
    if (ret) {
        return ret;
    }
    node = node_get(tx, path);
    if (!node) {
        return missing_errno(tx, domid, path);
    }
    if (domid && !owned_by(node, domid)) {
        return -EACCES;
    }
    if (domid && perms[0].domid != domid) {
        return -EPERM;
    }
    old = g_array_ref(node->perms);
    node = node_modify(tx, path);
    g_array_unref(node->perms);
    node->perms = perms_new(perms, n);
    change_add(tx, path, false, node->perms, old);
    return 0;
}

/* ---- transactions ---- */

XsTx *xs_tx_begin(void)
{
    XsTx *tx = g_new0(XsTx, 1);

    tx->overlay = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, node_free);
    tx->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    tx->changes = g_ptr_array_new_with_free_func(change_free);
    return tx;
}

static bool tx_conflicts(XsTx *tx)
{
    GHashTableIter it;
    gpointer path, gen;

    g_hash_table_iter_init(&it, tx->seen);
    while (g_hash_table_iter_next(&it, &path, &gen)) {
        XsNode *node = g_hash_table_lookup(tree, path);

        if ((node ? node->gen : 0) != *(uint64_t *)gen) {
            return true;
        }
    }
    return false;
}

/* Every overlay entry replaces the live node: both are whole nodes, children included, and
 * no node the transaction saw has changed since. */
static void tx_apply(XsTx *tx)
{
    GHashTableIter it;
    gpointer path, node;

    g_hash_table_iter_init(&it, tx->overlay);
    while (g_hash_table_iter_next(&it, &path, &node)) {
        if (!node) {
            g_hash_table_remove(tree, path);
            continue;
        }
        g_hash_table_iter_steal(&it);
        ((XsNode *)node)->gen = ++last_gen;
        g_hash_table_replace(tree, path, node);
    }
    g_ptr_array_extend_and_steal(changes, g_steal_pointer(&tx->changes));
}

int xs_tx_end(XsTx *tx, bool commit)
{
    int ret = 0;

    if (commit && tx_conflicts(tx)) {
        ret = -EAGAIN;
    } else if (commit) {
        tx_apply(tx);
    }
    g_hash_table_unref(tx->overlay);
    g_hash_table_unref(tx->seen);
    g_clear_pointer(&tx->changes, g_ptr_array_unref);
    g_free(tx);
    return ret;
}

/* ---- the VMM's interface ---- */

static void tree_populate(unsigned domid)
{
    XsPerm root = {0, XS_PERM_NONE}, guest = {domid, XS_PERM_NONE};
    g_autofree char *home = g_strdup_printf("/local/domain/%u", domid);
    g_autofree char *domid_path = g_strconcat(home, "/domid", NULL);
    g_autofree char *name_path = g_strconcat(home, "/name", NULL);
    g_autofree char *id = g_strdup_printf("%u", domid);

    g_clear_pointer(&tree, g_hash_table_unref);
    tree = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, node_free);
    g_hash_table_insert(tree, g_strdup("/"), node_new(perms_new(&root, 1)));
    xs_op_mkdir(0, NULL, home);
    xs_op_set_perms(0, NULL, home, &guest, 1);
    xs_op_write(0, NULL, domid_path, id, strlen(id));
    xs_op_write(0, NULL, name_path, "guest", strlen("guest"));
    g_ptr_array_set_size(changes, 0);
}

void xenstore_reset(unsigned domid)
{
    g_return_if_fail(domid > 0 && domid < XEN_DOMID_SELF);
    if (!changes) {
        changes = g_ptr_array_new_with_free_func(change_free);
    }
    xs_conn_drop();
    guest_domid = domid;
    tree_populate(domid);
    xs_watches_reset();
}

/* Backends may come before the machine's first reset. */
static void store_ready(void)
{
    if (!tree) {
        xenstore_reset(XEN_GUEST_DOMID);
    }
}

unsigned xs_guest_domid(void)
{
    store_ready();
    return guest_domid;
}

int xenstore_write(const char *path, const char *value)
{
    size_t len = strlen(value);
    int ret;

    store_ready();
    if (!path_valid(path)) {
        return -EINVAL;
    }
    if (len > XENSTORE_PAYLOAD_MAX) {
        return -E2BIG;
    }
    ret = xs_op_write(0, NULL, path, value, len);
    xs_fire_changes();
    return ret;
}

int xenstore_printf(const char *path, const char *fmt, ...)
{
    g_autofree char *value = NULL;
    va_list ap;

    va_start(ap, fmt);
    value = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return xenstore_write(path, value);
}

char *xenstore_read(const char *path)
{
    g_autoptr(GByteArray) value = g_byte_array_new();

    store_ready();
    if (!path_valid(path) || xs_op_read(0, NULL, path, value)) {
        return NULL;
    }
    g_byte_array_append(value, (const guint8 *)"", 1);
    return (char *)g_byte_array_free(g_steal_pointer(&value), FALSE);
}

bool xenstore_read_uint(const char *path, uint64_t *value)
{
    g_autofree char *s = xenstore_read(path);

    return s && xs_parse_uint(s, UINT64_MAX, value);
}

int xenstore_rm(const char *path)
{
    int ret;

    store_ready();
    if (!path_valid(path)) {
        return -EINVAL;
    }
    ret = xs_op_rm(0, NULL, path);
    xs_fire_changes();
    return ret;
}

int xenstore_set_perms(const char *path, const XsPerm *perms, unsigned n)
{
    int ret;

    store_ready();
    if (!path_valid(path)) {
        return -EINVAL;
    }
    ret = xs_op_set_perms(0, NULL, path, perms, n);
    xs_fire_changes();
    return ret;
}

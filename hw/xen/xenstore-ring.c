/*
 * The guest's connection to the xenstore: the shared ring page (docs/misc/xenstore-ring.txt:
 * two 1 KiB byte queues with free-running indexes) and the XS_* messages on it
 * (docs/misc/xenstore.txt), decoded and checked here and done on the tree by xenstore.c.
 * One connection, for the one guest. Not the tree, its permissions or transactions.
 *
 * Everything read from the ring is checked before use. A corrupt ring (an index more than a
 * ring ahead, a message longer than XENSTORE_PAYLOAD_MAX) breaks the connection: the ring's
 * error field says why (the server advertises XENSTORE_SERVER_FEATURE_ERROR, not
 * reconnection) and nothing more is served until the ring is attached again. A malformed
 * request gets an XS_ERROR reply. Caps per connection: XS_CONN_WATCHES watches (E2BIG) and
 * XS_CONN_TXS transactions (ENOSPC), xenstored's default quotas; no request is read while
 * output waits for ring space, so replies cannot pile up, and a guest that lets more than
 * XS_CONN_OUT_MAX bytes of watch events pile up is broken off (XENSTORE_ERROR_COMM). A watch
 * event longer than XENSTORE_PAYLOAD_MAX (a long token on a deep path) is dropped. At most
 * XS_KICK_BATCH requests are served per call; the rest from the main loop. XS_CONTROL is
 * refused with EINVAL, the domain management requests with EACCES.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <glib.h>
#include "hw/xen/xen-abi.h"
#include "util/main-loop.h"
#include "util/trace.h"
#include "xenstore-int.h"

#define XS_CONN_WATCHES 128
#define XS_CONN_TXS 10
#define XS_CONN_OUT_MAX (256 * 1024)
#define XS_KICK_BATCH 64
#define XS_HDR_SIZE 16u

/* xs_wire.h's XENSTORE_SERVER_FEATURE_ERROR and the values of the error field. */
enum { RING_FEATURE_ERROR = 2 };
enum { RING_ERROR_NONE = 0, RING_ERROR_COMM = 1, RING_ERROR_RINGIDX = 2, RING_ERROR_PROTO = 3 };

typedef struct XsGuestWatch {
    XsWatch *watch;
    char *path; /* absolute */
    size_t strip;
    char *token;
} XsGuestWatch;

typedef struct XsConn {
    uint8_t *ring;
    void (*notify)(void *opaque);
    void *opaque;
    uint32_t req_cons; /* ours: the copies in the page are written, never trusted */
    uint32_t rsp_prod;
    uint8_t in[XS_HDR_SIZE + XENSTORE_PAYLOAD_MAX]; /* the request being assembled */
    uint32_t in_len;
    GQueue out;        /* GByteArray messages waiting for ring space */
    uint32_t out_sent; /* bytes of the head message already in the ring */
    size_t out_bytes;
    bool broken;
    bool moved; /* an index moved since the last notify */
    bool in_kick;
    bool kick_scheduled;
    GPtrArray *watches; /* XsGuestWatch */
    GHashTable *txs;    /* id -> XsTx */
    uint32_t last_tx_id;
} XsConn;

typedef struct XsReq {
    uint32_t type, req_id, tx_id, len;
    const char *data;
    unsigned domid;
    XsTx *tx;
    GByteArray *reply;
    XsGuestWatch *new_watch; /* its first event follows the reply */
} XsReq;

typedef int XsHandler(XsReq *req);

static XsConn conn;

/* ---- the ring ---- */

static uint32_t ring_load(unsigned off)
{
    return __atomic_load_n((uint32_t *)(conn.ring + off), __ATOMIC_ACQUIRE);
}

static void ring_store(unsigned off, uint32_t value)
{
    __atomic_store_n((uint32_t *)(conn.ring + off), value, __ATOMIC_RELEASE);
}

/* Copy between buf and one of the ring's byte queues, from stream index idx on. */
static void ring_copy(unsigned queue, uint32_t idx, void *buf, uint32_t n, bool to_ring)
{
    uint8_t *p = buf;

    while (n) {
        uint32_t pos = idx & (XENSTORE_RING_SIZE - 1);
        uint32_t chunk = MIN(n, XENSTORE_RING_SIZE - pos);

        if (to_ring) {
            memcpy(conn.ring + queue + pos, p, chunk);
        } else {
            memcpy(p, conn.ring + queue + pos, chunk);
        }
        p += chunk;
        idx += chunk;
        n -= chunk;
    }
}

static void conn_clear_io(void)
{
    GByteArray *msg;

    while ((msg = g_queue_pop_head(&conn.out))) {
        g_byte_array_unref(msg);
    }
    conn.out_sent = 0;
    conn.out_bytes = 0;
    conn.in_len = 0;
}

static void conn_break(uint32_t error, const char *why)
{
    TRACE("xenstore_broken", "%s", why);
    conn.broken = true;
    conn_clear_io();
    ring_store(XENSTORE_RING_ERROR, error);
    conn.moved = true;
}

static void conn_notify(void)
{
    if (conn.moved && conn.notify) {
        conn.moved = false;
        conn.notify(conn.opaque);
    }
}

static void conn_queue(uint32_t type, uint32_t req_id, uint32_t tx_id, const void *payload,
                       uint32_t len)
{
    uint32_t hdr[4] = {type, req_id, tx_id, len}; /* little-endian, as host and guest */
    GByteArray *msg;

    if (!conn.ring || conn.broken) {
        return;
    }
    msg = g_byte_array_sized_new(sizeof(hdr) + len);
    g_byte_array_append(msg, (const guint8 *)hdr, sizeof(hdr));
    g_byte_array_append(msg, payload, len);
    g_queue_push_tail(&conn.out, msg);
    conn.out_bytes += msg->len;
    if (conn.out_bytes > XS_CONN_OUT_MAX) {
        conn_break(RING_ERROR_COMM, "too much output waiting");
    }
}

/* Move queued output into the response queue as far as the guest has made room. */
static void conn_write_out(void)
{
    uint32_t used, space;

    if (!conn.ring || conn.broken || g_queue_is_empty(&conn.out)) {
        return;
    }
    used = conn.rsp_prod - ring_load(XENSTORE_RING_RSP_CONS);
    if (used > XENSTORE_RING_SIZE) {
        conn_break(RING_ERROR_RINGIDX, "response consumer index");
        return;
    }
    space = XENSTORE_RING_SIZE - used;
    if (!space) {
        return;
    }
    while (space && !g_queue_is_empty(&conn.out)) {
        GByteArray *msg = g_queue_peek_head(&conn.out);
        uint32_t n = MIN(space, msg->len - conn.out_sent);

        ring_copy(XENSTORE_RING_RSP, conn.rsp_prod, msg->data + conn.out_sent, n, true);
        conn.rsp_prod += n;
        conn.out_sent += n;
        space -= n;
        if (conn.out_sent == msg->len) {
            conn.out_bytes -= msg->len;
            conn.out_sent = 0;
            g_byte_array_unref(g_queue_pop_head(&conn.out));
        }
    }
    ring_store(XENSTORE_RING_RSP_PROD, conn.rsp_prod);
    conn.moved = true;
}

static uint32_t in_payload_len(void)
{
    uint32_t len;

    memcpy(&len, conn.in + 12, sizeof(len));
    return len;
}

static uint32_t in_needed(void)
{
    if (conn.in_len < XS_HDR_SIZE) {
        return XS_HDR_SIZE - conn.in_len;
    }
    return XS_HDR_SIZE + in_payload_len() - conn.in_len;
}

/* Take what the guest has sent of the request being assembled: true once it is whole. */
static bool conn_read_in(void)
{
    uint32_t avail = ring_load(XENSTORE_RING_REQ_PROD) - conn.req_cons;

    if (avail > XENSTORE_RING_SIZE) {
        conn_break(RING_ERROR_RINGIDX, "request producer index");
        return false;
    }
    while (in_needed()) {
        uint32_t n = MIN(avail, in_needed());

        if (!n) {
            return false;
        }
        ring_copy(XENSTORE_RING_REQ, conn.req_cons, conn.in + conn.in_len, n, false);
        conn.in_len += n;
        conn.req_cons += n;
        avail -= n;
        ring_store(XENSTORE_RING_REQ_CONS, conn.req_cons);
        conn.moved = true;
        if (conn.in_len == XS_HDR_SIZE && in_payload_len() > XENSTORE_PAYLOAD_MAX) {
            conn_break(RING_ERROR_PROTO, "request too long");
            return false;
        }
    }
    return true;
}

/* ---- guest watches ---- */

static void guest_watch_event(XsGuestWatch *gw, const char *path)
{
    g_autoptr(GByteArray) payload = g_byte_array_new();

    g_byte_array_append(payload, (const guint8 *)path, strlen(path) + 1);
    g_byte_array_append(payload, (const guint8 *)gw->token, strlen(gw->token) + 1);
    if (payload->len <= XENSTORE_PAYLOAD_MAX) {
        conn_queue(XS_WATCH_EVENT, 0, 0, payload->data, payload->len);
    }
}

static void guest_watch_fired(void *opaque, const char *path)
{
    guest_watch_event(opaque, path);
    if (!conn.in_kick) {
        conn_write_out();
        conn_notify();
    }
}

static void guest_watch_free(gpointer p)
{
    XsGuestWatch *gw = p;

    xenstore_unwatch(gw->watch);
    g_free(gw->path);
    g_free(gw->token);
    g_free(gw);
}

static int guest_watch_find(const char *path, const char *token)
{
    for (guint i = 0; i < conn.watches->len; i++) {
        XsGuestWatch *gw = conn.watches->pdata[i];

        if (!strcmp(gw->path, path) && !strcmp(gw->token, token)) {
            return i;
        }
    }
    return -1;
}

static void tx_abort(gpointer tx)
{
    xs_tx_end(tx, false);
}

/* ---- requests ---- */

static const struct {
    int err;
    const char *name;
} errno_names[] = {
#define XS_ERRNO(e)                                                                                \
    {                                                                                              \
        e, #e                                                                                      \
    }
    XS_ERRNO(EINVAL), XS_ERRNO(EACCES), XS_ERRNO(EEXIST), XS_ERRNO(ENOENT), XS_ERRNO(ENOSPC),
    XS_ERRNO(EBUSY),  XS_ERRNO(EAGAIN), XS_ERRNO(E2BIG),  XS_ERRNO(EPERM),
#undef XS_ERRNO
};

static const char *errno_name(int err)
{
    for (size_t i = 0; i < G_N_ELEMENTS(errno_names); i++) {
        if (errno_names[i].err == err) {
            return errno_names[i].name;
        }
    }
    return "EIO";
}

static void reply_str(XsReq *req, const char *s)
{
    g_byte_array_append(req->reply, (const guint8 *)s, strlen(s) + 1);
}

/* The "OK" of a request that changes something, once it succeeded. */
static int reply_ok(XsReq *req, int ret)
{
    if (!ret) {
        reply_str(req, "OK");
    }
    return ret;
}

/* The payload as exactly n NUL-terminated strings. */
static bool req_strings(const XsReq *req, const char **arg, unsigned n)
{
    uint32_t off = 0;

    for (unsigned i = 0; i < n; i++) {
        const char *end = memchr(req->data + off, '\0', req->len - off);

        if (!end) {
            return false;
        }
        arg[i] = req->data + off;
        off = end - req->data + 1;
    }
    return off == req->len;
}

static char *req_path(const XsReq *req, const char *path)
{
    size_t strip;

    return xs_path_canonical(req->domid, path, false, &strip);
}

/* The absolute path of a request whose only argument is a path, or NULL. */
static char *req_path_arg(const XsReq *req)
{
    const char *arg;

    return req_strings(req, &arg, 1) ? req_path(req, arg) : NULL;
}

static bool req_domid_arg(const XsReq *req, uint64_t *domid)
{
    const char *arg;

    return req_strings(req, &arg, 1) && xs_parse_uint(arg, UINT16_MAX, domid);
}

static int handle_read(XsReq *req)
{
    g_autofree char *path = req_path_arg(req);

    return path ? xs_op_read(req->domid, req->tx, path, req->reply) : -EINVAL;
}

/* "path\0value": the value is the rest, any bytes. */
static int handle_write(XsReq *req)
{
    const char *end = memchr(req->data, '\0', req->len);
    g_autofree char *path = end ? req_path(req, req->data) : NULL;
    size_t off;

    if (!path) {
        return -EINVAL;
    }
    off = end - req->data + 1;
    return reply_ok(req, xs_op_write(req->domid, req->tx, path, req->data + off, req->len - off));
}

static int handle_mkdir(XsReq *req)
{
    g_autofree char *path = req_path_arg(req);

    return path ? reply_ok(req, xs_op_mkdir(req->domid, req->tx, path)) : -EINVAL;
}

static int handle_rm(XsReq *req)
{
    g_autofree char *path = req_path_arg(req);

    return path ? reply_ok(req, xs_op_rm(req->domid, req->tx, path)) : -EINVAL;
}

static int handle_directory(XsReq *req)
{
    g_autofree char *path = req_path_arg(req);
    uint64_t gen;

    return path ? xs_op_directory(req->domid, req->tx, path, req->reply, &gen) : -EINVAL;
}

/* "path\0offset\0": the node's generation, then the whole names from byte offset on that fit,
 * then an empty name if the list is done. */
static int handle_directory_part(XsReq *req)
{
    g_autoptr(GByteArray) names = g_byte_array_new();
    g_autofree char *path = NULL;
    g_autofree char *gen_str = NULL;
    const char *arg[2];
    uint64_t off, gen;
    size_t len = 0;
    int ret;

    if (!req_strings(req, arg, 2) || !xs_parse_uint(arg[1], UINT32_MAX, &off) ||
        !(path = req_path(req, arg[0]))) {
        return -EINVAL;
    }
    ret = xs_op_directory(req->domid, req->tx, path, names, &gen);
    if (ret) {
        return ret;
    }
    gen_str = g_strdup_printf("%" PRIu64, gen);
    reply_str(req, gen_str);
    off = MIN(off, names->len);
    while (off + len < names->len) {
        size_t n = strlen((const char *)names->data + off + len) + 1;

        if (req->reply->len + len + n + 1 > XENSTORE_PAYLOAD_MAX) {
            break;
        }
        len += n;
    }
    g_byte_array_append(req->reply, names->data + off, len);
    if (off + len == names->len) {
        g_byte_array_append(req->reply, (const guint8 *)"", 1);
    }
    return 0;
}

static const char perm_letters[] = "nrwb"; /* indexed by XS_PERM_* */

static int handle_get_perms(XsReq *req)
{
    g_autoptr(GArray) perms = g_array_new(FALSE, FALSE, sizeof(XsPerm));
    g_autofree char *path = req_path_arg(req);
    int ret = path ? xs_op_get_perms(req->domid, req->tx, path, perms) : -EINVAL;

    for (guint i = 0; !ret && i < perms->len; i++) {
        const XsPerm *p = &g_array_index(perms, XsPerm, i);
        g_autofree char *s = g_strdup_printf("%c%u", perm_letters[p->perm & 3], p->domid);

        reply_str(req, s);
    }
    return ret;
}

static bool parse_perm(const char *s, XsPerm *perm)
{
    const char *letter = s[0] ? strchr(perm_letters, s[0]) : NULL;
    uint64_t domid;

    if (!letter || !xs_parse_uint(s + 1, UINT16_MAX, &domid)) {
        return false;
    }
    perm->perm = letter - perm_letters;
    perm->domid = domid;
    return true;
}

/* "path\0perm\0perm\0...": every string NUL-terminated. */
static int handle_set_perms(XsReq *req)
{
    g_autoptr(GArray) perms = g_array_new(FALSE, FALSE, sizeof(XsPerm));
    g_autofree char *path = NULL;
    const char *end = req->data + req->len;

    if (!req->len || end[-1] != '\0' || !(path = req_path(req, req->data))) {
        return -EINVAL;
    }
    for (const char *s = req->data + strlen(req->data) + 1; s < end; s += strlen(s) + 1) {
        XsPerm p;

        if (!parse_perm(s, &p)) {
            return -EINVAL;
        }
        g_array_append_val(perms, p);
    }
    return reply_ok(
        req, xs_op_set_perms(req->domid, req->tx, path, (const XsPerm *)perms->data, perms->len));
}

/* "path\0token\0"; the watch's first event follows the reply. */
static int handle_watch(XsReq *req)
{
    g_autofree char *path = NULL;
    const char *arg[2];
    XsGuestWatch *gw;
    size_t strip;

    if (!req_strings(req, arg, 2) ||
        !(path = xs_path_canonical(req->domid, arg[0], true, &strip))) {
        return -EINVAL;
    }
    if (guest_watch_find(path, arg[1]) >= 0) {
        return -EEXIST;
    }
    if (conn.watches->len >= XS_CONN_WATCHES) {
        return -E2BIG;
    }
    gw = g_new0(XsGuestWatch, 1);
    gw->path = g_steal_pointer(&path);
    gw->strip = strip;
    gw->token = g_strdup(arg[1]);
    gw->watch = xs_watch_add(req->domid, gw->path, strip, guest_watch_fired, gw);
    g_ptr_array_add(conn.watches, gw);
    req->new_watch = gw;
    return reply_ok(req, 0);
}

static int handle_unwatch(XsReq *req)
{
    g_autofree char *path = NULL;
    const char *arg[2];
    size_t strip;
    int i;

    if (!req_strings(req, arg, 2) ||
        !(path = xs_path_canonical(req->domid, arg[0], true, &strip))) {
        return -EINVAL;
    }
    i = guest_watch_find(path, arg[1]);
    if (i < 0) {
        return -ENOENT;
    }
    g_ptr_array_remove_index(conn.watches, i);
    return reply_ok(req, 0);
}

static int handle_transaction_start(XsReq *req)
{
    g_autofree char *id_str = NULL;
    uint32_t id;

    if (req->tx) {
        return -EBUSY;
    }
    if (g_hash_table_size(conn.txs) >= XS_CONN_TXS) {
        return -ENOSPC;
    }
    do {
        id = ++conn.last_tx_id;
    } while (!id || g_hash_table_contains(conn.txs, GUINT_TO_POINTER(id)));
    g_hash_table_insert(conn.txs, GUINT_TO_POINTER(id), xs_tx_begin());
    id_str = g_strdup_printf("%u", id);
    reply_str(req, id_str);
    return 0;
}

/* "T\0" commits, "F\0" aborts; either way the transaction is over. */
static int handle_transaction_end(XsReq *req)
{
    const char *arg;
    bool commit;

    if (!req->tx) {
        return -ENOENT;
    }
    if (!req_strings(req, &arg, 1) || (strcmp(arg, "T") && strcmp(arg, "F"))) {
        return -EINVAL;
    }
    commit = arg[0] == 'T';
    g_hash_table_steal(conn.txs, GUINT_TO_POINTER(req->tx_id));
    return reply_ok(req, xs_tx_end(g_steal_pointer(&req->tx), commit));
}

static int handle_get_domain_path(XsReq *req)
{
    g_autofree char *path = NULL;
    uint64_t domid;

    if (!req_domid_arg(req, &domid)) {
        return -EINVAL;
    }
    path = g_strdup_printf("/local/domain/%" PRIu64, domid);
    reply_str(req, path);
    return 0;
}

/* Domain 0 and the guest are the domains there are. */
static int handle_is_domain_introduced(XsReq *req)
{
    uint64_t domid;

    if (!req_domid_arg(req, &domid)) {
        return -EINVAL;
    }
    reply_str(req, domid == 0 || domid == req->domid ? "T" : "F");
    return 0;
}

static int handle_reset_watches(XsReq *req)
{
    g_ptr_array_set_size(conn.watches, 0);
    g_hash_table_remove_all(conn.txs);
    return reply_ok(req, 0);
}

/* No debugging or live-update commands to offer. */
static int handle_control(XsReq *req)
{
    return -EINVAL;
}

static int handle_privileged(XsReq *req)
{
    return -EACCES;
}

static XsHandler *const handlers[] = {
    [XS_CONTROL] = handle_control,
    [XS_DIRECTORY] = handle_directory,
    [XS_READ] = handle_read,
    [XS_GET_PERMS] = handle_get_perms,
    [XS_WATCH] = handle_watch,
    [XS_UNWATCH] = handle_unwatch,
    [XS_TRANSACTION_START] = handle_transaction_start,
    [XS_TRANSACTION_END] = handle_transaction_end,
    [XS_INTRODUCE] = handle_privileged,
    [XS_RELEASE] = handle_privileged,
    [XS_GET_DOMAIN_PATH] = handle_get_domain_path,
    [XS_WRITE] = handle_write,
    [XS_MKDIR] = handle_mkdir,
    [XS_RM] = handle_rm,
    [XS_SET_PERMS] = handle_set_perms,
    [XS_IS_DOMAIN_INTRODUCED] = handle_is_domain_introduced,
    [XS_RESUME] = handle_privileged,
    [XS_SET_TARGET] = handle_privileged,
    [XS_RESET_WATCHES] = handle_reset_watches,
    [XS_DIRECTORY_PART] = handle_directory_part,
};

static int req_dispatch(XsReq *req)
{
    XsHandler *handler = req->type < G_N_ELEMENTS(handlers) ? handlers[req->type] : NULL;
    int ret;

    if (!handler) {
        return -EINVAL;
    }
    if (req->tx_id) {
        req->tx = g_hash_table_lookup(conn.txs, GUINT_TO_POINTER(req->tx_id));
        if (!req->tx) {
            return -ENOENT;
        }
    }
    ret = handler(req);
    return !ret && req->reply->len > XENSTORE_PAYLOAD_MAX ? -E2BIG : ret;
}

/* Answer the whole request in conn.in, then send the watch events it caused. */
static void conn_handle_request(void)
{
    uint32_t hdr[4];
    XsReq req = {0};
    int ret;

    memcpy(hdr, conn.in, sizeof(hdr));
    req.type = hdr[0];
    req.req_id = hdr[1];
    req.tx_id = hdr[2];
    req.len = hdr[3];
    req.data = (const char *)conn.in + XS_HDR_SIZE;
    req.domid = xs_guest_domid();
    req.reply = g_byte_array_new();
    TRACE("xenstore_request", "type %u req_id %u tx_id %u len %u", req.type, req.req_id, req.tx_id,
          req.len);
    ret = req_dispatch(&req);
    if (ret) {
        const char *name = errno_name(-ret);

        conn_queue(XS_ERROR, req.req_id, req.tx_id, name, strlen(name) + 1);
    } else {
        conn_queue(req.type, req.req_id, req.tx_id, req.reply->data, req.reply->len);
    }
    if (req.new_watch) {
        guest_watch_event(req.new_watch, req.new_watch->path + req.new_watch->strip);
    }
    g_byte_array_unref(req.reply);
    xs_fire_changes();
}

/* ---- the interface ---- */

static void kick_later(void *opaque)
{
    conn.kick_scheduled = false;
    xenstore_ring_kick();
}

void xenstore_ring_kick(void)
{
    unsigned handled = 0;

    if (!conn.ring || conn.broken) {
        return;
    }
    conn.in_kick = true;
    for (;;) {
        conn_write_out();
        if (conn.broken || !g_queue_is_empty(&conn.out)) {
            break;
        }
        if (handled == XS_KICK_BATCH) {
            if (!conn.kick_scheduled) {
                conn.kick_scheduled = true;
                main_loop_call(kick_later, NULL);
            }
            break;
        }
        if (!conn_read_in()) {
            break;
        }
        conn_handle_request();
        conn.in_len = 0;
        handled++;
    }
    conn.in_kick = false;
    conn_notify();
}

void xs_conn_drop(void)
{
    if (conn.watches) {
        g_ptr_array_set_size(conn.watches, 0);
        g_hash_table_remove_all(conn.txs);
    }
    conn_clear_io();
    conn.ring = NULL;
    conn.notify = NULL;
    conn.opaque = NULL;
    conn.broken = false;
    conn.moved = false;
}

/* The indexes are taken as they are: a guest must not assume they start at zero. */
void xenstore_attach_ring(void *ring, void (*notify)(void *opaque), void *opaque)
{
    xs_conn_drop();
    if (!ring) {
        return;
    }
    if (!conn.watches) {
        conn.watches = g_ptr_array_new_with_free_func(guest_watch_free);
        conn.txs = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, tx_abort);
    }
    conn.ring = ring;
    conn.notify = notify;
    conn.opaque = opaque;
    conn.req_cons = ring_load(XENSTORE_RING_REQ_CONS);
    conn.rsp_prod = ring_load(XENSTORE_RING_RSP_PROD);
    ring_store(XENSTORE_RING_SERVER_FEATURES, RING_FEATURE_ERROR);
    ring_store(XENSTORE_RING_CONNECTION, 0);
    ring_store(XENSTORE_RING_ERROR, RING_ERROR_NONE);
}

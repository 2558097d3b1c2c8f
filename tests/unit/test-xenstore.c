/*
 * Unit tests of the in-VMM xenstore (hw/xen/xenstore*.c): the VMM's calls
 * (values, parents, permissions, watches deferred to the main loop), and the guest's wire
 * protocol through a ring page in plain memory, the test playing the guest: each XS_*
 * request with its exact reply, permission refusals, relative paths, transactions, watch
 * events, requests and replies split by the ring, and hostile input (corrupt indexes,
 * oversized messages, malformed payloads, the caps on watches, transactions, nodes and
 * queued output, a seeded random request sequence). Expected replies follow
 * docs/misc/xenstore.txt and xenstored's behaviour.
 */
#include <string.h>
#include <glib.h>
#include "hw/xen/xen-abi.h"
#include "hw/xen/xenstore.h"
#include "util/main-loop.h"

#define GUEST 1
#define HOME "/local/domain/1"
#define RING_MASK (XENSTORE_RING_SIZE - 1)

typedef struct Msg {
    uint32_t type, req_id, tx_id, len;
    uint8_t data[XENSTORE_PAYLOAD_MAX + 1];
} Msg;

static uint8_t *ring;
static unsigned notifies;
static uint32_t last_req_id;
static GPtrArray *vmm_log; /* paths the VMM watches were called with */

/* ---- the guest's end of the ring ---- */

static uint32_t *ring_u32(unsigned off)
{
    return (uint32_t *)(ring + off);
}

static void notify(void *opaque)
{
    notifies++;
}

static void run_main_loop(void)
{
    for (int i = 0; i < 50; i++) {
        g_main_context_iteration(main_loop_context(), FALSE);
    }
}

static void setup(void)
{
    xenstore_reset(GUEST);
    g_free(ring);
    ring = g_malloc0(XEN_PAGE_SIZE);
    xenstore_attach_ring(ring, notify, NULL);
    run_main_loop();
    notifies = 0;
    g_ptr_array_set_size(vmm_log, 0);
}

static uint32_t rsp_avail(void)
{
    return *ring_u32(XENSTORE_RING_RSP_PROD) - *ring_u32(XENSTORE_RING_RSP_CONS);
}

/* Put bytes on the request queue, kicking the server when it is full. */
static void send_bytes(const void *buf, uint32_t n)
{
    const uint8_t *p = buf;

    while (n) {
        uint32_t prod = *ring_u32(XENSTORE_RING_REQ_PROD);

        if (prod - *ring_u32(XENSTORE_RING_REQ_CONS) == XENSTORE_RING_SIZE) {
            xenstore_ring_kick();
            g_assert_cmpuint(prod - *ring_u32(XENSTORE_RING_REQ_CONS), <, XENSTORE_RING_SIZE);
            continue;
        }
        ring[XENSTORE_RING_REQ + (prod & RING_MASK)] = *p++;
        *ring_u32(XENSTORE_RING_REQ_PROD) = prod + 1;
        n--;
    }
}

static void send_msg(uint32_t type, uint32_t req_id, uint32_t tx_id, const void *payload,
                     uint32_t len)
{
    uint32_t hdr[4] = {type, req_id, tx_id, len};

    send_bytes(hdr, sizeof(hdr));
    send_bytes(payload, len);
}

/* Take bytes from the response queue, kicking the server when it is empty. */
static void recv_bytes(void *buf, uint32_t n)
{
    uint8_t *p = buf;

    while (n) {
        uint32_t cons = *ring_u32(XENSTORE_RING_RSP_CONS);

        if (!rsp_avail()) {
            xenstore_ring_kick();
            g_assert_cmpuint(rsp_avail(), >, 0);
            continue;
        }
        *p++ = ring[XENSTORE_RING_RSP + (cons & RING_MASK)];
        *ring_u32(XENSTORE_RING_RSP_CONS) = cons + 1;
        n--;
    }
}

static void recv_msg(Msg *m)
{
    recv_bytes(m, 16);
    g_assert_cmpuint(m->len, <=, XENSTORE_PAYLOAD_MAX);
    recv_bytes(m->data, m->len);
    m->data[m->len] = '\0';
}

static void assert_no_msg(void)
{
    xenstore_ring_kick();
    g_assert_cmpuint(rsp_avail(), ==, 0);
}

/* One request and its reply. */
static void call(uint32_t type, uint32_t tx_id, const void *payload, uint32_t len, Msg *m)
{
    uint32_t id = ++last_req_id;

    send_msg(type, id, tx_id, payload, len);
    xenstore_ring_kick();
    recv_msg(m);
    g_assert_cmpuint(m->req_id, ==, id);
    g_assert_cmpuint(m->tx_id, ==, tx_id);
}

static void expect(uint32_t type, uint32_t tx_id, const void *payload, uint32_t len,
                   uint32_t reply_type, const void *reply, uint32_t reply_len)
{
    Msg m;

    call(type, tx_id, payload, len, &m);
    g_assert_cmpuint(m.type, ==, reply_type);
    g_assert_cmpmem(m.data, m.len, reply, reply_len);
}

/* Payloads are string literals with their NULs spelled out. */
#define EXPECT(type, tx, req, reply_type, reply)                                               \
    expect(type, tx, req, sizeof(req) - 1, reply_type, reply, sizeof(reply) - 1)
#define EXPECT_OK(type, tx, req) EXPECT(type, tx, req, type, "OK\0")
#define EXPECT_ERR(type, tx, req, err) EXPECT(type, tx, req, XS_ERROR, err "\0")

static void expect_event(const char *path, const char *token)
{
    g_autofree char *payload = g_strdup_printf("%s%c%s", path, 0, token);
    Msg m;

    recv_msg(&m);
    g_assert_cmpuint(m.type, ==, XS_WATCH_EVENT);
    g_assert_cmpuint(m.req_id, ==, 0);
    g_assert_cmpmem(m.data, m.len, payload, strlen(path) + strlen(token) + 2);
}

static void watch(const char *path, const char *token)
{
    g_autofree char *payload = g_strdup_printf("%s%c%s", path, 0, token);

    expect(XS_WATCH, 0, payload, strlen(path) + strlen(token) + 2, XS_WATCH, "OK", 3);
    expect_event(path, token);
}

static uint32_t tx_start(void)
{
    Msg m;

    call(XS_TRANSACTION_START, 0, "", 1, &m);
    g_assert_cmpuint(m.type, ==, XS_TRANSACTION_START);
    g_assert_cmpuint(m.len, ==, strlen((char *)m.data) + 1);
    return strtoul((char *)m.data, NULL, 10);
}

static void vmm_watch_cb(void *opaque, const char *path)
{
    g_ptr_array_add(vmm_log, g_strdup(path));
}

static void assert_vmm_log(const char *const *paths)
{
    guint n = g_strv_length((char **)paths);

    g_assert_cmpuint(vmm_log->len, ==, n);
    for (guint i = 0; i < n; i++) {
        g_assert_cmpstr(vmm_log->pdata[i], ==, paths[i]);
    }
    g_ptr_array_set_size(vmm_log, 0);
}

/* ---- the VMM's calls ---- */

static void test_vmm_reset_tree(void)
{
    g_autofree char *domid = NULL, *name = NULL, *root = NULL;

    setup();
    domid = xenstore_read(HOME "/domid");
    name = xenstore_read(HOME "/name");
    root = xenstore_read("/");
    g_assert_cmpstr(domid, ==, "1");
    g_assert_cmpstr(name, ==, "guest");
    g_assert_cmpstr(root, ==, "");
    g_assert_null(xenstore_read("/local/domain/0"));
    EXPECT(XS_GET_PERMS, 0, HOME "\0", XS_GET_PERMS, "n1\0");
    EXPECT(XS_GET_PERMS, 0, "name\0", XS_GET_PERMS, "n1\0");
    EXPECT(XS_DIRECTORY, 0, HOME "\0", XS_DIRECTORY, "domid\0name\0");
}

static void test_vmm_read_write(void)
{
    g_autofree char *big = g_strnfill(XENSTORE_PAYLOAD_MAX + 1, 'x');
    g_autofree char *value = NULL;
    uint64_t n;

    setup();
    g_assert_cmpint(xenstore_write("/a/b/c", "v"), ==, 0);
    value = xenstore_read("/a/b/c");
    g_assert_cmpstr(value, ==, "v");
    g_clear_pointer(&value, g_free);
    value = xenstore_read("/a/b");
    g_assert_cmpstr(value, ==, "");
    g_assert_cmpint(xenstore_printf("/a/n", "%d", 42), ==, 0);
    g_assert_true(xenstore_read_uint("/a/n", &n));
    g_assert_cmpuint(n, ==, 42);
    g_assert_false(xenstore_read_uint("/a/b/c", &n));
    g_assert_false(xenstore_read_uint("/a/none", &n));
    xenstore_write("/a/n", "-1");
    g_assert_false(xenstore_read_uint("/a/n", &n));
    xenstore_write("/a/n", "18446744073709551616");
    g_assert_false(xenstore_read_uint("/a/n", &n));

    g_assert_cmpint(xenstore_write("relative", "v"), ==, -EINVAL);
    g_assert_cmpint(xenstore_write("/a//b", "v"), ==, -EINVAL);
    g_assert_cmpint(xenstore_write("/a/", "v"), ==, -EINVAL);
    g_assert_cmpint(xenstore_write("/a/b c", "v"), ==, -EINVAL);
    g_assert_cmpint(xenstore_write("/a/big", big), ==, -E2BIG);
    big[XENSTORE_PAYLOAD_MAX] = '\0';
    g_assert_cmpint(xenstore_write("/a/big", big), ==, 0);

    g_assert_cmpint(xenstore_rm("/a/b"), ==, 0);
    g_assert_null(xenstore_read("/a/b/c"));
    g_assert_null(xenstore_read("/a/b"));
    g_assert_cmpint(xenstore_rm("/a/b"), ==, 0); /* absent, but its parent exists */
    g_assert_cmpint(xenstore_rm("/a/x/y"), ==, -ENOENT);
    g_assert_cmpint(xenstore_rm("/"), ==, -EINVAL);
    g_assert_cmpint(xenstore_rm("/a/"), ==, -EINVAL);
}

static void test_vmm_perms(void)
{
    XsPerm perms[] = {{0, XS_PERM_NONE}, {GUEST, XS_PERM_READ}, {7, XS_PERM_BOTH}};
    XsPerm bad = {0, 4};

    setup();
    xenstore_write("/local/domain/0/backend/x", "1");
    EXPECT_ERR(XS_READ, 0, "/local/domain/0/backend/x\0", "EACCES");
    g_assert_cmpint(xenstore_set_perms("/local/domain/0/backend/x", perms, 3), ==, 0);
    EXPECT(XS_GET_PERMS, 0, "/local/domain/0/backend/x\0", XS_GET_PERMS, "n0\0r1\0b7\0");
    EXPECT(XS_READ, 0, "/local/domain/0/backend/x\0", XS_READ, "1");
    g_assert_cmpint(xenstore_set_perms("/local/domain/0/backend/y", perms, 3), ==, -ENOENT);
    g_assert_cmpint(xenstore_set_perms("/local/domain/0/backend/x", perms, 0), ==, -EINVAL);
    g_assert_cmpint(xenstore_set_perms("/local/domain/0/backend/x", &bad, 1), ==, -EINVAL);
    g_assert_cmpint(xenstore_set_perms("backend", perms, 1), ==, -EINVAL);

    /* Children inherit; the privileged creator keeps the parent's owner. */
    xenstore_write("/local/domain/0/backend/x/child", "c");
    EXPECT(XS_GET_PERMS, 0, "/local/domain/0/backend/x/child\0", XS_GET_PERMS,
           "n0\0r1\0b7\0");
    xenstore_write(HOME "/device/vbd/51712/state", "1");
    EXPECT(XS_GET_PERMS, 0, "device/vbd/51712/state\0", XS_GET_PERMS, "n1\0");
}

static void test_vmm_watch(void)
{
    XsWatch *w;

    setup();
    w = xenstore_watch("/w", vmm_watch_cb, NULL);
    g_assert_nonnull(w);
    g_assert_cmpuint(vmm_log->len, ==, 0); /* deferred, even the first event */
    run_main_loop();
    assert_vmm_log((const char *[]){"/w", NULL});

    xenstore_write("/w/a/b", "1");
    xenstore_write("/wx", "1"); /* not below /w */
    xenstore_write("/other", "1");
    g_assert_cmpuint(vmm_log->len, ==, 0);
    run_main_loop();
    assert_vmm_log((const char *[]){"/w/a/b", NULL});

    xenstore_write("/w", "2");
    xenstore_rm("/w/a");
    EXPECT_ERR(XS_WRITE, 0, "/w/guest\0x", "EACCES"); /* /w is dom0's */
    run_main_loop();
    assert_vmm_log((const char *[]){"/w", "/w/a", NULL});

    xenstore_write("/w/gone", "1");
    xenstore_unwatch(w); /* its pending event goes with it */
    run_main_loop();
    g_assert_cmpuint(vmm_log->len, ==, 0);
    g_assert_null(xenstore_watch("/w/", vmm_watch_cb, NULL));
    g_assert_null(xenstore_watch("w", vmm_watch_cb, NULL));
}

static void test_vmm_watch_guest_changes(void)
{
    XsWatch *w, *deep;

    setup();
    w = xenstore_watch(HOME "/device", vmm_watch_cb, NULL);
    deep = xenstore_watch(HOME "/device/vbd/51712/state", vmm_watch_cb, NULL);
    run_main_loop();
    assert_vmm_log((const char *[]){HOME "/device", HOME "/device/vbd/51712/state", NULL});

    EXPECT_OK(XS_WRITE, 0, "device/vbd/51712/state\0" "3");
    run_main_loop();
    assert_vmm_log(
        (const char *[]){HOME "/device/vbd/51712/state", HOME "/device/vbd/51712/state", NULL});
    /* Removing an ancestor fires watches below it with their own path. */
    EXPECT_OK(XS_RM, 0, "device/vbd\0");
    run_main_loop();
    assert_vmm_log((const char *[]){HOME "/device/vbd", HOME "/device/vbd/51712/state", NULL});
    xenstore_unwatch(w);
    xenstore_unwatch(deep);
}

static int echo_calls;

/* A watcher that writes to the store from its callback. */
static void echo_cb(void *opaque, const char *path)
{
    echo_calls++;
    g_ptr_array_add(vmm_log, g_strdup(path));
    if (!strcmp(path, "/e/in")) {
        xenstore_write("/e/out", "echo");
    }
}

static void test_vmm_watch_reentrant(void)
{
    XsWatch *w;

    setup();
    w = xenstore_watch("/e", echo_cb, NULL);
    run_main_loop();
    xenstore_write("/e/in", "x");
    g_assert_cmpint(echo_calls, ==, 1);
    run_main_loop();
    assert_vmm_log((const char *[]){"/e", "/e/in", "/e/out", NULL});
    xenstore_unwatch(w);
}

/* A reset keeps the VMM's watches and fires each once. */
static void test_vmm_watch_reset(void)
{
    XsWatch *w;

    setup();
    w = xenstore_watch("/local/domain/0/backend", vmm_watch_cb, NULL);
    run_main_loop();
    g_ptr_array_set_size(vmm_log, 0);
    xenstore_write("/local/domain/0/backend/x", "1");
    xenstore_reset(GUEST);
    run_main_loop();
    assert_vmm_log((const char *[]){"/local/domain/0/backend", NULL});
    g_assert_null(xenstore_read("/local/domain/0/backend/x"));
    xenstore_write("/local/domain/0/backend/y", "1");
    run_main_loop();
    assert_vmm_log((const char *[]){"/local/domain/0/backend/y", NULL});
    xenstore_unwatch(w);
}

/* ---- the guest's protocol ---- */

static void test_ring_attach(void)
{
    setup();
    g_assert_cmpuint(*ring_u32(XENSTORE_RING_SERVER_FEATURES), ==, 2);
    g_assert_cmpuint(*ring_u32(XENSTORE_RING_CONNECTION), ==, 0);
    g_assert_cmpuint(*ring_u32(XENSTORE_RING_ERROR), ==, 0);

    /* Indexes need not start at zero, and wrap. */
    xenstore_attach_ring(NULL, NULL, NULL);
    *ring_u32(XENSTORE_RING_REQ_CONS) = *ring_u32(XENSTORE_RING_REQ_PROD) = 0xfffffff0u;
    *ring_u32(XENSTORE_RING_RSP_CONS) = *ring_u32(XENSTORE_RING_RSP_PROD) = 0xffffffe0u;
    xenstore_attach_ring(ring, notify, NULL);
    EXPECT(XS_READ, 0, "domid\0", XS_READ, "1");
    EXPECT(XS_READ, 0, HOME "/name\0", XS_READ, "guest");
    g_assert_cmpuint(*ring_u32(XENSTORE_RING_REQ_PROD), <, 0x100);
    g_assert_cmpuint(notifies, >=, 2);
}

static void test_ring_read_write(void)
{
    g_autofree char *value = NULL;

    setup();
    EXPECT_OK(XS_WRITE, 0, "data/a\0hello");
    EXPECT(XS_READ, 0, "data/a\0", XS_READ, "hello");
    EXPECT(XS_READ, 0, HOME "/data/a\0", XS_READ, "hello");
    EXPECT(XS_READ, 0, "data\0", XS_READ, "");
    value = xenstore_read(HOME "/data/a");
    g_assert_cmpstr(value, ==, "hello");

    EXPECT_OK(XS_WRITE, 0, "data/bin\0a\0b");
    EXPECT(XS_READ, 0, "data/bin\0", XS_READ, "a\0b");
    EXPECT_OK(XS_WRITE, 0, "data/empty\0");
    EXPECT(XS_READ, 0, "data/empty\0", XS_READ, "");

    EXPECT_OK(XS_MKDIR, 0, "data/dir/sub\0");
    EXPECT_OK(XS_MKDIR, 0, "data/dir\0"); /* existing: fine */
    EXPECT(XS_DIRECTORY, 0, "data\0", XS_DIRECTORY, "a\0bin\0empty\0dir\0");
    EXPECT(XS_DIRECTORY, 0, "data/dir/sub\0", XS_DIRECTORY, "");
    EXPECT_ERR(XS_DIRECTORY, 0, "data/none\0", "ENOENT");
    EXPECT_ERR(XS_READ, 0, "data/none\0", "ENOENT");

    EXPECT_OK(XS_RM, 0, "data/dir\0");
    EXPECT_ERR(XS_READ, 0, "data/dir/sub\0", "ENOENT");
    EXPECT_OK(XS_RM, 0, "data/dir\0"); /* absent, parent exists */
    EXPECT_ERR(XS_RM, 0, "data/dir/sub\0", "ENOENT");
    EXPECT_ERR(XS_RM, 0, "/\0", "EINVAL");
    EXPECT(XS_DIRECTORY, 0, "data\0", XS_DIRECTORY, "a\0bin\0empty\0");
}

static void test_ring_directory_part(void)
{
    g_autoptr(GString) all = g_string_new(NULL);
    g_autoptr(GString) got = g_string_new(NULL);
    g_autofree char *gen0 = NULL;
    uint32_t off = 0;
    Msg m;

    setup();
    for (int i = 0; i < 200; i++) {
        g_autofree char *path = g_strdup_printf(HOME "/many/child-with-a-longer-name-%03d", i);

        xenstore_write(path, "");
        g_string_append_printf(all, "child-with-a-longer-name-%03d", i);
        g_string_append_c(all, '\0');
    }
    g_assert_cmpuint(all->len, >, XENSTORE_PAYLOAD_MAX);
    EXPECT_ERR(XS_DIRECTORY, 0, "many\0", "E2BIG");
    for (;;) {
        g_autofree char *req = g_strdup_printf("many%c%u", 0, off);
        const char *gen;
        size_t names;

        call(XS_DIRECTORY_PART, 0, req, strlen("many") + 1 + strlen(req + 5) + 1, &m);
        g_assert_cmpuint(m.type, ==, XS_DIRECTORY_PART);
        gen = (const char *)m.data;
        if (!gen0) {
            gen0 = g_strdup(gen);
        }
        g_assert_cmpstr(gen, ==, gen0);
        names = m.len - strlen(gen) - 1;
        g_string_append_len(got, gen + strlen(gen) + 1, names);
        off += names;
        if (names && m.data[m.len - 1] == '\0' && m.data[m.len - 2] == '\0') {
            off--; /* the empty name marks the end */
            g_string_truncate(got, got->len - 1);
            break;
        }
        g_assert_cmpuint(names, >, 0);
    }
    g_assert_cmpuint(off, ==, all->len);
    g_assert_cmpmem(got->str, got->len, all->str, all->len);

    /* Past the end: the generation and an empty name; a change moves the generation. */
    {
        g_autofree char *req = g_strdup_printf("many%c%u", 0, off + 100);

        call(XS_DIRECTORY_PART, 0, req, strlen("many") + 1 + strlen(req + 5) + 1, &m);
        g_assert_cmpuint(m.len, ==, strlen(gen0) + 2);
        g_assert_cmpstr((char *)m.data, ==, gen0);
        xenstore_write(HOME "/many/another", "");
        call(XS_DIRECTORY_PART, 0, req, strlen("many") + 1 + strlen(req + 5) + 1, &m);
        g_assert_cmpstr((char *)m.data, !=, gen0);
    }
    EXPECT_ERR(XS_DIRECTORY_PART, 0, "many\0x\0", "EINVAL");
    EXPECT_ERR(XS_DIRECTORY_PART, 0, "many\0", "EINVAL");
    EXPECT_ERR(XS_DIRECTORY_PART, 0, "nope\0" "0\0", "ENOENT");
}

static void test_ring_perms(void)
{
    XsPerm shared[] = {{0, XS_PERM_NONE}, {GUEST, XS_PERM_BOTH}};

    setup();
    xenstore_write("/local/domain/0/backend/private", "secret");
    xenstore_write("/local/domain/0/backend/shared", "s");
    xenstore_set_perms("/local/domain/0/backend/shared", shared, 2);

    EXPECT_ERR(XS_READ, 0, "/local\0", "EACCES");
    EXPECT_ERR(XS_READ, 0, "/\0", "EACCES");
    EXPECT_ERR(XS_READ, 0, "/local/domain/0/backend/private\0", "EACCES");
    EXPECT_ERR(XS_READ, 0, "/local/nothing\0", "EACCES"); /* hidden by /local */
    EXPECT_ERR(XS_WRITE, 0, "/local/domain/0/backend/private\0x", "EACCES");
    EXPECT_ERR(XS_WRITE, 0, "/local/domain/0/backend/new\0x", "EACCES");
    EXPECT_ERR(XS_MKDIR, 0, "/local/foo\0", "EACCES");
    EXPECT_ERR(XS_MKDIR, 0, "/local/domain\0", "EACCES");
    EXPECT_ERR(XS_RM, 0, "/local/domain/0/backend/private\0", "EACCES");
    EXPECT_ERR(XS_RM, 0, "/local/domain/0/backend\0", "EACCES");
    EXPECT_ERR(XS_DIRECTORY, 0, "/local/domain\0", "EACCES");
    EXPECT_ERR(XS_GET_PERMS, 0, "/local/domain/0/backend/private\0", "EACCES");
    EXPECT_ERR(XS_SET_PERMS, 0, "/local/domain/0/backend/shared\0n1\0", "EACCES");
    g_autofree char *secret = xenstore_read("/local/domain/0/backend/private");
    g_assert_cmpstr(secret, ==, "secret");

    /* Granted read and write: a node the guest creates there is its own. */
    EXPECT(XS_READ, 0, "/local/domain/0/backend/shared\0", XS_READ, "s");
    EXPECT_OK(XS_WRITE, 0, "/local/domain/0/backend/shared\0t");
    EXPECT_OK(XS_WRITE, 0, "/local/domain/0/backend/shared/fe/x\0y");
    EXPECT(XS_GET_PERMS, 0, "/local/domain/0/backend/shared/fe/x\0", XS_GET_PERMS,
           "n1\0b1\0");
    EXPECT(XS_GET_PERMS, 0, "/local/domain/0/backend/shared\0", XS_GET_PERMS, "n0\0b1\0");

    /* The owner sets permissions, but cannot give the node away. */
    EXPECT_OK(XS_SET_PERMS, 0, "domid\0n1\0r0\0w5\0");
    EXPECT(XS_GET_PERMS, 0, "domid\0", XS_GET_PERMS, "n1\0r0\0w5\0");
    EXPECT_ERR(XS_SET_PERMS, 0, "domid\0n0\0", "EPERM");
    EXPECT_ERR(XS_SET_PERMS, 0, "domid\0n1\0r2\0r3\0r4\0r5\0r6\0", "ENOSPC");
    EXPECT_ERR(XS_SET_PERMS, 0, "nope\0n1\0", "ENOENT");
    EXPECT_ERR(XS_SET_PERMS, 0, "domid\0", "EINVAL");
    EXPECT_ERR(XS_SET_PERMS, 0, "domid\0x1\0", "EINVAL");
    EXPECT_ERR(XS_SET_PERMS, 0, "domid\0r\0", "EINVAL");
    EXPECT_ERR(XS_SET_PERMS, 0, "domid\0r70000\0", "EINVAL");
    EXPECT_ERR(XS_SET_PERMS, 0, "domid\0r-1\0", "EINVAL");
    EXPECT_ERR(XS_SET_PERMS, 0, "domid\0n1", "EINVAL");
    EXPECT_ERR(XS_SET_PERMS, 0, "domid\0\0", "EINVAL");
    EXPECT(XS_GET_PERMS, 0, "domid\0", XS_GET_PERMS, "n1\0r0\0w5\0");
}

static void test_ring_transactions(void)
{
    uint32_t tx, tx2;
    g_autofree char *value = NULL;

    setup();
    tx = tx_start();
    g_assert_cmpuint(tx, !=, 0);
    EXPECT_OK(XS_WRITE, tx, "t/a\0" "1");
    EXPECT(XS_READ, tx, "t/a\0", XS_READ, "1");
    EXPECT_ERR(XS_READ, 0, "t/a\0", "ENOENT");
    EXPECT(XS_DIRECTORY, tx, "t\0", XS_DIRECTORY, "a\0");
    EXPECT_OK(XS_RM, tx, "name\0");
    EXPECT(XS_READ, 0, "name\0", XS_READ, "guest");
    EXPECT_ERR(XS_READ, tx, "name\0", "ENOENT");
    EXPECT_ERR(XS_TRANSACTION_START, tx, "\0", "EBUSY");
    EXPECT_ERR(XS_TRANSACTION_END, tx, "X\0", "EINVAL");
    EXPECT_OK(XS_TRANSACTION_END, tx, "T\0");
    EXPECT(XS_READ, 0, "t/a\0", XS_READ, "1");
    EXPECT_ERR(XS_READ, 0, "name\0", "ENOENT");
    EXPECT_ERR(XS_READ, tx, "t/a\0", "ENOENT"); /* over */

    /* Abort. */
    tx = tx_start();
    EXPECT_OK(XS_WRITE, tx, "t/b\0" "2");
    EXPECT_OK(XS_TRANSACTION_END, tx, "F\0");
    EXPECT_ERR(XS_READ, 0, "t/b\0", "ENOENT");

    /* A node the transaction read changed: EAGAIN, and nothing of it is applied. */
    tx = tx_start();
    EXPECT(XS_READ, tx, "domid\0", XS_READ, "1");
    EXPECT_OK(XS_WRITE, tx, "t/c\0" "3");
    xenstore_write(HOME "/domid", "1");
    EXPECT_ERR(XS_TRANSACTION_END, tx, "T\0", "EAGAIN");
    EXPECT_ERR(XS_READ, 0, "t/c\0", "ENOENT");
    EXPECT_ERR(XS_TRANSACTION_END, tx, "T\0", "ENOENT");

    /* A sibling created under a directory the transaction added to: EAGAIN. */
    tx = tx_start();
    EXPECT_OK(XS_WRITE, tx, "t/d\0" "4");
    xenstore_write(HOME "/t/e", "5");
    EXPECT_ERR(XS_TRANSACTION_END, tx, "T\0", "EAGAIN");

    /* Changes elsewhere, and another transaction's commit elsewhere, do not conflict. */
    tx = tx_start();
    tx2 = tx_start();
    g_assert_cmpuint(tx2, !=, tx);
    EXPECT_OK(XS_WRITE, tx, "t/a\0" "new");
    EXPECT_OK(XS_WRITE, tx2, "data\0" "x");
    xenstore_write(HOME "/domid", "1");
    xenstore_write("/elsewhere", "1");
    EXPECT_OK(XS_TRANSACTION_END, tx2, "T\0");
    EXPECT_OK(XS_TRANSACTION_END, tx, "T\0");
    value = xenstore_read(HOME "/t/a");
    g_assert_cmpstr(value, ==, "new");

    EXPECT_ERR(XS_READ, 77, "domid\0", "ENOENT");
    EXPECT_ERR(XS_TRANSACTION_END, 0, "T\0", "ENOENT");
}

static void test_ring_watch(void)
{
    XsPerm readable[] = {{0, XS_PERM_NONE}, {GUEST, XS_PERM_READ}};
    XsPerm hidden = {0, XS_PERM_NONE};
    unsigned before;

    setup();
    watch(HOME "/device", "dev");
    EXPECT_OK(XS_WRITE, 0, "device/vbd/51712/state\0" "1");
    expect_event(HOME "/device/vbd/51712/state", "dev");
    EXPECT_OK(XS_WRITE, 0, "other\0" "1");
    assert_no_msg();

    /* A change by the VMM reaches the ring at once, with a notification. */
    before = notifies;
    xenstore_write(HOME "/device/vbd/51712/backend", "/local/domain/0/backend/vbd/1/51712");
    g_assert_cmpuint(notifies, ==, before + 1);
    g_assert_cmpuint(rsp_avail(), >, 0);
    expect_event(HOME "/device/vbd/51712/backend", "dev");

    /* Relative watches get relative paths; removal of an ancestor fires with its own. */
    watch("device/vbd/51712/state", "rel");
    EXPECT_OK(XS_RM, 0, "device/vbd\0");
    expect_event(HOME "/device/vbd", "dev");
    expect_event("device/vbd/51712/state", "rel");
    assert_no_msg();

    EXPECT_ERR(XS_WATCH, 0, HOME "/device\0dev\0", "EEXIST");
    watch(HOME "/device", "dev2"); /* another token is another watch */
    EXPECT_OK(XS_UNWATCH, 0, HOME "/device\0dev\0");
    EXPECT_OK(XS_UNWATCH, 0, "device\0dev2\0"); /* same node, named relatively */
    EXPECT_ERR(XS_UNWATCH, 0, HOME "/device\0dev\0", "ENOENT");
    EXPECT_OK(XS_WRITE, 0, "device/x\0" "1");
    assert_no_msg();

    /* Events for nodes the guest may not read are not sent. */
    watch("/local/domain/0/backend", "be");
    xenstore_write("/local/domain/0/backend/x", "1");
    assert_no_msg();
    xenstore_set_perms("/local/domain/0/backend/x", readable, 2);
    expect_event("/local/domain/0/backend/x", "be");
    xenstore_write("/local/domain/0/backend/x", "2");
    expect_event("/local/domain/0/backend/x", "be");
    xenstore_set_perms("/local/domain/0/backend/x", &hidden, 1); /* readable before */
    expect_event("/local/domain/0/backend/x", "be");
    xenstore_write("/local/domain/0/backend/x", "3");
    assert_no_msg();

    watch("@introduceDomain", "intro");
    watch("@releaseDomain", "rel");
    xenstore_write("/local/domain/0/backend/y", "1");
    assert_no_msg();

    EXPECT_OK(XS_RESET_WATCHES, 0, "\0");
    EXPECT_OK(XS_WRITE, 0, "device/y\0" "1");
    assert_no_msg();
}

static void test_ring_watch_transaction(void)
{
    uint32_t tx;

    setup();
    watch(HOME "/t", "t");
    tx = tx_start();
    EXPECT_OK(XS_WRITE, tx, "t/a\0" "1");
    assert_no_msg();
    EXPECT_OK(XS_TRANSACTION_END, tx, "T\0");
    expect_event(HOME "/t/a", "t");
    tx = tx_start();
    EXPECT_OK(XS_WRITE, tx, "t/b\0" "1");
    EXPECT_OK(XS_TRANSACTION_END, tx, "F\0");
    assert_no_msg();
}

static void test_ring_misc(void)
{
    uint32_t tx;

    setup();
    EXPECT(XS_GET_DOMAIN_PATH, 0, "5\0", XS_GET_DOMAIN_PATH, "/local/domain/5\0");
    EXPECT_ERR(XS_GET_DOMAIN_PATH, 0, "5x\0", "EINVAL");
    EXPECT_ERR(XS_GET_DOMAIN_PATH, 0, "\0", "EINVAL");
    EXPECT(XS_IS_DOMAIN_INTRODUCED, 0, "1\0", XS_IS_DOMAIN_INTRODUCED, "T\0");
    EXPECT(XS_IS_DOMAIN_INTRODUCED, 0, "0\0", XS_IS_DOMAIN_INTRODUCED, "T\0");
    EXPECT(XS_IS_DOMAIN_INTRODUCED, 0, "2\0", XS_IS_DOMAIN_INTRODUCED, "F\0");
    EXPECT_ERR(XS_CONTROL, 0, "print\0hello\0", "EINVAL");
    EXPECT_ERR(XS_INTRODUCE, 0, "2\0" "100\0" "5\0", "EACCES");
    EXPECT_ERR(XS_RELEASE, 0, "1\0", "EACCES");
    EXPECT_ERR(XS_RESUME, 0, "1\0", "EACCES");
    EXPECT_ERR(XS_SET_TARGET, 0, "1\0" "0\0", "EACCES");
    EXPECT_ERR(XS_WATCH_EVENT, 0, "a\0b\0", "EINVAL");
    EXPECT_ERR(XS_ERROR, 0, "EINVAL\0", "EINVAL");
    EXPECT_ERR(20, 0, "\0", "EINVAL");
    EXPECT_ERR(99, 0, "\0", "EINVAL");
    EXPECT_ERR(0xffffffffu, 0, "\0", "EINVAL");

    /* XS_RESET_WATCHES ends the transactions too. */
    tx = tx_start();
    EXPECT_OK(XS_RESET_WATCHES, 0, "\0");
    EXPECT_ERR(XS_READ, tx, "domid\0", "ENOENT");
}

/* A request may come in pieces, a header cut in two included. */
static void test_ring_split_request(void)
{
    static const char payload[] = "domid";
    uint32_t hdr[4] = {XS_READ, 4242, 0, sizeof(payload)};
    Msg m;

    setup();
    send_bytes(hdr, 10);
    xenstore_ring_kick();
    g_assert_cmpuint(*ring_u32(XENSTORE_RING_REQ_CONS), ==, 10);
    g_assert_cmpuint(rsp_avail(), ==, 0);
    send_bytes((uint8_t *)hdr + 10, 6);
    send_bytes(payload, 3);
    xenstore_ring_kick();
    g_assert_cmpuint(rsp_avail(), ==, 0);
    send_bytes(payload + 3, sizeof(payload) - 3);
    xenstore_ring_kick();
    recv_msg(&m);
    g_assert_cmpuint(m.type, ==, XS_READ);
    g_assert_cmpuint(m.req_id, ==, 4242);
    g_assert_cmpmem(m.data, m.len, "1", 1);
}

/* Replies wait for ring space, and requests wait for the replies. */
static void test_ring_full(void)
{
    g_autofree char *value = g_strnfill(900, 'v');
    g_autofree char *big = g_strnfill(XENSTORE_PAYLOAD_MAX - 8, 'w');
    uint32_t req_prod;
    Msg m;

    setup();
    xenstore_write(HOME "/big", value);
    for (int i = 0; i < 3; i++) {
        send_msg(XS_READ, 500 + i, 0, "big", 4);
    }
    req_prod = *ring_u32(XENSTORE_RING_REQ_PROD);
    xenstore_ring_kick();
    g_assert_cmpuint(rsp_avail(), ==, XENSTORE_RING_SIZE);
    g_assert_cmpuint(*ring_u32(XENSTORE_RING_REQ_CONS), ==, req_prod - 20);
    g_assert_cmpuint(notifies, ==, 1);
    for (int i = 0; i < 3; i++) {
        recv_msg(&m); /* kicks as it consumes */
        g_assert_cmpuint(m.req_id, ==, 500 + i);
        g_assert_cmpmem(m.data, m.len, value, 900);
    }
    g_assert_cmpuint(*ring_u32(XENSTORE_RING_REQ_CONS), ==, req_prod);
    g_assert_cmpuint(notifies, >=, 3);

    /* Messages longer than the ring, both ways. */
    {
        g_autofree char *req = g_strdup_printf("big%c%s", 0, big);

        expect(XS_WRITE, 0, req, 4 + strlen(big), XS_WRITE, "OK", 3);
        expect(XS_READ, 0, "big", 4, XS_READ, big, strlen(big));
    }
}

static void assert_broken(uint32_t error)
{
    g_assert_cmpuint(*ring_u32(XENSTORE_RING_ERROR), ==, error);
    send_msg(XS_READ, 1, 0, "domid", 6);
    assert_no_msg();
}

static void test_ring_corrupt(void)
{
    uint32_t hdr[4] = {XS_WRITE, 1, 0, XENSTORE_PAYLOAD_MAX + 1};

    setup();
    send_bytes(hdr, sizeof(hdr));
    xenstore_ring_kick();
    assert_broken(3);
    g_assert_cmpuint(notifies, >=, 1);

    setup();
    *ring_u32(XENSTORE_RING_REQ_PROD) += XENSTORE_RING_SIZE + 1;
    xenstore_ring_kick();
    g_assert_cmpuint(*ring_u32(XENSTORE_RING_ERROR), ==, 2);

    setup();
    send_msg(XS_READ, 1, 0, "domid", 6);
    *ring_u32(XENSTORE_RING_RSP_CONS) += 5; /* ahead of the producer */
    xenstore_ring_kick();
    g_assert_cmpuint(*ring_u32(XENSTORE_RING_ERROR), ==, 2);
    g_assert_cmpuint(*ring_u32(XENSTORE_RING_RSP_PROD), ==, 0);

    /* A new attach serves again. */
    setup();
    EXPECT(XS_READ, 0, "domid\0", XS_READ, "1");
}

static void test_ring_malformed(void)
{
    g_autofree char *long_path = g_strnfill(XENSTORE_ABS_PATH_MAX - strlen(HOME), 'p');
    g_autofree char *ok_path = g_strnfill(XENSTORE_ABS_PATH_MAX - strlen(HOME) - 1, 'p');

    setup();
    EXPECT_ERR(XS_READ, 0, "domid", "EINVAL");           /* no NUL */
    EXPECT_ERR(XS_READ, 0, "", "EINVAL");                /* nothing */
    EXPECT_ERR(XS_READ, 0, "domid\0name\0", "EINVAL");   /* two strings */
    EXPECT_ERR(XS_READ, 0, "\0", "EINVAL");              /* empty path */
    EXPECT_ERR(XS_READ, 0, "/local//domain\0", "EINVAL");
    EXPECT_ERR(XS_READ, 0, "domid/\0", "EINVAL");
    EXPECT_ERR(XS_READ, 0, "dom id\0", "EINVAL");
    EXPECT_ERR(XS_READ, 0, "dom*id\0", "EINVAL");
    EXPECT_ERR(XS_READ, 0, "@introduceDomain\0", "EINVAL");
    EXPECT_ERR(XS_WRITE, 0, "novalue", "EINVAL");
    EXPECT_ERR(XS_WRITE, 0, "bad//path\0v", "EINVAL");
    EXPECT_ERR(XS_MKDIR, 0, "a\0b", "EINVAL");
    EXPECT_ERR(XS_RM, 0, "x", "EINVAL");
    EXPECT_ERR(XS_WATCH, 0, "domid\0", "EINVAL");
    EXPECT_ERR(XS_WATCH, 0, "domid\0tok", "EINVAL");
    EXPECT_ERR(XS_WATCH, 0, "@other\0tok\0", "EINVAL");
    EXPECT_ERR(XS_UNWATCH, 0, "domid\0", "EINVAL");
    EXPECT_ERR(XS_TRANSACTION_END, 0, "T", "ENOENT");

    /* The length limit is on the absolute path. */
    {
        expect(XS_WRITE, 0, long_path, strlen(long_path) + 1, XS_ERROR, "EINVAL", 7);
        expect(XS_WRITE, 0, ok_path, strlen(ok_path) + 1, XS_WRITE, "OK", 3);
        g_assert_cmpuint(strlen(HOME) + 1 + strlen(ok_path), ==, XENSTORE_ABS_PATH_MAX);
    }
}

static void test_ring_caps(void)
{
    Msg m;
    int i;

    setup();
    for (i = 0; i < 128; i++) {
        g_autofree char *token = g_strdup_printf("t%d", i);

        watch("domid", token);
    }
    EXPECT_ERR(XS_WATCH, 0, "domid\0t128\0", "E2BIG");

    for (i = 0; i < 10; i++) {
        tx_start();
    }
    EXPECT_ERR(XS_TRANSACTION_START, 0, "\0", "ENOSPC");
    EXPECT_OK(XS_RESET_WATCHES, 0, "\0");
    tx_start();

    /* The guest owns 3 nodes after a reset, of 1000. */
    for (i = 0;; i++) {
        g_autofree char *path = g_strdup_printf("n%d", i);

        call(XS_MKDIR, 0, path, strlen(path) + 1, &m);
        if (m.type == XS_ERROR) {
            break;
        }
    }
    g_assert_cmpuint(i, ==, 997);
    g_assert_cmpmem(m.data, m.len, "ENOSPC", 7);
    EXPECT_OK(XS_RM, 0, "n0\0");
    EXPECT_OK(XS_WRITE, 0, "n0\0x");
    EXPECT_ERR(XS_WRITE, 0, "n1/x\0x", "ENOSPC");
    /* The VMM has no quota. */
    g_assert_cmpint(xenstore_write(HOME "/n1/x", "x"), ==, 0);
}

/* A transaction's operations are refused once it holds too much; then it can only end. */
static void test_ring_tx_budget(void)
{
    g_autofree char *value = g_strnfill(4000, 'b');
    g_autofree char *req = g_strdup_printf("big%c%s", 0, value);
    uint32_t tx;
    Msg m;
    int i;

    setup();
    tx = tx_start();
    for (i = 0; i < 1000; i++) {
        call(XS_WRITE, tx, req, 4 + strlen(value), &m);
        if (m.type == XS_ERROR) {
            break;
        }
    }
    g_assert_cmpint(i, >, 100);
    g_assert_cmpint(i, <, 200);
    g_assert_cmpmem(m.data, m.len, "ENOSPC", 7);
    EXPECT_ERR(XS_READ, tx, "domid\0", "ENOSPC");
    EXPECT_OK(XS_TRANSACTION_END, tx, "F\0");
    EXPECT(XS_READ, 0, "domid\0", XS_READ, "1");
}

/* A guest that does not take its watch events is broken off before they pile up. */
static void test_ring_event_backlog(void)
{
    int i;

    setup();
    watch("spam", "token");
    for (i = 0; i < 100000 && !*ring_u32(XENSTORE_RING_ERROR); i++) {
        xenstore_printf(HOME "/spam", "%d", i);
    }
    g_assert_cmpuint(*ring_u32(XENSTORE_RING_ERROR), ==, 1);
    g_assert_cmpint(i, >, 1000);
    g_assert_cmpint(i, <, 100000);
    *ring_u32(XENSTORE_RING_RSP_CONS) = *ring_u32(XENSTORE_RING_RSP_PROD);
    assert_broken(1);
    setup();
    EXPECT(XS_READ, 0, "domid\0", XS_READ, "1");
}

/* Take every message waiting; the replies must be well formed and answer req_id once.
 * Whether the answer was a success. */
static bool drain_replies(uint32_t req_id, uint32_t req_type, uint32_t *last_tx)
{
    unsigned replies = 0;
    bool ok = false;
    Msg m;

    while (rsp_avail()) {
        recv_msg(&m);
        if (m.type == XS_WATCH_EVENT) {
            g_assert_cmpuint(m.req_id, ==, 0);
            g_assert_cmpuint(m.len, >=, 4);
            g_assert_cmpuint(m.data[m.len - 1], ==, 0);
            continue;
        }
        g_assert_cmpuint(m.req_id, ==, req_id);
        g_assert_true(m.type == req_type || m.type == XS_ERROR);
        if (m.type == XS_TRANSACTION_START) {
            *last_tx = strtoul((char *)m.data, NULL, 10);
        }
        ok = m.type != XS_ERROR;
        replies++;
    }
    g_assert_cmpuint(replies, ==, 1);
    return ok;
}

/* A seeded run of requests made of plausible pieces in random order: every one is answered,
 * nothing breaks the connection, and nothing crashes (run it under ASan). */
static void test_ring_random(void)
{
    static const char *const words[] = {
        "domid", "name", "a", "a/b", "a/b/c", HOME "/x", "/local/domain/0", "/", "@introduceDomain",
        "T", "F", "n1", "r0", "b1", "w2", "0", "1", "4096", "", "a//b", "x/", "tok",
    };
    g_autoptr(GRand) rand = g_rand_new_with_seed(20240601);
    uint32_t last_tx = 0;
    unsigned ok = 0;

    setup();
    xenstore_write("/local/domain/0/backend/x", "1");
    for (int i = 0; i < 20000; i++) {
        g_autoptr(GByteArray) payload = g_byte_array_new();
        uint32_t type = g_rand_int_range(rand, 0, 24);
        uint32_t tx = g_rand_boolean(rand) ? 0 : g_rand_boolean(rand) ? last_tx : (uint32_t)i;
        int n = g_rand_int_range(rand, 0, 4);

        for (int w = 0; w < n; w++) {
            const char *word = words[g_rand_int_range(rand, 0, G_N_ELEMENTS(words))];

            g_byte_array_append(payload, (const guint8 *)word, strlen(word));
            if (w + 1 < n || g_rand_int_range(rand, 0, 8)) {
                g_byte_array_append(payload, (const guint8 *)"", 1);
            }
        }
        if (i % 100 == 0) {
            xenstore_printf(HOME "/a/b", "%d", i); /* events and transaction conflicts */
        }
        send_msg(type, i + 1, tx, payload->data, payload->len);
        xenstore_ring_kick();
        ok += drain_replies(i + 1, type, &last_tx);
    }
    g_assert_cmpuint(*ring_u32(XENSTORE_RING_ERROR), ==, 0);
    g_assert_cmpuint(ok, >, 1000);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    main_loop_init();
    vmm_log = g_ptr_array_new_with_free_func(g_free);
    g_test_add_func("/xenstore/vmm/reset-tree", test_vmm_reset_tree);
    g_test_add_func("/xenstore/vmm/read-write", test_vmm_read_write);
    g_test_add_func("/xenstore/vmm/perms", test_vmm_perms);
    g_test_add_func("/xenstore/vmm/watch", test_vmm_watch);
    g_test_add_func("/xenstore/vmm/watch-guest-changes", test_vmm_watch_guest_changes);
    g_test_add_func("/xenstore/vmm/watch-reentrant", test_vmm_watch_reentrant);
    g_test_add_func("/xenstore/vmm/watch-reset", test_vmm_watch_reset);
    g_test_add_func("/xenstore/ring/attach", test_ring_attach);
    g_test_add_func("/xenstore/ring/read-write", test_ring_read_write);
    g_test_add_func("/xenstore/ring/directory-part", test_ring_directory_part);
    g_test_add_func("/xenstore/ring/perms", test_ring_perms);
    g_test_add_func("/xenstore/ring/transactions", test_ring_transactions);
    g_test_add_func("/xenstore/ring/watch", test_ring_watch);
    g_test_add_func("/xenstore/ring/watch-transaction", test_ring_watch_transaction);
    g_test_add_func("/xenstore/ring/misc", test_ring_misc);
    g_test_add_func("/xenstore/ring/split-request", test_ring_split_request);
    g_test_add_func("/xenstore/ring/full", test_ring_full);
    g_test_add_func("/xenstore/ring/corrupt", test_ring_corrupt);
    g_test_add_func("/xenstore/ring/malformed", test_ring_malformed);
    g_test_add_func("/xenstore/ring/caps", test_ring_caps);
    g_test_add_func("/xenstore/ring/tx-budget", test_ring_tx_budget);
    g_test_add_func("/xenstore/ring/event-backlog", test_ring_event_backlog);
    g_test_add_func("/xenstore/ring/random", test_ring_random);
    return g_test_run();
}

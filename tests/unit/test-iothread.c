/*
 * Unit tests for util/iothread.c: the registry and -object's errors (QEMU 2.2's texts),
 * calls and event sources dispatched in the I/O thread with its lock held, the lock keeping
 * the thread's callbacks out while another thread holds it (recursively), and stopping.
 */
#include <unistd.h>
#include <sys/eventfd.h>
#include <glib.h>
#include <glib-unix.h>
#include "util/iothread.h"

static void expect_object_error(const char *arg, const char *msg)
{
    Error *err = NULL;

    g_assert_false(object_add_from_opts(arg, &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==, msg);
    error_free(err);
}

static void test_object_opts(void)
{
    Error *err = NULL;
    IOThread *t;

    g_assert_true(object_add_from_opts("iothread,id=io0", &err));
    g_assert_null(err);
    t = iothread_find("io0");
    g_assert_nonnull(t);
    g_assert_cmpstr(iothread_id(t), ==, "io0");
    g_assert_null(iothread_find("io1"));
    expect_object_error("iothread,id=io0", "Duplicate ID 'io0' for object");
    expect_object_error("memory-backend-ram,id=m", "invalid object type: memory-backend-ram");
    expect_object_error("iothread", "Parameter 'id' is missing");
    expect_object_error("id=x", "Parameter 'qom-type' is missing");
    expect_object_error("iothread,id=io2,foo=0", "Property '.foo' not found");
    g_assert_null(iothread_find("io2"));
    iothread_destroy_all();
    g_assert_null(iothread_find("io0"));
}

typedef struct Probe {
    IOThread *t;
    int calls; /* atomic */
    bool in_thread;
} Probe;

static void probe_call(void *opaque)
{
    Probe *p = opaque;

    p->in_thread = iothread_is_current(p->t) &&
                   g_main_context_get_thread_default() == iothread_get_context(p->t);
    g_atomic_int_inc(&p->calls);
}

static void wait_calls(Probe *p, int n)
{
    for (int i = 0; i < 5000 && g_atomic_int_get(&p->calls) < n; i++) {
        g_usleep(1000);
    }
    g_assert_cmpint(g_atomic_int_get(&p->calls), ==, n);
}

static void test_call_in_thread(void)
{
    Probe p = {.t = iothread_create("t", &error_abort)};

    g_assert_false(iothread_is_current(p.t));
    iothread_call(p.t, probe_call, &p);
    wait_calls(&p, 1);
    g_assert_true(p.in_thread);
    iothread_destroy(p.t);
    g_assert_null(iothread_find("t"));
}

static void test_lock_excludes_callbacks(void)
{
    Probe p = {.t = iothread_create("t", &error_abort)};

    iothread_lock(p.t);
    iothread_lock(p.t); /* recursive */
    iothread_call(p.t, probe_call, &p);
    g_usleep(50000);
    g_assert_cmpint(g_atomic_int_get(&p.calls), ==, 0);
    iothread_unlock(p.t);
    g_usleep(20000);
    g_assert_cmpint(g_atomic_int_get(&p.calls), ==, 0);
    iothread_unlock(p.t);
    wait_calls(&p, 1);
    iothread_destroy(p.t);
}

static gboolean eventfd_cb(gint fd, GIOCondition cond, gpointer opaque)
{
    uint64_t n;

    g_assert_cmpint(read(fd, &n, sizeof(n)), ==, sizeof(n));
    probe_call(opaque);
    return G_SOURCE_CONTINUE;
}

/* A doorbell: an eventfd written from another thread is served in the I/O thread. */
static void test_fd_source(void)
{
    Probe p = {.t = iothread_create("t", &error_abort)};
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    GSource *src = g_unix_fd_source_new(fd, G_IO_IN);
    uint64_t one = 1;

    g_source_set_callback(src, G_SOURCE_FUNC(eventfd_cb), &p, NULL);
    g_source_attach(src, iothread_get_context(p.t));
    for (int i = 1; i <= 20; i++) {
        g_assert_cmpint(write(fd, &one, sizeof(one)), ==, sizeof(one));
        wait_calls(&p, i);
        g_assert_true(p.in_thread);
    }
    g_source_destroy(src);
    g_source_unref(src);
    iothread_destroy(p.t);
    close(fd);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/iothread/object-opts", test_object_opts);
    g_test_add_func("/iothread/call-in-thread", test_call_in_thread);
    g_test_add_func("/iothread/lock-excludes-callbacks", test_lock_excludes_callbacks);
    g_test_add_func("/iothread/fd-source", test_fd_source);
    return g_test_run();
}

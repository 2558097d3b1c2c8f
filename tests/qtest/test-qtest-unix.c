/*
 * libqtest's Unix-socket transport (qtest_init_unix): the VMM connects to the test's qtest and
 * QMP sockets as QEMU does under QEMU's own libqtest; the protocol, interrupt lines, QMP
 * replies, errors and events all work over it, against minivmm and QEMU alike.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "libqtest.h"

#define COM1 0x3f8
#define COM1_IRQ 4
#define FW_CFG_CTL 0x510
#define FW_CFG_DATA 0x511

static char *image_path;

static QTestState *start(void)
{
    g_autofree char *args = g_strdup_printf("-m 128 -serial null "
                                            "-drive if=none,id=d0,file=%s,format=raw",
                                            image_path);
    return qtest_init_unix(args);
}

static const char *member_str(JsonNode *msg, const char *path1, const char *path2)
{
    JsonObject *obj = json_node_get_object(msg);

    g_assert(json_object_has_member(obj, path1));
    obj = json_object_get_object_member(obj, path1);
    return json_object_get_string_member(obj, path2);
}

static JsonObject *reply_return(JsonNode *reply)
{
    return json_object_get_object_member(json_node_get_object(reply), "return");
}

static bool query_running(QTestState *qts)
{
    JsonNode *reply = qtest_qmp(qts, "{\"execute\": \"query-status\"}");
    bool running = json_object_get_boolean_member(reply_return(reply), "running");

    json_node_unref(reply);
    return running;
}

static void test_qtest_over_socket(void)
{
    QTestState *qts = start();
    char sig[5] = "";
    uint8_t buf[300], back[300];

    qtest_outw(qts, FW_CFG_CTL, 0x0000);
    for (int i = 0; i < 4; i++) {
        sig[i] = qtest_inb(qts, FW_CFG_DATA);
    }
    g_assert_cmpstr(sig, ==, "QEMU");
    qtest_writel(qts, 0x10000, 0xdeadbeef);
    g_assert_cmphex(qtest_readl(qts, 0x10000), ==, 0xdeadbeef);
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = i * 7;
    }
    qtest_bufwrite(qts, 0x20001, buf, sizeof(buf));
    qtest_memread(qts, 0x20001, back, sizeof(back));
    g_assert(memcmp(buf, back, sizeof(buf)) == 0);
    qtest_quit(qts);
}

/* COM1's THR-empty interrupt reaches the test as "IRQ raise 4" on the socket. */
static void test_irq_over_socket(void)
{
    QTestState *qts = start();

    qtest_irq_intercept_in(qts, "ioapic");
    g_assert_false(qtest_get_irq(qts, COM1_IRQ));
    qtest_outb(qts, COM1 + 4, 0x08); /* MCR.OUT2 */
    qtest_outb(qts, COM1 + 1, 0x02); /* IER: THR empty */
    g_assert_true(qtest_get_irq(qts, COM1_IRQ));
    qtest_outb(qts, COM1 + 1, 0x00);
    g_assert_false(qtest_get_irq(qts, COM1_IRQ));
    qtest_quit(qts);
}

static void test_qmp_replies(void)
{
    QTestState *qts = start();
    JsonNode *reply = qtest_qmp(qts, "{\"execute\": \"query-block\"}");
    JsonArray *blocks = json_object_get_array_member(json_node_get_object(reply), "return");
    JsonObject *d0 = json_array_get_object_element(blocks, 0);
    JsonObject *inserted = json_object_get_object_member(d0, "inserted");

    g_assert_cmpstr(json_object_get_string_member(d0, "device"), ==, "d0");
    g_assert_cmpstr(json_object_get_string_member(inserted, "file"), ==, image_path);
    json_node_unref(reply);

    reply = qtest_qmp(qts, "{\"execute\": \"no-such-command\"}");
    g_assert_cmpstr(member_str(reply, "error", "class"), ==, "CommandNotFound");
    json_node_unref(reply);
    qtest_quit(qts);
}

/* stop/cont emit STOP and RESUME (minivmm's qtest machine runs; QEMU's -S machine is paused,
 * so there cont comes first). The qtest channel keeps working in between. */
static void test_qmp_events(void)
{
    QTestState *qts = start();
    bool running = query_running(qts);
    const char *first = running ? "stop" : "cont", *second = running ? "cont" : "stop";

    g_assert_cmpint(running, ==, !qtest_is_qemu());
    json_node_unref(qtest_qmp(qts, "{\"execute\": \"%s\"}", first));
    json_node_unref(qtest_qmp_eventwait(qts, running ? "STOP" : "RESUME"));
    qtest_writeb(qts, 0x10000, 0x5a);
    g_assert_cmphex(qtest_readb(qts, 0x10000), ==, 0x5a);
    json_node_unref(qtest_qmp(qts, "{\"execute\": \"%s\"}", second));
    json_node_unref(qtest_qmp_eventwait(qts, running ? "RESUME" : "STOP"));
    g_assert_cmpint(query_running(qts), ==, running);
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    int fd, ret;

    g_test_init(&argc, &argv, NULL);
    fd = g_file_open_tmp("qtest-unix-XXXXXX.raw", &image_path, NULL);
    g_assert(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
    close(fd);
    g_test_add_func("/qtest-unix/qtest", test_qtest_over_socket);
    g_test_add_func("/qtest-unix/irq", test_irq_over_socket);
    g_test_add_func("/qtest-unix/qmp", test_qmp_replies);
    g_test_add_func("/qtest-unix/events", test_qmp_events);
    ret = g_test_run();
    unlink(image_path);
    g_free(image_path);
    return ret;
}

/*
 * libqtest: starts a VMM under the qtest protocol on two pipes (its stdin and stdout), or as
 * QEMU's own libqtest does, as a client of two Unix sockets the test listens on (qtest and
 * QMP; see libqtest-unix.c), and turns typed calls into protocol lines. Replies come in
 * order, and a device's "IRQ" lines are written before the reply of the command that caused
 * them, so reading up to each reply keeps the interrupt levels current without extra round
 * trips. The VMM is killed by the
 * atexit handler, and by the kernel (PR_SET_PDEATHSIG) if the test dies on an assertion.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "libqtest-int.h"

#define QTEST_QEMU_BINARY "qemu-system-x86_64"
#define QTEST_SEABIOS "/usr/share/seabios/bios.bin"

static GPtrArray *qtest_instances;

bool qtest_is_qemu(void)
{
    return g_strcmp0(g_getenv("QTEST_QEMU"), "1") == 0;
}

bool qtest_has_clock(QTestState *s)
{
    return !qtest_is_qemu();
}

void qtest_kill(QTestState *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

static void qtest_kill_all(void)
{
    for (guint i = 0; qtest_instances && i < qtest_instances->len; i++) {
        qtest_kill(g_ptr_array_index(qtest_instances, i));
    }
}

static void G_GNUC_NULL_TERMINATED qtest_argv_add(GPtrArray *argv, ...)
{
    const char *arg;
    va_list ap;

    va_start(ap, argv);
    while ((arg = va_arg(ap, const char *))) {
        g_ptr_array_add(argv, g_strdup(arg));
    }
    va_end(ap);
}

/* The VMM's command line; transport is "-qtest ARG" plus any further fixed arguments. */
GPtrArray *qtest_argv(const char *extra_args, const char *const *transport)
{
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    g_auto(GStrv) extra = NULL;
    const char *bin;

    if (qtest_is_qemu()) {
        bin = g_getenv("QTEST_QEMU_BINARY");
        /* QEMU logs the protocol to stderr unless told otherwise. */
        qtest_argv_add(argv, bin ? bin : QTEST_QEMU_BINARY, "-machine", "pc,accel=tcg", "-S",
                       "-bios", QTEST_SEABIOS, "-qtest-log", "/dev/null", NULL);
    } else {
        bin = g_getenv("QTEST_MINIVMM");
        qtest_argv_add(argv, bin ? bin : "./minivmm", "-machine", "accel=qtest", NULL);
    }
    for (int i = 0; transport[i]; i++) {
        g_ptr_array_add(argv, g_strdup(transport[i]));
    }
    qtest_argv_add(argv, "-nodefaults", "-display", "none", NULL);
    if (extra_args && *extra_args) {
        g_autoptr(GError) err = NULL;
        if (!g_shell_parse_argv(extra_args, NULL, &extra, &err)) {
            g_error("qtest: bad arguments '%s': %s", extra_args, err->message);
        }
        for (int i = 0; extra[i]; i++) {
            g_ptr_array_add(argv, g_strdup(extra[i]));
        }
    }
    g_ptr_array_add(argv, NULL);
    return argv;
}

static void qtest_exec_child(int in_fd, int out_fd, pid_t parent, char **argv)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
        _exit(1);
    }
    if (dup2(in_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0) {
        _exit(1);
    }
    execvp(argv[0], argv);
    fprintf(stderr, "qtest: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* Fork and exec argv with in_fd/out_fd as the VMM's stdin/stdout; registers s. */
void qtest_spawn(QTestState *s, GPtrArray *argv, int in_fd, int out_fd)
{
    pid_t parent = getpid();

    s->pid = fork();
    if (s->pid < 0) {
        g_error("qtest: fork: %s", strerror(errno));
    }
    if (s->pid == 0) {
        qtest_exec_child(in_fd, out_fd, parent, (char **)argv->pdata);
    }
    if (!qtest_instances) {
        qtest_instances = g_ptr_array_new();
        atexit(qtest_kill_all);
        signal(SIGPIPE, SIG_IGN); /* a VMM that died fails the next write with a message */
    }
    g_ptr_array_add(qtest_instances, s);
}

static QTestState *qtest_init_pipes(const char *extra_args)
{
    static const char *const transport[] = {"-qtest", "stdio", NULL};
    g_autoptr(GPtrArray) argv = qtest_argv(extra_args, transport);
    QTestState *s = g_new0(QTestState, 1);
    int to_vmm[2], from_vmm[2];

    if (pipe2(to_vmm, O_CLOEXEC) < 0 || pipe2(from_vmm, O_CLOEXEC) < 0) {
        g_error("qtest: pipe: %s", strerror(errno));
    }
    qtest_spawn(s, argv, to_vmm[0], from_vmm[1]);
    close(to_vmm[0]);
    close(from_vmm[1]);
    s->to_vmm = to_vmm[1];
    s->from_vmm = fdopen(from_vmm[0], "r");
    s->qmp_fd = -1;
    return s;
}

/* QTEST_UNIX=1 runs every test over the Unix-socket transport instead of pipes. */
QTestState *qtest_init(const char *extra_args)
{
    if (g_strcmp0(g_getenv("QTEST_UNIX"), "1") == 0) {
        return qtest_init_unix(extra_args);
    }
    return qtest_init_pipes(extra_args);
}

void qtest_quit(QTestState *s)
{
    qtest_kill(s);
    close(s->to_vmm);
    fclose(s->from_vmm);
    qtest_qmp_close(s);
    g_ptr_array_remove(qtest_instances, s);
    g_free(s);
}

/* An "IRQ raise N" / "IRQ lower N" line: note the level; false for any other line. */
static bool qtest_irq_line(QTestState *s, const char *line)
{
    unsigned n;
    char dir[8];

    if (sscanf(line, "IRQ %7s %u", dir, &n) != 2) {
        return false;
    }
    if (n < QTEST_IRQ_MAX) {
        s->irq_level[n] = !strcmp(dir, "raise");
    }
    return true;
}

static void qtest_send(QTestState *s, const char *line)
{
    size_t len = strlen(line), done = 0;

    while (done < len) {
        ssize_t n = write(s->to_vmm, line + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            g_error("qtest: VMM gone while sending '%.60s'", line);
        }
        done += n;
    }
}

static char *qtest_recv(QTestState *s, const char *cmd)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    for (;;) {
        n = getline(&line, &cap, s->from_vmm);
        if (n <= 0) {
            g_error("qtest: VMM exited after '%.60s'", cmd);
        }
        if (line[n - 1] == '\n') {
            line[n - 1] = '\0';
        }
        if (!qtest_irq_line(s, line)) {
            return line;
        }
    }
}

static char *qtest_vcmd(QTestState *s, const char *fmt, va_list ap)
{
    g_autofree char *cmd = g_strdup_vprintf(fmt, ap);
    g_autofree char *line = g_strconcat(cmd, "\n", NULL);

    qtest_send(s, line);
    return qtest_recv(s, cmd);
}

char *qtest_cmd(QTestState *s, const char *fmt, ...)
{
    va_list ap;
    char *reply;

    va_start(ap, fmt);
    reply = qtest_vcmd(s, fmt, ap);
    va_end(ap);
    return reply;
}

/* Run a command that must succeed; the text after "OK" (maybe ""), g_free() it. */
static char *G_GNUC_PRINTF(2, 3) qtest_ok(QTestState *s, const char *fmt, ...)
{
    g_autofree char *reply = NULL;
    va_list ap;

    va_start(ap, fmt);
    reply = qtest_vcmd(s, fmt, ap);
    va_end(ap);
    if (strncmp(reply, "OK", 2) != 0 || (reply[2] && reply[2] != ' ')) {
        g_error("qtest: command failed: '%s'", reply);
    }
    return g_strdup(reply[2] ? reply + 3 : "");
}

static uint64_t qtest_ok_u64(QTestState *s, const char *cmd, uint64_t addr)
{
    g_autofree char *val = qtest_ok(s, "%s 0x%" PRIx64, cmd, addr);

    return g_ascii_strtoull(val, NULL, 0);
}

static void qtest_ok_2(QTestState *s, const char *cmd, uint64_t addr, uint64_t val)
{
    g_free(qtest_ok(s, "%s 0x%" PRIx64 " 0x%" PRIx64, cmd, addr, val));
}

void qtest_outb(QTestState *s, uint16_t port, uint8_t val)
{
    qtest_ok_2(s, "outb", port, val);
}

void qtest_outw(QTestState *s, uint16_t port, uint16_t val)
{
    qtest_ok_2(s, "outw", port, val);
}

void qtest_outl(QTestState *s, uint16_t port, uint32_t val)
{
    qtest_ok_2(s, "outl", port, val);
}

uint8_t qtest_inb(QTestState *s, uint16_t port)
{
    return qtest_ok_u64(s, "inb", port);
}

uint16_t qtest_inw(QTestState *s, uint16_t port)
{
    return qtest_ok_u64(s, "inw", port);
}

uint32_t qtest_inl(QTestState *s, uint16_t port)
{
    return qtest_ok_u64(s, "inl", port);
}

void qtest_writeb(QTestState *s, uint64_t addr, uint8_t val)
{
    qtest_ok_2(s, "writeb", addr, val);
}

void qtest_writew(QTestState *s, uint64_t addr, uint16_t val)
{
    qtest_ok_2(s, "writew", addr, val);
}

void qtest_writel(QTestState *s, uint64_t addr, uint32_t val)
{
    qtest_ok_2(s, "writel", addr, val);
}

void qtest_writeq(QTestState *s, uint64_t addr, uint64_t val)
{
    qtest_ok_2(s, "writeq", addr, val);
}

uint8_t qtest_readb(QTestState *s, uint64_t addr)
{
    return qtest_ok_u64(s, "readb", addr);
}

uint16_t qtest_readw(QTestState *s, uint64_t addr)
{
    return qtest_ok_u64(s, "readw", addr);
}

uint32_t qtest_readl(QTestState *s, uint64_t addr)
{
    return qtest_ok_u64(s, "readl", addr);
}

uint64_t qtest_readq(QTestState *s, uint64_t addr)
{
    return qtest_ok_u64(s, "readq", addr);
}

void qtest_memread(QTestState *s, uint64_t addr, void *data, size_t size)
{
    g_autofree char *hex = qtest_ok(s, "read 0x%" PRIx64 " %zu", addr, size);
    uint8_t *out = data;

    g_assert(strncmp(hex, "0x", 2) == 0 && strlen(hex) == 2 + 2 * size);
    for (size_t i = 0; i < size; i++) {
        out[i] = g_ascii_xdigit_value(hex[2 + 2 * i]) << 4 | g_ascii_xdigit_value(hex[3 + 2 * i]);
    }
}

void qtest_memwrite(QTestState *s, uint64_t addr, const void *data, size_t size)
{
    GString *hex = g_string_sized_new(2 * size + 1);
    const uint8_t *in = data;

    for (size_t i = 0; i < size; i++) {
        g_string_append_printf(hex, "%02x", in[i]);
    }
    g_free(qtest_ok(s, "write 0x%" PRIx64 " %zu 0x%s", addr, size, hex->str));
    g_string_free(hex, TRUE);
}

void qtest_bufread(QTestState *s, uint64_t addr, void *data, size_t size)
{
    g_autofree char *b64 = qtest_ok(s, "b64read 0x%" PRIx64 " %zu", addr, size);
    g_autofree uint8_t *raw = NULL;
    gsize len;

    raw = g_base64_decode(b64, &len);
    g_assert_cmpuint(len, ==, size);
    memcpy(data, raw, size);
}

void qtest_bufwrite(QTestState *s, uint64_t addr, const void *data, size_t size)
{
    g_autofree char *b64 = g_base64_encode(data, size);

    g_free(qtest_ok(s, "b64write 0x%" PRIx64 " %zu %s", addr, size, b64));
}

void qtest_memset(QTestState *s, uint64_t addr, uint8_t pattern, size_t size)
{
    g_free(qtest_ok(s, "memset 0x%" PRIx64 " %zu 0x%02x", addr, size, pattern));
}

static int64_t qtest_clock_reply(char *val)
{
    int64_t ns = g_ascii_strtoll(val, NULL, 10);

    g_free(val);
    return ns;
}

int64_t qtest_clock_step(QTestState *s, int64_t step)
{
    return qtest_clock_reply(qtest_ok(s, "clock_step %" PRId64, step));
}

int64_t qtest_clock_step_next(QTestState *s)
{
    return qtest_clock_reply(qtest_ok(s, "clock_step"));
}

int64_t qtest_clock_set(QTestState *s, int64_t val)
{
    return qtest_clock_reply(qtest_ok(s, "clock_set %" PRId64, val));
}

void qtest_irq_intercept_in(QTestState *s, const char *qom_path)
{
    g_free(qtest_ok(s, "irq_intercept_in %s", qom_path));
}

bool qtest_get_irq(QTestState *s, int num)
{
    g_assert(num >= 0 && num < QTEST_IRQ_MAX);
    return s->irq_level[num];
}

/*
 * qtest: the line protocol QEMU's device tests speak ("outb 0x70 0x0" -> "OK"), and the
 * qtest accelerator, in which no vCPU runs and CLOCK_VIRTUAL only moves on clock_step or
 * clock_set. Replies follow QEMU's formats exactly so one script runs against both VMMs;
 * unlike QEMU, a malformed line gets "FAIL ..." instead of an assertion.
 * Not a device: it reaches devices through the same dispatch tables a vCPU exit uses.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "hw/ioport.h"
#include "hw/irq.h"
#include "hw/memory.h"
#include "system/qtest.h"
#include "hw/xen/xen.h"
#include "util/cutils.h"
#include "util/main-loop.h"

#define QTEST_MAX_LINE  (64 * 1024 * 1024)  /* longest accepted command line */
#define QTEST_MAX_XFER  (16 * 1024 * 1024)  /* largest read/write/memset */

static bool accel_qtest;
static int64_t virtual_ns;
static Chardev *qtest_chr;
static GString *inbuf;
static FILE *qtest_log;
static bool irq_intercepted;

static int64_t qtest_clock(void)
{
    return virtual_ns;
}

void qtest_enable_accel(void)
{
    accel_qtest = true;
    clock_set_virtual_source(qtest_clock);
}

bool qtest_accel_enabled(void)
{
    return accel_qtest;
}

static bool qtest_u64(const char *s, uint64_t *out)
{
    return s && parse_uint(s, out, 0) == 0;
}

/* Guest-physical access: RAM when the range is RAM, else MMIO dispatch byte by byte. */
static void qtest_mem_read(uint64_t addr, uint8_t *buf, uint64_t len)
{
    if (guest_mem_read(addr, buf, len)) {
        return;
    }
    for (uint64_t i = 0; i < len; i++) {
        buf[i] = io_dispatch_read(IO_SPACE_MMIO, addr + i, 1);
    }
}

/* Writes to ROM go to MMIO dispatch, as a vCPU's do: a flash device may be behind it, and
 * plain ROM has no region there, so the write is dropped. */
static void qtest_mem_write(uint64_t addr, const uint8_t *buf, uint64_t len)
{
    if (guest_mem_write(addr, buf, len)) {
        return;
    }
    for (uint64_t i = 0; i < len; i++) {
        io_dispatch_write(IO_SPACE_MMIO, addr + i, buf[i], 1);
    }
}

static char *qtest_unknown(const char *cmd)
{
    return g_strdup_printf("FAIL Unknown command '%s'", cmd);
}

static unsigned qtest_width(const char *cmd)
{
    switch (cmd[strlen(cmd) - 1]) {
    case 'b':
        return 1;
    case 'w':
        return 2;
    case 'l':
        return 4;
    default:
        return 8;
    }
}

static char *qtest_cmd_out(char **w)
{
    uint64_t addr, val;

    if (!qtest_u64(w[1], &addr) || !qtest_u64(w[2], &val) || addr > 0xffff) {
        return g_strdup("FAIL invalid arguments");
    }
    io_dispatch_write(IO_SPACE_PIO, addr, val, qtest_width(w[0]));
    return g_strdup("OK");
}

static char *qtest_cmd_in(char **w)
{
    uint64_t addr;

    if (!qtest_u64(w[1], &addr) || addr > 0xffff) {
        return g_strdup("FAIL invalid arguments");
    }
    return g_strdup_printf("OK 0x%04" PRIx64,
                           io_dispatch_read(IO_SPACE_PIO, addr, qtest_width(w[0])));
}

static char *qtest_cmd_write_n(char **w)
{
    unsigned size = qtest_width(w[0]);
    uint64_t addr, val;
    uint8_t buf[8];

    if (!qtest_u64(w[1], &addr) || !qtest_u64(w[2], &val)) {
        return g_strdup("FAIL invalid arguments");
    }
    for (unsigned i = 0; i < size; i++) {
        buf[i] = val >> (8 * i);
    }
    if (guest_ram_ptr_rw(addr, size)) {
        qtest_mem_write(addr, buf, size);
    } else {
        io_dispatch_write(IO_SPACE_MMIO, addr, val, size);
    }
    return g_strdup("OK");
}

static char *qtest_cmd_read_n(char **w)
{
    unsigned size = qtest_width(w[0]);
    uint64_t addr, val = 0;
    uint8_t buf[8];

    if (!qtest_u64(w[1], &addr)) {
        return g_strdup("FAIL invalid arguments");
    }
    if (guest_ram_ptr(addr, size)) {
        qtest_mem_read(addr, buf, size);
        for (unsigned i = 0; i < size; i++) {
            val |= (uint64_t)buf[i] << (8 * i);
        }
    } else {
        val = io_dispatch_read(IO_SPACE_MMIO, addr, size);
    }
    return g_strdup_printf("OK 0x%016" PRIx64, val);
}

static bool qtest_addr_len(char **w, uint64_t *addr, uint64_t *len)
{
    return qtest_u64(w[1], addr) && qtest_u64(w[2], len) && *len <= QTEST_MAX_XFER;
}

static char *qtest_cmd_read(char **w)
{
    uint64_t addr, len;
    g_autofree uint8_t *buf = NULL;
    GString *out;

    if (!qtest_addr_len(w, &addr, &len)) {
        return g_strdup("FAIL invalid arguments");
    }
    buf = g_malloc0(len ? len : 1);
    qtest_mem_read(addr, buf, len);
    out = g_string_new("OK 0x");
    for (uint64_t i = 0; i < len; i++) {
        g_string_append_printf(out, "%02x", buf[i]);
    }
    return g_string_free(out, FALSE);
}

static char *qtest_cmd_b64read(char **w)
{
    uint64_t addr, len;
    g_autofree uint8_t *buf = NULL;
    g_autofree char *enc = NULL;

    if (!qtest_addr_len(w, &addr, &len)) {
        return g_strdup("FAIL invalid arguments");
    }
    buf = g_malloc0(len ? len : 1);
    qtest_mem_read(addr, buf, len);
    enc = g_base64_encode(buf, len);
    return g_strdup_printf("OK %s", enc);
}

static int qtest_hex_nibble(char c)
{
    return g_ascii_isxdigit(c) ? g_ascii_xdigit_value(c) : -1;
}

static char *qtest_cmd_write(char **w)
{
    uint64_t addr, len;
    g_autofree uint8_t *buf = NULL;
    const char *hex = w[3];

    if (!qtest_addr_len(w, &addr, &len) || !hex || strncmp(hex, "0x", 2) != 0) {
        return g_strdup("FAIL invalid arguments");
    }
    hex += 2;
    buf = g_malloc0(len ? len : 1);
    /* Missing digits are zeroes, as in QEMU. */
    for (uint64_t i = 0; i < len && hex[0] && hex[1]; i++, hex += 2) {
        int hi = qtest_hex_nibble(hex[0]), lo = qtest_hex_nibble(hex[1]);
        if (hi < 0 || lo < 0) {
            return g_strdup("FAIL invalid arguments");
        }
        buf[i] = hi << 4 | lo;
    }
    qtest_mem_write(addr, buf, len);
    return g_strdup("OK");
}

static char *qtest_cmd_b64write(char **w)
{
    uint64_t addr, len;
    gsize out_len = 0;
    g_autofree uint8_t *data = NULL;
    g_autofree uint8_t *buf = NULL;

    if (!qtest_addr_len(w, &addr, &len) || !w[3]) {
        return g_strdup("FAIL invalid arguments");
    }
    data = g_base64_decode(w[3], &out_len);
    buf = g_malloc0(len ? len : 1);
    memcpy(buf, data, MIN(out_len, len));
    qtest_mem_write(addr, buf, len);
    return g_strdup("OK");
}

static char *qtest_cmd_memset(char **w)
{
    uint64_t addr, len, val;
    g_autofree uint8_t *buf = NULL;

    if (!qtest_addr_len(w, &addr, &len) || !qtest_u64(w[3], &val)) {
        return g_strdup("FAIL invalid arguments");
    }
    buf = g_malloc(len ? len : 1);
    memset(buf, (int)(val & 0xff), len);
    qtest_mem_write(addr, buf, len);
    return g_strdup("OK");
}

/* Advance CLOCK_VIRTUAL to target, firing timers in deadline order on the way. */
static void qtest_clock_advance(int64_t target)
{
    int64_t deadline;

    while ((deadline = clock_virtual_deadline()) >= 0 && deadline <= target) {
        virtual_ns = MAX(virtual_ns, deadline);
        clock_run_virtual_timers();
    }
    virtual_ns = MAX(virtual_ns, target);
    clock_run_virtual_timers();
}

static char *qtest_cmd_clock_step(char **w)
{
    uint64_t ns;
    int64_t deadline = clock_virtual_deadline();

    if (!accel_qtest) {
        return qtest_unknown(w[0]);
    }
    if (w[1]) {
        if (!qtest_u64(w[1], &ns) || ns > INT64_MAX - (uint64_t)virtual_ns) {
            return g_strdup("FAIL invalid arguments");
        }
        qtest_clock_advance(virtual_ns + (int64_t)ns);
    } else if (deadline >= 0) {
        qtest_clock_advance(deadline);
    }
    return g_strdup_printf("OK %" PRId64, virtual_ns);
}

static char *qtest_cmd_clock_set(char **w)
{
    uint64_t ns;

    if (!accel_qtest) {
        return qtest_unknown(w[0]);
    }
    if (!qtest_u64(w[1], &ns) || ns > INT64_MAX) {
        return g_strdup("FAIL invalid arguments");
    }
    qtest_clock_advance((int64_t)ns);
    return g_strdup_printf("OK %" PRId64, virtual_ns);
}

static void qtest_send(const char *line);

static void qtest_irq_changed(unsigned gsi, bool level)
{
    g_autofree char *msg = g_strdup_printf("IRQ %s %u", level ? "raise" : "lower", gsi);

    qtest_send(msg);
}

static char *qtest_cmd_irq_intercept_in(char **w)
{
    if (!w[1]) {
        return g_strdup("FAIL invalid arguments");
    }
    if (strcmp(w[1], "ioapic") != 0 && strcmp(w[1], "/machine/ioapic") != 0) {
        return g_strdup("FAIL Unknown device");
    }
    if (irq_intercepted) {
        return g_strdup("FAIL Interception already enabled");
    }
    irq_intercepted = true;
    irq_set_observer(qtest_irq_changed);
    return g_strdup("OK");
}

static char *qtest_cmd_endianness(char **w)
{
    return g_strdup("OK little");
}

/* minivmm's own: "xen_hypercall NR [A0..A5]" runs a Xen hypercall for vCPU 0 as a guest
 * kernel would (addresses are guest-physical); the reply is "OK <rax as signed decimal>". */
static char *qtest_cmd_xen_hypercall(char **w)
{
    uint64_t nr, args[6] = { 0 };

    if (!xen_enabled()) {
        return g_strdup("FAIL Xen emulation is off (-accel ...,xen-version=)");
    }
    if (!qtest_u64(w[1], &nr)) {
        return g_strdup("FAIL invalid arguments");
    }
    for (unsigned i = 0; i < 6 && w[i + 2]; i++) {
        if (!qtest_u64(w[i + 2], &args[i])) {
            return g_strdup("FAIL invalid arguments");
        }
    }
    return g_strdup_printf("OK %" PRId64, xen_hypercall(0, nr, args, &xen_guest_mem_phys));
}

typedef struct QTestCommand {
    const char *name;
    unsigned min_args;
    char *(*fn)(char **words);
} QTestCommand;

static const QTestCommand qtest_commands[] = {
    { "outb", 2, qtest_cmd_out },      { "outw", 2, qtest_cmd_out },
    { "outl", 2, qtest_cmd_out },      { "inb", 1, qtest_cmd_in },
    { "inw", 1, qtest_cmd_in },        { "inl", 1, qtest_cmd_in },
    { "writeb", 2, qtest_cmd_write_n }, { "writew", 2, qtest_cmd_write_n },
    { "writel", 2, qtest_cmd_write_n }, { "writeq", 2, qtest_cmd_write_n },
    { "readb", 1, qtest_cmd_read_n },  { "readw", 1, qtest_cmd_read_n },
    { "readl", 1, qtest_cmd_read_n },  { "readq", 1, qtest_cmd_read_n },
    { "read", 2, qtest_cmd_read },     { "write", 3, qtest_cmd_write },
    { "b64read", 2, qtest_cmd_b64read }, { "b64write", 3, qtest_cmd_b64write },
    { "memset", 3, qtest_cmd_memset }, { "clock_step", 0, qtest_cmd_clock_step },
    { "clock_set", 1, qtest_cmd_clock_set },
    { "irq_intercept_in", 1, qtest_cmd_irq_intercept_in },
    { "endianness", 0, qtest_cmd_endianness },
    { "xen_hypercall", 1, qtest_cmd_xen_hypercall },
};

char *qtest_process_line(const char *line)
{
    g_auto(GStrv) words = g_strsplit_set(line, " \t", -1);
    g_autoptr(GPtrArray) args = g_ptr_array_new();
    unsigned nargs;

    for (int i = 0; words[i]; i++) {
        if (*words[i]) {
            g_ptr_array_add(args, words[i]);
        }
    }
    g_ptr_array_add(args, NULL);
    if (args->len == 1) {
        return g_strdup("FAIL empty command");
    }
    nargs = args->len - 2;
    for (unsigned i = 0; i < G_N_ELEMENTS(qtest_commands); i++) {
        const QTestCommand *c = &qtest_commands[i];
        if (!strcmp(c->name, args->pdata[0])) {
            if (nargs < c->min_args) {
                return g_strdup("FAIL invalid arguments");
            }
            return c->fn((char **)args->pdata);
        }
    }
    return qtest_unknown(args->pdata[0]);
}

static void qtest_log_line(char dir, const char *line)
{
    if (qtest_log) {
        fprintf(qtest_log, "[%c %" PRId64 "] %s\n", dir, clock_get_ns(CLOCK_HOST), line);
        fflush(qtest_log);
    }
}

static void qtest_send(const char *line)
{
    g_autofree char *out = g_strconcat(line, "\n", NULL);

    qtest_log_line('S', line);
    /* One write per reply: a client waiting for the line wakes once, not twice. */
    chr_write(qtest_chr, (const uint8_t *)out, strlen(out));
}

static int qtest_can_read(void *opaque)
{
    return 4096;
}

static void qtest_read(void *opaque, const uint8_t *buf, size_t len)
{
    char *nl;

    g_string_append_len(inbuf, (const char *)buf, len);
    while ((nl = memchr(inbuf->str, '\n', inbuf->len))) {
        g_autofree char *line = g_strndup(inbuf->str, nl - inbuf->str);
        g_autofree char *reply = NULL;
        g_string_erase(inbuf, 0, nl - inbuf->str + 1);
        g_strchomp(line);
        qtest_log_line('R', line);
        reply = qtest_process_line(line);
        qtest_send(reply);
    }
    if (inbuf->len > QTEST_MAX_LINE) {
        g_string_truncate(inbuf, 0);
        qtest_send("FAIL line too long");
    }
}

bool qtest_server_init(Chardev *chr, const char *log_path, Error **errp)
{
    if (log_path) {
        qtest_log = fopen(log_path, "w");
        if (!qtest_log) {
            error_setg_errno(errp, errno, "Could not open '%s'", log_path);
            return false;
        }
    }
    qtest_chr = chr;
    inbuf = g_string_new(NULL);
    chr_set_handlers(chr, qtest_can_read, qtest_read, NULL);
    return true;
}

/*
 * libqtest: the C side of the qtest protocol for device tests. Starts a VMM with the qtest
 * accelerator (./minivmm, or $QTEST_MINIVMM) on a pair of pipes (or, as QEMU's own libqtest
 * does, as a client of Unix sockets the test listens on, with QMP), or Debian's QEMU as the
 * behavioural reference when QTEST_QEMU=1 (a stopped TCG machine; it has no qtest clock, so
 * qtest_has_clock() is false there), and speaks the line protocol: port and memory access,
 * the virtual clock, and interrupt lines seen through "IRQ raise/lower N". Every started VMM
 * is killed when the test program exits, however it exits. Not a protocol implementation:
 * system/qtest.c is.
 */
#ifndef TESTS_QTEST_LIBQTEST_H
#define TESTS_QTEST_LIBQTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#define QTEST_IRQ_MAX 24

typedef struct QTestState QTestState;

/* Start the VMM with extra command-line arguments (split as a shell would, may be NULL).
 * Aborts the test if the VMM cannot be started. */
QTestState *qtest_init(const char *extra_args);
/* The same, started as QEMU's libqtest starts QEMU: the test listens on two Unix sockets and
 * the VMM connects to both as a client ("-qtest unix:PATH" and "-qmp unix:PATH"); the QMP
 * greeting is read and capabilities are negotiated before this returns. qtest_init() does
 * this too when QTEST_UNIX=1 is set. */
QTestState *qtest_init_unix(const char *extra_args);
/* Kill the VMM and free s. */
void qtest_quit(QTestState *s);

/* True when the VMM under test is QEMU (QTEST_QEMU=1). */
bool qtest_is_qemu(void);
/* Whether clock_step/clock_set work (minivmm's qtest accelerator; not QEMU under TCG). */
bool qtest_has_clock(QTestState *s);

/* Send one raw command line; the reply line (without "\n"), g_free() it. */
char *qtest_cmd(QTestState *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

void qtest_outb(QTestState *s, uint16_t port, uint8_t val);
void qtest_outw(QTestState *s, uint16_t port, uint16_t val);
void qtest_outl(QTestState *s, uint16_t port, uint32_t val);
uint8_t qtest_inb(QTestState *s, uint16_t port);
uint16_t qtest_inw(QTestState *s, uint16_t port);
uint32_t qtest_inl(QTestState *s, uint16_t port);

void qtest_writeb(QTestState *s, uint64_t addr, uint8_t val);
void qtest_writew(QTestState *s, uint64_t addr, uint16_t val);
void qtest_writel(QTestState *s, uint64_t addr, uint32_t val);
void qtest_writeq(QTestState *s, uint64_t addr, uint64_t val);
uint8_t qtest_readb(QTestState *s, uint64_t addr);
uint16_t qtest_readw(QTestState *s, uint64_t addr);
uint32_t qtest_readl(QTestState *s, uint64_t addr);
uint64_t qtest_readq(QTestState *s, uint64_t addr);

/* Guest memory in hex ("read"/"write") and base64 ("b64read"/"b64write"). */
void qtest_memread(QTestState *s, uint64_t addr, void *data, size_t size);
void qtest_memwrite(QTestState *s, uint64_t addr, const void *data, size_t size);
void qtest_bufread(QTestState *s, uint64_t addr, void *data, size_t size);
void qtest_bufwrite(QTestState *s, uint64_t addr, const void *data, size_t size);
void qtest_memset(QTestState *s, uint64_t addr, uint8_t pattern, size_t size);

/* The virtual clock (ns); each returns the clock after the command. */
int64_t qtest_clock_step(QTestState *s, int64_t step);
int64_t qtest_clock_step_next(QTestState *s);
int64_t qtest_clock_set(QTestState *s, int64_t val);

/* Watch a device's interrupt outputs ("ioapic": the GSIs); then qtest_get_irq() follows
 * every "IRQ raise/lower N" the VMM sends. */
void qtest_irq_intercept_in(QTestState *s, const char *qom_path);
bool qtest_get_irq(QTestState *s, int num);

/* QMP (qtest_init_unix() only). Send one command, a JSON object given as a printf format;
 * returns the reply ({"return": ...} or {"error": ...}), json_node_unref() it. Events that
 * arrive before the reply are kept for qtest_qmp_eventwait(). */
JsonNode *qtest_qmp(QTestState *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* The next event called `event` (kept earlier ones first), waiting for it; unref it. */
JsonNode *qtest_qmp_eventwait(QTestState *s, const char *event);

#endif

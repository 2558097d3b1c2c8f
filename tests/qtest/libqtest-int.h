/*
 * libqtest's insides shared by its two transports (pipes in libqtest.c, Unix sockets and QMP
 * in libqtest-unix.c). Not for tests: they use libqtest.h.
 */
#ifndef TESTS_QTEST_LIBQTEST_INT_H
#define TESTS_QTEST_LIBQTEST_INT_H

#include <stdio.h>
#include <sys/types.h>
#include "libqtest.h"

struct QTestState {
    pid_t pid;
    int to_vmm;
    FILE *from_vmm;
    bool irq_level[QTEST_IRQ_MAX];
    int qmp_fd;         /* -1 without QMP (the pipe transport) */
    FILE *qmp_in;       /* reads qmp_fd */
    GQueue *qmp_events; /* JsonNode *, events read while waiting for something else */
};

/* The VMM's command line: binary and accelerator, transport (NULL-terminated), common
 * options, then extra_args split as a shell would. */
GPtrArray *qtest_argv(const char *extra_args, const char *const *transport);
/* Fork and exec argv with in_fd/out_fd as its stdin/stdout; the VMM is killed at exit. */
void qtest_spawn(QTestState *s, GPtrArray *argv, int in_fd, int out_fd);
/* SIGKILL and reap the VMM (idempotent). */
void qtest_kill(QTestState *s);
/* Release the QMP connection and queued events, if any. */
void qtest_qmp_close(QTestState *s);

#endif

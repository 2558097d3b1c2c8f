/*
 * The payload's report lines, the format the system tests and benchmarks parse:
 * "RESULT name value unit", then one "PASS" or "FAIL reason" per run.
 */
#include "guest.h"

void report_result(const char *name, uint64_t value, const char *unit)
{
    printf("RESULT %s %lu %s\n", name, value, unit);
}

void report_pass(void)
{
    serial_puts("PASS\n");
}

void report_fail(const char *fmt, ...)
{
    va_list ap;
    serial_puts("FAIL ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    serial_putc('\n');
}

/* A small printf for the console: %d %u %x %s %c %%, with 0-padding, width, l and ll. */
#include "guest.h"

static void put_number(uint64_t v, unsigned base, bool negative, int width, char pad)
{
    char buf[24];
    int n = 0;
    do {
        buf[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (negative) {
        buf[n++] = '-';
    }
    for (; width > n; width--) {
        serial_putc(pad);
    }
    while (n) {
        serial_putc(buf[--n]);
    }
}

static uint64_t take_unsigned(va_list *ap, int longs)
{
    return longs ? va_arg(*ap, uint64_t) : va_arg(*ap, unsigned);
}

static int64_t take_signed(va_list *ap, int longs)
{
    return longs ? va_arg(*ap, int64_t) : va_arg(*ap, int);
}

void vprintf(const char *fmt, va_list ap)
{
    va_list args;
    va_copy(args, ap);
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            serial_putc(*fmt);
            continue;
        }
        char pad = *++fmt == '0' ? '0' : ' ';
        int width = 0, longs = 0;
        for (; *fmt >= '0' && *fmt <= '9'; fmt++) {
            width = width * 10 + *fmt - '0';
        }
        for (; *fmt == 'l'; fmt++) {
            longs++;
        }
        switch (*fmt) {
        case 'd': {
            int64_t v = take_signed(&args, longs);
            put_number(v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, width, pad);
            break;
        }
        case 'u':
            put_number(take_unsigned(&args, longs), 10, false, width, pad);
            break;
        case 'x':
            put_number(take_unsigned(&args, longs), 16, false, width, pad);
            break;
        case 's':
            serial_puts(va_arg(args, const char *));
            break;
        case 'c':
            serial_putc(va_arg(args, int));
            break;
        default:
            serial_putc(*fmt);
            break;
        }
    }
    va_end(args);
}

void printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

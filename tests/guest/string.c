/* The few libc string functions the payload uses (and that gcc may emit calls to), and the
 * byte layout of a 10-byte SCSI CDB. */
#include "guest.h"

void *memcpy(void *dst, const void *src, size_t n)
{
    asm volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    void *d = dst;
    asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++) {
        if (*x != *y) {
            return *x - *y;
        }
    }
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n]) {
        n++;
    }
    return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b || !*a) {
            return (unsigned char)*a - (unsigned char)*b;
        }
    }
    return 0;
}

int strcmp(const char *a, const char *b)
{
    return strncmp(a, b, (size_t)-1);
}

/* Decimal, or hexadecimal with 0x; *end (if given) points past the digits. */
uint64_t strtou64(const char *s, const char **end)
{
    uint64_t v = 0;
    unsigned base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    for (;; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9') {
            d = *s - '0';
        } else if (base == 16 && (*s | 0x20) >= 'a' && (*s | 0x20) <= 'f') {
            d = (*s | 0x20) - 'a' + 10;
        } else {
            break;
        }
        v = v * base + d;
    }
    if (end) {
        *end = s;
    }
    return v;
}

void scsi_cdb10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t count)
{
    memset(cdb, 0, 10);
    cdb[0] = op;
    cdb[2] = lba >> 24;
    cdb[3] = lba >> 16;
    cdb[4] = lba >> 8;
    cdb[5] = lba;
    cdb[7] = count >> 8;
    cdb[8] = count;
}

uint64_t xorshift64(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

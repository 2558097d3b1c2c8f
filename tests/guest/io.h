/*
 * Port I/O, MMIO and TSC access for the test payload. All of it works from CPL3: the payload
 * runs with IOPL 3 and the MMIO window mapped user-accessible.
 */
#ifndef GUEST_IO_H
#define GUEST_IO_H

#include <stddef.h>
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v)
{
    asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
    asm volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
    asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* One `rep insb`: a single exit to the VMM for up to a page. */
static inline void insb(uint16_t port, void *buf, size_t n)
{
    asm volatile("rep insb" : "+D"(buf), "+c"(n) : "d"(port) : "memory");
}

/* `rep insw` / `rep outsw`: reads take one exit per call; writes, on this host, one exit
 * per word (KVM completes string output element by element). */
static inline void insw(uint16_t port, void *buf, size_t n)
{
    asm volatile("rep insw" : "+D"(buf), "+c"(n) : "d"(port) : "memory");
}

static inline void outsw(uint16_t port, const void *buf, size_t n)
{
    asm volatile("rep outsw" : "+S"(buf), "+c"(n) : "d"(port) : "memory");
}

/* `rep insl` / `rep outsl`: half the exits of the word forms for the same bytes. */
static inline void insl(uint16_t port, void *buf, size_t n)
{
    asm volatile("rep insl" : "+D"(buf), "+c"(n) : "d"(port) : "memory");
}

static inline void outsl(uint16_t port, const void *buf, size_t n)
{
    asm volatile("rep outsl" : "+S"(buf), "+c"(n) : "d"(port) : "memory");
}

static inline uint32_t mmio_read32(uint64_t addr)
{
    return *(volatile uint32_t *)addr;
}

static inline void mmio_write32(uint64_t addr, uint32_t v)
{
    *(volatile uint32_t *)addr = v;
}

static inline uint16_t mmio_read16(uint64_t addr)
{
    return *(volatile uint16_t *)addr;
}

static inline void mmio_write16(uint64_t addr, uint16_t v)
{
    *(volatile uint16_t *)addr = v;
}

static inline uint8_t mmio_read8(uint64_t addr)
{
    return *(volatile uint8_t *)addr;
}

static inline void mmio_write8(uint64_t addr, uint8_t v)
{
    *(volatile uint8_t *)addr = v;
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

#endif

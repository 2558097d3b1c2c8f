/*
 * The PIIX3 IDE function for the payload's IDE and ATAPI scenarios (tests/guest/ide.c).
 */
#ifndef GUEST_IDE_H
#define GUEST_IDE_H

#include <stdint.h>

#define IDE_SPIN_LIMIT 100000000ull

/* Find 8086:7010, switch on I/O decoding and bus mastering; its bus-master base (BMIBA: the
 * primary channel's registers, the secondary's at +8), or 0 if there is no such function. */
uint16_t piix_ide_open(void);
/* The alternate status at ctrl once BSY is clear (0xff if it never clears). */
uint8_t ide_wait_ctrl(uint16_t ctrl);

#endif

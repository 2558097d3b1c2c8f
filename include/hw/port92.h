/*
 * System Control Port A (port 0x92): fast reset and the A20 gate bit.
 */
#ifndef HW_PORT92_H
#define HW_PORT92_H

#define PORT92_PORT 0x92

/* Register the port; it resets the machine when the guest sets bit 0. */
void port92_init(void);

#endif

/*
 * Reading a password from standard input for the image tools (qemu-img's prompt for
 * encrypted images): not the monitor's prompt, which goes through its readline.
 */
#ifndef UTIL_PASSWORD_H
#define UTIL_PASSWORD_H

#include <stddef.h>

/*
 * Print "password: ", read one line from file descriptor 0 (without echo when it is a
 * terminal; byte by byte, so that what follows the line stays unread), then print a new
 * line. The line, without its end, truncated to size - 1 bytes, goes into buf. 0, or -1
 * when standard input ends (or fails) before a line end.
 */
int read_password(char *buf, size_t size);

#endif

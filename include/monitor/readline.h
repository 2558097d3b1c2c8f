/*
 * The HMP line editor: QEMU's readline behaviour on any chardev (echo with VT100 updates,
 * cursor keys, Home/End, Ctrl-A/E/D/W, Backspace, history with Up/Down, a password mode that
 * echoes '*'), independent of the monitor so it can be unit-tested with a print callback.
 */
#ifndef MONITOR_READLINE_H
#define MONITOR_READLINE_H

#include <stdbool.h>

#define READLINE_CMD_BUF_SIZE 4095
#define READLINE_MAX_CMDS 64

typedef void ReadLineFunc(void *opaque, const char *line);
typedef void ReadLinePrintFunc(void *opaque, const char *text);

typedef enum ReadLineEsc { RL_NORM, RL_ESC, RL_CSI, RL_SS3 } ReadLineEsc;

typedef struct ReadLine {
    char cmd_buf[READLINE_CMD_BUF_SIZE + 1];
    int cmd_buf_index, cmd_buf_size;
    char last_cmd_buf[READLINE_CMD_BUF_SIZE + 1];
    int last_cmd_buf_index, last_cmd_buf_size;
    ReadLineEsc esc_state;
    int esc_param;
    char *history[READLINE_MAX_CMDS];
    int hist_entry;
    const char *prompt;
    bool read_password; /* echo '*' for each character, keep the line out of the history */
    ReadLinePrintFunc *print;
    ReadLineFunc *func;
    void *opaque;
} ReadLine;

void readline_init(ReadLine *rl, const char *prompt, ReadLinePrintFunc *print, ReadLineFunc *func,
                   void *opaque);
/* Read the next line with another prompt and callback (QEMU's readline_start); the prompt
 * shows at the next readline_show_prompt(). */
void readline_start(ReadLine *rl, const char *prompt, bool read_password, ReadLineFunc *func,
                    void *opaque);
void readline_show_prompt(ReadLine *rl);
/* Forget a half-typed line (a new client connected). */
void readline_restart(ReadLine *rl);
void readline_handle_byte(ReadLine *rl, int ch);
void readline_free(ReadLine *rl);

#endif

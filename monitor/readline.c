/*
 * Line editing for HMP, byte by byte as the chardev delivers them. After each byte the
 * screen is brought up to date the way QEMU's readline does it (move back, reprint the
 * line, ESC[K, move the cursor), so a client sees the same echo from both VMMs. A password
 * is echoed as '*' and kept out of the history, as QEMU does. Not command parsing (hmp.c).
 */
#include <stdbool.h>
#include <string.h>
#include <glib.h>
#include "monitor/readline.h"

void readline_init(ReadLine *rl, const char *prompt, ReadLinePrintFunc *print, ReadLineFunc *func,
                   void *opaque)
{
    memset(rl, 0, sizeof(*rl));
    rl->prompt = prompt;
    rl->print = print;
    rl->func = func;
    rl->opaque = opaque;
    rl->hist_entry = -1;
}

void readline_start(ReadLine *rl, const char *prompt, bool read_password, ReadLineFunc *func,
                    void *opaque)
{
    rl->prompt = prompt;
    rl->read_password = read_password;
    rl->func = func;
    rl->opaque = opaque;
    readline_restart(rl);
}

void readline_free(ReadLine *rl)
{
    for (int i = 0; i < READLINE_MAX_CMDS; i++) {
        g_free(rl->history[i]);
        rl->history[i] = NULL;
    }
}

void readline_show_prompt(ReadLine *rl)
{
    rl->print(rl->opaque, rl->prompt);
    rl->last_cmd_buf_index = 0;
    rl->last_cmd_buf_size = 0;
    rl->esc_state = RL_NORM;
}

void readline_restart(ReadLine *rl)
{
    rl->cmd_buf_index = 0;
    rl->cmd_buf_size = 0;
}

static void rl_repeat(ReadLine *rl, const char *seq, int n)
{
    for (int i = 0; i < n; i++) {
        rl->print(rl->opaque, seq);
    }
}

static void readline_update(ReadLine *rl)
{
    if (rl->cmd_buf_size != rl->last_cmd_buf_size ||
        memcmp(rl->cmd_buf, rl->last_cmd_buf, rl->cmd_buf_size) != 0) {
        rl_repeat(rl, "\033[D", rl->last_cmd_buf_index);
        rl->cmd_buf[rl->cmd_buf_size] = '\0';
        if (rl->read_password) {
            rl_repeat(rl, "*", rl->cmd_buf_size);
        } else {
            rl->print(rl->opaque, rl->cmd_buf);
        }
        rl->print(rl->opaque, "\033[K");
        memcpy(rl->last_cmd_buf, rl->cmd_buf, rl->cmd_buf_size);
        rl->last_cmd_buf_size = rl->cmd_buf_size;
        rl->last_cmd_buf_index = rl->cmd_buf_size;
    }
    if (rl->cmd_buf_index > rl->last_cmd_buf_index) {
        rl_repeat(rl, "\033[C", rl->cmd_buf_index - rl->last_cmd_buf_index);
    } else {
        rl_repeat(rl, "\033[D", rl->last_cmd_buf_index - rl->cmd_buf_index);
    }
    rl->last_cmd_buf_index = rl->cmd_buf_index;
}

static void rl_insert(ReadLine *rl, char ch)
{
    if (rl->cmd_buf_size >= READLINE_CMD_BUF_SIZE) {
        return;
    }
    memmove(rl->cmd_buf + rl->cmd_buf_index + 1, rl->cmd_buf + rl->cmd_buf_index,
            rl->cmd_buf_size - rl->cmd_buf_index);
    rl->cmd_buf[rl->cmd_buf_index++] = ch;
    rl->cmd_buf_size++;
}

static void rl_delete(ReadLine *rl)
{
    if (rl->cmd_buf_index < rl->cmd_buf_size) {
        memmove(rl->cmd_buf + rl->cmd_buf_index, rl->cmd_buf + rl->cmd_buf_index + 1,
                rl->cmd_buf_size - rl->cmd_buf_index - 1);
        rl->cmd_buf_size--;
    }
}

static void rl_backspace(ReadLine *rl)
{
    if (rl->cmd_buf_index > 0) {
        rl->cmd_buf_index--;
        rl_delete(rl);
    }
}

static void rl_backword(ReadLine *rl)
{
    int start = rl->cmd_buf_index;

    while (start > 0 && g_ascii_isspace(rl->cmd_buf[start - 1])) {
        start--;
    }
    while (start > 0 && !g_ascii_isspace(rl->cmd_buf[start - 1])) {
        start--;
    }
    memmove(rl->cmd_buf + start, rl->cmd_buf + rl->cmd_buf_index,
            rl->cmd_buf_size - rl->cmd_buf_index);
    rl->cmd_buf_size -= rl->cmd_buf_index - start;
    rl->cmd_buf_index = start;
}

/* Add to history; a repeated line moves to the end, the oldest falls off when full. */
static void rl_hist_add(ReadLine *rl, const char *line)
{
    char *entry = NULL;
    int idx;

    if (!*line) {
        return;
    }
    for (idx = 0; idx < READLINE_MAX_CMDS && rl->history[idx]; idx++) {
        if (!strcmp(rl->history[idx], line)) {
            entry = rl->history[idx];
            memmove(&rl->history[idx], &rl->history[idx + 1],
                    (READLINE_MAX_CMDS - idx - 1) * sizeof(char *));
            rl->history[READLINE_MAX_CMDS - 1] = NULL;
            break;
        }
    }
    for (idx = 0; idx < READLINE_MAX_CMDS && rl->history[idx]; idx++) {
    }
    if (idx == READLINE_MAX_CMDS) {
        g_free(rl->history[0]);
        memmove(&rl->history[0], &rl->history[1], (READLINE_MAX_CMDS - 1) * sizeof(char *));
        idx--;
    }
    rl->history[idx] = entry ? entry : g_strdup(line);
    rl->hist_entry = -1;
}

static void rl_set_line(ReadLine *rl, const char *line)
{
    g_strlcpy(rl->cmd_buf, line, sizeof(rl->cmd_buf));
    rl->cmd_buf_size = rl->cmd_buf_index = strlen(rl->cmd_buf);
}

static void rl_hist_up(ReadLine *rl)
{
    if (rl->hist_entry == 0) {
        return;
    }
    if (rl->hist_entry == -1) {
        for (rl->hist_entry = 0; rl->hist_entry < READLINE_MAX_CMDS && rl->history[rl->hist_entry];
             rl->hist_entry++) {
        }
    }
    if (--rl->hist_entry >= 0) {
        rl_set_line(rl, rl->history[rl->hist_entry]);
    }
}

static void rl_hist_down(ReadLine *rl)
{
    if (rl->hist_entry == -1) {
        return;
    }
    if (rl->hist_entry < READLINE_MAX_CMDS - 1 && rl->history[rl->hist_entry + 1]) {
        rl_set_line(rl, rl->history[++rl->hist_entry]);
    } else {
        rl->hist_entry = -1;
        rl_set_line(rl, "");
    }
}

static void rl_enter(ReadLine *rl)
{
    char line[READLINE_CMD_BUF_SIZE + 1];
    bool secret = rl->read_password;

    rl->cmd_buf[rl->cmd_buf_size] = '\0';
    g_strlcpy(line, rl->cmd_buf, sizeof(line));
    if (secret) {
        /* A password leaves no copy behind in the editor's buffers. */
        memset(rl->cmd_buf, 0, sizeof(rl->cmd_buf));
        memset(rl->last_cmd_buf, 0, sizeof(rl->last_cmd_buf));
    } else {
        rl_hist_add(rl, line);
    }
    rl->print(rl->opaque, "\n");
    rl->cmd_buf_index = rl->cmd_buf_size = 0;
    rl->last_cmd_buf_index = rl->last_cmd_buf_size = 0;
    rl->func(rl->opaque, line);
    if (secret) {
        explicit_bzero(line, sizeof(line));
    }
}

static void rl_csi(ReadLine *rl, int ch)
{
    rl->esc_state = RL_NORM;
    switch (ch) {
    case 'A':
    case 'F':
        rl_hist_up(rl);
        break;
    case 'B':
    case 'E':
        rl_hist_down(rl);
        break;
    case 'C':
        if (rl->cmd_buf_index < rl->cmd_buf_size) {
            rl->cmd_buf_index++;
        }
        break;
    case 'D':
        if (rl->cmd_buf_index > 0) {
            rl->cmd_buf_index--;
        }
        break;
    case '~':
        if (rl->esc_param == 1) {
            rl->cmd_buf_index = 0;
        } else if (rl->esc_param == 3) {
            rl_delete(rl);
        } else if (rl->esc_param == 4) {
            rl->cmd_buf_index = rl->cmd_buf_size;
        }
        break;
    default:
        if (ch >= '0' && ch <= '9') {
            rl->esc_param = MIN(rl->esc_param * 10 + (ch - '0'), 10000); /* hostile digits */
            rl->esc_state = RL_CSI;
        }
        break;
    }
}

/* Returns false when the byte ended the line (the callback already ran). */
static bool rl_norm(ReadLine *rl, int ch)
{
    switch (ch) {
    case 1:
        rl->cmd_buf_index = 0;
        break;
    case 4:
        rl_delete(rl);
        break;
    case 5:
        rl->cmd_buf_index = rl->cmd_buf_size;
        break;
    case 23:
        rl_backword(rl);
        break;
    case 27:
        rl->esc_state = RL_ESC;
        break;
    case 8:
    case 127:
        rl_backspace(rl);
        break;
    case 155:
        rl->esc_state = RL_CSI;
        rl->esc_param = 0;
        break;
    case 10:
    case 13:
        rl_enter(rl);
        return false;
    default:
        if (ch >= 32) {
            rl_insert(rl, ch);
        }
        break;
    }
    return true;
}

void readline_handle_byte(ReadLine *rl, int ch)
{
    switch (rl->esc_state) {
    case RL_NORM:
        if (!rl_norm(rl, ch)) {
            return;
        }
        break;
    case RL_ESC:
        rl->esc_state = ch == '[' ? RL_CSI : ch == 'O' ? RL_SS3 : RL_NORM;
        rl->esc_param = 0;
        break;
    case RL_CSI:
        rl_csi(rl, ch);
        break;
    case RL_SS3:
        rl->esc_state = RL_NORM;
        if (ch == 'F') {
            rl->cmd_buf_index = rl->cmd_buf_size;
        } else if (ch == 'H') {
            rl->cmd_buf_index = 0;
        }
        break;
    }
    readline_update(rl);
}

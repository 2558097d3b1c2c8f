/*
 * The payload's user-mode main: announce READY on COM1, read the scenario and its
 * parameters from fw_cfg file opt/minivmm/args ("scenario arg..."), run it, report PASS or
 * FAIL, and power off.
 */
#include "guest.h"

#define ARGS_FILE "opt/minivmm/args"
#define ARGS_MAX 1024
#define ARGV_MAX 32

extern const Scenario __scenarios_start[], __scenarios_end[];

static char args_buf[ARGS_MAX + 1];

static bool args_load(void)
{
    uint16_t key;
    int64_t size = fw_cfg_present() ? fw_cfg_find_file(ARGS_FILE, &key) : -1;
    if (size < 0 || size > ARGS_MAX) {
        return false;
    }
    fw_cfg_select(key);
    fw_cfg_read(args_buf, size);
    args_buf[size] = '\0';
    return true;
}

static int args_split(char *s, char **argv)
{
    int argc = 0;
    while (argc < ARGV_MAX) {
        while (*s == ' ' || *s == '\n') {
            *s++ = '\0';
        }
        if (!*s) {
            break;
        }
        argv[argc++] = s;
        while (*s && *s != ' ' && *s != '\n') {
            s++;
        }
    }
    return argc;
}

static const Scenario *scenario_find(const char *name)
{
    for (const Scenario *s = __scenarios_start; s < __scenarios_end; s++) {
        if (strcmp(s->name, name) == 0) {
            return s;
        }
    }
    return NULL;
}

static int payload_run(void)
{
    char *argv[ARGV_MAX];
    if (!args_load()) {
        report_fail("no fw_cfg file " ARGS_FILE);
        return -1;
    }
    int argc = args_split(args_buf, argv);
    if (argc == 0) {
        report_fail("empty " ARGS_FILE);
        return -1;
    }
    const Scenario *s = scenario_find(argv[0]);
    if (!s) {
        report_fail("unknown scenario '%s'", argv[0]);
        return -1;
    }
    return s->run(argc, argv);
}

void payload_main(void);

void payload_main(void)
{
    serial_puts("READY\n");
    acpi_pm_enable();
    if (payload_run() == 0) {
        report_pass();
    }
    acpi_poweroff();
}

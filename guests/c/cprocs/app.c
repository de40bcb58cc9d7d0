/* cprocs: processes by state, total processes and threads, as Telegraf's `processes` input (the
 * C twin of guests/python/procs).
 *
 * Every collect lists /proc and reads /proc/<pid>/stat of each process: the state letter (R
 * running, S sleeping, D blocked, Z zombies, T/t stopped, I idle, X/x dead, W paging, P parked,
 * anything else unknown) and the thread count. A process that exits between the listing and
 * the read is skipped; when no stat at all can be read (a missing grant), the first error is
 * the call's error.
 *
 * Config (optional):
 * - `commands` (default []): process names (as in /proc/<pid>/stat, which the kernel cuts to 15
 *   bytes) to count on their own: one `processes_command` point each, tag `command`, the same
 *   fields; total = 0 when none runs, so a dead service shows.
 */
#include "sandkit.h"
#include <stdlib.h>
#include <string.h>

enum { RUNNING, SLEEPING, BLOCKED, ZOMBIES, STOPPED, IDLE, DEAD, PAGING, PARKED, UNKNOWN, N_STATES };
static const char *const COUNTS[N_STATES] = {"running", "sleeping", "blocked", "zombies", "stopped",
                                             "idle", "dead", "paging", "parked", "unknown"};
#define COMM_MAX 15 /* the kernel's TASK_COMM_LEN less its NUL */

typedef struct counts {
    int64_t total, threads, by_state[N_STATES];
} counts;

static sk_strs commands; /* as configured (the config lives as long as the instance) */
static char **comms;     /* the same names as /proc shows them */

static int state_of(char letter) {
    switch (letter) {
    case 'R': return RUNNING;
    case 'S': return SLEEPING;
    case 'D': return BLOCKED;
    case 'Z': return ZOMBIES;
    case 'T': case 't': return STOPPED;
    case 'I': return IDLE;
    case 'X': case 'x': return DEAD;
    case 'W': return PAGING;
    case 'P': return PARKED;
    default: return UNKNOWN;
    }
}

static void fields(sk_measurement *m) {
    sk_measurement_field(m, "total", SK_INT, "count", "processes");
    sk_measurement_field(m, "total_threads", SK_INT, "count", "threads of all processes");
    for (int i = 0; i < N_STATES; i++)
        sk_measurement_field(m, COUNTS[i], SK_INT, "count", sk_sprintf("processes in state %s", COUNTS[i]));
}

void sk_describe(sk_info *info) {
    sk_info_set(info, "cprocs", "0.1.0", "Processes by state, total processes and threads (Telegraf's processes input).");
    fields(sk_info_measurement(info, "processes", SK_METRIC, "processes by state, as Telegraf's processes input"));
    sk_measurement *m = sk_info_measurement(info, "processes_command", SK_METRIC,
                                            "the same counts for one process name of `commands`");
    sk_measurement_tag(m, "command", "the name as configured");
    fields(m);
}

int sk_init(const sk_json *config) {
    (void)config;
    static const char *const known[] = {"commands", NULL};
    if (sk_config_check_keys(known) || sk_config_str_list("commands", &commands)) return SK_ERR;
    comms = calloc(commands.len + 1, sizeof(char *));
    for (size_t i = 0; i < commands.len; i++) {
        const char *name = commands.items[i];
        if (!*name) return sk_fail("[config] commands: an empty process name");
        size_t n = strlen(name);
        if (n > COMM_MAX) { /* cut to 15 bytes, not inside a character */
            n = COMM_MAX;
            while (n && ((unsigned char)name[n] & 0xC0) == 0x80) n--;
        }
        comms[i] = strndup(name, n);
    }
    return SK_OK;
}

/* comm, state letter and threads of one /proc/<pid>/stat; false when it is not one. */
static bool parse_stat(const char *text, size_t len, sk_str *comm, char *state, int64_t *threads) {
    const char *open = memchr(text, '(', len);
    const char *close = NULL; /* the last ')': the name may hold spaces and parentheses */
    for (const char *p = text + len; p-- > text;)
        if (*p == ')') {
            close = p;
            break;
        }
    if (!open || !close || close < open) return false;
    comm->ptr = open + 1;
    comm->len = (size_t)(close - open - 1);
    /* after ") ": state, then 16 more fields, then num_threads (the 18th field) */
    const char *p = close + 1, *end = text + len;
    for (int field = 0; field < 18; field++) {
        while (p < end && (*p == ' ' || *p == '\n' || *p == '\t')) p++;
        if (p >= end) return false;
        const char *start = p;
        while (p < end && *p != ' ' && *p != '\n' && *p != '\t') p++;
        if (field == 0) *state = *start;
        if (field == 17) {
            char *stop;
            char *num = sk_strndup(start, (size_t)(p - start));
            long long t = strtoll(num, &stop, 10);
            if (*stop || stop == num) return false;
            *threads = t;
        }
    }
    return true;
}

static void add(counts *c, char state, int64_t threads) {
    c->total++;
    c->threads += threads;
    c->by_state[state_of(state)]++;
}

static sk_point *point(const char *measurement, const counts *c) {
    sk_point *p = sk_int(sk_int(sk_point_new(measurement), "total", c->total), "total_threads", c->threads);
    for (int i = 0; i < N_STATES; i++) sk_int(p, COUNTS[i], c->by_state[i]);
    return p;
}

int sk_collect(void) {
    counts all;
    memset(&all, 0, sizeof all);
    counts *per = sk_alloc((commands.len + 1) * sizeof(counts));
    memset(per, 0, (commands.len + 1) * sizeof(counts));
    sk_strs names;
    if (sk_list_dir("/proc", &names)) return SK_ERR;
    const char *first_error = NULL;
    for (size_t i = 0; i < names.len; i++) {
        const char *name = names.items[i];
        if (!*name || strspn(name, "0123456789") != strlen(name)) continue;
        sk_bytes stat;
        if (sk_read_file(sk_sprintf("/proc/%s/stat", name), &stat)) {
            if (!first_error) first_error = sk_last_error(); /* gone since the listing, or not granted */
            continue;
        }
        sk_str comm;
        char state;
        int64_t threads;
        if (!parse_stat((const char *)stat.ptr, stat.len, &comm, &state, &threads)) continue;
        add(&all, state, threads);
        for (size_t k = 0; k < commands.len; k++)
            if (sk_str_eq(comm, comms[k])) add(&per[k], state, threads);
    }
    if (all.total == 0 && first_error) return sk_fail("%s", first_error); /* a missing grant */
    sk_emit(point("processes", &all));
    for (size_t k = 0; k < commands.len; k++) {
        bool seen = false; /* a name configured twice counts once, as the Python twin's dict */
        for (size_t j = 0; j < k; j++) seen |= !strcmp(comms[j], comms[k]);
        if (!seen) sk_emit(sk_tag(point("processes_command", &per[k]), "command", commands.items[k]));
    }
    return SK_OK;
}

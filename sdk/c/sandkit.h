/* sandkit.h: the C SDK of Sandkit plugins (one header over the wit-bindgen bindings in gen/).
 * Over 600 lines on purpose: the SDK is this one header, which a plugin project includes whole.
 *
 * A plugin defines a few functions and the SDK does the rest:
 *
 *     #include "sandkit.h"
 *
 *     SK_PLUGIN("hello", "0.1.0", "the load average");
 *
 *     int sk_collect(void) {
 *         sk_bytes text;
 *         if (sk_read_file("/proc/loadavg", &text)) return SK_ERR;   // the error names the path
 *         sk_emit(sk_float(sk_point_new("hello"), "load1", strtod((const char *)text.ptr, NULL)));
 *         return SK_OK;
 *     }
 *
 * What you define (the build compiles for one world: -DSANDKIT_WORLD_COLLECTOR, _PIPELINE or
 * _INPUT, which `sandkit plugin build` sets from sandkit-plugin.toml):
 *   void sk_describe(sk_info *info)                       every world (or SK_PLUGIN(...));
 *   int  sk_init(const sk_json *config)                   optional: the [config] table;
 *   int  sk_collect(void)                                 collector;
 *   int  sk_handle(sk_str content_type, sk_bytes body)    input;
 *   int  sk_process_line(sk_records *out, sk_str line)    pipeline (or sk_process for a batch).
 * Return SK_OK, or SK_ERR after sk_fail("...") (or after an SDK call that failed, which has set
 * the message): the host logs the message and counts an error; the instance keeps running.
 * abort(), exit(), a runaway loop or running out of memory trap: the host counts a crash and
 * restarts the plugin.
 *
 * Memory: you never free what the SDK gives you. Every string, buffer and point it hands out
 * lives until your function returns (an arena reset after each call from the host); copy what
 * must live longer (the config from sk_init lives as long as the instance). What you pass to
 * the SDK is copied when needed: stack buffers are fine. Text going to the host is made valid
 * UTF-8 (an invalid byte becomes U+FFFD), as the host requires.
 *
 * In one translation unit of the plugin (`sandkit plugin build` adds it: sandkit.c),
 * `#define SANDKIT_IMPLEMENTATION` before including this header. Without a world macro the
 * header gives the parts that need no host (JSON, the record writer), for native tests.
 */
#ifndef SANDKIT_H
#define SANDKIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SANDKIT_SDK_VERSION "0.1.1"

#define SK_OK 0
#define SK_ERR (-1)

/* Durations for sk_info_intervals, in milliseconds. */
#define SK_MS 1ULL
#define SK_SECONDS 1000ULL
#define SK_MINUTES 60000ULL
#define SK_HOURS 3600000ULL

/* Text that need not end in NUL: `len` bytes of UTF-8 at `ptr`. */
typedef struct sk_str {
    const char *ptr;
    size_t len;
} sk_str;

/* Bytes from the host; `ptr[len]` is a NUL, so text can be used as a C string. */
typedef struct sk_bytes {
    const uint8_t *ptr;
    size_t len;
} sk_bytes;

/* A list of C strings. */
typedef struct sk_strs {
    const char **items;
    size_t len;
} sk_strs;

typedef enum sk_category {
    SK_METRIC,
    SK_LOGGING,
    SK_OBJECT,
    SK_CUSTOM_OBJECT,
    SK_KEYEVENT,
    SK_NETWORK,
    SK_TRACING,
    SK_RUM,
    SK_SECURITY,
    SK_PROFILING,
} sk_category;

typedef enum sk_kind { SK_INT, SK_UINT, SK_FLOAT, SK_BOOL, SK_TEXT } sk_kind;

typedef enum sk_level { SK_TRACE, SK_DEBUG, SK_INFO, SK_WARN, SK_ERROR } sk_level;

/* ---- errors ------------------------------------------------------------------------------ */

/* Set the message of the current call's error and return SK_ERR:
 * `return sk_fail("no %s in %s", key, path);`. The host sees "collect: no x in y (app.c:12)". */
#define sk_fail(...) sk__fail(__FILE__, __LINE__, __VA_ARGS__)
int sk__fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The message of the last error (an SDK call that failed or sk_fail), or "". */
const char *sk_last_error(void);

/* ---- JSON (the config, and whatever a plugin parses) -------------------------------------- */

typedef enum sk_json_type {
    SK_JSON_NULL,
    SK_JSON_BOOL,
    SK_JSON_NUMBER,
    SK_JSON_STRING,
    SK_JSON_ARRAY,
    SK_JSON_OBJECT,
} sk_json_type;

typedef struct sk_json sk_json;
struct sk_json {
    sk_json_type type;
    bool boolean;        /* SK_JSON_BOOL */
    bool is_int;         /* a number that is an integer within int64 (then `i` holds it) */
    bool is_uint;        /* an integer within uint64 (then `u` holds it; also when is_int) */
    int64_t i;
    uint64_t u;
    double f;            /* every number */
    const char *str;     /* SK_JSON_STRING: NUL-terminated UTF-8 (`len` bytes) */
    size_t len;          /* string bytes, or the number of items of an array or object */
    sk_json *items;      /* array items; object values */
    const char **keys;   /* object keys, parallel to items */
    const char **strs;   /* an array of strings only: its items as C strings, NULL-terminated */
};

/* Parse `len` bytes of JSON; SK_ERR with the message (and byte offset) when it is not JSON.
 * The tree lives until the current call returns. */
int sk_json_parse(const char *text, size_t len, const sk_json **out);
/* The value of `key` in an object (the last one when repeated), or NULL. */
const sk_json *sk_json_get(const sk_json *obj, const char *key);

/* ---- the [config] table (init's JSON) ---------------------------------------------------- */

/* The whole table (an object; empty when the plugin has no [config]). */
const sk_json *sk_config(void);
bool sk_config_has(const char *key);
/* Typed getters: `*out` is the value, or `def` when the key is absent; SK_ERR with a message
 * naming the key when the value has another type ("[config] mode = 5 is not a string"). */
int sk_config_str(const char *key, const char *def, const char **out);
int sk_config_int(const char *key, int64_t def, int64_t *out);
int sk_config_uint(const char *key, uint64_t def, uint64_t *out);
int sk_config_float(const char *key, double def, double *out);
int sk_config_bool(const char *key, bool def, bool *out);
/* A list of strings; empty when absent. Like every value of the config, it lives as long as
 * the instance: keep the pointers. */
int sk_config_str_list(const char *key, sk_strs *out);
/* SK_ERR when the table has a key not in `known` (a NULL-terminated list): a typo in conf.d is
 * an error, not a silent default. */
int sk_config_check_keys(const char *const *known);

/* ---- describe ---------------------------------------------------------------------------- */

typedef struct sk_info sk_info;
typedef struct sk_measurement sk_measurement;

/* Name, version and a one-line description (defaults: "plugin", "0.1.0", ""). */
void sk_info_set(sk_info *info, const char *name, const char *version, const char *description);
/* Default, minimum and maximum interval in ms (defaults 10 s, 1 s, 1 h): `10 * SK_SECONDS`. */
void sk_info_intervals(sk_info *info, uint64_t def_ms, uint64_t min_ms, uint64_t max_ms);
sk_measurement *sk_info_measurement(sk_info *info, const char *name, sk_category category,
                                    const char *description);
void sk_measurement_tag(sk_measurement *m, const char *name, const char *description);
void sk_measurement_field(sk_measurement *m, const char *name, sk_kind kind, const char *unit,
                          const char *description);

/* describe with a name, version and description only. */
#define SK_PLUGIN(name, version, description)                                   \
    void sk_describe(sk_info *sk__info) { sk_info_set(sk__info, name, version, description); } \
    extern int sk__plugin_declared

/* ---- points (collector, input) ----------------------------------------------------------- */

typedef struct sk_point sk_point;

/* A point of `measurement` (category metric, time: when the host receives it). Add tags and at
 * least one field, then sk_emit it. The setters return the point, for chaining. An empty key or
 * measurement fails the call (the message names it). */
sk_point *sk_point_new(const char *measurement);
sk_point *sk_tag(sk_point *p, const char *key, const char *value);
sk_point *sk_tag_n(sk_point *p, const char *key, const char *value, size_t len);
sk_point *sk_int(sk_point *p, const char *key, int64_t value);
sk_point *sk_uint(sk_point *p, const char *key, uint64_t value);
sk_point *sk_float(sk_point *p, const char *key, double value);
sk_point *sk_bool(sk_point *p, const char *key, bool value);
sk_point *sk_text(sk_point *p, const char *key, const char *value);
sk_point *sk_text_n(sk_point *p, const char *key, const char *value, size_t len);
sk_point *sk_time_ns(sk_point *p, int64_t ns);
sk_point *sk_with_category(sk_point *p, sk_category category);
/* Send the point: points go to the host in chunks of 256 and when the call returns; the host
 * keeps the points of a call only when it succeeds. Do not touch `p` afterwards. */
void sk_emit(sk_point *p);

/* ---- records (pipeline) ------------------------------------------------------------------ */

typedef struct sk_records sk_records;
typedef struct sk_record sk_record;

/* The batch the host sends: lines are slices of `data` (not NUL-terminated). */
typedef struct sk_batch {
    sk_str source;
    sk_str data;
    const uint32_t *ends; /* line i is data[ends[i-1]..ends[i]] (ends[-1] = 0) */
    size_t lines;
} sk_batch;

sk_str sk_batch_line(const sk_batch *batch, size_t i);

/* The input line the next records come from (the SDK's line loop sets it). */
void sk_records_set_line(sk_records *out, size_t line);
/* A record for the current line. Its items, time and flags are set with the sk_rec_* calls. */
sk_record *sk_record_new(sk_records *out);
/* A record that is the input line as it came (its `message`). */
void sk_records_passthrough(sk_records *out);
/* For undoing records: the output's length now, and going back to it (a mark taken inside a
 * record undoes that whole record). */
size_t sk_records_mark(const sk_records *out);
void sk_records_rollback(sk_records *out, size_t mark);

/* Text whose bytes lie in the batch's data (a slice of a line) is sent as a reference (no copy);
 * other text is written inline. An empty key leaves the item out, as the other SDKs do. */
sk_record *sk_rec_tag(sk_record *r, const char *key, const char *value);
sk_record *sk_rec_tag_n(sk_record *r, const char *key, const char *value, size_t len);
sk_record *sk_rec_text(sk_record *r, const char *key, const char *value);
sk_record *sk_rec_text_n(sk_record *r, const char *key, const char *value, size_t len);
sk_record *sk_rec_int(sk_record *r, const char *key, int64_t value);
sk_record *sk_rec_uint(sk_record *r, const char *key, uint64_t value);
sk_record *sk_rec_float(sk_record *r, const char *key, double value);
sk_record *sk_rec_bool(sk_record *r, const char *key, bool value);
/* The record's time in ns since the Unix epoch (default: when the host read the line). */
sk_record *sk_rec_time_ns(sk_record *r, int64_t ns);
/* Keep the input line as the `message` field (the host adds it from its own copy). */
sk_record *sk_rec_keep_message(sk_record *r);
/* Send the record under another measurement than the source's. */
sk_record *sk_rec_measurement(sk_record *r, const char *name);

/* The writer without a host (native tests): records of a batch into a buffer of your own,
 * which sk_records_finish hands over (free() it). */
void sk_records_begin(sk_records *out, const char *data, size_t data_len, const uint32_t *ends,
                      size_t lines);
uint8_t *sk_records_finish(sk_records *out, size_t *len);
sk_records *sk_records_alloc(void);

/* ---- host services ----------------------------------------------------------------------- */

/* A line in the agent's log, tagged with the plugin's name (rate-limited by the host). */
void sk_log(sk_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A small store that survives restarts. sk_state_get: 1 and the value, or 0 when absent. */
int sk_state_get(const char *key, sk_bytes *out);
/* SK_ERR (with the host's message) past the plugin's [limits] state_bytes. */
int sk_state_set(const char *key, const void *value, size_t len);
int sk_state_set_str(const char *key, const char *value);
void sk_state_delete(const char *key);

/* A granted file read by the host (at most 16 MiB); the error names the path and the grant. */
int sk_read_file(const char *path, sk_bytes *out);
/* The entry names of a granted directory, sorted. */
int sk_list_dir(const char *path, sk_strs *out);

/* Collectors only (the collector world imports them). */
typedef struct sk_fs_usage {
    uint64_t total, available, free, inodes_total, inodes_free;
} sk_fs_usage;
/* Usage of the filesystem mounted at `path` ([sandbox] statfs = true). */
int sk_statfs(const char *path, sk_fs_usage *out);
/* The host's name. */
const char *sk_hostname(void);

typedef struct sk_header {
    const char *name;
    const char *value;
} sk_header;

typedef struct sk_http_request {
    const char *method;       /* "GET" when NULL */
    const char *url;
    const sk_header *headers;
    size_t n_headers;
    const void *body;
    size_t body_len;
    uint32_t timeout_ms;      /* 0: the host's default */
} sk_http_request;

typedef struct sk_http_response {
    uint16_t status;          /* a 4xx or 5xx is a response, not an error */
    sk_header *headers;       /* names in lower case, in the order received */
    size_t n_headers;
    sk_bytes body;
    /* On SK_ERR: "refused", "invalid-request", "timeout", "too-large" or "failed" (and the
     * message in sk_last_error()). NULL on success. */
    const char *error_kind;
} sk_http_response;

/* One request to a target on the [sandbox] http allowlist (redirects are not followed). */
int sk_http_fetch(const sk_http_request *req, sk_http_response *out);
int sk_http_get(const char *url, sk_http_response *out);
/* The value of header `name` (any case), or NULL. */
const char *sk_http_header(const sk_http_response *resp, const char *name);

/* ---- what the plugin defines ------------------------------------------------------------- */

void sk_describe(sk_info *info);
int sk_init(const sk_json *config);
int sk_collect(void);
int sk_handle(sk_str content_type, sk_bytes body);
int sk_process_line(sk_records *out, sk_str line);
int sk_process(sk_records *out, const sk_batch *batch);

/* ---- small helpers ----------------------------------------------------------------------- */

/* ns since the epoch of an RFC 3339 time (`2024-03-01T12:00:00.5Z`, an offset `+08:00` or
 * `+0800`, a space for `T`); false when it is not one (a time without an offset is not). Digits
 * past the ns are cut; exact, no float on the way (as the Rust and Python SDKs). */
bool sk_rfc3339_ns(const char *s, size_t len, int64_t *out);

/* The length of the longest prefix of s[0..n) that is valid UTF-8 (n when all of it is). */
size_t sk_utf8_valid(const char *s, size_t n);

/* printf into memory that lives until the call returns. */
char *sk_sprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* `len` bytes as a NUL-terminated copy that lives until the call returns. */
char *sk_strndup(const char *s, size_t len);
/* Memory that lives until the call returns (never NULL: out of memory traps). */
void *sk_alloc(size_t n);
bool sk_str_eq(sk_str s, const char *c);

#ifdef __cplusplus
}
#endif
#endif /* SANDKIT_H */

/* ========================================================================================== */
/* The implementation: one translation unit defines SANDKIT_IMPLEMENTATION.                   */
/* ========================================================================================== */

#if defined(SANDKIT_IMPLEMENTATION) && !defined(SANDKIT_IMPLEMENTATION_DONE)
#define SANDKIT_IMPLEMENTATION_DONE

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(SANDKIT_WORLD_COLLECTOR)
#include "collector.h"
#define SK__W(x) collector_##x
#define SK__HAS_EMIT 1
#define SK__HAS_SYSTEM 1
#elif defined(SANDKIT_WORLD_PIPELINE)
#include "pipeline.h"
#define SK__W(x) pipeline_##x
#elif defined(SANDKIT_WORLD_INPUT)
#include "input.h"
#define SK__W(x) input_##x
#define SK__HAS_EMIT 1
#endif
#if defined(SK__W)
#define SK__HOST 1
#endif

/* ---- arenas: everything handed out during a call, released when it returns ---------------- */

typedef struct sk__chunk {
    struct sk__chunk *next;
    size_t cap, used;
    _Alignas(16) unsigned char data[];
} sk__chunk;

typedef struct sk__arena {
    sk__chunk *head;
    void **adopted; /* host allocations to free with the arena */
    size_t n_adopted, cap_adopted;
} sk__arena;

static sk__arena sk__call;  /* reset after every call from the host */
__attribute__((unused)) static sk__arena sk__inst;  /* lives as long as the instance (the config) */
static sk__arena sk__batch; /* points waiting to be emitted */

static void *sk__xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("sandkit: out of memory\n", stderr);
        abort();
    }
    return p;
}

static void *sk__xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fputs("sandkit: out of memory\n", stderr);
        abort();
    }
    return q;
}

static void *sk__arena_alloc(sk__arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    sk__chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = 16384;
        if (c && c->cap * 2 > cap) cap = c->cap * 2 > (1u << 20) ? (1u << 20) : c->cap * 2;
        if (cap < n) cap = n;
        sk__chunk *fresh = (sk__chunk *)sk__xmalloc(sizeof(sk__chunk) + cap);
        fresh->cap = cap;
        fresh->used = 0;
        fresh->next = c;
        a->head = fresh;
        c = fresh;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

__attribute__((unused)) static void sk__adopt(sk__arena *a, void *p) {
    if (!p) return;
    if (a->n_adopted == a->cap_adopted) {
        a->cap_adopted = a->cap_adopted ? a->cap_adopted * 2 : 16;
        a->adopted = (void **)sk__xrealloc(a->adopted, a->cap_adopted * sizeof(void *));
    }
    a->adopted[a->n_adopted++] = p;
}

/* Free everything but the oldest chunk (kept for the next call, so that a call that allocates
 * a little costs no malloc). */
static void sk__arena_reset(sk__arena *a) {
    for (size_t i = 0; i < a->n_adopted; i++) free(a->adopted[i]);
    a->n_adopted = 0;
    if (a->cap_adopted > 64) {
        free(a->adopted);
        a->adopted = NULL;
        a->cap_adopted = 0;
    }
    sk__chunk *c = a->head;
    while (c && c->next) {
        sk__chunk *next = c->next;
        free(c);
        c = next;
    }
    if (c) c->used = 0;
    a->head = c;
}

void *sk_alloc(size_t n) { return sk__arena_alloc(&sk__call, n); }

char *sk_strndup(const char *s, size_t len) {
    char *p = (char *)sk__arena_alloc(&sk__call, len + 1);
    if (len) memcpy(p, s, len);
    p[len] = 0;
    return p;
}

static char *sk__vsprintf(sk__arena *a, const char *fmt, va_list ap) {
    char small[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) n = 0;
    char *p = (char *)sk__arena_alloc(a, (size_t)n + 1);
    if ((size_t)n < sizeof small) {
        memcpy(p, small, (size_t)n + 1);
    } else {
        vsnprintf(p, (size_t)n + 1, fmt, ap2);
    }
    va_end(ap2);
    return p;
}

char *sk_sprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *p = sk__vsprintf(&sk__call, fmt, ap);
    va_end(ap);
    return p;
}

static bool sk__digits(const char *s, size_t n, int64_t *out) {
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t sk__days(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool sk_rfc3339_ns(const char *s, size_t len, int64_t *out) {
    int64_t y, mo, d, h, mi, sec;
    if (len < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':') return false;
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return false;
    if (!sk__digits(s, 4, &y) || !sk__digits(s + 5, 2, &mo) || !sk__digits(s + 8, 2, &d) ||
        !sk__digits(s + 11, 2, &h) || !sk__digits(s + 14, 2, &mi) || !sk__digits(s + 17, 2, &sec))
        return false;
    size_t i = 19;
    int64_t frac = 0;
    if (i < len && s[i] == '.') {
        size_t f0 = ++i, nd = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (nd < 9) frac = frac * 10 + (s[i] - '0'), nd++;
            i++;
        }
        if (i == f0) return false;
        for (; nd < 9; nd++) frac *= 10;
    }
    int64_t offset = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int64_t oh, om;
        bool neg = s[i] == '-';
        i++;
        if (len - i < 4 || !sk__digits(s + i, 2, &oh)) return false;
        i += 2;
        if (s[i] == ':') i++;
        if (len - i < 2 || !sk__digits(s + i, 2, &om)) return false;
        i += 2;
        if (oh > 23 || om > 59) return false;
        offset = (oh * 3600 + om * 60) * (neg ? -1 : 1);
    } else {
        return false;
    }
    if (i != len || h > 23 || mi > 59 || sec > 60) return false;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap)) return false;
    int64_t secs = sk__days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    /* year <= 9999: |secs| < 2.6e11, so the product below fits only within the int64 range */
    if (secs > INT64_MAX / 1000000000 || secs < INT64_MIN / 1000000000 - 1) return false;
    __int128 ns = (__int128)secs * 1000000000 + frac;
    if (ns > INT64_MAX || ns < INT64_MIN) return false;
    *out = (int64_t)ns;
    return true;
}

bool sk_str_eq(sk_str s, const char *c) {
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}

/* ---- UTF-8 ------------------------------------------------------------------------------- */

/* The length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one. */
static size_t sk__utf8_seq(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xC2 || c > 0xF4) return 0;
    size_t len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && s[1] < 0xA0) return 0;                /* overlong */
    if (c == 0xED && s[1] > 0x9F) return 0;                /* surrogate */
    if (c == 0xF0 && s[1] < 0x90) return 0;                /* overlong */
    if (c == 0xF4 && s[1] > 0x8F) return 0;                /* past U+10FFFF */
    return len;
}

static size_t sk__utf8_valid_len(const char *p, size_t n) {
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = sk__utf8_seq(s + i, n - i);
        if (!k) return i;
        i += k;
    }
    return n;
}

size_t sk_utf8_valid(const char *s, size_t n) { return sk__utf8_valid_len(s, n); }

/* A NUL-terminated copy of p[0..n) in `a`, valid UTF-8 (bad bytes become U+FFFD), cut to at
 * most `max` bytes on a character boundary. */
static char *sk__clean(sk__arena *a, const char *p, size_t n, size_t max, size_t *out_len) {
    size_t ok = sk__utf8_valid_len(p, n);
    if (ok == n && n <= max) {
        char *d = (char *)sk__arena_alloc(a, n + 1);
        if (n) memcpy(d, p, n);
        d[n] = 0;
        *out_len = n;
        return d;
    }
    size_t cap = n * 3 + 1; /* every bad byte may become 3 bytes */
    char *d = (char *)sk__arena_alloc(a, cap);
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0, o = 0;
    while (i < n) {
        size_t k = s[i] < 0x80 ? 1 : sk__utf8_seq(s + i, n - i);
        const char *src = k ? (const char *)s + i : "\xEF\xBF\xBD";
        size_t w = k ? k : 3;
        if (o + w > max) break;
        memcpy(d + o, src, w);
        o += w;
        i += k ? k : 1;
    }
    d[o] = 0;
    *out_len = o;
    return d;
}

/* ---- errors ------------------------------------------------------------------------------ */

static char *sk__error;      /* the message (in the call arena), or NULL */
static bool sk__misused;     /* an SDK misuse in this call: the call fails whatever it returns */

static void sk__set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sk__set_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sk__error = sk__vsprintf(&sk__call, fmt, ap);
    va_end(ap);
}

static void sk__misuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sk__misuse(const char *fmt, ...) {
    if (sk__misused) return; /* the first one is the one to fix */
    va_list ap;
    va_start(ap, fmt);
    sk__error = sk__vsprintf(&sk__call, fmt, ap);
    va_end(ap);
    sk__misused = true;
}

int sk__fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *msg = sk__vsprintf(&sk__call, fmt, ap);
    va_end(ap);
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    sk__error = sk_sprintf("%s (%s:%d)", msg, base, line);
    return SK_ERR;
}

const char *sk_last_error(void) { return sk__error ? sk__error : ""; }

/* ---- JSON -------------------------------------------------------------------------------- */

typedef struct sk__jp {
    const char *s;
    size_t n, i;
    int depth;
    sk__arena *a;
    const char *err;
} sk__jp;

static void sk__jws(sk__jp *p) {
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->i++;
    }
}

static int sk__jfail(sk__jp *p, const char *what) {
    if (!p->err) p->err = what;
    return -1;
}

static int sk__jhex4(sk__jp *p, unsigned *out) {
    if (p->n - p->i < 4) return sk__jfail(p, "a \\u escape needs 4 hex digits");
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i++];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return sk__jfail(p, "a \\u escape needs 4 hex digits");
    }
    *out = v;
    return 0;
}

static size_t sk__put_utf8(char *d, unsigned cp) {
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xC0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | (cp >> 12));
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | (cp >> 18));
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int sk__jstring(sk__jp *p, const char **out, size_t *out_len) {
    p->i++; /* the quote */
    size_t start = p->i;
    bool plain = true;
    while (p->i < p->n && p->s[p->i] != '"') {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '\\') {
            plain = false;
            p->i += 2;
            continue;
        }
        if (c < 0x20) return sk__jfail(p, "a control character in a string");
        p->i++;
    }
    if (p->i >= p->n) return sk__jfail(p, "a string without its closing quote");
    size_t end = p->i;
    p->i++;
    if (sk__utf8_valid_len(p->s + start, end - start) != end - start)
        return sk__jfail(p, "a string that is not UTF-8");
    char *d = (char *)sk__arena_alloc(p->a, end - start + 1);
    if (plain) {
        memcpy(d, p->s + start, end - start);
        d[end - start] = 0;
        *out = d;
        *out_len = end - start;
        return 0;
    }
    size_t o = 0;
    size_t j = start;
    while (j < end) {
        char c = p->s[j];
        if (c != '\\') {
            d[o++] = c;
            j++;
            continue;
        }
        char e = p->s[j + 1];
        j += 2;
        switch (e) {
        case '"': d[o++] = '"'; break;
        case '\\': d[o++] = '\\'; break;
        case '/': d[o++] = '/'; break;
        case 'b': d[o++] = '\b'; break;
        case 'f': d[o++] = '\f'; break;
        case 'n': d[o++] = '\n'; break;
        case 'r': d[o++] = '\r'; break;
        case 't': d[o++] = '\t'; break;
        case 'u': {
            size_t save = p->i;
            p->i = j;
            unsigned cp;
            if (sk__jhex4(p, &cp)) return -1;
            if (cp >= 0xD800 && cp < 0xDC00 && p->i + 6 <= end && p->s[p->i] == '\\' &&
                p->s[p->i + 1] == 'u') {
                size_t at = p->i;
                p->i += 2;
                unsigned lo;
                if (sk__jhex4(p, &lo)) return -1;
                if (lo >= 0xDC00 && lo < 0xE000) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                else p->i = at;
            }
            if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD; /* a lone surrogate */
            o += sk__put_utf8(d + o, cp);
            j = p->i;
            p->i = save;
            break;
        }
        default:
            p->i = j - 1;
            return sk__jfail(p, "an unknown escape in a string");
        }
    }
    d[o] = 0;
    *out = d;
    *out_len = o;
    return 0;
}

static int sk__jnumber(sk__jp *p, sk_json *v) {
    size_t start = p->i;
    bool neg = false, integer = true;
    if (p->s[p->i] == '-') {
        neg = true;
        p->i++;
    }
    if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9') return sk__jfail(p, "a bad number");
    if (p->s[p->i] == '0' && p->i + 1 < p->n && p->s[p->i + 1] >= '0' && p->s[p->i + 1] <= '9')
        return sk__jfail(p, "a number with a leading zero");
    uint64_t mag = 0;
    bool overflow = false;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        unsigned d = (unsigned)(p->s[p->i] - '0');
        if (mag > (UINT64_MAX - d) / 10) overflow = true;
        else mag = mag * 10 + d;
        p->i++;
    }
    if (p->i < p->n && p->s[p->i] == '.') {
        integer = false;
        p->i++;
        size_t d0 = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
        if (p->i == d0) return sk__jfail(p, "a number without digits after '.'");
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        integer = false;
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-')) p->i++;
        size_t d0 = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
        if (p->i == d0) return sk__jfail(p, "a number without exponent digits");
    }
    char buf[64];
    size_t len = p->i - start;
    char *tmp = len < sizeof buf ? buf : (char *)sk__arena_alloc(p->a, len + 1);
    memcpy(tmp, p->s + start, len);
    tmp[len] = 0;
    v->type = SK_JSON_NUMBER;
    v->f = strtod(tmp, NULL);
    if (integer && !overflow) {
        if (!neg) {
            v->is_uint = true;
            v->u = mag;
            if (mag <= (uint64_t)INT64_MAX) {
                v->is_int = true;
                v->i = (int64_t)mag;
            }
        } else if (mag <= (uint64_t)INT64_MAX + 1) {
            v->is_int = true;
            v->i = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
        }
    }
    return 0;
}

static int sk__jvalue(sk__jp *p, sk_json *v);

static int sk__jcontainer(sk__jp *p, sk_json *v, bool object) {
    if (++p->depth > 64) return sk__jfail(p, "nested deeper than 64 levels");
    p->i++;
    size_t cap = 0;
    sk_json *items = NULL;
    const char **keys = NULL;
    size_t n = 0;
    sk__jws(p);
    char close = object ? '}' : ']';
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
    } else {
        for (;;) {
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                sk_json *ni = (sk_json *)sk__arena_alloc(p->a, ncap * sizeof(sk_json));
                if (n) memcpy(ni, items, n * sizeof(sk_json));
                items = ni;
                if (object) {
                    const char **nk = (const char **)sk__arena_alloc(p->a, ncap * sizeof(char *));
                    if (n) memcpy(nk, keys, n * sizeof(char *));
                    keys = nk;
                }
                cap = ncap;
            }
            sk__jws(p);
            if (object) {
                if (p->i >= p->n || p->s[p->i] != '"') return sk__jfail(p, "a key (a string) expected");
                size_t kl;
                if (sk__jstring(p, &keys[n], &kl)) return -1;
                sk__jws(p);
                if (p->i >= p->n || p->s[p->i] != ':') return sk__jfail(p, "':' expected");
                p->i++;
            }
            if (sk__jvalue(p, &items[n])) return -1;
            n++;
            sk__jws(p);
            if (p->i < p->n && p->s[p->i] == ',') {
                p->i++;
                continue;
            }
            if (p->i < p->n && p->s[p->i] == close) {
                p->i++;
                break;
            }
            return sk__jfail(p, object ? "',' or '}' expected" : "',' or ']' expected");
        }
    }
    v->type = object ? SK_JSON_OBJECT : SK_JSON_ARRAY;
    v->items = items;
    v->keys = keys;
    v->len = n;
    bool strings = !object;
    for (size_t k = 0; k < n && strings; k++) strings = items[k].type == SK_JSON_STRING;
    if (strings) {
        const char **strs = (const char **)sk__arena_alloc(p->a, (n + 1) * sizeof(char *));
        for (size_t k = 0; k < n; k++) strs[k] = items[k].str;
        strs[n] = NULL;
        v->strs = strs;
    }
    p->depth--;
    return 0;
}

static int sk__jlit(sk__jp *p, const char *lit) {
    size_t n = strlen(lit);
    if (p->n - p->i < n || memcmp(p->s + p->i, lit, n) != 0) return sk__jfail(p, "a value expected");
    p->i += n;
    return 0;
}

static int sk__jvalue(sk__jp *p, sk_json *v) {
    memset(v, 0, sizeof *v);
    sk__jws(p);
    if (p->i >= p->n) return sk__jfail(p, "a value expected");
    char c = p->s[p->i];
    switch (c) {
    case '{': return sk__jcontainer(p, v, true);
    case '[': return sk__jcontainer(p, v, false);
    case '"':
        v->type = SK_JSON_STRING;
        return sk__jstring(p, &v->str, &v->len);
    case 't':
        v->type = SK_JSON_BOOL;
        v->boolean = true;
        return sk__jlit(p, "true");
    case 'f':
        v->type = SK_JSON_BOOL;
        return sk__jlit(p, "false");
    case 'n':
        v->type = SK_JSON_NULL;
        return sk__jlit(p, "null");
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return sk__jnumber(p, v);
        return sk__jfail(p, "a value expected");
    }
}

static int sk__json_parse_in(sk__arena *a, const char *text, size_t len, const sk_json **out) {
    sk__jp p = {text, len, 0, 0, a, NULL};
    sk_json *v = (sk_json *)sk__arena_alloc(a, sizeof(sk_json));
    if (sk__jvalue(&p, v) == 0) {
        sk__jws(&p);
        if (p.i == p.n) {
            *out = v;
            return 0;
        }
        sk__jfail(&p, "text after the value");
    }
    sk__set_error("not JSON: %s at byte %zu", p.err, p.i);
    *out = NULL;
    return SK_ERR;
}

int sk_json_parse(const char *text, size_t len, const sk_json **out) {
    return sk__json_parse_in(&sk__call, text, len, out);
}

const sk_json *sk_json_get(const sk_json *obj, const char *key) {
    if (!obj || obj->type != SK_JSON_OBJECT) return NULL;
    for (size_t i = obj->len; i-- > 0;)
        if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}

/* A short rendering of a value for error messages. */
static const char *sk__jrepr(const sk_json *v) {
    switch (v->type) {
    case SK_JSON_NULL: return "null";
    case SK_JSON_BOOL: return v->boolean ? "true" : "false";
    case SK_JSON_NUMBER:
        if (v->is_int) return sk_sprintf("%lld", (long long)v->i);
        if (v->is_uint) return sk_sprintf("%llu", (unsigned long long)v->u);
        return sk_sprintf("%.17g", v->f);
    case SK_JSON_STRING:
        return v->len > 60 ? sk_sprintf("\"%.57s...\"", v->str) : sk_sprintf("\"%s\"", v->str);
    case SK_JSON_ARRAY: return "[...] (a list)";
    case SK_JSON_OBJECT: return "{...} (a table)";
    }
    return "?";
}

/* ---- config ------------------------------------------------------------------------------ */

static const sk_json sk__empty_object = {SK_JSON_OBJECT, false, false, false, 0, 0, 0, NULL, 0, NULL, NULL, NULL};
static const sk_json *sk__config = &sk__empty_object;

const sk_json *sk_config(void) { return sk__config; }
bool sk_config_has(const char *key) { return sk_json_get(sk__config, key) != NULL; }

static int sk__cfg_type(const char *key, const sk_json *v, const char *what) {
    sk__set_error("[config] %s = %s is not %s", key, sk__jrepr(v), what);
    return SK_ERR;
}

int sk_config_str(const char *key, const char *def, const char **out) {
    const sk_json *v = sk_json_get(sk__config, key);
    if (!v) {
        *out = def;
        return SK_OK;
    }
    if (v->type != SK_JSON_STRING) return sk__cfg_type(key, v, "a string");
    *out = v->str;
    return SK_OK;
}

int sk_config_int(const char *key, int64_t def, int64_t *out) {
    const sk_json *v = sk_json_get(sk__config, key);
    if (!v) {
        *out = def;
        return SK_OK;
    }
    if (v->type != SK_JSON_NUMBER || !v->is_int) return sk__cfg_type(key, v, "an integer");
    *out = v->i;
    return SK_OK;
}

int sk_config_uint(const char *key, uint64_t def, uint64_t *out) {
    const sk_json *v = sk_json_get(sk__config, key);
    if (!v) {
        *out = def;
        return SK_OK;
    }
    if (v->type != SK_JSON_NUMBER || !v->is_uint) return sk__cfg_type(key, v, "an integer >= 0");
    *out = v->u;
    return SK_OK;
}

int sk_config_float(const char *key, double def, double *out) {
    const sk_json *v = sk_json_get(sk__config, key);
    if (!v) {
        *out = def;
        return SK_OK;
    }
    if (v->type != SK_JSON_NUMBER) return sk__cfg_type(key, v, "a number");
    *out = v->f;
    return SK_OK;
}

int sk_config_bool(const char *key, bool def, bool *out) {
    const sk_json *v = sk_json_get(sk__config, key);
    if (!v) {
        *out = def;
        return SK_OK;
    }
    if (v->type != SK_JSON_BOOL) return sk__cfg_type(key, v, "true or false");
    *out = v->boolean;
    return SK_OK;
}

int sk_config_str_list(const char *key, sk_strs *out) {
    out->items = NULL;
    out->len = 0;
    const sk_json *v = sk_json_get(sk__config, key);
    if (!v) return SK_OK;
    if (v->type != SK_JSON_ARRAY) return sk__cfg_type(key, v, "a list of strings");
    for (size_t i = 0; i < v->len; i++) {
        if (v->items[i].type != SK_JSON_STRING) {
            sk__set_error("[config] %s[%zu] = %s is not a string", key, i, sk__jrepr(&v->items[i]));
            return SK_ERR;
        }
    }
    out->items = v->strs;
    out->len = v->len;
    return SK_OK;
}

int sk_config_check_keys(const char *const *known) {
    for (size_t i = 0; i < sk__config->len; i++) {
        const char *k = sk__config->keys[i];
        bool ok = false;
        for (const char *const *q = known; *q; q++)
            if (strcmp(*q, k) == 0) ok = true;
        if (ok) continue;
        size_t need = 1;
        for (const char *const *q = known; *q; q++) need += strlen(*q) + 2;
        char *list = (char *)sk_alloc(need + 4);
        list[0] = 0;
        for (const char *const *q = known; *q; q++) {
            if (q != known) strcat(list, ", ");
            strcat(list, *q);
        }
        sk__set_error("[config] has an unknown key '%s' (known: %s)", k, known[0] ? list : "none");
        return SK_ERR;
    }
    return SK_OK;
}

/* ---- describe ---------------------------------------------------------------------------- */

typedef struct sk__tag_info {
    const char *name, *description;
} sk__tag_info;

typedef struct sk__field_info {
    const char *name, *unit, *description;
    sk_kind kind;
} sk__field_info;

struct sk_measurement {
    const char *name, *description;
    sk_category category;
    sk__tag_info *tags;
    size_t n_tags, cap_tags;
    sk__field_info *fields;
    size_t n_fields, cap_fields;
    sk_measurement *next;
};

struct sk_info {
    const char *name, *version, *description;
    uint64_t def_ms, min_ms, max_ms;
    sk_measurement *first, *last;
    size_t n_measurements;
};

static const char *sk__keep(const char *s) {
    size_t n;
    return s ? sk__clean(&sk__call, s, strlen(s), SIZE_MAX, &n) : "";
}

void sk_info_set(sk_info *info, const char *name, const char *version, const char *description) {
    info->name = sk__keep(name);
    info->version = sk__keep(version);
    info->description = sk__keep(description);
}

void sk_info_intervals(sk_info *info, uint64_t def_ms, uint64_t min_ms, uint64_t max_ms) {
    info->def_ms = def_ms;
    info->min_ms = min_ms;
    info->max_ms = max_ms;
}

sk_measurement *sk_info_measurement(sk_info *info, const char *name, sk_category category,
                                    const char *description) {
    sk_measurement *m = (sk_measurement *)sk_alloc(sizeof *m);
    memset(m, 0, sizeof *m);
    m->name = sk__keep(name);
    m->description = sk__keep(description);
    m->category = category;
    if (info->last) info->last->next = m;
    else info->first = m;
    info->last = m;
    info->n_measurements++;
    return m;
}

#define SK__GROW(arena, ptr, n, cap, type)                                          \
    do {                                                                            \
        if ((n) == (cap)) {                                                         \
            size_t ncap__ = (cap) ? (cap) * 2 : 8;                                  \
            type *np__ = (type *)sk__arena_alloc((arena), ncap__ * sizeof(type));   \
            if (n) memcpy(np__, (ptr), (n) * sizeof(type));                         \
            (ptr) = np__;                                                           \
            (cap) = ncap__;                                                         \
        }                                                                           \
    } while (0)

void sk_measurement_tag(sk_measurement *m, const char *name, const char *description) {
    SK__GROW(&sk__call, m->tags, m->n_tags, m->cap_tags, sk__tag_info);
    m->tags[m->n_tags].name = sk__keep(name);
    m->tags[m->n_tags].description = sk__keep(description);
    m->n_tags++;
}

void sk_measurement_field(sk_measurement *m, const char *name, sk_kind kind, const char *unit,
                          const char *description) {
    SK__GROW(&sk__call, m->fields, m->n_fields, m->cap_fields, sk__field_info);
    sk__field_info *f = &m->fields[m->n_fields++];
    f->name = sk__keep(name);
    f->kind = kind;
    f->unit = sk__keep(unit);
    f->description = sk__keep(description);
}

/* ---- points ------------------------------------------------------------------------------ */

/* The layout of the generated string, tag, field and point types, so that pending points go to
 * the host without a conversion (checked against the bindings below). */
typedef struct sk__s {
    uint8_t *ptr;
    size_t len;
} sk__s;

typedef struct sk__tag {
    sk__s key, value;
} sk__tag;

typedef struct sk__field {
    sk__s key;
    struct {
        uint8_t tag;
        union {
            int64_t i;
            uint64_t u;
            double f;
            bool b;
            sk__s text;
        } val;
    } value;
} sk__field;

typedef struct sk__wpoint {
    sk__s measurement;
    struct {
        sk__tag *ptr;
        size_t len;
    } tags;
    struct {
        sk__field *ptr;
        size_t len;
    } fields;
    struct {
        bool is_some;
        int64_t val;
    } timestamp;
    uint8_t category;
} sk__wpoint;

struct sk_point {
    sk__wpoint w;
    size_t cap_tags, cap_fields;
    bool sent;
};

#define SK__CHUNK 256

static sk__wpoint *sk__pending;
static size_t sk__n_pending, sk__cap_pending;
static size_t sk__open; /* points made and not yet emitted */

static sk__s sk__text(sk__arena *a, const char *p, size_t n) {
    size_t len;
    char *d = sk__clean(a, p ? p : "", p ? n : 0, SIZE_MAX, &len);
    sk__s s = {(uint8_t *)d, len};
    return s;
}

static void sk__flush(void);

sk_point *sk_point_new(const char *measurement) {
    sk_point *p = (sk_point *)sk__arena_alloc(&sk__batch, sizeof *p);
    memset(p, 0, sizeof *p);
    if (!measurement || !*measurement) sk__misuse("a point needs a measurement name");
    p->w.measurement = sk__text(&sk__batch, measurement, measurement ? strlen(measurement) : 0);
    sk__open++;
    return p;
}

static bool sk__key_ok(sk_point *p, const char *key, const char *what) {
    if (key && *key) return true;
    sk__misuse("point \"%s\": a %s needs a key", (const char *)p->w.measurement.ptr, what);
    return false;
}

sk_point *sk_tag_n(sk_point *p, const char *key, const char *value, size_t len) {
    if (!sk__key_ok(p, key, "tag")) return p;
    SK__GROW(&sk__batch, p->w.tags.ptr, p->w.tags.len, p->cap_tags, sk__tag);
    sk__tag *t = &p->w.tags.ptr[p->w.tags.len++];
    t->key = sk__text(&sk__batch, key, strlen(key));
    t->value = sk__text(&sk__batch, value, len);
    return p;
}

sk_point *sk_tag(sk_point *p, const char *key, const char *value) {
    return sk_tag_n(p, key, value, value ? strlen(value) : 0);
}

static sk__field *sk__field_new(sk_point *p, const char *key, uint8_t kind) {
    if (!sk__key_ok(p, key, "field")) return NULL;
    SK__GROW(&sk__batch, p->w.fields.ptr, p->w.fields.len, p->cap_fields, sk__field);
    sk__field *f = &p->w.fields.ptr[p->w.fields.len++];
    memset(f, 0, sizeof *f);
    f->key = sk__text(&sk__batch, key, strlen(key));
    f->value.tag = kind;
    return f;
}

sk_point *sk_int(sk_point *p, const char *key, int64_t value) {
    sk__field *f = sk__field_new(p, key, 0);
    if (f) f->value.val.i = value;
    return p;
}

sk_point *sk_uint(sk_point *p, const char *key, uint64_t value) {
    sk__field *f = sk__field_new(p, key, 1);
    if (f) f->value.val.u = value;
    return p;
}

sk_point *sk_float(sk_point *p, const char *key, double value) {
    sk__field *f = sk__field_new(p, key, 2);
    if (f) f->value.val.f = value;
    return p;
}

sk_point *sk_bool(sk_point *p, const char *key, bool value) {
    sk__field *f = sk__field_new(p, key, 3);
    if (f) f->value.val.b = value;
    return p;
}

sk_point *sk_text_n(sk_point *p, const char *key, const char *value, size_t len) {
    sk__field *f = sk__field_new(p, key, 4);
    if (f) f->value.val.text = sk__text(&sk__batch, value, len);
    return p;
}

sk_point *sk_text(sk_point *p, const char *key, const char *value) {
    return sk_text_n(p, key, value, value ? strlen(value) : 0);
}

sk_point *sk_time_ns(sk_point *p, int64_t ns) {
    p->w.timestamp.is_some = true;
    p->w.timestamp.val = ns;
    return p;
}

sk_point *sk_with_category(sk_point *p, sk_category category) {
    p->w.category = (uint8_t)category;
    return p;
}

void sk_emit(sk_point *p) {
#if defined(SK__HOST) && !defined(SK__HAS_EMIT)
    sk__misuse("sk_emit: a pipeline writes records (sk_record_new), not points");
    return;
#endif
    if (!p || p->sent) {
        sk__misuse("sk_emit: a point emitted twice");
        return;
    }
    p->sent = true;
    if (sk__open) sk__open--;
    if (sk__n_pending == sk__cap_pending) {
        sk__cap_pending = sk__cap_pending ? sk__cap_pending * 2 : SK__CHUNK;
        sk__pending = (sk__wpoint *)sk__xrealloc(sk__pending, sk__cap_pending * sizeof(sk__wpoint));
    }
    sk__pending[sk__n_pending++] = p->w;
    if (sk__n_pending >= SK__CHUNK && sk__open == 0) sk__flush();
}

static void sk__points_reset(void) {
    sk__n_pending = 0;
    sk__open = 0;
    sk__arena_reset(&sk__batch);
}

/* ---- records ----------------------------------------------------------------------------- */

#define SK__F_TIME 1
#define SK__F_MESSAGE 2
#define SK__HEADER 15

struct sk_record {
    sk_records *out;
    size_t at;
    uint16_t items;
};

struct sk_records {
    uint8_t *buf;
    size_t len, cap;
    const char *data;
    size_t data_len;
    const uint32_t *ends;
    size_t lines;
    uint32_t line;
    size_t cur;          /* where the current record starts */
    sk_record rec;       /* the current record */
};

static void sk__reserve(sk_records *o, size_t n) {
    if (o->cap - o->len >= n) return;
    size_t cap = o->cap ? o->cap : 256;
    while (cap - o->len < n) cap *= 2;
    o->buf = (uint8_t *)sk__xrealloc(o->buf, cap);
    o->cap = cap;
}

static void sk__put(sk_records *o, const void *p, size_t n) {
    sk__reserve(o, n);
    if (n) memcpy(o->buf + o->len, p, n);
    o->len += n;
}

static void sk__le(uint8_t *d, uint64_t v, int n) {
    for (int i = 0; i < n; i++) d[i] = (uint8_t)(v >> (8 * i));
}

static void sk__put_le(sk_records *o, uint64_t v, int n) {
    sk__reserve(o, (size_t)n);
    sk__le(o->buf + o->len, v, n);
    o->len += (size_t)n;
}

void sk_records_begin(sk_records *out, const char *data, size_t data_len, const uint32_t *ends,
                      size_t lines) {
    memset(out, 0, sizeof *out);
    out->data = data;
    out->data_len = data_len;
    out->ends = ends;
    out->lines = lines;
    out->cur = SIZE_MAX;
    sk__put(out, "SKR1", 4);
}

sk_records *sk_records_alloc(void) { return (sk_records *)sk_alloc(sizeof(sk_records)); }

uint8_t *sk_records_finish(sk_records *out, size_t *len) {
    uint8_t *b = out->buf;
    *len = out->len;
    out->buf = NULL;
    out->len = out->cap = 0;
    return b;
}

sk_str sk_batch_line(const sk_batch *batch, size_t i) {
    sk_str s = {"", 0};
    if (i >= batch->lines) return s;
    size_t start = i ? batch->ends[i - 1] : 0;
    s.ptr = batch->data.ptr + start;
    s.len = batch->ends[i] - start;
    return s;
}

void sk_records_set_line(sk_records *out, size_t line) { out->line = (uint32_t)line; }

sk_record *sk_record_new(sk_records *out) {
    out->cur = out->len;
    uint8_t h[SK__HEADER] = {0};
    sk__le(h, out->line, 4);
    sk__put(out, h, sizeof h);
    out->rec.out = out;
    out->rec.at = out->cur;
    out->rec.items = 0;
    return &out->rec;
}

void sk_records_passthrough(sk_records *out) { sk_rec_keep_message(sk_record_new(out)); }

size_t sk_records_mark(const sk_records *out) { return out->len; }

void sk_records_rollback(sk_records *out, size_t mark) {
    if (mark < 4 || mark > out->len) return;
    /* A mark inside the open record undoes that record whole: its header counts the items it
     * had, so keeping the record with fewer items would send the host a malformed one. */
    if (out->cur != SIZE_MAX && out->cur < mark) mark = out->cur;
    out->len = mark;
    if (out->cur != SIZE_MAX && out->cur >= mark) out->cur = SIZE_MAX;
}

/* Whether the record can take one more item (a record rolled back is gone). */
static bool sk__rec_live(sk_record *r) {
    sk_records *o = r->out;
    return o && o->cur == r->at && r->items < 0xFFFF;
}

/* kind, key (made UTF-8, cut to 65,535 bytes on a character boundary); false to skip it. */
static bool sk__item(sk_record *r, uint8_t kind, const char *key) {
    if (!sk__rec_live(r)) return false;
    size_t kl = key ? strlen(key) : 0;
    if (kind != 8 && kl == 0) return false;
    sk_records *o = r->out;
    size_t n = 0;
    const char *k = "";
    if (kl) {
        size_t ok = sk__utf8_valid_len(key, kl);
        if (ok == kl && kl <= 0xFFFF) {
            k = key;
            n = kl;
        } else {
            k = sk__clean(&sk__call, key, kl, 0xFFFF, &n);
        }
    }
    uint8_t h[3] = {kind, (uint8_t)n, (uint8_t)(n >> 8)};
    sk__put(o, h, 3);
    sk__put(o, k, n);
    r->items++;
    sk__le(o->buf + r->at + 13, r->items, 2);
    return true;
}

static bool sk__boundary(const sk_records *o, size_t at) {
    return at >= o->data_len || ((unsigned char)o->data[at] & 0xC0) != 0x80;
}

static void sk__str_value(sk_record *r, uint8_t inline_kind, const char *key, const char *v,
                          size_t len) {
    if (!v) {
        v = "";
        len = 0;
    }
    sk_records *o = r->out;
    if (inline_kind < 2 && o && o->data && v >= o->data && (size_t)(v - o->data) <= o->data_len &&
        len <= o->data_len - (size_t)(v - o->data)) {
        size_t start = (size_t)(v - o->data);
        if (sk__boundary(o, start) && sk__boundary(o, start + len)) {
            if (!sk__item(r, (uint8_t)(inline_kind + 2), key)) return;
            sk__put_le(o, start, 4);
            sk__put_le(o, len, 4);
            return;
        }
    }
    if (!sk__item(r, inline_kind, key)) return;
    size_t ok = sk__utf8_valid_len(v, len);
    if (ok != len) v = sk__clean(&sk__call, v, len, SIZE_MAX, &len);
    if (len > 0xFFFFFFFFu) len = 0xFFFFFFFFu;
    sk__put_le(o, len, 4);
    sk__put(o, v, len);
}

sk_record *sk_rec_tag_n(sk_record *r, const char *key, const char *value, size_t len) {
    sk__str_value(r, 0, key, value, len);
    return r;
}

sk_record *sk_rec_tag(sk_record *r, const char *key, const char *value) {
    return sk_rec_tag_n(r, key, value, value ? strlen(value) : 0);
}

sk_record *sk_rec_text_n(sk_record *r, const char *key, const char *value, size_t len) {
    sk__str_value(r, 1, key, value, len);
    return r;
}

sk_record *sk_rec_text(sk_record *r, const char *key, const char *value) {
    return sk_rec_text_n(r, key, value, value ? strlen(value) : 0);
}

sk_record *sk_rec_int(sk_record *r, const char *key, int64_t value) {
    if (sk__item(r, 4, key)) sk__put_le(r->out, (uint64_t)value, 8);
    return r;
}

sk_record *sk_rec_uint(sk_record *r, const char *key, uint64_t value) {
    if (sk__item(r, 5, key)) sk__put_le(r->out, value, 8);
    return r;
}

sk_record *sk_rec_float(sk_record *r, const char *key, double value) {
    uint64_t bits;
    memcpy(&bits, &value, 8);
    if (sk__item(r, 6, key)) sk__put_le(r->out, bits, 8);
    return r;
}

sk_record *sk_rec_bool(sk_record *r, const char *key, bool value) {
    if (sk__item(r, 7, key)) sk__put_le(r->out, value ? 1 : 0, 1);
    return r;
}

sk_record *sk_rec_measurement(sk_record *r, const char *name) {
    if (name && *name) sk__str_value(r, 8, "", name, strlen(name)); /* sk__item checks the record */
    return r;
}

sk_record *sk_rec_time_ns(sk_record *r, int64_t ns) {
    sk_records *o = r->out;
    if (!o || o->cur != r->at) return r;
    o->buf[r->at + 4] |= SK__F_TIME;
    sk__le(o->buf + r->at + 5, (uint64_t)ns, 8);
    return r;
}

sk_record *sk_rec_keep_message(sk_record *r) {
    sk_records *o = r->out;
    if (!o || o->cur != r->at) return r;
    o->buf[r->at + 4] |= SK__F_MESSAGE;
    return r;
}

/* ---- the host (one world) ---------------------------------------------------------------- */

#ifdef SK__HOST

typedef SK__W(string_t) sk__wstring;

/* The generated types have the layouts sk__s, sk__tag, sk__field and sk__wpoint assume. */
_Static_assert(sizeof(sk__wstring) == sizeof(sk__s), "string layout");
_Static_assert(sizeof(sandkit_plugin_types_tag_t) == sizeof(sk__tag), "tag layout");
_Static_assert(sizeof(sandkit_plugin_types_field_t) == sizeof(sk__field), "field layout");
_Static_assert(offsetof(sandkit_plugin_types_field_t, value) == offsetof(sk__field, value), "field");
_Static_assert(offsetof(sandkit_plugin_types_field_value_t, val) == offsetof(sk__field, value.val) - offsetof(sk__field, value), "value");
_Static_assert(sizeof(sandkit_plugin_types_point_t) == sizeof(sk__wpoint), "point layout");
_Static_assert(offsetof(sandkit_plugin_types_point_t, timestamp) == offsetof(sk__wpoint, timestamp), "point");
_Static_assert(offsetof(sandkit_plugin_types_point_t, category) == offsetof(sk__wpoint, category), "point");
_Static_assert(SANDKIT_PLUGIN_TYPES_FIELD_VALUE_TEXT == 4 && SANDKIT_PLUGIN_TYPES_FIELD_VALUE_BOOLEAN == 3, "kinds");

/* The component's type information is embedded by `sandkit plugin build`, not linked as an
 * object file: the bindings still ask for the object's symbol. */
#if defined(SANDKIT_WORLD_COLLECTOR)
void __component_type_object_force_link_collector(void) {}
#elif defined(SANDKIT_WORLD_PIPELINE)
void __component_type_object_force_link_pipeline(void) {}
#else
void __component_type_object_force_link_input(void) {}
#endif

/* A borrowed WIT string of a C string (made UTF-8 when it is not). */
static sk__wstring sk__ws(const char *s) {
    size_t n = s ? strlen(s) : 0;
    sk__wstring w;
    if (sk__utf8_valid_len(s ? s : "", n) == n) {
        w.ptr = (uint8_t *)(s ? s : "");
        w.len = n;
    } else {
        char *c = sk__clean(&sk__call, s, n, SIZE_MAX, &n);
        w.ptr = (uint8_t *)c;
        w.len = n;
    }
    return w;
}

/* A string the host gave (malloc'd by cabi_realloc): NUL-terminated, freed with the call. */
static char *sk__take(sk__wstring *s) {
    char *p = (char *)sk__xrealloc(s->len ? s->ptr : NULL, s->len + 1);
    p[s->len] = 0;
    sk__adopt(&sk__call, p);
    return p;
}

static sk_bytes sk__take_bytes(SK__W(list_u8_t) *l) {
    uint8_t *p = (uint8_t *)sk__xrealloc(l->len ? l->ptr : NULL, l->len + 1);
    p[l->len] = 0;
    sk__adopt(&sk__call, p);
    sk_bytes b = {p, l->len};
    return b;
}

/* A return value for the host (freed by the bindings' post-return function): malloc'd. */
static sk__wstring sk__give(const char *s) {
    sk__wstring w = {NULL, 0};
    size_t n;
    const char *c = sk__clean(&sk__call, s ? s : "", s ? strlen(s) : 0, SIZE_MAX, &n);
    if (n) {
        w.ptr = (uint8_t *)sk__xmalloc(n);
        memcpy(w.ptr, c, n);
        w.len = n;
    }
    return w;
}

void sk_log(sk_level level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *msg = sk__vsprintf(&sk__call, fmt, ap);
    va_end(ap);
    sk__wstring w = sk__ws(msg);
    sandkit_plugin_host_log_log((sandkit_plugin_host_log_log_level_t)level, &w);
}

int sk_state_get(const char *key, sk_bytes *out) {
    sk__wstring k = sk__ws(key);
    SK__W(list_u8_t) v;
    if (!sandkit_plugin_state_get(&k, &v)) {
        out->ptr = (const uint8_t *)"";
        out->len = 0;
        return 0;
    }
    *out = sk__take_bytes(&v);
    return 1;
}

int sk_state_set(const char *key, const void *value, size_t len) {
    sk__wstring k = sk__ws(key);
    SK__W(list_u8_t) v = {(uint8_t *)(value ? value : ""), value ? len : 0};
    sk__wstring err;
    if (sandkit_plugin_state_set(&k, &v, &err)) return SK_OK;
    sk__set_error("state: %s", sk__take(&err));
    return SK_ERR;
}

int sk_state_set_str(const char *key, const char *value) {
    return sk_state_set(key, value, value ? strlen(value) : 0);
}

void sk_state_delete(const char *key) {
    sk__wstring k = sk__ws(key);
    sandkit_plugin_state_delete(&k);
}

int sk_read_file(const char *path, sk_bytes *out) {
    sk__wstring p = sk__ws(path);
    SK__W(list_u8_t) data;
    sk__wstring err;
    if (sandkit_plugin_files_read_file(&p, &data, &err)) {
        *out = sk__take_bytes(&data);
        return SK_OK;
    }
    out->ptr = (const uint8_t *)"";
    out->len = 0;
    sk__set_error("%s", sk__take(&err));
    return SK_ERR;
}

int sk_list_dir(const char *path, sk_strs *out) {
    sk__wstring p = sk__ws(path);
    SK__W(list_string_t) names;
    sk__wstring err;
    out->items = NULL;
    out->len = 0;
    if (!sandkit_plugin_files_list_dir(&p, &names, &err)) {
        sk__set_error("%s", sk__take(&err));
        return SK_ERR;
    }
    const char **items = (const char **)sk_alloc((names.len + 1) * sizeof(char *));
    for (size_t i = 0; i < names.len; i++) items[i] = sk__take(&names.ptr[i]);
    items[names.len] = NULL;
    if (names.len) free(names.ptr); /* an empty list's pointer may dangle */
    out->items = items;
    out->len = names.len;
    return SK_OK;
}

#ifdef SK__HAS_SYSTEM
int sk_statfs(const char *path, sk_fs_usage *out) {
    sk__wstring p = sk__ws(path);
    sandkit_plugin_system_fs_usage_t u;
    sk__wstring err;
    if (!sandkit_plugin_system_statfs(&p, &u, &err)) {
        memset(out, 0, sizeof *out);
        sk__set_error("statfs %s: %s", path, sk__take(&err));
        return SK_ERR;
    }
    out->total = u.total;
    out->available = u.available;
    out->free = u.free;
    out->inodes_total = u.inodes_total;
    out->inodes_free = u.inodes_free;
    return SK_OK;
}

const char *sk_hostname(void) {
    sk__wstring name;
    sandkit_plugin_system_hostname(&name);
    return sk__take(&name);
}

int sk_http_fetch(const sk_http_request *req, sk_http_response *out) {
    memset(out, 0, sizeof *out);
    out->body.ptr = (const uint8_t *)"";
    sandkit_plugin_http_client_request_t r;
    const char *method = req->method ? req->method : "GET";
    r.method = sk__ws(method);
    r.url = sk__ws(req->url);
    collector_tuple2_string_string_t *hs = (collector_tuple2_string_string_t *)sk_alloc(
        (req->n_headers ? req->n_headers : 1) * sizeof *hs);
    for (size_t i = 0; i < req->n_headers; i++) {
        hs[i].f0 = sk__ws(req->headers[i].name);
        hs[i].f1 = sk__ws(req->headers[i].value);
    }
    r.headers.ptr = hs;
    r.headers.len = req->n_headers;
    r.body.ptr = (uint8_t *)(req->body ? req->body : "");
    r.body.len = req->body ? req->body_len : 0;
    r.timeout_ms = req->timeout_ms;
    sandkit_plugin_http_client_response_t resp;
    sandkit_plugin_http_client_http_error_t err;
    if (!sandkit_plugin_http_client_fetch(&r, &resp, &err)) {
        static const char *const kinds[] = {"refused", "invalid-request", "timeout", "too-large", "failed"};
        out->error_kind = err.tag < 5 ? kinds[err.tag] : "failed";
        if (err.tag == SANDKIT_PLUGIN_HTTP_CLIENT_HTTP_ERROR_TOO_LARGE) {
            sk__set_error("%s %s: too-large: the response is larger than %llu bytes", method,
                          req->url, (unsigned long long)err.val.too_large);
        } else {
            sk__set_error("%s %s: %s: %s", method, req->url, out->error_kind, sk__take(&err.val.refused));
        }
        return SK_ERR;
    }
    out->status = resp.status;
    out->n_headers = resp.headers.len;
    out->headers = (sk_header *)sk_alloc((resp.headers.len ? resp.headers.len : 1) * sizeof(sk_header));
    for (size_t i = 0; i < resp.headers.len; i++) {
        out->headers[i].name = sk__take(&resp.headers.ptr[i].f0);
        out->headers[i].value = sk__take(&resp.headers.ptr[i].f1);
    }
    if (resp.headers.len) free(resp.headers.ptr);
    out->body = sk__take_bytes(&resp.body);
    return SK_OK;
}

int sk_http_get(const char *url, sk_http_response *out) {
    sk_http_request r;
    memset(&r, 0, sizeof r);
    r.method = "GET";
    r.url = url;
    return sk_http_fetch(&r, out);
}

const char *sk_http_header(const sk_http_response *resp, const char *name) {
    for (size_t i = 0; i < resp->n_headers; i++) {
        const char *a = resp->headers[i].name, *b = name;
        while (*a && *b) {
            char x = *a, y = *b;
            if (x >= 'A' && x <= 'Z') x = (char)(x + 32);
            if (y >= 'A' && y <= 'Z') y = (char)(y + 32);
            if (x != y) break;
            a++;
            b++;
        }
        if (!*a && !*b) return resp->headers[i].value;
    }
    return NULL;
}
#endif /* SK__HAS_SYSTEM */

#ifdef SK__HAS_EMIT
static void sk__flush(void) {
    if (sk__n_pending) {
        sandkit_plugin_emit_list_point_t l = {(sandkit_plugin_emit_point_t *)sk__pending, sk__n_pending};
        sandkit_plugin_emit_emit(&l);
    }
    sk__points_reset();
}
#else
static void sk__flush(void) { sk__points_reset(); }
#endif

/* Every call from the host starts clean and leaves nothing behind but the instance's state. */
static void sk__begin(void) {
    sk__error = NULL;
    sk__misused = false;
    sk__points_reset();
}

static void sk__end(void) {
    sk__points_reset();
    if (sk__cap_pending > 4 * SK__CHUNK) {
        free(sk__pending);
        sk__pending = NULL;
        sk__cap_pending = 0;
    }
    sk__error = NULL;
    sk__arena_reset(&sk__call);
}

/* The call's outcome: true, or false and `err` set to "what: message". */
static bool sk__outcome(int rc, const char *what, sk__wstring *err) {
    if (rc == SK_OK && !sk__misused) return true;
    const char *msg = sk__error && *sk__error
        ? sk__error
        : sk_sprintf("returned %d without a message (use sk_fail)", rc);
    *err = sk__give(sk_sprintf("%s: %s", what, msg));
    return false;
}

/* sk_collect and sk_handle are required by their worlds (a missing one is a link error that
 * names it); sk_init is optional, and a pipeline defines one of its two functions. */
int sk_init(const sk_json *config) __attribute__((weak));
int sk_process_line(sk_records *out, sk_str line) __attribute__((weak));
int sk_process(sk_records *out, const sk_batch *batch) __attribute__((weak));

static void sk__describe(sandkit_plugin_types_plugin_info_t *ret) {
    sk__begin();
    sk_info info;
    memset(&info, 0, sizeof info);
    info.name = "plugin";
    info.version = "0.1.0";
    info.description = "";
    info.def_ms = 10 * SK_SECONDS;
    info.min_ms = 1 * SK_SECONDS;
    info.max_ms = 1 * SK_HOURS;
    sk_describe(&info);
    ret->name = sk__give(info.name);
    ret->version = sk__give(info.version);
    ret->description = sk__give(info.description);
    ret->default_interval_ms = info.def_ms;
    ret->min_interval_ms = info.min_ms;
    ret->max_interval_ms = info.max_ms;
    size_t nm = info.n_measurements;
    sandkit_plugin_types_measurement_info_t *ms =
        nm ? (sandkit_plugin_types_measurement_info_t *)sk__xmalloc(nm * sizeof *ms) : NULL;
    size_t i = 0;
    for (sk_measurement *m = info.first; m; m = m->next, i++) {
        ms[i].name = sk__give(m->name);
        ms[i].category = (sandkit_plugin_types_category_t)m->category;
        ms[i].description = sk__give(m->description);
        ms[i].tags.len = m->n_tags;
        ms[i].tags.ptr = m->n_tags ? (sandkit_plugin_types_tag_info_t *)sk__xmalloc(
                                         m->n_tags * sizeof(sandkit_plugin_types_tag_info_t))
                                   : NULL;
        for (size_t t = 0; t < m->n_tags; t++) {
            ms[i].tags.ptr[t].name = sk__give(m->tags[t].name);
            ms[i].tags.ptr[t].description = sk__give(m->tags[t].description);
        }
        ms[i].fields.len = m->n_fields;
        ms[i].fields.ptr = m->n_fields ? (sandkit_plugin_types_field_info_t *)sk__xmalloc(
                                             m->n_fields * sizeof(sandkit_plugin_types_field_info_t))
                                       : NULL;
        for (size_t f = 0; f < m->n_fields; f++) {
            ms[i].fields.ptr[f].name = sk__give(m->fields[f].name);
            ms[i].fields.ptr[f].kind = (sandkit_plugin_types_field_kind_t)m->fields[f].kind;
            ms[i].fields.ptr[f].unit = sk__give(m->fields[f].unit);
            ms[i].fields.ptr[f].description = sk__give(m->fields[f].description);
        }
    }
    ret->measurements.ptr = ms;
    ret->measurements.len = nm;
    sk__end();
}

static bool sk__init(sk__wstring *config, sk__wstring *err) {
    sk__begin();
    /* The config lives as long as the instance; a second init replaces it. */
    sk__arena_reset(&sk__inst);
    sk__config = &sk__empty_object;
    const char *text = (const char *)config->ptr;
    size_t len = config->len;
    size_t k = 0;
    while (k < len && (text[k] == ' ' || text[k] == '\n' || text[k] == '\t' || text[k] == '\r')) k++;
    int rc = SK_OK;
    if (k < len) {
        const sk_json *cfg;
        rc = sk__json_parse_in(&sk__inst, text, len, &cfg);
        if (rc == SK_OK) {
            if (cfg->type == SK_JSON_OBJECT) sk__config = cfg;
            else if (cfg->type != SK_JSON_NULL) {
                sk__set_error("the config is not a table");
                rc = SK_ERR;
            }
        } else {
            sk__set_error("the config is %s", sk__error);
        }
    }
    SK__W(string_free)(config);
    if (rc == SK_OK && sk_init) rc = sk_init(sk__config);
    bool ok = sk__outcome(rc, "init", err);
    sk__end();
    return ok;
}

#if defined(SANDKIT_WORLD_COLLECTOR)
void exports_collector_describe(collector_plugin_info_t *ret) { sk__describe(ret); }
bool exports_collector_init(collector_string_t *config, collector_string_t *err) {
    return sk__init(config, err);
}
bool exports_collector_collect(collector_string_t *err) {
    sk__begin();
    int rc = sk_collect();
    if (rc == SK_OK && !sk__misused) sk__flush();
    bool ok = sk__outcome(rc, "collect", err);
    sk__end();
    return ok;
}
#endif

#if defined(SANDKIT_WORLD_INPUT)
void exports_input_describe(input_plugin_info_t *ret) { sk__describe(ret); }
bool exports_input_init(input_string_t *config, input_string_t *err) { return sk__init(config, err); }
bool exports_input_handle(input_string_t *content_type, input_list_u8_t *body, input_string_t *err) {
    sk__begin();
    sk_str ct = {sk__take(content_type), content_type->len};
    sk_bytes b = sk__take_bytes(body);
    int rc = sk_handle(ct, b);
    if (rc == SK_OK && !sk__misused) sk__flush();
    bool ok = sk__outcome(rc, "handle", err);
    sk__end();
    return ok;
}
#endif

#if defined(SANDKIT_WORLD_PIPELINE)
void exports_pipeline_describe(pipeline_plugin_info_t *ret) { sk__describe(ret); }
bool exports_pipeline_init(pipeline_string_t *config, pipeline_string_t *err) {
    return sk__init(config, err);
}
bool exports_pipeline_process(pipeline_line_batch_t *batch, pipeline_list_u8_t *ret,
                              pipeline_string_t *err) {
    sk__begin();
    sk_batch b;
    b.source.ptr = (const char *)batch->source.ptr;
    b.source.len = batch->source.len;
    b.data.ptr = (const char *)batch->data.ptr;
    b.data.len = batch->data.len;
    b.ends = batch->ends.ptr;
    b.lines = batch->ends.len;
    int rc = SK_OK;
    size_t prev = 0;
    for (size_t i = 0; i < b.lines; i++) {
        if (b.ends[i] < prev || b.ends[i] > b.data.len) {
            rc = sk_fail("line %zu of the batch ends at byte %u, which is not a line end in %zu bytes",
                         i, (unsigned)b.ends[i], b.data.len);
            break;
        }
        prev = b.ends[i];
    }
    sk_records *out = sk_records_alloc();
    sk_records_begin(out, b.data.ptr, b.data.len, b.ends, b.lines);
    if (rc == SK_OK) {
        if (sk_process) {
            rc = sk_process(out, &b);
        } else if (sk_process_line) {
            for (size_t i = 0; i < b.lines && rc == SK_OK; i++) {
                sk_records_set_line(out, i);
                rc = sk_process_line(out, sk_batch_line(&b, i));
                if (rc != SK_OK || sk__misused) {
                    const char *msg = sk__error && *sk__error
                        ? sk__error
                        : sk_sprintf("returned %d without a message (use sk_fail)", rc);
                    sk__error = sk_sprintf("line %zu of the batch: %s", i, msg);
                    if (rc == SK_OK) rc = SK_ERR;
                }
            }
        } else {
            rc = sk_fail("this pipeline defines neither sk_process_line nor sk_process");
        }
    }
    bool ok = sk__outcome(rc, "process", err);
    size_t len;
    uint8_t *buf = sk_records_finish(out, &len);
    if (ok) {
        ret->ptr = buf;
        ret->len = len;
    } else {
        free(buf);
    }
    pipeline_string_free(&batch->source);
    pipeline_string_free(&batch->data);
    pipeline_list_u32_free(&batch->ends);
    sk__end();
    return ok;
}
#endif

#else /* no world: the parts a native test uses */
static void sk__flush(void) { sk__points_reset(); }
#endif /* SK__HOST */

#endif /* SANDKIT_IMPLEMENTATION */

/* clogfmt: a log pipeline for logfmt lines (`level=info msg="hello world" dur=12ms status=200`),
 * the C twin of guests/python/logfmt: the same records from the same lines.
 *
 * One record per line:
 * - A pair is `key=value`, `key="quoted value"` (escapes \" \\ \/ \n \r \t \b \f \uXXXX; any
 *   other backslash is kept as written) or a bare `key`, which is a bool field true. `key=` is an
 *   empty text field. A bare value runs to the next space and may hold `=` (`q=a=b`).
 * - Keys in `tags` are tags, the others fields. With `typed`, a bare value that is a JSON number
 *   is an int field when it is an integer, a float field otherwise (text when it does not fit:
 *   an integer past 64 bits, `1e999`), and true/false is a bool field; anything else (`12ms`,
 *   `00042`, `.5`) and every quoted value is text, so `code="200"` stays "200".
 * - The first key of `time_keys` whose value is an RFC 3339 time is the record's time and not
 *   a field; otherwise the host's read time is used.
 * - `message` (or failing that `msg`) is the record's `message` field. Without either, the raw
 *   line is kept as `message` when `keep_message` (and always when the record has no field).
 * - A key given twice keeps its first value.
 * - A line that is not logfmt passes through as its `message` with a `logfmt_error` tag:
 *   `unterminated_quote`, `unexpected_quote`, `missing_key` or `no_pairs`, never an error.
 *
 * Values that are plain slices of the line go to the host as references into the batch.
 */
#include "sandkit.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static sk_strs tags, time_keys;
static bool typed = true, keep_message = true;

void sk_describe(sk_info *info) {
    sk_info_set(info, "clogfmt", "0.1.0", "logfmt lines (key=value pairs) into typed fields, tags, time and message");
    sk_measurement *m = sk_info_measurement(info, "logfmt", SK_LOGGING,
                                            "one logfmt line: a field per key, `tags` as tags (the measurement is the source's)");
    sk_measurement_tag(m, "logfmt_error", "why a line was not logfmt (it passed through)");
    sk_measurement_tag(m, "*", "each key named in `tags` (default: level)");
    sk_measurement_field(m, "message", SK_TEXT, "", "the line's msg or message, else the raw line (keep_message)");
    sk_measurement_field(m, "*", SK_TEXT, "",
                         "every other key: a quoted value, or (typed) a bare value that is not a number or true/false");
    sk_measurement_field(m, "*", SK_INT, "", "typed: a bare integer");
    sk_measurement_field(m, "*", SK_FLOAT, "", "typed: a bare number with a fraction or exponent");
    sk_measurement_field(m, "*", SK_BOOL, "", "typed: bare true/false; a bare key is true");
}

int sk_init(const sk_json *config) {
    (void)config;
    static const char *const known[] = {"tags", "typed", "time_keys", "keep_message", NULL};
    static const char *const default_tags[] = {"level", NULL};
    static const char *const default_times[] = {"time", "ts", NULL};
    if (sk_config_check_keys(known)) return SK_ERR;
    tags = (sk_strs){(const char **)default_tags, 1};
    time_keys = (sk_strs){(const char **)default_times, 2};
    if (sk_config_has("tags") && sk_config_str_list("tags", &tags)) return SK_ERR;
    if (sk_config_has("time_keys") && sk_config_str_list("time_keys", &time_keys)) return SK_ERR;
    if (sk_config_bool("typed", true, &typed) || sk_config_bool("keep_message", true, &keep_message))
        return SK_ERR;
    return SK_OK;
}

/* The byte length of the whitespace character at p (what Python's \s matches), or 0. */
static size_t space_at(const char *p, const char *end) {
    unsigned char c = (unsigned char)*p;
    if (c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f)) return 1;
    if (c < 0xC2 || end - p < 2) return 0;
    unsigned char d = (unsigned char)p[1];
    if (c == 0xC2 && (d == 0x85 || d == 0xA0)) return 2;
    if (end - p < 3) return 0;
    unsigned char e = (unsigned char)p[2];
    if (c == 0xE1 && d == 0x9A && e == 0x80) return 3;                          /* U+1680 */
    if (c == 0xE2 && d == 0x80 && (e <= 0x8A || e == 0xA8 || e == 0xA9 || e == 0xAF)) return 3;
    if (c == 0xE2 && d == 0x81 && e == 0x9F) return 3;                          /* U+205F */
    if (c == 0xE3 && d == 0x80 && e == 0x80) return 3;                          /* U+3000 */
    return 0;
}

static const char *skip_space(const char *p, const char *end) {
    size_t k;
    while (p < end && (k = space_at(p, end))) p += k;
    return p;
}

typedef struct pair {
    sk_str key;
    int kind;    /* 0: a bare key; 1: a quoted value; 2: a bare value (maybe empty) */
    sk_str value; /* the raw slice: a quoted value without its quotes */
    bool escaped; /* a quoted value with a backslash */
} pair;

/* One pair at p (after spaces); its end, or NULL when none starts there. */
static const char *match_pair(const char *p, const char *end, pair *out) {
    p = skip_space(p, end);
    const char *k = p;
    while (p < end && *p != '=' && *p != '"' && !space_at(p, end)) p++;
    if (p == k) return NULL;
    out->key = (sk_str){k, (size_t)(p - k)};
    out->escaped = false;
    if (p == end || space_at(p, end)) {
        out->kind = 0;
        return p;
    }
    if (*p != '=') return NULL;
    p++;
    if (p < end && *p == '"') {
        const char *v = ++p;
        while (p < end && *p != '"') {
            if (*p == '\\') {
                if (end - p < 2) return NULL;
                out->escaped = true;
                p += 2;
            } else {
                p++;
            }
        }
        if (p == end) return NULL;
        out->kind = 1;
        out->value = (sk_str){v, (size_t)(p - v)};
        p++;
    } else {
        const char *v = p;
        while (p < end && *p != '"' && !space_at(p, end)) p++;
        out->kind = 2;
        out->value = (sk_str){v, (size_t)(p - v)};
    }
    return p == end || space_at(p, end) ? p : NULL;
}

/* Why no pair starts at p (p is not a space). */
static const char *diagnose(const char *p, const char *end) {
    if (*p == '=') return "missing_key";
    const char *k = p;
    while (p < end && *p != '=' && *p != '"' && !space_at(p, end)) p++;
    if (p > k && end - p >= 2 && p[0] == '=' && p[1] == '"') {
        p += 2;
        while (p < end && *p != '"') {
            if (*p == '\\' && end - p >= 2) p += 2;
            else if (*p == '\\') break;
            else p++;
        }
        if (p >= end || *p != '"') return "unterminated_quote";
    }
    return "unexpected_quote";
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool hex4(const char *p, const char *end, unsigned *out) {
    if (end - p < 4) return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0) return false;
        v = v * 16 + (unsigned)h;
    }
    *out = v;
    return true;
}

static size_t put_utf8(char *d, unsigned cp) {
    if (cp < 0x80) return d[0] = (char)cp, 1;
    if (cp < 0x800) return d[0] = (char)(0xC0 | cp >> 6), d[1] = (char)(0x80 | (cp & 0x3F)), 2;
    if (cp < 0x10000)
        return d[0] = (char)(0xE0 | cp >> 12), d[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
               d[2] = (char)(0x80 | (cp & 0x3F)), 3;
    return d[0] = (char)(0xF0 | cp >> 18), d[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
           d[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), d[3] = (char)(0x80 | (cp & 0x3F)), 4;
}

/* A quoted value's inside with its escapes read (a surrogate pair joins; a lone one is U+FFFD). */
static sk_str unescape(sk_str s) {
    char *out = sk_alloc(s.len * 2 + 1);
    size_t o = 0;
    const char *p = s.ptr, *end = s.ptr + s.len;
    while (p < end) {
        if (*p != '\\' || end - p < 2) {
            out[o++] = *p++;
            continue;
        }
        char e = p[1];
        unsigned cp;
        if (e == 'u' && hex4(p + 2, end, &cp)) {
            p += 6;
            unsigned lo;
            if (cp >= 0xD800 && cp < 0xDC00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
                hex4(p + 2, end, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            } else if (cp >= 0xD800 && cp < 0xE000) {
                cp = 0xFFFD;
            }
            o += put_utf8(out + o, cp);
            continue;
        }
        const char *with = strchr("\"\\/nrtbf", e);
        if (e && with) {
            static const char mapped[] = "\"\\/\n\r\t\b\f";
            out[o++] = mapped[with - "\"\\/nrtbf"];
        } else { /* kept as written (the backslash and the character) */
            out[o++] = '\\';
            size_t k = 1;
            while (p + 1 + k < end && ((unsigned char)p[1 + k] & 0xC0) == 0x80) k++;
            memcpy(out + o, p + 1, k);
            o += k;
            p += k - 1;
        }
        p += 2;
    }
    out[o] = 0;
    return (sk_str){out, o};
}

static bool in(const sk_strs *list, sk_str key) {
    for (size_t i = 0; i < list->len; i++)
        if (sk_str_eq(key, list->items[i])) return true;
    return false;
}

/* JSON's integer / number syntax (no leading zeros, no `.5`, no `+1`). */
static bool json_number(sk_str s, bool *integer) {
    size_t i = 0, n = s.len;
    const char *p = s.ptr;
    if (i < n && p[i] == '-') i++;
    if (i == n) return false;
    if (p[i] == '0') i++;
    else if (p[i] >= '1' && p[i] <= '9') while (i < n && p[i] >= '0' && p[i] <= '9') i++;
    else return false;
    *integer = i == n;
    if (i < n && p[i] == '.') {
        size_t d = ++i;
        while (i < n && p[i] >= '0' && p[i] <= '9') i++;
        if (i == d) return false;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-')) i++;
        size_t d = i;
        while (i < n && p[i] >= '0' && p[i] <= '9') i++;
        if (i == d) return false;
    }
    return i == n;
}

static bool parse_i64(sk_str s, int64_t *out) {
    bool neg = s.len && s.ptr[0] == '-';
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (size_t i = neg; i < s.len; i++) {
        unsigned d = (unsigned)(s.ptr[i] - '0');
        if (v > (limit - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return true;
}

/* The text of a pair's value (unescaped). */
static sk_str value_of(const pair *m) {
    return m->kind == 1 && m->escaped ? unescape(m->value) : m->value;
}

int sk_process_line(sk_records *out, sk_str line) {
    pair *pairs = sk_alloc(sizeof(pair) * (line.len / 2 + 2));
    size_t n = 0;
    const char *p = line.ptr, *end = line.ptr + line.len;
    for (;;) {
        const char *next = match_pair(p, end, &pairs[n]);
        if (!next) break;
        n++;
        p = next;
    }
    p = skip_space(p, end);
    if (p < end) {
        sk_rec_keep_message(sk_rec_tag(sk_record_new(out), "logfmt_error", diagnose(p, end)));
        return SK_OK;
    }
    bool any_value = false;
    for (size_t i = 0; i < n; i++) any_value |= pairs[i].kind != 0;
    if (!any_value) {
        sk_rec_keep_message(sk_rec_tag(sk_record_new(out), "logfmt_error", "no_pairs"));
        return SK_OK;
    }
    /* `seen`: keys written or taken (the time key, the message key, "message" always) */
    sk_str *seen = sk_alloc(sizeof(sk_str) * (n + 3));
    size_t n_seen = 0;
    seen[n_seen++] = (sk_str){"message", 7};
    int64_t time_ns = 0;
    bool has_time = false;
    for (size_t k = 0; k < time_keys.len && !has_time; k++) {
        for (size_t i = 0; i < n; i++) {
            if (!sk_str_eq(pairs[i].key, time_keys.items[k])) continue;
            sk_str v = pairs[i].kind ? value_of(&pairs[i]) : (sk_str){"", 0};
            if (v.len && sk_rfc3339_ns(v.ptr, v.len, &time_ns)) {
                has_time = true;
                seen[n_seen++] = pairs[i].key;
            }
            break; /* the first occurrence only */
        }
    }
    const pair *message = NULL;
    const char *message_keys[] = {"message", "msg"};
    for (int k = 0; k < 2 && !message; k++) {
        for (size_t i = 0; i < n; i++) {
            if (!sk_str_eq(pairs[i].key, message_keys[k])) continue;
            if (pairs[i].kind) {
                message = &pairs[i];
                seen[n_seen++] = pairs[i].key;
            }
            break;
        }
    }
    sk_record *r = sk_record_new(out);
    const char *key_of = NULL;
    size_t fields = 0;
    for (size_t i = 0; i < n; i++) {
        const pair *m = &pairs[i];
        bool dup = false;
        for (size_t s = 0; s < n_seen && !dup; s++)
            dup = seen[s].len == m->key.len && !memcmp(seen[s].ptr, m->key.ptr, m->key.len);
        /* later pairs of a key are skipped: mark it seen (the earlier check covers repeats) */
        if (dup) continue;
        bool later = false;
        for (size_t j = 0; j < i && !later; j++)
            later = pairs[j].key.len == m->key.len && !memcmp(pairs[j].key.ptr, m->key.ptr, m->key.len);
        if (later) continue;
        key_of = sk_strndup(m->key.ptr, m->key.len);
        if (in(&tags, m->key)) {
            sk_str u;
            if (m->kind == 1 && m->escaped) u = unescape(m->value), sk_rec_tag_n(r, key_of, u.ptr, u.len);
            else if (m->kind == 0) sk_rec_tag(r, key_of, "true");
            else if (m->value.len) sk_rec_tag_n(r, key_of, m->value.ptr, m->value.len);
            continue; /* an empty tag carries nothing */
        }
        fields++;
        bool integer;
        double f;
        int64_t x;
        if (m->kind == 1) {
            sk_str v = value_of(m);
            sk_rec_text_n(r, key_of, v.ptr, v.len);
        } else if (m->kind == 0) {
            sk_rec_bool(r, key_of, true);
        } else if (typed && json_number(m->value, &integer)) {
            if (integer) {
                if (parse_i64(m->value, &x)) sk_rec_int(r, key_of, x);
                else sk_rec_text_n(r, key_of, m->value.ptr, m->value.len);
            } else {
                f = strtod(sk_strndup(m->value.ptr, m->value.len), NULL);
                if (isfinite(f)) sk_rec_float(r, key_of, f);
                else sk_rec_text_n(r, key_of, m->value.ptr, m->value.len);
            }
        } else if (typed && (sk_str_eq(m->value, "true") || sk_str_eq(m->value, "false"))) {
            sk_rec_bool(r, key_of, m->value.len == 4);
        } else {
            sk_rec_text_n(r, key_of, m->value.ptr, m->value.len);
        }
    }
    if (message) {
        sk_str v = value_of(message);
        sk_rec_text_n(r, "message", v.ptr, v.len);
    } else if (keep_message || fields == 0) {
        sk_rec_keep_message(r);
    }
    if (has_time) sk_rec_time_ns(r, time_ns);
    return SK_OK;
}

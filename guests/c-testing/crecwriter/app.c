/* crecwriter: the C twin of guests/testing/recwriter. It writes the records a line spells out
 * (see that guest for the mini-language), so a test can check that both SDKs give the host the
 * same records. Numbers parse as Rust's `str::parse` does. One token is its own: `raise` fails
 * the line (the Rust twin skips it), to show that an error costs one line, not the batch. */
#include "sandkit.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

SK_PLUGIN("crecwriter", "0.1.0", "records as a line spells them, for tests");

/* Rust's i64/u64 FromStr: an optional sign ('-' only when signed), then digits, no overflow. */
static bool parse_int(sk_str s, bool is_signed, int64_t *i, uint64_t *u) {
    size_t k = 0;
    bool neg = false;
    if (k < s.len && (s.ptr[k] == '+' || (is_signed && s.ptr[k] == '-'))) neg = s.ptr[k++] == '-';
    if (k == s.len) return false;
    uint64_t limit = is_signed ? (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX) : UINT64_MAX;
    uint64_t v = 0;
    for (; k < s.len; k++) {
        if (s.ptr[k] < '0' || s.ptr[k] > '9') return false;
        unsigned d = (unsigned)(s.ptr[k] - '0');
        if (v > (limit - d) / 10) return false;
        v = v * 10 + d;
    }
    *u = v;
    *i = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return true;
}

static bool ieq(sk_str s, size_t at, const char *word) {
    size_t n = strlen(word);
    if (s.len - at != n) return false;
    for (size_t k = 0; k < n; k++)
        if (tolower((unsigned char)s.ptr[at + k]) != word[k]) return false;
    return true;
}

/* Rust's f64 FromStr: [+-] then inf, infinity, nan (any case) or digits with an optional
 * fraction and exponent (no hex, no spaces); strtod rounds the same way. */
static bool parse_float(sk_str s, double *out) {
    size_t k = 0;
    if (k < s.len && (s.ptr[k] == '+' || s.ptr[k] == '-')) k++;
    bool special = ieq(s, k, "inf") || ieq(s, k, "infinity") || ieq(s, k, "nan");
    if (!special) {
        size_t digits = 0;
        while (k < s.len && s.ptr[k] >= '0' && s.ptr[k] <= '9') k++, digits++;
        if (k < s.len && s.ptr[k] == '.') {
            k++;
            while (k < s.len && s.ptr[k] >= '0' && s.ptr[k] <= '9') k++, digits++;
        }
        if (!digits) return false;
        if (k < s.len && (s.ptr[k] == 'e' || s.ptr[k] == 'E')) {
            k++;
            if (k < s.len && (s.ptr[k] == '+' || s.ptr[k] == '-')) k++;
            size_t e0 = k;
            while (k < s.len && s.ptr[k] >= '0' && s.ptr[k] <= '9') k++;
            if (k == e0) return false;
        }
        if (k != s.len) return false;
    }
    *out = strtod(sk_strndup(s.ptr, s.len), NULL);
    return true;
}

static sk_str sub(const char *p, size_t n) {
    sk_str s = {p, n};
    return s;
}

static void token(sk_record *r, sk_str tok) {
    if (sk_str_eq(tok, "keep")) {
        sk_rec_keep_message(r);
        return;
    }
    int64_t i;
    uint64_t u;
    double f;
    if (tok.len && tok.ptr[0] == '@') {
        if (parse_int(sub(tok.ptr + 1, tok.len - 1), true, &i, &u)) sk_rec_time_ns(r, i);
        return;
    }
    const char *eq = memchr(tok.ptr, '=', tok.len);
    if (!eq) return;
    const char *colon = memchr(tok.ptr, ':', (size_t)(eq - tok.ptr));
    if (!colon) return;
    sk_str kind = sub(tok.ptr, (size_t)(colon - tok.ptr));
    const char *key = sk_strndup(colon + 1, (size_t)(eq - colon - 1));
    sk_str value = sub(eq + 1, tok.len - (size_t)(eq + 1 - tok.ptr));
    /* Copies are written inline; `r` passes the slice of the line itself (a reference). */
    const char *owned = sk_strndup(value.ptr, value.len);
    if (sk_str_eq(kind, "t")) sk_rec_tag(r, key, owned);
    else if (sk_str_eq(kind, "s")) sk_rec_text(r, key, owned);
    else if (sk_str_eq(kind, "r")) sk_rec_text_n(r, key, value.ptr, value.len);
    else if (sk_str_eq(kind, "i")) {
        if (parse_int(value, true, &i, &u)) sk_rec_int(r, key, i);
    } else if (sk_str_eq(kind, "u")) {
        if (parse_int(value, false, &i, &u)) sk_rec_uint(r, key, u);
    } else if (sk_str_eq(kind, "f")) {
        if (parse_float(value, &f)) sk_rec_float(r, key, f);
    } else if (sk_str_eq(kind, "b")) {
        if (sk_str_eq(value, "true") || sk_str_eq(value, "false")) sk_rec_bool(r, key, value.len == 4);
    } else if (sk_str_eq(kind, "m")) {
        sk_rec_measurement(r, owned);
    }
}

int sk_process_line(sk_records *out, sk_str line) {
    size_t at = 0;
    for (;;) { /* records separated by " | " */
        size_t end = at;
        while (end < line.len && !(end + 3 <= line.len && !memcmp(line.ptr + end, " | ", 3))) end++;
        sk_str spec = sub(line.ptr + at, end - at);
        if (!sk_str_eq(spec, "drop")) {
            for (size_t t = 0; t < spec.len; t++) /* `raise` fails the line before it writes */
                if ((t == 0 || spec.ptr[t - 1] == ' ') && spec.len - t >= 5 && !memcmp(spec.ptr + t, "raise", 5) &&
                    (t + 5 == spec.len || spec.ptr[t + 5] == ' '))
                    return sk_fail("this line asked to fail");
            sk_record *r = sk_record_new(out);
            size_t t0 = 0;
            for (size_t t = 0; t <= spec.len; t++) { /* tokens separated by ' ' */
                if (t == spec.len || spec.ptr[t] == ' ') {
                    token(r, sub(spec.ptr + t0, t - t0));
                    t0 = t + 1;
                }
            }
        }
        if (end >= line.len) break;
        at = end + 3;
    }
    return SK_OK;
}

/* Native tests of the C SDK's host-free parts, built with the machine's cc (`make test`):
 *
 *   cc -std=c17 -Wall -Wextra -Werror -I sdk/c sdk/c/tests/golden.c -o golden
 *   ./golden testdata/records/golden.json
 *
 * - the record writer makes the bytes of every case of testdata/records/golden.json (read with
 *   the SDK's own JSON parser, which must keep 64-bit integers exact);
 * - text that is not UTF-8 is repaired, keys are cut on a character boundary;
 * - the config getters name the key in their errors; RFC 3339 times parse as in the other SDKs.
 */
#define SANDKIT_IMPLEMENTATION
#include "sandkit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (!(cond)) {                                     \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                  \
            fputc('\n', stderr);                           \
            failures++;                                    \
        }                                                  \
    } while (0)

static char *hex(const uint8_t *b, size_t n) {
    char *s = malloc(n * 2 + 1);
    for (size_t i = 0; i < n; i++) sprintf(s + 2 * i, "%02x", b[i]);
    s[n * 2] = 0;
    return s;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) exit(2);
    fclose(f);
    buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

/* A float of a case: a number, or {"bits": "hex"}. */
static double float_of(const sk_json *v) {
    if (v->type == SK_JSON_NUMBER) return v->f;
    const sk_json *bits = sk_json_get(v, "bits");
    uint64_t u = strtoull(bits->str, NULL, 16);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* A copy outside the batch's data, so that the writer writes it inline. */
static const char *outside(const char *s) { return sk_strndup(s, strlen(s)); }

static void one_case(const sk_json *c) {
    const char *name = sk_json_get(c, "name")->str;
    const sk_json *lines = sk_json_get(c, "lines");
    size_t total = 0;
    for (size_t i = 0; i < lines->len; i++) total += lines->items[i].len;
    char *data = malloc(total + 1);
    uint32_t *ends = malloc((lines->len + 1) * sizeof(uint32_t));
    size_t at = 0;
    for (size_t i = 0; i < lines->len; i++) {
        memcpy(data + at, lines->items[i].str, lines->items[i].len);
        at += lines->items[i].len;
        ends[i] = (uint32_t)at;
    }
    sk_records out;
    sk_records_begin(&out, data, total, ends, lines->len);
    const sk_json *records = sk_json_get(c, "records");
    for (size_t r = 0; r < records->len; r++) {
        const sk_json *rec = &records->items[r];
        size_t line = (size_t)sk_json_get(rec, "line")->u;
        size_t start = line ? ends[line - 1] : 0;
        sk_records_set_line(&out, line);
        sk_record *w = sk_record_new(&out);
        const sk_json *time = sk_json_get(rec, "time");
        if (time && time->type == SK_JSON_NUMBER) sk_rec_time_ns(w, time->i);
        const sk_json *keep = sk_json_get(rec, "keep_message");
        if (keep && keep->boolean) sk_rec_keep_message(w);
        const sk_json *items = sk_json_get(rec, "writer_items");
        if (!items) items = sk_json_get(rec, "items");
        for (size_t k = 0; k < items->len; k++) {
            const sk_json *it = &items->items[k];
            const char *kind = it->items[0].str;
            const char *key = it->items[1].str;
            const sk_json *v = &it->items[2];
            if (!strcmp(kind, "tag")) sk_rec_tag(w, key, outside(v->str));
            else if (!strcmp(kind, "text")) sk_rec_text(w, key, outside(v->str));
            else if (!strcmp(kind, "tag_ref") || !strcmp(kind, "text_ref")) {
                size_t s = (size_t)v->items[0].u, e = (size_t)v->items[1].u;
                if (kind[1] == 'a') sk_rec_tag_n(w, key, data + start + s, e - s);
                else sk_rec_text_n(w, key, data + start + s, e - s);
            } else if (!strcmp(kind, "int")) sk_rec_int(w, key, v->i);
            else if (!strcmp(kind, "uint")) sk_rec_uint(w, key, v->u);
            else if (!strcmp(kind, "float")) sk_rec_float(w, key, float_of(v));
            else if (!strcmp(kind, "bool")) sk_rec_bool(w, key, v->boolean);
            else if (!strcmp(kind, "measurement")) sk_rec_measurement(w, outside(v->str));
            else CHECK(0, "%s: unknown item kind %s", name, kind);
        }
    }
    size_t len;
    uint8_t *buf = sk_records_finish(&out, &len);
    char *got = hex(buf, len);
    const char *want = sk_json_get(c, "hex")->str;
    CHECK(strcmp(got, want) == 0, "case \"%s\":\n  want %s\n  got  %s", name, want, got);
    free(got);
    free(buf);
    free(data);
    free(ends);
}

static void golden(const char *path) {
    size_t len;
    char *text = read_all(path, &len);
    const sk_json *cases;
    if (sk_json_parse(text, len, &cases)) {
        fprintf(stderr, "%s: %s\n", path, sk_last_error());
        exit(2);
    }
    CHECK(cases->type == SK_JSON_ARRAY && cases->len >= 16, "%s: the cases", path);
    for (size_t i = 0; i < cases->len; i++) one_case(&cases->items[i]);
    printf("golden: %zu cases\n", cases->len);
    free(text);
}

/* What the writer does with text that is not UTF-8 and with keys past 65,535 bytes. */
static void repairs(void) {
    const char *data = "h\xc3\xa9llo";
    uint32_t ends[] = {6};
    sk_records out;
    sk_records_begin(&out, data, 6, ends, 1);
    sk_record *r = sk_record_new(&out);
    sk_rec_tag(r, "bad", "a\xff" "b");          /* an invalid byte: U+FFFD */
    sk_rec_text_n(r, "mid", data + 2, 2);        /* a slice that starts mid-character: inline */
    sk_rec_text_n(r, "ref", data + 1, 2);        /* "é": a reference */
    char *key = malloc(70000);
    memset(key, 'k', 65534);
    memcpy(key + 65534, "\xc3\xa9", 3);          /* "é" straddles the limit */
    sk_rec_int(r, key, 1);
    size_t len;
    uint8_t *buf = sk_records_finish(&out, &len);
    const uint8_t *p = buf + 4 + 15;
    CHECK(buf[4 + 13] == 4, "4 items, got %u", buf[4 + 13]);
    CHECK(p[0] == 0 && memcmp(p + 3, "bad", 3) == 0 && p[6] == 5 && memcmp(p + 10, "a\xef\xbf\xbd" "b", 5) == 0,
          "an invalid byte becomes U+FFFD: %s", hex(p, 15));
    p += 15;
    CHECK(p[0] == 1 && p[6] == 4 && memcmp(p + 10, "\xef\xbf\xbd" "l", 4) == 0,
          "a slice off a boundary goes inline, repaired: %s", hex(p, 14));
    p += 3 + 3 + 4 + 4;
    CHECK(p[0] == 3 && p[6] == 1 && p[10] == 2, "a slice on boundaries is a reference: %s", hex(p, 14));
    p += 3 + 3 + 8;
    CHECK(p[0] == 4 && p[1] == 0xfe && p[2] == 0xff, "the key is cut to 65,534 bytes: %s", hex(p, 3));
    free(buf);
    free(key);

    /* A record rolled back takes no more items; one for line 3 of 1 is the host's to refuse. */
    sk_records_begin(&out, data, 6, ends, 1);
    size_t mark = sk_records_mark(&out);
    sk_record *gone = sk_record_new(&out);
    sk_rec_int(gone, "n", 1);
    sk_records_rollback(&out, mark);
    sk_rec_int(gone, "n", 2);
    buf = sk_records_finish(&out, &len);
    CHECK(len == 4, "rolled back: %zu bytes", len);
    free(buf);

    /* A mark inside a record: rolling back to it undoes the record whole (its header counts
     * the items it had), never leaves it with fewer items than it says. */
    sk_records_begin(&out, data, 6, ends, 1);
    sk_record *half = sk_record_new(&out);
    sk_rec_int(half, "a", 1);
    mark = sk_records_mark(&out);
    sk_rec_int(half, "b", 2);
    sk_records_rollback(&out, mark);
    sk_rec_int(half, "c", 3);
    buf = sk_records_finish(&out, &len);
    CHECK(len == 4, "a record rolled back from inside is gone: %zu bytes", len);
    free(buf);
}

static void config(void) {
    const char *text = "{\"mode\": \"ok\", \"n\": -9223372036854775808, \"big\": 18446744073709551615,"
                       " \"x\": 2.5, \"on\": true, \"list\": [\"a\", \"b\"], \"bad\": [\"a\", 1],"
                       " \"s\": \"caf\\u00e9 \\ud83e\\udd80\"}";
    const sk_json *cfg;
    CHECK(sk_json_parse(text, strlen(text), &cfg) == 0, "parse: %s", sk_last_error());
    sk__config = cfg;
    const char *s;
    int64_t i;
    uint64_t u;
    double f;
    bool b;
    sk_strs l;
    CHECK(sk_config_str("mode", "x", &s) == 0 && !strcmp(s, "ok"), "str");
    CHECK(sk_config_str("missing", "dflt", &s) == 0 && !strcmp(s, "dflt"), "default");
    CHECK(sk_config_str("s", "", &s) == 0 && !strcmp(s, "caf\xc3\xa9 \xf0\x9f\xa6\x80"), "escapes: %s", s);
    CHECK(sk_config_int("n", 0, &i) == 0 && i == INT64_MIN, "int64 min");
    CHECK(sk_config_uint("big", 0, &u) == 0 && u == UINT64_MAX, "uint64 max");
    CHECK(sk_config_int("big", 0, &i) == SK_ERR && strstr(sk_last_error(), "[config] big = 18446744073709551615 is not an integer"),
          "%s", sk_last_error());
    CHECK(sk_config_float("x", 0, &f) == 0 && f == 2.5, "float");
    CHECK(sk_config_bool("on", false, &b) == 0 && b, "bool");
    CHECK(sk_config_str("n", "", &s) == SK_ERR && !strcmp(sk_last_error(), "[config] n = -9223372036854775808 is not a string"),
          "%s", sk_last_error());
    CHECK(sk_config_bool("mode", false, &b) == SK_ERR && !strcmp(sk_last_error(), "[config] mode = \"ok\" is not true or false"),
          "%s", sk_last_error());
    CHECK(sk_config_str_list("list", &l) == 0 && l.len == 2 && !strcmp(l.items[1], "b"), "list");
    CHECK(sk_config_str_list("bad", &l) == SK_ERR && !strcmp(sk_last_error(), "[config] bad[1] = 1 is not a string"),
          "%s", sk_last_error());
    const char *known[] = {"mode", "n", "big", "x", "on", "list", "bad", NULL};
    CHECK(sk_config_check_keys(known) == SK_ERR && strstr(sk_last_error(), "unknown key 's' (known: mode, n, big"),
          "%s", sk_last_error());
    CHECK(sk_json_parse("{\"a\": 01}", 9, &cfg) == SK_ERR && strstr(sk_last_error(), "leading zero"), "%s", sk_last_error());
    CHECK(sk_json_parse("[1,]", 4, &cfg) == SK_ERR && strstr(sk_last_error(), "at byte 3"), "%s", sk_last_error());
}

static void times(void) {
    struct {
        const char *text;
        bool ok;
        int64_t ns;
    } cases[] = {
        {"2024-03-01T12:00:00.123456789Z", true, 1709294400123456789},
        {"2024-03-01 20:00:00+08:00", true, 1709294400000000000},
        {"2024-03-01t00:00:00-0130", true, 1709256600000000000},
        {"1969-12-31T23:59:59.5Z", true, -500000000},
        {"2024-03-01T12:00:00.1234567891234z", true, 1709294400123456789},
        {"2024-12-31T23:59:60Z", true, 1735689600000000000},
        {"2024-02-29T00:00:00Z", true, 1709164800000000000},
        {"2023-02-29T00:00:00Z", false, 0},
        {"2024-02-30T00:00:00Z", false, 0},
        {"2024-03-01T12:00:00", false, 0},
        {"2024-03-01T24:00:00Z", false, 0},
        {"2024-03-01T12:00:00.Z", false, 0},
        {"0000-01-01T00:00:00Z", false, 0},
        {"2024-03-01T12:00:00+24:00", false, 0},
        {"2024-03-01T12:00:00Z ", false, 0},
        {"yesterday", false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ns = 0;
        bool ok = sk_rfc3339_ns(cases[i].text, strlen(cases[i].text), &ns);
        CHECK(ok == cases[i].ok && ns == cases[i].ns, "%s: %d %lld", cases[i].text, ok, (long long)ns);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s testdata/records/golden.json\n", argv[0]);
        return 2;
    }
    golden(argv[1]);
    repairs();
    config();
    times();
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("c sdk: golden records, repairs and config: ok\n");
    return 0;
}

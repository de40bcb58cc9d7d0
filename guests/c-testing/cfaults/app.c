/* cfaults: a C collector that misbehaves as `[config] mode` says, for the containment tests
 * (its Python twin is guests/python-testing/pyfaults):
 *
 * - ok: one point per call with a call counter (and a state counter that survives restarts);
 * - fail: returns an error (a counted error, not a crash);
 * - abort: abort() (a trap: a crash);
 * - loop: never returns (the deadline or fuel stops it: a crash);
 * - membomb: allocates memory until the cap (a crash);
 * - flood: emits more points than a call may (the host stops it: a crash);
 * - recurse: unbounded recursion (the stack runs out: a trap, a crash);
 * - exit: exit(3) (a plugin may not exit: a crash);
 * - logflood / printflood: 20,000 lines a call through the host log / printf to stdout (the
 *   host rate-limits both; the plugin keeps running);
 * - http: GETs each URL of `[config] urls` and emits one `http` point per URL: `status`,
 *   `bytes` and `type`, or the error's `kind` and `error`;
 * - files: reads each path of `[config] paths` (a path ending in / is listed) and emits one
 *   `files` point per path: `ok`, `bytes`/`entries` or the `error`;
 * - churn: every service of the SDK once a call (each path of `paths` read or listed, state get
 *   and set, a log line, JSON parsed, the host's name, a missing file's error, 300 points over
 *   two chunks) and one `churn` point: for the test that memory stays flat over many calls.
 */
#include "sandkit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t calls;
static const char *mode = "ok";
static sk_strs urls, paths;

void sk_describe(sk_info *info) {
    sk_info_set(info, "cfaults", "0.1.0", "misbehaves as [config] mode says, for tests");
    sk_info_intervals(info, 1 * SK_SECONDS, 10 * SK_MS, 1 * SK_HOURS);
}

int sk_init(const sk_json *config) {
    (void)config;
    static const char *const modes[] = {"ok", "fail", "abort", "loop", "membomb", "flood", "recurse",
                                        "exit", "logflood", "printflood", "http", "files", "churn", NULL};
    const char *m;
    if (sk_config_str("mode", "ok", &m)) return SK_ERR;
    for (const char *const *k = modes; *k; k++)
        if (!strcmp(*k, m)) mode = *k; /* a static string: the config's would do too */
    if (strcmp(mode, m)) return sk_fail("unknown mode \"%s\"", m);
    /* The config lives as long as the instance: the lists may be kept as they are. */
    if (sk_config_str_list("urls", &urls) || sk_config_str_list("paths", &paths)) return SK_ERR;
    return SK_OK;
}

/* Each frame holds 1 KiB whose address escapes, and the call is not in tail position. */
#pragma clang diagnostic ignored "-Winfinite-recursion" /* the point of this mode */
__attribute__((noinline)) static uint64_t dive(uint64_t depth) {
    volatile unsigned char frame[1024];
    frame[depth % sizeof frame] = (unsigned char)depth;
    uint64_t below = dive(depth + 1);
    return below + frame[below % sizeof frame];
}

static void get(const char *url, size_t i) {
    sk_point *p = sk_text(sk_tag(sk_point_new("http"), "i", sk_sprintf("%zu", i)), "url", url);
    sk_header h = {"x-test", "cfaults"};
    sk_http_request req = {"GET", url, &h, 1, NULL, 0, 2000};
    sk_http_response r;
    if (sk_http_fetch(&req, &r)) {
        sk_log(SK_WARN, "GET %s: %s", url, r.error_kind);
        sk_emit(sk_text(sk_text(p, "kind", r.error_kind), "error", sk_last_error()));
        return;
    }
    sk_log(SK_INFO, "GET %s: %u", url, r.status);
    const char *type = sk_http_header(&r, "content-type");
    sk_emit(sk_text(sk_int(sk_int(p, "status", r.status), "bytes", (int64_t)r.body.len), "type",
                    type ? type : ""));
}

static void read_one(const char *path, size_t i) {
    sk_point *p = sk_text(sk_tag(sk_point_new("files"), "i", sk_sprintf("%zu", i)), "path", path);
    size_t n = strlen(path);
    if (n && path[n - 1] == '/') {
        sk_strs names;
        if (sk_list_dir(path, &names) == SK_OK) {
            sk_emit(sk_int(sk_bool(p, "ok", true), "entries", (int64_t)names.len));
            return;
        }
    } else {
        sk_bytes data;
        if (sk_read_file(path, &data) == SK_OK) {
            sk_emit(sk_bool(sk_int(p, "bytes", (int64_t)data.len), "ok", true));
            return;
        }
    }
    sk_emit(sk_text(sk_bool(p, "ok", false), "error", sk_last_error()));
}

static int churn(void) {
    uint64_t bytes = 0;
    for (size_t i = 0; i < paths.len; i++) {
        size_t n = strlen(paths.items[i]);
        sk_strs names;
        sk_bytes data;
        if (n && paths.items[i][n - 1] == '/') {
            if (sk_list_dir(paths.items[i], &names)) return SK_ERR;
            bytes += names.len;
        } else {
            if (sk_read_file(paths.items[i], &data)) return SK_ERR;
            bytes += data.len;
        }
    }
    sk_bytes data;
    if (sk_read_file("/nonexistent/file", &data) == SK_OK) return sk_fail("a missing file was read");
    sk_bytes old;
    sk_state_get("blob", &old);
    char blob[1000];
    memset(blob, 'x', sizeof blob);
    if (sk_state_set("blob", blob, sizeof blob)) return SK_ERR;
    const sk_json *doc;
    const char *json = "{\"a\": [1, 2.5, \"three\", {\"b\": null}], \"c\": \"d\\u00e9\"}";
    if (sk_json_parse(json, strlen(json), &doc)) return SK_ERR;
    sk_log(SK_DEBUG, "churn %llu on %s", (unsigned long long)calls, sk_hostname());
    for (int i = 0; i < 300; i++) {
        sk_point *p = sk_point_new("churned");
        sk_tag(sk_tag(p, "i", sk_sprintf("%d", i)), "host", "web-1");
        sk_emit(sk_text(sk_int(p, "n", i), "text", "some text that goes to the host"));
    }
    sk_emit(sk_uint(sk_uint(sk_point_new("churn"), "calls", calls), "bytes", bytes));
    return SK_OK;
}

int sk_collect(void) {
    calls++;
    if (!strcmp(mode, "fail")) return sk_fail("boom on call %llu", (unsigned long long)calls);
    if (!strcmp(mode, "abort")) abort();
    if (!strcmp(mode, "loop"))
        for (volatile int spin = 0;; spin++) {
        }
    if (!strcmp(mode, "membomb")) {
        for (;;) {
            volatile char *block = malloc(1 << 20); /* linear memory grows with each block */
            if (!block) abort();
            block[0] = 1;
        }
    }
    if (!strcmp(mode, "flood")) {
        for (int64_t i = 0; i < 10000000; i++) sk_emit(sk_int(sk_point_new("flood"), "i", i));
        return SK_OK;
    }
    if (!strcmp(mode, "recurse")) return dive(0) == 42 ? SK_OK : SK_ERR;
    if (!strcmp(mode, "exit")) exit(3);
    if (!strcmp(mode, "logflood")) {
        for (int i = 0; i < 20000; i++) sk_log(SK_INFO, "flood line %d\n[agent] a forged line", i);
        return SK_OK;
    }
    if (!strcmp(mode, "printflood")) {
        for (int i = 0; i < 20000; i++) printf("flood line %d\n", i);
        fflush(stdout);
        return SK_OK;
    }
    if (!strcmp(mode, "http")) {
        for (size_t i = 0; i < urls.len; i++) get(urls.items[i], i);
        return SK_OK;
    }
    if (!strcmp(mode, "files")) {
        for (size_t i = 0; i < paths.len; i++) read_one(paths.items[i], i);
        return SK_OK;
    }
    if (!strcmp(mode, "churn")) return churn();
    sk_bytes old;
    uint64_t total = 1;
    if (sk_state_get("total", &old)) total = strtoull((const char *)old.ptr, NULL, 10) + 1;
    if (sk_state_set_str("total", sk_sprintf("%llu", (unsigned long long)total))) return SK_ERR;
    sk_emit(sk_uint(sk_uint(sk_point_new("cfaults"), "calls", calls), "total", total));
    return SK_OK;
}

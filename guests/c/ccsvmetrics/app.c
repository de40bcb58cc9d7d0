/* ccsvmetrics: an input that turns a posted CSV body into points, one per row (the C twin of
 * guests/python/csvmetrics: the same points, and the same errors, from the same bodies).
 *
 * The first row is the header: column names. Every other row is a point:
 * - measurement: `measurement`, or the row's cell in `measurement_column` when the header has it
 *   (an empty cell: `measurement`);
 * - tags: the columns of `tag_columns` (an empty cell: no tag);
 * - time: the cell of `time_column` when the header has it (an empty cell, or no such column:
 *   the host's clock), read as `time_format`: "rfc3339", "unix", "unix_ms", "unix_us",
 *   "unix_ns" (a decimal number, fraction allowed), or "auto": RFC 3339, else unix seconds;
 * - fields: every other column; an empty cell is no field. A column's type is the one of
 *   `column_types`, else inferred over the whole body: int when every cell is an integer (no
 *   leading zeros), float when every cell is a number, bool when every cell is true or false
 *   (any case), else text.
 *
 * CSV as Python's csv module reads it in strict mode (quotes, "" in a quoted field, line breaks
 * inside quotes; \n, \r\n or \r between rows). Cells are stripped of surrounding spaces; blank
 * lines are skipped; a UTF-8 byte order mark is ignored. The delimiter is `delimiter`, or a tab
 * for text/tab-separated-values. Any error refuses the whole body (nothing of it is written,
 * the client gets 400) with a message naming the row (data rows from 1), its line and column.
 */
#include "sandkit.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FIELD_LIMIT 131072 /* Python's csv.field_size_limit() */

static const char *measurement = "csv", *measurement_column = "measurement", *time_column = "time";
static const char *time_format = "auto", *delimiter = ",";
static sk_strs tag_columns;
static const sk_json *column_types;
static int64_t max_rows = 5000;

static const char *const FORMATS[] = {"auto", "rfc3339", "unix", "unix_ms", "unix_us", "unix_ns", NULL};
static const char *const KINDS[] = {"int", "float", "bool", "text", NULL};

void sk_describe(sk_info *info) {
    sk_info_set(info, "ccsvmetrics", "0.1.0",
                "CSV bodies (a header row, then one point per row) into typed points.");
    sk_measurement *m = sk_info_measurement(
        info, "*", SK_METRIC,
        "one CSV row: measurement `measurement` (default csv), or the row's value of the measurement column");
    sk_measurement_tag(m, "*", "each column of `tag_columns`");
    sk_measurement_field(m, "*", SK_INT, "", "a column whose cells are all integers (or pinned int)");
    sk_measurement_field(m, "*", SK_FLOAT, "", "a column whose cells are all numbers (or pinned float)");
    sk_measurement_field(m, "*", SK_BOOL, "", "a column whose cells are all true/false (or pinned bool)");
    sk_measurement_field(m, "*", SK_TEXT, "", "any other column (or pinned text)");
}

static bool one_of(const char *s, const char *const *list) {
    for (; *list; list++)
        if (!strcmp(s, *list)) return true;
    return false;
}

/* Python's repr() of a str: 'x', or "x" when it holds a ' and no ". */
static const char *repr(const char *s, size_t n) {
    bool sq = memchr(s, '\'', n), dq = memchr(s, '"', n);
    char q = sq && !dq ? '"' : '\'';
    char *out = sk_alloc(n * 4 + 3), *o = out;
    *o++ = q;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\' || c == (unsigned char)q) *o++ = '\\', *o++ = (char)c;
        else if (c == '\n') *o++ = '\\', *o++ = 'n';
        else if (c == '\r') *o++ = '\\', *o++ = 'r';
        else if (c == '\t') *o++ = '\\', *o++ = 't';
        else if (c < 0x20 || c == 0x7f) o += sprintf(o, "\\x%02x", c);
        else *o++ = (char)c;
    }
    *o++ = q;
    *o = 0;
    return out;
}

static const char *reprs(const char *s) { return repr(s, strlen(s)); }

/* The characters of UTF-8 text (the body is checked first). */
static size_t char_len(const char *p) {
    unsigned char c = (unsigned char)*p;
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

static size_t count_chars(const char *s) {
    size_t n = 0;
    for (; *s; s += char_len(s)) n++;
    return n;
}

int sk_init(const sk_json *config) {
    (void)config;
    static const char *const known[] = {"measurement", "measurement_column", "tag_columns", "time_column",
                                        "time_format", "column_types", "delimiter", "max_rows", NULL};
    if (sk_config_check_keys(known) || sk_config_str("measurement", "csv", &measurement) ||
        sk_config_str("measurement_column", "measurement", &measurement_column) ||
        sk_config_str_list("tag_columns", &tag_columns) ||
        sk_config_str("time_column", "time", &time_column) ||
        sk_config_str("time_format", "auto", &time_format) ||
        sk_config_str("delimiter", ",", &delimiter) || sk_config_int("max_rows", 5000, &max_rows))
        return SK_ERR;
    if (!*measurement) return sk_fail("[config] measurement is empty");
    if (!one_of(time_format, FORMATS))
        return sk_fail("[config] time_format = %s: use one of auto, rfc3339, unix, unix_ms, unix_us, unix_ns",
                       reprs(time_format));
    column_types = sk_json_get(sk_config(), "column_types");
    if (column_types && column_types->type != SK_JSON_OBJECT)
        return sk_fail("[config] column_types is not a table");
    for (size_t i = 0; column_types && i < column_types->len; i++) {
        const sk_json *k = &column_types->items[i];
        if (k->type != SK_JSON_STRING || !one_of(k->str, KINDS))
            return sk_fail("[config] column_types.%s = %s: use int, float, bool or text", column_types->keys[i],
                           k->type == SK_JSON_STRING ? reprs(k->str) : "a non-string");
    }
    if (count_chars(delimiter) != 1 || strchr("\"\r\n", delimiter[0]))
        return sk_fail("[config] delimiter = %s: one character, not a quote or a line break", reprs(delimiter));
    return SK_OK;
}

/* ---- CSV as Python's csv.reader(strict=True) ---------------------------------------------- */

typedef struct row {
    size_t line; /* reader.line_num after the row */
    char **cells;
    size_t n;
} row;

typedef struct reader {
    const char *p, *end;
    const char *delim;
    size_t delim_len;
    size_t line_num;
    char *field;
    size_t flen, fcap, fchars;
    bool too_large;
    char **cells;
    size_t n, cap;
} reader;

enum { START_RECORD, START_FIELD, IN_FIELD, IN_QUOTED_FIELD, QUOTE_IN_QUOTED_FIELD, EAT_CRNL };

static void add_bytes(reader *r, const char *c, size_t n) {
    if (r->fchars++ >= FIELD_LIMIT) {
        r->too_large = true;
        return;
    }
    if (r->flen + n + 1 > r->fcap) {
        size_t cap = r->fcap ? r->fcap * 2 : 64;
        while (cap < r->flen + n + 1) cap *= 2;
        char *f = sk_alloc(cap);
        memcpy(f, r->field, r->flen);
        r->field = f;
        r->fcap = cap;
    }
    memcpy(r->field + r->flen, c, n);
    r->flen += n;
}

static void save_field(reader *r) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        char **c = sk_alloc(cap * sizeof(char *));
        memcpy(c, r->cells, r->n * sizeof(char *));
        r->cells = c;
        r->cap = cap;
    }
    r->cells[r->n++] = sk_strndup(r->field ? r->field : "", r->flen);
    r->flen = 0;
    r->fchars = 0;
}

/* The next row (cells, maybe none for a blank line); 0 at the end, -1 on an error. */
static int next_row(reader *r, row *out) {
    if (r->p >= r->end) return 0;
    r->n = r->cap = 0;
    r->cells = NULL;
    r->flen = r->fchars = 0;
    int state = START_RECORD;
    do {
        if (r->p >= r->end) {
            if (state == IN_QUOTED_FIELD || r->flen) return sk_fail("line %zu: not CSV: unexpected end of data", r->line_num);
            break;
        }
        /* one line: up to and with \n, \r\n or \r */
        const char *line = r->p, *eol = r->p;
        while (eol < r->end && *eol != '\n' && *eol != '\r') eol++;
        if (eol < r->end) eol += (*eol == '\r' && eol + 1 < r->end && eol[1] == '\n') ? 2 : 1;
        r->p = eol;
        r->line_num++;
        for (const char *c = line;; c += char_len(c)) {
            bool end_of_line = c >= eol;
            char ch = end_of_line ? 0 : *c;
            size_t clen = end_of_line ? 0 : char_len(c);
            bool nl = !end_of_line && (ch == '\n' || ch == '\r');
            bool is_delim = !end_of_line && clen == r->delim_len && !memcmp(c, r->delim, clen);
            switch (state) {
            case START_RECORD:
                if (end_of_line) break;
                if (nl) {
                    state = EAT_CRNL;
                    break;
                }
                state = START_FIELD;
                /* fall through */
            case START_FIELD:
                if (nl || end_of_line) {
                    save_field(r);
                    state = end_of_line ? START_RECORD : EAT_CRNL;
                } else if (ch == '"') {
                    state = IN_QUOTED_FIELD;
                } else if (is_delim) {
                    save_field(r);
                } else {
                    add_bytes(r, c, clen);
                    state = IN_FIELD;
                }
                break;
            case IN_FIELD:
                if (nl || end_of_line) {
                    save_field(r);
                    state = end_of_line ? START_RECORD : EAT_CRNL;
                } else if (is_delim) {
                    save_field(r);
                    state = START_FIELD;
                } else {
                    add_bytes(r, c, clen);
                }
                break;
            case IN_QUOTED_FIELD:
                if (end_of_line) break;
                if (ch == '"') state = QUOTE_IN_QUOTED_FIELD;
                else add_bytes(r, c, clen);
                break;
            case QUOTE_IN_QUOTED_FIELD:
                if (!end_of_line && ch == '"') {
                    add_bytes(r, c, 1);
                    state = IN_QUOTED_FIELD;
                } else if (is_delim) {
                    save_field(r);
                    state = START_FIELD;
                } else if (nl || end_of_line) {
                    save_field(r);
                    state = end_of_line ? START_RECORD : EAT_CRNL;
                } else {
                    return sk_fail("line %zu: not CSV: '%s' expected after '\"'", r->line_num, r->delim);
                }
                break;
            case EAT_CRNL:
                if (nl) break;
                if (end_of_line) {
                    state = START_RECORD;
                    break;
                }
                return sk_fail("line %zu: not CSV: new-line character seen in unquoted field - do you "
                               "need to open the file with newline=''?", r->line_num);
            }
            if (r->too_large)
                return sk_fail("line %zu: not CSV: field larger than field limit (%d)", r->line_num, FIELD_LIMIT);
            if (end_of_line) break;
        }
    } while (state != START_RECORD);
    out->line = r->line_num;
    out->cells = r->cells;
    out->n = r->n;
    return 1;
}

/* ---- cells ------------------------------------------------------------------------------- */

/* The byte length of the whitespace character at p (what Python's str.strip removes), or 0. */
static size_t space_at(const char *p, const char *end) {
    unsigned char c = (unsigned char)*p;
    if (c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f)) return 1;
    if (c < 0xC2 || end - p < 2) return 0;
    unsigned char d = (unsigned char)p[1];
    if (c == 0xC2 && (d == 0x85 || d == 0xA0)) return 2;
    if (end - p < 3) return 0;
    unsigned char e = (unsigned char)p[2];
    if (c == 0xE1 && d == 0x9A && e == 0x80) return 3;
    if (c == 0xE2 && d == 0x80 && (e <= 0x8A || e == 0xA8 || e == 0xA9 || e == 0xAF)) return 3;
    if (c == 0xE2 && d == 0x81 && e == 0x9F) return 3;
    if (c == 0xE3 && d == 0x80 && e == 0x80) return 3;
    return 0;
}

static char *strip(char *s) {
    char *end = s + strlen(s);
    size_t k;
    while (s < end && (k = space_at(s, end))) s += k;
    char *last = s; /* the end of the last character that is not a space */
    for (char *c = s; c < end;) {
        if ((k = space_at(c, end))) {
            c += k;
        } else {
            c += char_len(c);
            last = c;
        }
    }
    *last = 0;
    return s;
}

static bool digits(const char *s) {
    if (!*s) return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

/* An integer within int64 of [-+]?digits (strict: no sign but '-', no leading zero). */
static bool to_int(const char *s, bool strict, int64_t *out) {
    const char *d = s;
    bool neg = false;
    if (*d == '-' || (!strict && *d == '+')) neg = *d++ == '-';
    if (!digits(d) || (strict && d[0] == '0' && d[1])) return false;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (; *d; d++) {
        unsigned x = (unsigned)(*d - '0');
        if (v > (limit - x) / 10) return false;
        v = v * 10 + x;
    }
    *out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return true;
}

/* A finite number: strict is JSON's syntax; loose also takes a '+', leading zeros, `.5`, `5.`. */
static bool to_float(const char *s, bool strict, double *out) {
    const char *p = s;
    if (*p == '-' || (!strict && *p == '+')) p++;
    size_t whole = strspn(p, "0123456789");
    if (strict && (whole == 0 || (p[0] == '0' && whole > 1))) return false;
    p += whole;
    size_t frac = 0;
    if (*p == '.') {
        p++;
        frac = strspn(p, "0123456789");
        if (strict && frac == 0) return false;
        p += frac;
    }
    if (whole + frac == 0) return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        size_t e = strspn(p, "0123456789");
        if (!e) return false;
        p += e;
    }
    if (*p) return false;
    double v = strtod(s, NULL);
    if (!isfinite(v)) return false;
    *out = v;
    return true;
}

static int to_bool(const char *s) {
    if (!strcasecmp(s, "true")) return 1;
    if (!strcasecmp(s, "false")) return 0;
    return -1;
}

/* ns of a decimal number of seconds (`digits` 9), ms (6), us (3) or ns (0). */
static bool decimal_ns(const char *s, int places, int64_t *out) {
    bool neg = *s == '-';
    const char *w = s + neg;
    size_t whole = strspn(w, "0123456789");
    if (!whole) return false;
    const char *f = w + whole;
    size_t frac = 0;
    if (*f == '.') {
        frac = strspn(f + 1, "0123456789");
        if (!frac || f[1 + frac]) return false;
    } else if (*f) {
        return false;
    }
    unsigned __int128 v = 0, cap = (unsigned __int128)INT64_MAX + 1;
    for (size_t i = 0; i < whole; i++) {
        v = v * 10 + (unsigned)(w[i] - '0');
        if (v > cap) return false;
    }
    for (int i = 0; i < places; i++) {
        v = v * 10 + ((size_t)i < frac ? (unsigned)(f[1 + i] - '0') : 0);
        if (v > cap) return false;
    }
    if (!neg && v > (unsigned __int128)INT64_MAX) return false;
    *out = neg ? (v == cap ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return true;
}

static bool parse_time(const char *s, int64_t *ns) {
    if (!strncmp(time_format, "unix", 4)) {
        int places = !strcmp(time_format, "unix") ? 9 : !strcmp(time_format, "unix_ms") ? 6
                   : !strcmp(time_format, "unix_us") ? 3 : 0;
        return decimal_ns(s, places, ns);
    }
    if (sk_rfc3339_ns(s, strlen(s), ns)) return true;
    return !strcmp(time_format, "auto") && decimal_ns(s, 9, ns);
}

/* The inferred kind of a column from its non-empty cells (int when there are none). */
static const char *infer(row *rows, size_t n_rows, size_t col) {
    bool is_int = true, is_float = true, is_bool = true;
    for (size_t r = 0; r < n_rows; r++) {
        const char *c = rows[r].cells[col];
        if (!*c) continue;
        int64_t i;
        double f;
        is_int = is_int && to_int(c, true, &i);
        is_float = is_float && to_float(c, true, &f);
        is_bool = is_bool && to_bool(c) >= 0;
    }
    return is_int ? "int" : is_float ? "float" : is_bool ? "bool" : "text";
}

static bool in(const sk_strs *list, const char *s) {
    for (size_t i = 0; i < list->len; i++)
        if (!strcmp(list->items[i], s)) return true;
    return false;
}

int sk_handle(sk_str content_type, sk_bytes body) {
    /* the media type: before any ';', stripped, lower case */
    char *media = sk_strndup(content_type.ptr, content_type.len);
    char *semi = strchr(media, ';');
    if (semi) *semi = 0;
    media = strip(media);
    for (char *c = media; *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c + 32);
    static const char *const media_types[] = {"", "text/csv", "application/csv", "text/plain",
        "text/tab-separated-values", "application/octet-stream", "application/x-www-form-urlencoded", NULL};
    if (!one_of(media, media_types))
        return sk_fail("content type %s is not CSV (send text/csv)", repr(content_type.ptr, content_type.len));
    const char *text = (const char *)body.ptr;
    size_t len = body.len, valid = sk_utf8_valid(text, len);
    if (valid != len) return sk_fail("the body is not UTF-8 (byte %zu)", valid);
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) text += 3, len -= 3;
    reader rd;
    memset(&rd, 0, sizeof rd);
    rd.p = text;
    rd.end = text + len;
    rd.delim = !strcmp(media, "text/tab-separated-values") ? "\t" : delimiter;
    rd.delim_len = strlen(rd.delim);
    row *rows = NULL, header = {0, NULL, 0};
    bool have_header = false;
    size_t n_rows = 0, cap = 0;
    row r;
    int got;
    while ((got = next_row(&rd, &r)) == 1) {
        if (r.n == 0 || (r.n == 1 && !*strip(r.cells[0]))) continue; /* a blank line */
        for (size_t i = 0; i < r.n; i++) r.cells[i] = strip(r.cells[i]);
        if (!have_header) {
            header = r;
            have_header = true;
            continue;
        }
        if ((int64_t)n_rows == max_rows) return sk_fail("more than max_rows = %lld rows", (long long)max_rows);
        if (n_rows == cap) {
            cap = cap ? cap * 2 : 64;
            row *grown = sk_alloc(cap * sizeof(row));
            if (n_rows) memcpy(grown, rows, n_rows * sizeof(row));
            rows = grown;
        }
        rows[n_rows++] = r;
    }
    if (got < 0) return SK_ERR;
    if (!have_header) return sk_fail("the body has no header row");

    size_t width = header.n;
    for (size_t i = 0; i < width; i++) {
        if (!*header.cells[i]) return sk_fail("header: column %zu has no name", i + 1);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(header.cells[j], header.cells[i]))
                return sk_fail("header: column %s appears twice", reprs(header.cells[i]));
    }
    long m_at = -1, t_at = -1;
    for (size_t i = 0; i < width; i++) {
        if (m_at < 0 && !strcmp(header.cells[i], measurement_column)) m_at = (long)i;
        if (t_at < 0 && !strcmp(header.cells[i], time_column)) t_at = (long)i;
    }
    for (size_t n = 0; n < n_rows; n++)
        if (rows[n].n != width)
            return sk_fail("row %zu (line %zu): %zu cells, the header has %zu columns", n + 1, rows[n].line,
                           rows[n].n, width);
    const char **kinds = sk_alloc((width + 1) * sizeof(char *));
    bool *is_tag = sk_alloc(width + 1); /* per column, not per cell */
    for (size_t i = 0; i < width; i++) {
        const sk_json *pinned = sk_json_get(column_types, header.cells[i]);
        kinds[i] = pinned ? pinned->str : infer(rows, n_rows, i);
        is_tag[i] = in(&tag_columns, header.cells[i]);
    }
    sk_point **points = sk_alloc((n_rows + 1) * sizeof(sk_point *));
    for (size_t n = 0; n < n_rows; n++) {
        char **cells = rows[n].cells;
        size_t line = rows[n].line;
        sk_point *p = sk_point_new(m_at >= 0 && *cells[m_at] ? cells[m_at] : measurement);
        for (size_t i = 0; i < width; i++)
            if (is_tag[i] && *cells[i]) sk_tag(p, header.cells[i], cells[i]);
        size_t fields = 0;
        for (size_t i = 0; i < width; i++) {
            const char *col = header.cells[i], *cell = cells[i], *kind = kinds[i];
            if ((long)i == m_at || (long)i == t_at || is_tag[i] || !*cell) continue;
            int64_t x;
            double f;
            int b;
            bool ok = true;
            if (!strcmp(kind, "text")) sk_text(p, col, cell);
            else if (!strcmp(kind, "int")) ok = to_int(cell, false, &x) && sk_int(p, col, x);
            else if (!strcmp(kind, "float")) ok = to_float(cell, false, &f) && sk_float(p, col, f);
            else ok = (b = to_bool(cell)) >= 0 && sk_bool(p, col, b);
            if (!ok)
                return sk_fail("row %zu (line %zu), column %s: %s is not %s %s", n + 1, line, reprs(col), reprs(cell),
                               !strcmp(kind, "int") ? "an" : "a", kind);
            fields++;
        }
        if (!fields) return sk_fail("row %zu (line %zu): no field (every field cell is empty)", n + 1, line);
        if (t_at >= 0 && *cells[t_at]) {
            int64_t ns;
            if (!parse_time(cells[t_at], &ns))
                return sk_fail("row %zu (line %zu), column %s: %s is not a time (%s)", n + 1, line,
                               reprs(header.cells[t_at]), reprs(cells[t_at]), time_format);
            sk_time_ns(p, ns);
        }
        points[n] = p;
    }
    /* Every row made its point: now they go (an error above sent none). */
    for (size_t n = 0; n < n_rows; n++) sk_emit(points[n]);
    return SK_OK;
}

/*
 * edgedrill's runtime-log block scanner: the exact lines Lambda and the router
 * write, read into columns in one pass, without the Python C API (results/logs.py
 * loads it with ctypes, which releases the GIL, so blocks scan on several
 * threads at once).
 *
 * It accepts a strict subset of what results/logs.py's patterns accept
 * (_LINE_REPORT, _LINE_ROUTE, the START/END markers): printable ASCII where a
 * value is free text, numbers with at most 15 significant digits and no
 * exponent, a timestamp that is a real UTC second. Every other line, however
 * ordinary, is handed back by number and byte range for the line-by-line
 * reader, which knows every layout and names what is wrong. So a line read
 * here gives the same values the reference parser gives, or is not read here.
 *
 * Numbers: with at most 15 significant digits and at most 22 after the point,
 * mantissa / 10^k is one correctly rounded division of two exact doubles, the
 * same double Python's float() gives (Clinger's fast path); no strtod, so no
 * locale.
 */
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#define EDGEDRILL_LOGSCAN_ABI 1
#define LABELS 64              /* distinct regions, (state, reason) pairs per block */
#define MAX_MANTISSA 1000000000000000ULL /* 10^15: 15 significant digits */
#define MAX_FRACTION 22
#define MAX_WHOLE_DIGITS 18

typedef struct {
    /* Inputs: column buffers, each with room for one row per line of the block. */
    double *report_end, *duration, *init;
    int64_t *billed, *memory, *max_memory;
    double *route_time, *dns_ms, *handler_ms;
    int64_t *queries;
    int32_t *state, *region;
    int64_t *rest_line, *rest_start, *rest_end;
    /* Outputs. */
    int64_t lines, reports, routes, starts, ends, rests;
    int64_t region_count;
    int64_t region_start[LABELS], region_length[LABELS], region_line[LABELS];
    int64_t reason_count;
    int64_t reason_state[LABELS], reason_start[LABELS], reason_length[LABELS], reason_n[LABELS];
    double max_stale;
} scan_block;

typedef struct {
    const char *p;   /* next byte */
    const char *end; /* the line's end (its newline, or the block's end) */
} cursor;

static const double POWERS[MAX_FRACTION + 1] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static const char *const STATES[] = {"hit", "miss", "stale", "negative", "fallback"};

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* The literal ``text`` (``length`` bytes) comes next: step over it. */
static int literal(cursor *c, const char *text, size_t length) {
    if ((size_t)(c->end - c->p) < length || memcmp(c->p, text, length) != 0) {
        return 0;
    }
    c->p += length;
    return 1;
}

#define LITERAL(c, text) literal((c), (text), sizeof(text) - 1)

/* A decimal ``\d+(\.\d+)?`` (``strict``: no leading zero but ``0`` itself). */
static int decimal(cursor *c, int strict, double *out) {
    const char *p = c->p;
    uint64_t mantissa = 0;
    int fraction = 0;
    if (p == c->end || !is_digit(*p)) {
        return 0;
    }
    if (strict && *p == '0' && p + 1 < c->end && is_digit(p[1])) {
        return 0;
    }
    for (; p < c->end && is_digit(*p); p++) {
        mantissa = mantissa * 10 + (uint64_t)(*p - '0');
        if (mantissa >= MAX_MANTISSA) {
            return 0;
        }
    }
    if (p < c->end && *p == '.') {
        p++;
        if (p == c->end || !is_digit(*p)) {
            return 0;
        }
        for (; p < c->end && is_digit(*p); p++) {
            mantissa = mantissa * 10 + (uint64_t)(*p - '0');
            if (mantissa >= MAX_MANTISSA || ++fraction > MAX_FRACTION) {
                return 0;
            }
        }
    }
    *out = (double)mantissa / POWERS[fraction];
    c->p = p;
    return 1;
}

/* A whole number ``\d+`` (``strict``: ``0|[1-9]\d*``) of at most 18 digits. */
static int whole(cursor *c, int strict, int64_t *out) {
    const char *p = c->p;
    int64_t value = 0;
    int digits = 0;
    if (strict && p < c->end && *p == '0' && p + 1 < c->end && is_digit(p[1])) {
        return 0;
    }
    for (; p < c->end && is_digit(*p); p++) {
        if (++digits > MAX_WHOLE_DIGITS) {
            return 0;
        }
        value = value * 10 + (*p - '0');
    }
    if (digits == 0) {
        return 0;
    }
    *out = value;
    c->p = p;
    return 1;
}

/* JSON string content up to its closing quote: printable ASCII, no quote or backslash. */
static int text(cursor *c, const char **start, int64_t *length) {
    const char *p = c->p;
    while (p < c->end && *p != '"') {
        unsigned char b = (unsigned char)*p;
        if (b < 0x20 || b > 0x7e || b == '\\') {
            return 0;
        }
        p++;
    }
    if (p == c->end) {
        return 0;
    }
    *start = c->p;
    *length = p - c->p;
    c->p = p + 1; /* past the closing quote */
    return 1;
}

static int two(const char *p) { return (p[0] - '0') * 10 + (p[1] - '0'); }

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    /* Howard Hinnant's days_from_civil: days since 1970-01-01 (proleptic Gregorian). */
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* ``YYYY-MM-DDTHH:MM:SS.mmmZ\t``: a real second (years 1-9999), as epoch seconds. */
static int stamp(cursor *c, double *out) {
    static const char layout[] = "dddd-dd-ddTdd:dd:dd.dddZ\t";
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = c->p;
    if (c->end - p < (ptrdiff_t)(sizeof(layout) - 1)) {
        return 0;
    }
    for (size_t i = 0; i < sizeof(layout) - 1; i++) {
        if (layout[i] == 'd' ? !is_digit(p[i]) : p[i] != layout[i]) {
            return 0;
        }
    }
    const int year = two(p) * 100 + two(p + 2);
    const int month = two(p + 5), day = two(p + 8);
    const int hour = two(p + 11), minute = two(p + 14), second = two(p + 17);
    const int ms = (p[20] - '0') * 100 + two(p + 21);
    if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 ||
        second > 59) {
        return 0;
    }
    const int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > month_days[month - 1] + (month == 2 && leap)) {
        return 0;
    }
    const int64_t seconds =
        days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
    /* As results/logs.py adds them: the second, then the milliseconds over 1,000. */
    *out = (double)seconds + (double)ms / 1000.0;
    c->p = p + sizeof(layout) - 1;
    return 1;
}

/* ``START RequestId: `` or ``END RequestId: `` then a printable character. */
static int marker(cursor *c, const char *word, size_t length) {
    if (!literal(c, word, length) || c->p == c->end) {
        return 0;
    }
    return (unsigned char)*c->p > 0x20 && (unsigned char)*c->p < 0x7f;
}

static int report(cursor *c, scan_block *s, double when) {
    double duration, init = NAN;
    int64_t billed, memory, max_memory;
    if (!LITERAL(c, "REPORT RequestId: ")) {
        return 0;
    }
    const char *id = c->p;
    while (c->p < c->end && (unsigned char)*c->p > 0x20 && (unsigned char)*c->p < 0x7f) {
        c->p++;
    }
    if (c->p == id || !LITERAL(c, "\tDuration: ") || !decimal(c, 0, &duration) ||
        !LITERAL(c, " ms\tBilled Duration: ") || !whole(c, 0, &billed) ||
        !LITERAL(c, " ms\tMemory Size: ") || !whole(c, 0, &memory) ||
        !LITERAL(c, " MB\tMax Memory Used: ") || !whole(c, 0, &max_memory) ||
        !LITERAL(c, " MB")) {
        return 0;
    }
    if (LITERAL(c, "\tInit Duration: ") && (!decimal(c, 0, &init) || !LITERAL(c, " ms"))) {
        return 0;
    }
    if (c->p < c->end && *c->p == '\t') {
        c->p++;
    }
    if (c->p != c->end) {
        return 0;
    }
    const int64_t row = s->reports++;
    s->report_end[row] = when;
    s->duration[row] = duration;
    s->billed[row] = billed;
    s->memory[row] = memory;
    s->max_memory[row] = max_memory;
    s->init[row] = init;
    return 1;
}

/* The index of ``start[0:length]`` among a block's labels, added if new (-1: table full). */
static int64_t label(const char *block, const char *start, int64_t length, int64_t *count,
                     int64_t *starts, int64_t *lengths) {
    for (int64_t i = 0; i < *count; i++) {
        if (lengths[i] == length && memcmp(block + starts[i], start, (size_t)length) == 0) {
            return i;
        }
    }
    if (*count == LABELS) {
        return -1;
    }
    starts[*count] = start - block;
    lengths[*count] = length;
    return (*count)++;
}

static int cache_state(cursor *c) {
    for (int i = 0; i < 5; i++) {
        const size_t length = strlen(STATES[i]);
        if ((size_t)(c->end - c->p) > length && memcmp(c->p, STATES[i], length) == 0 &&
            c->p[length] == '"') {
            c->p += length + 1;
            return i;
        }
    }
    return -1;
}

static int route(cursor *c, scan_block *s, const char *block, double when, int64_t line) {
    const char *unused, *region, *reason = NULL;
    int64_t unused_length, region_length, reason_length = 0, queries;
    double dns_ms, handler_ms, stale = 0.0;
    if (!LITERAL(c, "{\"_aws\":{\"Timestamp\":")) {
        return 0;
    }
    const char *digits = c->p;
    while (c->p < c->end && is_digit(*c->p)) {
        c->p++; /* \d+, any length: not a value the reader keeps */
    }
    if (c->p == digits ||
        !LITERAL(c, ",\"CloudWatchMetrics\":[{\"Namespace\":\"edgedrill/router\","
                    "\"Dimensions\":[[\"cache_state\"]],\"Metrics\":[{\"Name\":\"handler_ms\","
                    "\"Unit\":\"Milliseconds\"},{\"Name\":\"dns_ms\",\"Unit\":\"Milliseconds\"},"
                    "{\"Name\":\"dns_queries\",\"Unit\":\"Count\"}]}]},"
                    "\"event\":\"route\",\"request_id\":\"") ||
        !text(c, &unused, &unused_length) || !LITERAL(c, ",\"cache_state\":\"")) {
        return 0;
    }
    const int state = cache_state(c);
    if (state < 0 || !LITERAL(c, ",\"origin\":\"") || !text(c, &unused, &unused_length) ||
        !LITERAL(c, ",\"region\":\"") || !text(c, &region, &region_length) ||
        !LITERAL(c, ",\"dns_ms\":") || !decimal(c, 1, &dns_ms) ||
        !LITERAL(c, ",\"handler_ms\":") || !decimal(c, 1, &handler_ms) ||
        !LITERAL(c, ",\"dns_queries\":") || !whole(c, 1, &queries)) {
        return 0;
    }
    /* The keys the router adds when they have a value, in its order. */
    if (LITERAL(c, ",\"cf_request_id\":\"") && !text(c, &unused, &unused_length)) {
        return 0;
    }
    if (LITERAL(c, ",\"reason\":\"") && !text(c, &reason, &reason_length)) {
        return 0;
    }
    if (LITERAL(c, ",\"stale_age_s\":") && !decimal(c, 1, &stale)) {
        return 0;
    }
    if (!LITERAL(c, "}") || c->p != c->end) {
        return 0;
    }
    const int64_t known_regions = s->region_count;
    const int64_t code =
        label(block, region, region_length, &s->region_count, s->region_start, s->region_length);
    if (code < 0) {
        return 0;
    }
    if (reason_length > 0) {
        int64_t i = 0;
        for (; i < s->reason_count; i++) {
            if (s->reason_state[i] == state && s->reason_length[i] == reason_length &&
                memcmp(block + s->reason_start[i], reason, (size_t)reason_length) == 0) {
                break;
            }
        }
        if (i == s->reason_count) {
            if (i == LABELS) {
                s->region_count = known_regions; /* the line goes back whole */
                return 0;
            }
            s->reason_state[i] = state;
            s->reason_start[i] = reason - block;
            s->reason_length[i] = reason_length;
            s->reason_n[i] = 0;
            s->reason_count++;
        }
        s->reason_n[i]++;
    }
    if (s->region_count > known_regions) {
        s->region_line[code] = line;
    }
    if (stale > s->max_stale) {
        s->max_stale = stale;
    }
    const int64_t row = s->routes++;
    s->route_time[row] = when;
    s->state[row] = state;
    s->region[row] = (int32_t)code;
    s->dns_ms[row] = dns_ms;
    s->handler_ms[row] = handler_ms;
    s->queries[row] = queries;
    return 1;
}

static int scan_line(cursor *c, scan_block *s, const char *block, int64_t line) {
    double when;
    if (!stamp(c, &when) || c->p == c->end) {
        return 0;
    }
    switch (*c->p) {
    case 'R':
        return report(c, s, when);
    case '{':
        return route(c, s, block, when, line);
    case 'S':
        if (marker(c, "START RequestId: ", 17)) {
            s->starts++;
            return 1;
        }
        return 0;
    case 'E':
        if (marker(c, "END RequestId: ", 15)) {
            s->ends++;
            return 1;
        }
        return 0;
    default:
        return 0;
    }
}

/* The SHA-256 of this file's text, which the build passes in (hatch_build.py): a
 * library built from an edited source is refused, not trusted. */
#ifndef EDGEDRILL_LOGSCAN_SOURCE
#define EDGEDRILL_LOGSCAN_SOURCE ""
#endif

int edgedrill_logscan_abi(void) { return EDGEDRILL_LOGSCAN_ABI; }

const char *edgedrill_logscan_source(void) { return EDGEDRILL_LOGSCAN_SOURCE; }

size_t edgedrill_logscan_size(void) { return sizeof(scan_block); }

/* The lines in ``length`` bytes: the rows a scan of them may fill. */
int64_t edgedrill_logscan_lines(const char *data, int64_t length) {
    const char *p = data;
    const char *const end = data + length;
    int64_t lines = 0;
    while (p < end) {
        const char *newline = memchr(p, '\n', (size_t)(end - p));
        lines++;
        p = newline != NULL ? newline + 1 : end;
    }
    return lines;
}

/* Scan ``length`` bytes of whole lines; every line is read or handed back in ``rest_*``. */
void edgedrill_logscan(const char *data, int64_t length, scan_block *s) {
    const char *p = data;
    const char *const end = data + length;
    s->lines = s->reports = s->routes = s->starts = s->ends = s->rests = 0;
    s->region_count = s->reason_count = 0;
    s->max_stale = 0.0;
    while (p < end) {
        const char *newline = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = newline != NULL ? newline : end;
        cursor c = {p, line_end};
        const int64_t line = ++s->lines;
        if (!scan_line(&c, s, data, line)) {
            const int64_t row = s->rests++;
            s->rest_line[row] = line;
            s->rest_start[row] = p - data;
            s->rest_end[row] = line_end - data;
        }
        p = newline != NULL ? newline + 1 : end;
    }
}

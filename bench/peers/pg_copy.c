/* pg_copy: COPY … FROM STDIN throughput of libpq, text vs binary format (issue 14).
 *
 *   pg_copy URI TABLE CSV text|binary|raw [--dump-text FILE]
 *
 * Reads CSV (RFC 4180 with a header row, as `harmonize-run run --sink csv` writes it; empty
 * field = NULL) into typed values in memory, by the column types of TABLE read from the server
 * (int2/int4/int8, date, numeric, float8, text/varchar/bpchar). Then, timed: TRUNCATE TABLE and
 * one COPY of every row, encoded in the given format into 4 MiB buffers (as Harmonize's sink
 * does) and sent with PQputCopyData.
 *   text    COPY … FROM STDIN (text format): integers and dates printed, text escaped.
 *   binary  COPY … FROM STDIN (FORMAT binary): big-endian integers, dates as days since
 *           2000-01-01, numeric as base-10000 digit groups from its decimal text.
 *   raw     the text rows encoded once before the clock starts: libpq's transfer alone (the
 *           same bytes the PostgresNIO peer sends).
 * --dump-text FILE writes the text-format rows to FILE (for the PostgresNIO peer) and exits.
 *
 * Prints one JSON line: format, rows, bytes sent, wall seconds, client CPU seconds (getrusage),
 * server CPU seconds (the backend's utime+stime from /proc/PID/stat, when readable).
 *
 * Build: gcc -O2 -o bench/bin/pg_copy bench/peers/pg_copy.c -I$(pg_config --includedir) -lpq
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <libpq-fe.h>

enum kind { K_INT, K_DATE, K_NUMERIC, K_FLOAT, K_TEXT };

typedef struct {
    int null;
    int64_t i;       /* K_INT; K_DATE: days since 2000-01-01 */
    double f;        /* K_FLOAT */
    char *s;         /* K_TEXT, K_NUMERIC (decimal text) */
    int len;
} cell;

static enum kind *kinds;
static int *intlen; /* bytes of a binary integer: 2, 4 or 8 */
static int ncols;
static cell *cells;
static long nrows;

static void die(const char *what, PGconn *c) {
    fprintf(stderr, "pg_copy: %s: %s\n", what, c ? PQerrorMessage(c) : strerror(errno));
    exit(1);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu_self(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

/* utime + stime of a process in seconds, or -1. */
static double cpu_of(int pid) {
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    unsigned long ut, st;
    /* after ") ": state(3) … utime is field 14, stime 15 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return -1;
    return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

/* Days from 2000-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468 - 10957;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d) {
    z += 719468 + 10957;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static void column_kinds(PGconn *c, const char *table) {
    const char *params[1] = {table};
    PGresult *r = PQexecParams(c,
        "SELECT format_type(atttypid, atttypmod), typname FROM pg_attribute JOIN pg_type ON pg_type.oid = atttypid "
        "WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) die("column types", c);
    ncols = PQntuples(r);
    kinds = calloc(ncols, sizeof *kinds);
    intlen = calloc(ncols, sizeof *intlen);
    for (int i = 0; i < ncols; i++) {
        const char *t = PQgetvalue(r, i, 1);
        if (!strcmp(t, "int8")) kinds[i] = K_INT, intlen[i] = 8;
        else if (!strcmp(t, "int4")) kinds[i] = K_INT, intlen[i] = 4;
        else if (!strcmp(t, "int2")) kinds[i] = K_INT, intlen[i] = 2;
        else if (!strcmp(t, "date")) kinds[i] = K_DATE;
        else if (!strcmp(t, "numeric")) kinds[i] = K_NUMERIC;
        else if (!strcmp(t, "float8")) kinds[i] = K_FLOAT;
        else if (!strcmp(t, "text") || !strcmp(t, "varchar") || !strcmp(t, "bpchar")) kinds[i] = K_TEXT;
        else { fprintf(stderr, "pg_copy: column %d: type %s not handled\n", i + 1, t); exit(2); }
    }
    PQclear(r);
}

/* Reads the CSV file into cells (one NUL-terminated string per field while parsing). */
static void load_csv(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) die(path, NULL);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(size + 1);
    if (fread(buf, 1, size, f) != (size_t)size) die(path, NULL);
    fclose(f);
    buf[size] = 0;
    long cap = 1 << 20;
    cells = malloc(cap * ncols * sizeof *cells);
    char *p = buf, *end = buf + size;
    while (p < end && *p != '\n') p++; /* header */
    p++;
    int col = 0;
    while (p < end) {
        if (col == 0 && nrows == cap) {
            cap *= 2;
            cells = realloc(cells, cap * ncols * sizeof *cells);
        }
        char *start = p, *w = p;
        int quoted = 0;
        if (*p == '"') {
            quoted = 1;
            p++;
            start = w = p;
            for (;;) {
                if (*p == '"' && p[1] == '"') { *w++ = '"'; p += 2; }
                else if (*p == '"') { p++; break; }
                else *w++ = *p++;
            }
        } else {
            while (p < end && *p != ',' && *p != '\n' && *p != '\r') p++;
            w = p;
        }
        char sep = p < end ? *p : '\n';
        if (sep == '\r') { p++; sep = '\n'; }
        p++;
        *w = 0;
        cell *c = &cells[nrows * ncols + col];
        memset(c, 0, sizeof *c);
        c->len = (int)(w - start);
        if (c->len == 0 && !quoted) c->null = 1;
        else switch (kinds[col]) {
            case K_INT: c->i = strtoll(start, NULL, 10); break;
            case K_DATE: {
                int y, m, d;
                if (sscanf(start, "%d-%d-%d", &y, &m, &d) != 3) { fprintf(stderr, "pg_copy: row %ld: bad date\n", nrows + 1); exit(1); }
                c->i = days_from_civil(y, m, d);
                break;
            }
            case K_FLOAT: c->f = strtod(start, NULL); break;
            case K_NUMERIC: case K_TEXT: c->s = start; break;
        }
        if (sep == '\n') {
            if (col != ncols - 1) { fprintf(stderr, "pg_copy: row %ld has %d fields, the table %d columns\n", nrows + 1, col + 1, ncols); exit(1); }
            col = 0;
            nrows++;
        } else col++;
    }
}

/* ------------------------------------------------------------------------- encoding */
static char *out;
static size_t used, cap_out = 4 << 20;
static long long sent;
static PGconn *conn;

static void flush_out(void) {
    if (used == 0) return;
    if (PQputCopyData(conn, out, (int)used) != 1) die("PQputCopyData", conn);
    sent += used;
    used = 0;
}

static inline void need(size_t n) {
    if (used + n > cap_out) flush_out();
}

static inline void put(const void *b, size_t n) { memcpy(out + used, b, n); used += n; }

static inline void put_int_text(int64_t v) {
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
    do { tmp[n++] = '0' + u % 10; u /= 10; } while (u);
    if (v < 0) tmp[n++] = '-';
    while (n) out[used++] = tmp[--n];
}

static void encode_text_row(const cell *row) {
    need(4096);
    for (int j = 0; j < ncols; j++) {
        const cell *c = &row[j];
        if (j) out[used++] = '\t';
        if (c->null) { put("\\N", 2); continue; }
        switch (kinds[j]) {
            case K_INT: put_int_text(c->i); break;
            case K_DATE: {
                int y, m, d;
                civil_from_days(c->i, &y, &m, &d);
                out[used++] = '0' + y / 1000; out[used++] = '0' + y / 100 % 10;
                out[used++] = '0' + y / 10 % 10; out[used++] = '0' + y % 10; out[used++] = '-';
                out[used++] = '0' + m / 10; out[used++] = '0' + m % 10; out[used++] = '-';
                out[used++] = '0' + d / 10; out[used++] = '0' + d % 10;
                break;
            }
            case K_FLOAT: used += sprintf(out + used, "%.17g", c->f); break;
            case K_NUMERIC: put(c->s, c->len); break;
            case K_TEXT:
                for (int k = 0; k < c->len; k++) {
                    char ch = c->s[k];
                    if (ch == '\\' || ch == '\t' || ch == '\n' || ch == '\r') {
                        out[used++] = '\\';
                        ch = ch == '\t' ? 't' : ch == '\n' ? 'n' : ch == '\r' ? 'r' : '\\';
                    }
                    out[used++] = ch;
                }
                break;
        }
    }
    out[used++] = '\n';
}

static inline void put16(uint16_t v) { v = htons(v); put(&v, 2); }
static inline void put32(uint32_t v) { v = htonl(v); put(&v, 4); }
static inline void put64(uint64_t v) { put32((uint32_t)(v >> 32)); put32((uint32_t)v); }

/* numeric's binary form from decimal text [-]ddd[.ddd]: ndigits, weight, sign, dscale, base-10000 groups. */
static void put_numeric(const char *s, int len) {
    int neg = 0, i = 0;
    if (i < len && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    int intstart = i;
    while (i < len && s[i] != '.') i++;
    int intdigits = i - intstart;
    const char *frac = i < len ? s + i + 1 : s + len;
    int fracdigits = (int)(s + len - frac);
    /* pad the integer part on the left and the fraction on the right to multiples of 4 */
    int ipad = (4 - intdigits % 4) % 4, fpad = (4 - fracdigits % 4) % 4;
    int ig = (intdigits + ipad) / 4, fg = (fracdigits + fpad) / 4;
    uint16_t groups[64];
    int n = 0;
    for (int g = 0; g < ig; g++) {
        int v = 0;
        for (int k = 0; k < 4; k++) {
            int pos = g * 4 + k - ipad;
            v = v * 10 + (pos >= 0 ? s[intstart + pos] - '0' : 0);
        }
        groups[n++] = (uint16_t)v;
    }
    for (int g = 0; g < fg; g++) {
        int v = 0;
        for (int k = 0; k < 4; k++) {
            int pos = g * 4 + k;
            v = v * 10 + (pos < fracdigits ? frac[pos] - '0' : 0);
        }
        groups[n++] = (uint16_t)v;
    }
    int first = 0, last = n;
    while (first < n && groups[first] == 0) first++;
    while (last > first && groups[last - 1] == 0) last--;
    int weight = ig - 1 - first;
    int nd = last - first;
    if (nd == 0) weight = 0, neg = 0;
    put32(8 + 2 * nd);
    put16(nd);
    put16((uint16_t)(int16_t)weight);
    put16(neg ? 0x4000 : 0);
    put16(fracdigits);
    for (int g = first; g < last; g++) put16(groups[g]);
}

static void encode_binary_row(const cell *row) {
    need(4096);
    put16(ncols);
    for (int j = 0; j < ncols; j++) {
        const cell *c = &row[j];
        if (c->null) { put32(0xFFFFFFFFu); continue; }
        switch (kinds[j]) {
            case K_INT:
                put32(intlen[j]);
                if (intlen[j] == 8) put64((uint64_t)c->i);
                else if (intlen[j] == 4) put32((uint32_t)c->i);
                else put16((uint16_t)c->i);
                break;
            case K_DATE: put32(4); put32((uint32_t)(int32_t)c->i); break;
            case K_FLOAT: { uint64_t u; memcpy(&u, &c->f, 8); put32(8); put64(u); break; }
            case K_NUMERIC: put_numeric(c->s, c->len); break;
            case K_TEXT: put32(c->len); put(c->s, c->len); break;
        }
    }
}

static void exec_ok(const char *sql) {
    PGresult *r = PQexec(conn, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) die(sql, conn);
    PQclear(r);
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: pg_copy URI TABLE CSV text|binary|raw [--dump-text FILE]\n");
        return 2;
    }
    const char *uri = argv[1], *table = argv[2], *csv = argv[3], *fmt = argv[4];
    const char *dump = argc >= 7 && !strcmp(argv[5], "--dump-text") ? argv[6] : NULL;
    int binary = !strcmp(fmt, "binary"), raw = !strcmp(fmt, "raw");
    if (!binary && !raw && strcmp(fmt, "text")) { fprintf(stderr, "pg_copy: format is text, binary or raw\n"); return 2; }
    conn = PQconnectdb(uri);
    if (PQstatus(conn) != CONNECTION_OK) die("connect", conn);
    column_kinds(conn, table);
    load_csv(csv);
    out = malloc(cap_out);
    char *pre = NULL;
    size_t prelen = 0;
    if (raw || dump) { /* all text rows, encoded before the clock starts */
        size_t pcap = 64 << 20;
        pre = malloc(pcap);
        for (long r = 0; r < nrows; r++) {
            used = 0;
            encode_text_row(&cells[r * ncols]);
            if (prelen + used > pcap) { pcap *= 2; pre = realloc(pre, pcap); }
            memcpy(pre + prelen, out, used);
            prelen += used;
        }
        used = 0;
        if (dump) {
            FILE *f = fopen(dump, "wb");
            if (!f || fwrite(pre, 1, prelen, f) != prelen || fclose(f)) die(dump, NULL);
            printf("{\"dumped\": %ld, \"bytes\": %zu}\n", nrows, prelen);
            return 0;
        }
    }
    char sql[512];
    snprintf(sql, sizeof sql, "TRUNCATE %s", table);
    exec_ok(sql);
    int backend = PQbackendPID(conn);
    double s0 = cpu_of(backend), c0 = cpu_self(), t0 = now();
    snprintf(sql, sizeof sql, "COPY %s FROM STDIN%s", table, binary ? " (FORMAT binary)" : "");
    PGresult *r = PQexec(conn, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) die("COPY", conn);
    PQclear(r);
    if (raw) {
        for (size_t off = 0; off < prelen; off += cap_out) {
            size_t n = prelen - off < cap_out ? prelen - off : cap_out;
            if (PQputCopyData(conn, pre + off, (int)n) != 1) die("PQputCopyData", conn);
            sent += n;
        }
    } else if (binary) {
        put("PGCOPY\n\377\r\n\0", 11);
        put32(0);
        put32(0);
        for (long i = 0; i < nrows; i++) encode_binary_row(&cells[i * ncols]);
        need(2);
        put16(0xFFFF);
    } else {
        for (long i = 0; i < nrows; i++) encode_text_row(&cells[i * ncols]);
    }
    flush_out();
    if (PQputCopyEnd(conn, NULL) != 1) die("PQputCopyEnd", conn);
    while ((r = PQgetResult(conn))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) die("COPY result", conn);
        PQclear(r);
    }
    double t1 = now(), c1 = cpu_self(), s1 = cpu_of(backend);
    printf("{\"format\": \"%s\", \"rows\": %ld, \"bytes\": %lld, \"seconds\": %.4f, \"client_cpu\": %.3f, \"server_cpu\": %.3f}\n",
           fmt, nrows, sent, t1 - t0, c1 - c0, s0 >= 0 && s1 >= 0 ? s1 - s0 : -1.0);
    PQfinish(conn);
    return 0;
}

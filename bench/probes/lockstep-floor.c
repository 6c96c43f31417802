// lockstep-floor: the least a lockstep replay can cost on this machine, as a yardstick for
// `shadowdiff replay --concurrency`. Not part of shadowdiff; bench/replay-throughput.sh builds and runs it.
//
// Each of LANES lanes holds one keep-alive connection to each of two HTTP servers, sends the same
// POST to both, and sends the next only when both have answered: the "same instant, identical load"
// rule the replayer keeps, with nothing else. Event loop: one epoll per thread, non-blocking
// sockets, one read and one write per side-request; responses framed by Content-Length only.
// With -s DB it also stores every answer the way the replayer does (one `results` and one
// `result_bodies` row per side, prepared statements, batches of 128 rows per transaction on a
// store thread that holds the loops back once 16 batches wait, as the replayer's recorder does),
// into an existing shadowdiff database whose `exchanges` it cycles through.
//
// Usage: lockstep-floor -a PORT -b PORT -c LANES -d SECONDS -f BODY_FILE [-t THREADS] [-s DB]
// Prints: "<requests answered in SECONDS, both sides> <seconds> <user s> <sys s> <requests answered in all>".
// Any failed connect, write or read ends it with exit code 2 and a message.
#include "probe.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/resource.h>

enum { BATCH = 128 };

typedef struct {
    int64_t pass, exchange, status, first_byte_ns, latency_ns, bytes;
    int side;
    char *headers;
    size_t headers_len;
    char *body;
    size_t body_len;
} Row;

typedef struct Batch {
    Row rows[BATCH];
    int n;
    struct Batch *next;
} Batch;

typedef struct {
    int fd;
    int64_t first_byte_ns;
    Response response;
} Side;

typedef struct {
    Side side[2];
    int64_t seq, sent_ns;
    int pending;
} Lane;

static int port[2], lanes = 32, threads = 1, seconds = 5;
static char *request[2];
static size_t request_len[2];
static int64_t *exchange_ids, exchange_count;
static atomic_llong next_seq, answered;
static atomic_int stop;
static sqlite3 *db;
static int64_t run_id;
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t queue_room = PTHREAD_COND_INITIALIZER;
static Batch *queue_head, *queue_tail;
static int queued, store_done;

static void push_batch(Batch *b) {
    pthread_mutex_lock(&queue_lock);
    while (queued >= 16) pthread_cond_wait(&queue_room, &queue_lock);
    if (queue_tail) queue_tail->next = b; else queue_head = b;
    queue_tail = b;
    queued++;
    pthread_cond_signal(&queue_ready);
    pthread_mutex_unlock(&queue_lock);
}

static void *store_thread(void *arg) {
    (void)arg;
    sqlite3_stmt *meta, *bodies;
    if (sqlite3_prepare_v2(db, "INSERT INTO results (run_id, pass, exchange_id, side, status, first_byte_ns, latency_ns,"
            " service_ns, send_lag_ns, scheduled_ns, response_bytes, error, warmup) VALUES (?,?,?,?,?,?,?,?,0,?,?,NULL,0)",
            -1, &meta, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO result_bodies (run_id, pass, exchange_id, side, headers, body, error_message)"
            " VALUES (?,?,?,?,?,?,NULL)", -1, &bodies, NULL) != SQLITE_OK) {
        fprintf(stderr, "prepare: %s\n", sqlite3_errmsg(db));
        exit(2);
    }
    static const char *names[2] = {"baseline", "candidate"};
    for (;;) {
        pthread_mutex_lock(&queue_lock);
        while (!queue_head && !store_done) pthread_cond_wait(&queue_ready, &queue_lock);
        Batch *b = queue_head;
        queue_head = queue_tail = NULL;
        queued = 0;
        pthread_cond_broadcast(&queue_room);
        pthread_mutex_unlock(&queue_lock);
        if (!b) break;
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        for (; b; ) {
            for (int i = 0; i < b->n; i++) {
                Row *r = &b->rows[i];
                sqlite3_bind_int64(meta, 1, run_id);
                sqlite3_bind_int64(meta, 2, r->pass);
                sqlite3_bind_int64(meta, 3, r->exchange);
                sqlite3_bind_text(meta, 4, names[r->side], -1, SQLITE_STATIC);
                sqlite3_bind_int64(meta, 5, r->status);
                sqlite3_bind_int64(meta, 6, r->first_byte_ns);
                sqlite3_bind_int64(meta, 7, r->latency_ns);
                sqlite3_bind_int64(meta, 8, r->latency_ns);
                sqlite3_bind_int64(meta, 9, 0);
                sqlite3_bind_int64(meta, 10, r->bytes);
                if (sqlite3_step(meta) != SQLITE_DONE) { fprintf(stderr, "insert: %s\n", sqlite3_errmsg(db)); exit(2); }
                sqlite3_reset(meta);
                sqlite3_bind_int64(bodies, 1, run_id);
                sqlite3_bind_int64(bodies, 2, r->pass);
                sqlite3_bind_int64(bodies, 3, r->exchange);
                sqlite3_bind_text(bodies, 4, names[r->side], -1, SQLITE_STATIC);
                sqlite3_bind_text(bodies, 5, r->headers, (int)r->headers_len, free);
                sqlite3_bind_blob(bodies, 6, r->body, (int)r->body_len, free);
                if (sqlite3_step(bodies) != SQLITE_DONE) { fprintf(stderr, "insert: %s\n", sqlite3_errmsg(db)); exit(2); }
                sqlite3_reset(bodies);
            }
            Batch *next = b->next;
            free(b);
            b = next;
        }
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) die("commit");
    }
    sqlite3_finalize(meta);
    sqlite3_finalize(bodies);
    return NULL;
}

static void send_next(Lane *l) {
    l->seq = atomic_fetch_add(&next_seq, 1);
    l->sent_ns = now_ns();
    l->pending = 2;
    int first = (int)(l->seq & 1);  // alternate which side is written first
    for (int k = 0; k < 2; k++) {
        int s = first ^ k;
        Side *x = &l->side[s];
        response_reset(&x->response);
        if (write(x->fd, request[s], request_len[s]) != (ssize_t)request_len[s]) die("write");
    }
}

static void record(Lane *l, int s, Batch **batch) {
    Side *x = &l->side[s];
    Response *got = &x->response;
    Row *r = &(*batch)->rows[(*batch)->n++];
    r->pass = l->seq / exchange_count;
    r->exchange = exchange_ids[l->seq % exchange_count];
    r->side = s;
    r->status = strtol(got->buf + 9, NULL, 10);
    r->first_byte_ns = x->first_byte_ns - l->sent_ns;
    r->latency_ns = now_ns() - l->sent_ns;
    r->bytes = (int64_t)got->total;
    r->headers_len = got->head_len;
    r->headers = malloc(got->head_len);
    memcpy(r->headers, got->buf, got->head_len);
    r->body_len = got->total - got->head_len;
    r->body = malloc(r->body_len + 1);
    memcpy(r->body, got->buf + got->head_len, r->body_len);
    if ((*batch)->n == BATCH) {
        push_batch(*batch);
        *batch = calloc(1, sizeof(Batch));
    }
}

static void *loop_thread(void *arg) {
    int count = (int)(intptr_t)arg;
    int ep = epoll_create1(0);
    Lane *ls = calloc((size_t)count, sizeof(Lane));
    Batch *batch = calloc(1, sizeof(Batch));
    for (int i = 0; i < count; i++)
        for (int s = 0; s < 2; s++) {
            ls[i].side[s].fd = connect_to(port[s]);
            struct epoll_event e = {.events = EPOLLIN, .data.u64 = ((uint64_t)i << 1) | (uint64_t)s};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, ls[i].side[s].fd, &e) < 0) die("epoll_ctl");
        }
    for (int i = 0; i < count; i++) send_next(&ls[i]);
    struct epoll_event ev[256];
    while (!atomic_load(&stop)) {
        int n = epoll_wait(ep, ev, 256, 100);
        for (int k = 0; k < n; k++) {
            Lane *l = &ls[ev[k].data.u64 >> 1];
            int s = (int)(ev[k].data.u64 & 1);
            Side *x = &l->side[s];
            int first = x->response.have == 0;
            if (!read_response(x->fd, &x->response)) continue;
            if (first) x->first_byte_ns = now_ns();
            if (!response_complete(&x->response)) continue;
            if (db) record(l, s, &batch);
            atomic_fetch_add(&answered, 1);
            if (--l->pending == 0) send_next(l);
        }
    }
    if (db && batch->n) push_batch(batch);
    return NULL;
}

int main(int argc, char **argv) {
    const char *body_file = NULL, *db_path = NULL;
    for (int c; (c = getopt(argc, argv, "a:b:c:d:f:t:s:")) != -1;) {
        switch (c) {
        case 'a': port[0] = atoi(optarg); break;
        case 'b': port[1] = atoi(optarg); break;
        case 'c': lanes = atoi(optarg); break;
        case 'd': seconds = atoi(optarg); break;
        case 'f': body_file = optarg; break;
        case 't': threads = atoi(optarg); break;
        case 's': db_path = optarg; break;
        default: return 2;
        }
    }
    if (!port[0] || !port[1] || !body_file || lanes < threads || threads < 1) {
        fprintf(stderr, "usage: lockstep-floor -a PORT -b PORT -c LANES -d SECONDS -f BODY_FILE [-t THREADS] [-s DB]\n");
        return 2;
    }
    for (int s = 0; s < 2; s++) request[s] = make_request(body_file, port[s], &request_len[s]);
    exchange_count = 1;
    pthread_t store;
    if (db_path) {
        if (sqlite3_open(db_path, &db) != SQLITE_OK) die(db_path);
        sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
            "INSERT INTO runs (name, config, started_at, status) VALUES ('floor', '{}', '2026-11-24T00:00:00Z', 'running')",
            NULL, NULL, NULL);
        run_id = sqlite3_last_insert_rowid(db);
        sqlite3_stmt *q;
        sqlite3_prepare_v2(db, "SELECT id FROM exchanges ORDER BY id", -1, &q, NULL);
        exchange_ids = malloc(sizeof(int64_t) * 1000000);
        exchange_count = 0;
        while (sqlite3_step(q) == SQLITE_ROW) exchange_ids[exchange_count++] = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        if (!exchange_count) { fprintf(stderr, "%s: no exchanges\n", db_path); return 2; }
        pthread_create(&store, NULL, store_thread, NULL);
    }
    pthread_t loops[64];
    for (int t = 0; t < threads; t++)
        pthread_create(&loops[t], NULL, loop_thread, (void *)(intptr_t)(lanes / threads + (t < lanes % threads)));
    int64_t start = now_ns();
    sleep((unsigned)seconds);
    long long done = atomic_load(&answered);
    double elapsed = (double)(now_ns() - start) / 1e9;
    atomic_store(&stop, 1);
    for (int t = 0; t < threads; t++) pthread_join(loops[t], NULL);
    if (db) {
        pthread_mutex_lock(&queue_lock);
        store_done = 1;
        pthread_cond_signal(&queue_ready);
        pthread_mutex_unlock(&queue_lock);
        pthread_join(store, NULL);
        sqlite3_close(db);
    }
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    printf("%lld %.3f %.3f %.3f %lld\n", done, elapsed,
        u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6, u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6,
        (long long)atomic_load(&answered));
    return 0;
}

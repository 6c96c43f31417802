// paced-floor: the least latency an open-loop replay can measure on this machine, as a yardstick
// for `shadowdiff replay --rate`. Not part of shadowdiff; bench/replay-latency.sh builds and runs it.
//
// Sends RATE requests per second, each due at start + i / RATE, to two HTTP servers at once (the
// side written first alternates), over CONNS keep-alive connections per side, on one thread: it
// sleeps in epoll_pwait2 until SPIN µs before the next due time, then spins on the clock (polling
// the sockets) up to it. A request waits for a free connection pair if none is idle. Per side it
// measures latency (due time -> last response byte) and service time (write -> last byte);
// responses are framed by Content-Length only. The first WARMUP requests are left out.
//
// Usage: paced-floor -a PORT -b PORT -r RATE -c CONNS -d SECONDS -f BODY_FILE [-s SPIN_US] [-w WARMUP]
//        [-o OFFSET_US]
// Prints per side and measure: "<side> <measure> <n> <p50> <p99> <p99.9> <max>" in µs minus OFFSET_US,
// then "send_lag <p50> <p99>" (µs, as is) and "late <requests sent over one period after their due time>".
#include "probe.h"

#include <sys/epoll.h>

typedef struct {
    int fd;
    Response response;
} Side;

typedef struct {
    Side side[2];
    int64_t due_ns, sent_ns[2];
    int pending, counted;
} Pair;

static int compare(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void report(const char *label, int64_t *v, long n, double offset_us) {
    qsort(v, (size_t)n, sizeof *v, compare);
    if (!n) { printf("%s 0\n", label); return; }
    printf("%s %ld %+.0f %+.0f %+.0f %+.0f\n", label, n, v[n / 2] / 1e3 - offset_us, v[(long)(n * 0.99)] / 1e3 - offset_us,
        v[(long)(n * 0.999)] / 1e3 - offset_us, v[n - 1] / 1e3 - offset_us);
}

int main(int argc, char **argv) {
    int port[2] = {0, 0}, conns = 64, seconds = 5, rate = 2000, spin_us = 100;
    long warmup = 1000;
    double offset_us = 0;
    const char *body_file = NULL;
    for (int c; (c = getopt(argc, argv, "a:b:r:c:d:f:s:w:o:")) != -1;) {
        switch (c) {
        case 'a': port[0] = atoi(optarg); break;
        case 'b': port[1] = atoi(optarg); break;
        case 'r': rate = atoi(optarg); break;
        case 'c': conns = atoi(optarg); break;
        case 'd': seconds = atoi(optarg); break;
        case 'f': body_file = optarg; break;
        case 's': spin_us = atoi(optarg); break;
        case 'w': warmup = atol(optarg); break;
        case 'o': offset_us = atof(optarg); break;
        default: return 2;
        }
    }
    if (!port[0] || !port[1] || !body_file || rate < 1 || conns < 1) {
        fprintf(stderr, "usage: paced-floor -a PORT -b PORT -r RATE -c CONNS -d SECONDS -f BODY_FILE [-s SPIN_US] [-w WARMUP] [-o OFFSET_US]\n");
        return 2;
    }
    char *request[2];
    size_t request_len[2];
    for (int s = 0; s < 2; s++) request[s] = make_request(body_file, port[s], &request_len[s]);

    int ep = epoll_create1(0);
    Pair *pairs = calloc((size_t)conns, sizeof(Pair));
    int *idle = malloc(sizeof(int) * (size_t)conns), idle_count = 0;
    for (int i = 0; i < conns; i++) {
        for (int s = 0; s < 2; s++) {
            pairs[i].side[s].fd = connect_to(port[s]);
            struct epoll_event e = {.events = EPOLLIN, .data.u64 = ((uint64_t)i << 1) | (uint64_t)s};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, pairs[i].side[s].fd, &e) < 0) die("epoll_ctl");
        }
        idle[idle_count++] = i;
    }
    long total = (long)rate * seconds, next = 0, late = 0;
    int64_t *latency[2], *service[2], *lag = malloc(sizeof(int64_t) * (size_t)total);
    long n[2] = {0, 0}, lags = 0;
    for (int s = 0; s < 2; s++) {
        latency[s] = malloc(sizeof(int64_t) * (size_t)total);
        service[s] = malloc(sizeof(int64_t) * (size_t)total);
    }
    int64_t start = now_ns() + 10000000, period = 1000000000 / rate, spin = (int64_t)spin_us * 1000;
    long outstanding = 0;
    struct epoll_event ev[128];
    while (next < total || outstanding > 0) {
        int64_t now = now_ns(), due = start + next * period;
        if (next < total && now >= due && idle_count > 0) {
            Pair *p = &pairs[idle[--idle_count]];
            p->due_ns = due;
            p->pending = 2;
            p->counted = next >= warmup;
            int first = (int)(next & 1);
            for (int k = 0; k < 2; k++) {
                int s = first ^ k;
                Side *x = &p->side[s];
                response_reset(&x->response);
                p->sent_ns[s] = now_ns();
                if (write(x->fd, request[s], request_len[s]) != (ssize_t)request_len[s]) die("write");
            }
            if (p->counted) lag[lags++] = p->sent_ns[first] - due;
            if (now - due > period) late++;
            next++;
            outstanding++;
            continue;
        }
        int64_t wait = next < total && idle_count > 0 ? due - now - spin : 100000000;
        struct timespec t = {0, 0};
        if (wait > 0) t = (struct timespec){wait / 1000000000, wait % 1000000000};
        int got = epoll_pwait2(ep, ev, 128, &t, NULL);
        if (got < 0 && errno != EINTR) die("epoll_pwait2");
        for (int k = 0; k < got; k++) {
            Pair *p = &pairs[ev[k].data.u64 >> 1];
            int s = (int)(ev[k].data.u64 & 1);
            Side *x = &p->side[s];
            if (!read_response(x->fd, &x->response) || !response_complete(&x->response)) continue;
            int64_t done = now_ns();
            if (p->counted) {
                latency[s][n[s]] = done - p->due_ns;
                service[s][n[s]++] = done - p->sent_ns[s];
            }
            if (--p->pending == 0) {
                idle[idle_count++] = (int)(p - pairs);
                outstanding--;
            }
        }
    }
    const char *names[2] = {"baseline", "candidate"};
    char label[64];
    for (int s = 0; s < 2; s++) {
        snprintf(label, sizeof label, "%s latency", names[s]);
        report(label, latency[s], n[s], offset_us);
        snprintf(label, sizeof label, "%s service", names[s]);
        report(label, service[s], n[s], offset_us);
    }
    qsort(lag, (size_t)lags, sizeof *lag, compare);
    if (lags) printf("send_lag %+.0f %+.0f\n", lag[lags / 2] / 1e3, lag[(long)(lags * 0.99)] / 1e3);
    printf("late %ld\n", late);
    return 0;
}

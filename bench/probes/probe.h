// What both floor probes share: the clock, a loopback connection, the POST they send, and the
// framing of a response by Content-Length (nothing else: the targets are nginx and the fixtures).
#ifndef PROBE_H
#define PROBE_H
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { RESPONSE_MAX = 65536 };

/// One response as it arrives; `response_reset` before each request.
typedef struct {
    size_t have, head_len, total;
    char buf[RESPONSE_MAX];
} Response;

static void response_reset(Response *r) { r->have = r->head_len = r->total = 0; }

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

/// A connected, non-blocking TCP_NODELAY socket to 127.0.0.1:port.
static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001)};
    if (fd < 0) die("socket");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
    if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) die("fcntl");
    return fd;
}

/// POST /openrtb2/auction to 127.0.0.1:port with the body of `body_file`, as wrk's
/// bench/lib/openrtb-post.lua sends it. Sets `*len`.
static char *make_request(const char *body_file, int port, size_t *len) {
    FILE *f = fopen(body_file, "rb");
    if (!f) die(body_file);
    static char body[1 << 20];
    size_t body_len = fread(body, 1, sizeof body, f);
    fclose(f);
    char *request = malloc(body_len + 512);
    int head = snprintf(request, 512,
        "POST /openrtb2/auction HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
        "Content-Length: %zu\r\n\r\n", port, body_len);
    memcpy(request + head, body, body_len);
    *len = (size_t)head + body_len;
    return request;
}

/// 1 once the whole response is in `r`; exits 2 on one larger than RESPONSE_MAX.
static int response_complete(Response *r) {
    if (!r->head_len) {
        char *end = memmem(r->buf, r->have, "\r\n\r\n", 4);
        if (!end) return 0;
        r->head_len = (size_t)(end - r->buf) + 4;
        size_t length = 0;
        for (char *p = r->buf; p < end; p++)
            if ((p == r->buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) {
                length = strtoul(p + 15, NULL, 10);
                break;
            }
        r->total = r->head_len + length;
        if (r->total > RESPONSE_MAX) { fprintf(stderr, "response over %d bytes\n", RESPONSE_MAX); exit(2); }
    }
    return r->have >= r->total;
}

/// Reads what arrived on `fd` into `r`: 1 when something did, 0 on EAGAIN; exits 2 on a close or failure.
static int read_response(int fd, Response *r) {
    ssize_t got = read(fd, r->buf + r->have, RESPONSE_MAX - r->have);
    if (got < 0 && errno == EAGAIN) return 0;
    if (got <= 0) { fprintf(stderr, "read: connection closed or failed\n"); exit(2); }
    r->have += (size_t)got;
    return 1;
}

#endif

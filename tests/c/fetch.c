/* A blocking socket client in plain C, for tests/libs.rs: the test compiles
 * it into a shared library at run time and calls it from coroutines, to show
 * that weft intercepts C code's socket calls too. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connects to 127.0.0.1:port, sends one byte, and reads the reply until the
 * peer closes or `len` bytes arrived. Returns the byte count, or -1. */
int weft_c_fetch(int port, char *buf, int len) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) { close(fd); return -1; }
    if (send(fd, "?", 1, 0) != 1) { close(fd); return -1; }
    int got = 0;
    while (got < len) {
        ssize_t n = recv(fd, buf + got, (size_t)(len - got), 0);
        if (n < 0) { close(fd); return -1; }
        if (n == 0) break;
        got += (int)n;
    }
    close(fd);
    return got;
}

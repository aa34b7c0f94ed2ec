// notify-probe SOCKET OUTFILE: stands in for systemd's notification socket.
// Binds a datagram socket at SOCKET (writable by any user, so a service
// started under another account can reach it) and appends every message it
// receives to OUTFILE, one message per line group followed by "--". Runs
// until killed. The package test points NOTIFY_SOCKET at it to see READY=1
// and STOPPING=1 from the installed server.

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: notify-probe SOCKET OUTFILE\n");
        return 2;
    }
    sockaddr_un address = {};
    address.sun_family = AF_UNIX;
    if (std::strlen(argv[1]) >= sizeof(address.sun_path)) {
        std::fprintf(stderr, "notify-probe: socket path too long\n");
        return 2;
    }
    std::strncpy(address.sun_path, argv[1], sizeof(address.sun_path) - 1);
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ::unlink(argv[1]);
    if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr *>(&address), sizeof(address)) != 0) {
        std::fprintf(stderr, "notify-probe: cannot bind %s: %s\n", argv[1], std::strerror(errno));
        return 1;
    }
    ::chmod(argv[1], 0666);
    std::FILE *out = std::fopen(argv[2], "a");
    if (!out) {
        std::fprintf(stderr, "notify-probe: cannot open %s: %s\n", argv[2], std::strerror(errno));
        return 1;
    }
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::recv(fd, buffer, sizeof(buffer) - 1, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        buffer[n] = '\0';
        std::fprintf(out, "%s\n--\n", buffer);
        std::fflush(out);
    }
}

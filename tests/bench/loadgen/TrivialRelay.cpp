#include "TrivialRelay.h"
#include "Wire.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace medrelay::bench {

namespace {
volatile std::sig_atomic_t g_stop = 0;
void onSignal(int) { g_stop = 1; }
} // namespace

TrivialRelay::TrivialRelay(std::string host, std::uint16_t port) : m_host(std::move(host)), m_port(port)
{
    m_buf.resize(256 * 1024);
}

int TrivialRelay::run()
{
    std::signal(SIGTERM, onSignal);
    std::signal(SIGINT, onSignal);
    std::signal(SIGPIPE, SIG_IGN);
    m_listen = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(m_listen, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(m_port);
    inet_pton(AF_INET, m_host.c_str(), &addr.sin_addr);
    if (::bind(m_listen, reinterpret_cast<const sockaddr *>(&addr), sizeof addr) < 0 || ::listen(m_listen, 4096) < 0) {
        std::perror("trivial relay: bind/listen");
        return 1;
    }
    socklen_t len = sizeof addr;
    getsockname(m_listen, reinterpret_cast<sockaddr *>(&addr), &len);
    std::printf("trivial relay listening on %s:%u\n", m_host.c_str(), static_cast<unsigned>(ntohs(addr.sin_port)));
    std::fflush(stdout);

    m_epoll = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = m_listen;
    epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_listen, &ev);
    std::vector<epoll_event> events(1024);
    while (!g_stop) {
        const int n = epoll_wait(m_epoll, events.data(), static_cast<int>(events.size()), 200);
        for (int i = 0; i < n; ++i) {
            const auto &e = events[static_cast<std::size_t>(i)];
            if (e.data.fd == m_listen) {
                accept();
                continue;
            }
            if (e.events & EPOLLOUT)
                onWritable(e.data.fd);
            if (e.events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                onReadable(e.data.fd);
        }
        flushDirty();
    }
    for (auto &[fd, c] : m_conns)
        ::close(fd);
    ::close(m_listen);
    ::close(m_epoll);
    return 0;
}

void TrivialRelay::accept()
{
    for (;;) {
        const int fd = ::accept4(m_listen, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        Conn &c = m_conns[fd];
        c.fd = fd;
        c.id = m_nextId++;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &ev);
    }
}

void TrivialRelay::onReadable(int fd)
{
    auto it = m_conns.find(fd);
    if (it == m_conns.end())
        return;
    Conn &c = it->second;
    for (;;) {
        const ssize_t n = ::recv(fd, m_buf.data(), m_buf.size(), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            closeConn(fd);
            return;
        }
        if (n < 0)
            break;
        c.in.append(m_buf.data(), static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(n) < m_buf.size())
            break;
    }
    if (!c.upgraded && !handleHandshake(c)) {
        closeConn(fd);
        return;
    }
    if (c.upgraded && !handleFrames(c))
        closeConn(fd);
}

bool TrivialRelay::handleHandshake(Conn &c)
{
    const std::size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos)
        return c.in.size() < 16384;
    const std::string_view head(c.in.data(), end);
    std::string_view key;
    const std::size_t k = head.find("Sec-WebSocket-Key:");
    if (k != std::string_view::npos) {
        std::size_t s = k + 18;
        while (s < head.size() && head[s] == ' ')
            ++s;
        const std::size_t e = head.find("\r\n", s);
        key = head.substr(s, (e == std::string_view::npos ? head.size() : e) - s);
    }
    if (key.empty())
        return false;
    std::string reply = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Accept: " + websocketAccept(key) + "\r\n\r\n";
    c.in.erase(0, end + 4);
    c.upgraded = true;
    send(c, reply);
    return true;
}

bool TrivialRelay::handleFrames(Conn &c)
{
    std::size_t pos = 0;
    while (pos < c.in.size()) {
        std::size_t used = 0;
        bool malformed = false;
        const auto f = parseFrame(c.in.data() + pos, c.in.size() - pos, used, malformed);
        if (malformed)
            return false;
        if (!f)
            break;
        pos += used;
        if (f->opcode == Opcode::Close)
            return false;
        if (f->opcode == Opcode::Ping) {
            m_frame.clear();
            appendFrame(m_frame, Opcode::Pong, f->payload, false, 0);
            send(c, m_frame);
        } else if (f->opcode == Opcode::Text) {
            onText(c, f->payload);
        }
    }
    c.in.erase(0, pos);
    return true;
}

void TrivialRelay::onText(Conn &c, std::string_view text)
{
    const std::string_view type = jsonStringField(text, "\"type\"");
    if (type == "telemedicine_user_joined") {
        const std::string_view room = jsonStringField(text, "\"roomId\"");
        if (room.empty())
            return;
        c.room.assign(room);
        m_rooms[c.room].push_back(c.fd);
        std::string state = "{\"type\":\"room_state\",\"roomId\":\"" + c.room + "\",\"connectionId\":\"c"
                          + std::to_string(c.id) + "\",\"participants\":[]}";
        m_frame.clear();
        appendFrame(m_frame, Opcode::Text, state, false, 0);
        send(c, m_frame);
    }
    if (c.room.empty())
        return;
    auto it = m_rooms.find(c.room);
    if (it == m_rooms.end())
        return;
    m_frame.clear();
    appendFrame(m_frame, Opcode::Text, text, false, 0);
    const std::string bytes = m_frame; // send() may reuse m_frame
    for (const int fd : it->second) {
        if (fd == c.fd)
            continue;
        auto other = m_conns.find(fd);
        if (other != m_conns.end())
            send(other->second, bytes);
    }
}

void TrivialRelay::send(Conn &c, const std::string &bytes)
{
    c.out += bytes;
    if (!c.dirty && !c.wantWrite) {
        c.dirty = true;
        m_dirty.push_back(c.fd);
    }
}

void TrivialRelay::flushDirty()
{
    for (const int fd : m_dirty) {
        auto it = m_conns.find(fd);
        if (it == m_conns.end())
            continue;
        it->second.dirty = false;
        flush(it->second);
    }
    m_dirty.clear();
}

void TrivialRelay::flush(Conn &c)
{
    while (!c.out.empty()) {
        const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n > 0) {
            c.out.erase(0, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        break;
    }
    const bool want = !c.out.empty();
    if (want != c.wantWrite) {
        c.wantWrite = want;
        epoll_event ev{};
        ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
        ev.data.fd = c.fd;
        epoll_ctl(m_epoll, EPOLL_CTL_MOD, c.fd, &ev);
    }
}

void TrivialRelay::onWritable(int fd)
{
    auto it = m_conns.find(fd);
    if (it != m_conns.end())
        flush(it->second);
}

void TrivialRelay::closeConn(int fd)
{
    auto it = m_conns.find(fd);
    if (it == m_conns.end())
        return;
    if (!it->second.room.empty()) {
        auto r = m_rooms.find(it->second.room);
        if (r != m_rooms.end()) {
            auto &members = r->second;
            members.erase(std::remove(members.begin(), members.end(), fd), members.end());
            if (members.empty())
                m_rooms.erase(r);
        }
    }
    ::close(fd);
    m_conns.erase(it);
}

} // namespace medrelay::bench

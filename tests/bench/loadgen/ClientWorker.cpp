#include "ClientWorker.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace medrelay::bench {

namespace {

enum Kind : int { KindChat = 0, KindWhiteboard = 1, KindOffer = 2, KindAnswer = 3, KindIce = 4 };

constexpr std::string_view kSentKey = "\"sentNs\"";
constexpr std::uint64_t kMsNs = 1'000'000ULL;

std::uint64_t load(const Counter &c) { return c.load(std::memory_order_relaxed); }

} // namespace

ClientWorker::ClientWorker(WorkerConfig config, Control &control, WorkerStats &stats)
    : m_config(std::move(config)), m_control(control), m_stats(stats),
      m_rng(0x1234567ULL + static_cast<std::uint64_t>(m_config.workerIndex) * 7919ULL)
{
    m_clients.resize(static_cast<std::size_t>(m_config.clientCount));
    m_joinedInRoom.assign(static_cast<std::size_t>(m_config.clientCount / m_config.roomSize + 1), 0);
    m_readBuf.resize(256 * 1024);
    m_stats.clients.store(static_cast<std::uint64_t>(m_config.clientCount), std::memory_order_relaxed);
    m_payload.assign(static_cast<std::size_t>(std::max(1, m_config.payloadBytes)), 'x');
    for (std::size_t i = 0; i < m_payload.size(); ++i)
        m_payload[i] = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i % 53];
    // A browser-sized SDP body (~1.5 KB) so offers and answers weigh what they weigh in practice.
    m_sdp = "v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\na=group:BUNDLE 0 1\\r\\n";
    while (m_sdp.size() < 1500)
        m_sdp += "a=rtpmap:111 opus/48000/2\\r\\na=fmtp:111 minptime=10;useinbandfec=1\\r\\n";
    m_request = "GET " + m_config.path + " HTTP/1.1\r\nHost: " + m_config.host + ":" + std::to_string(m_config.port)
              + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\nUser-Agent: medrelay-loadgen\r\n\r\n";
    m_epoll = epoll_create1(EPOLL_CLOEXEC);
    if (m_config.tls) {
        // A benchmark client: no certificate check, record buffers released
        // when idle (like the server), partial writes so a full socket never
        // blocks a whole frame.
        m_tls = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_verify(m_tls, SSL_VERIFY_NONE, nullptr);
        SSL_CTX_set_mode(m_tls, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE
                                    | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
}

ClientWorker::~ClientWorker()
{
    for (auto &c : m_clients) {
        if (c.ssl != nullptr)
            SSL_free(c.ssl);
        if (c.fd >= 0)
            ::close(c.fd);
    }
    if (m_tls != nullptr)
        SSL_CTX_free(m_tls);
    if (m_epoll >= 0)
        ::close(m_epoll);
}

ssize_t ClientWorker::ioSend(Client &c, const char *data, std::size_t len)
{
    if (c.ssl == nullptr)
        return ::send(c.fd, data, len, MSG_NOSIGNAL);
    ERR_clear_error();
    const int n = SSL_write(c.ssl, data, static_cast<int>(std::min<std::size_t>(len, 1u << 30)));
    if (n > 0)
        return n;
    const int e = SSL_get_error(c.ssl, n);
    errno = (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) ? EAGAIN : EPIPE;
    ERR_clear_error();
    return -1;
}

ssize_t ClientWorker::ioRecv(Client &c, char *buffer, std::size_t capacity)
{
    if (c.ssl == nullptr)
        return ::recv(c.fd, buffer, capacity, 0);
    // Whole records while one still fits, so that OpenSSL keeps nothing
    // decrypted that epoll would not announce again.
    std::size_t done = 0;
    while (capacity - done >= 16384) {
        ERR_clear_error();
        const int n = SSL_read(c.ssl, buffer + done, static_cast<int>(std::min<std::size_t>(capacity - done, 1u << 30)));
        if (n > 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        const int e = SSL_get_error(c.ssl, n);
        ERR_clear_error();
        if (done > 0)
            return static_cast<ssize_t>(done);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            errno = EAGAIN;
            return -1;
        }
        if (e == SSL_ERROR_ZERO_RETURN)
            return 0;
        errno = ECONNRESET;
        return -1;
    }
    return static_cast<ssize_t>(done);
}

void ClientWorker::tlsHandshake(int index)
{
    Client &c = m_clients[static_cast<std::size_t>(index)];
    ERR_clear_error();
    const int rc = SSL_do_handshake(c.ssl);
    if (rc == 1) {
        c.state = State::Handshaking;
        c.out = m_request;
        flush(index);
        return;
    }
    const int e = SSL_get_error(c.ssl, rc);
    ERR_clear_error();
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        fail(index, "TLS handshake failed");
        return;
    }
    const bool want = e == SSL_ERROR_WANT_WRITE;
    if (want != c.wantWrite) {
        c.wantWrite = want;
        epoll_event ev{};
        ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
        ev.data.u32 = static_cast<std::uint32_t>(index);
        epoll_ctl(m_epoll, EPOLL_CTL_MOD, c.fd, &ev);
    }
}

int ClientWorker::connectTarget() const
{
    const std::uint64_t total = m_control.connectTarget.load(std::memory_order_acquire);
    if (m_config.totalClients <= 0)
        return 0;
    // Each worker takes its proportional share, rounded up to whole rooms.
    const double share = static_cast<double>(total) * m_config.clientCount / m_config.totalClients;
    int target = static_cast<int>(std::ceil(share / m_config.roomSize - 1e-9)) * m_config.roomSize;
    return std::min(target, m_config.clientCount);
}

void ClientWorker::run()
{
    std::vector<epoll_event> events(1024);
    for (;;) {
        const std::uint32_t seq = m_control.seq.load(std::memory_order_acquire);
        if (seq != m_seenSeq) {
            m_seenSeq = seq;
            enterPhase(static_cast<Phase>(m_control.phase.load(std::memory_order_acquire)));
            if (m_phase == Phase::Close) {
                m_stats.ackSeq.store(seq, std::memory_order_release);
                return;
            }
            m_stats.ackSeq.store(seq, std::memory_order_release);
        }
        const std::uint64_t epoch = m_control.stepMaxEpoch.load(std::memory_order_acquire);
        if (epoch != m_stepMaxEpoch) {
            m_stepMaxEpoch = epoch;
            for (auto &m : m_stats.stepMax)
                m.store(0, std::memory_order_relaxed);
        }
        std::uint64_t now = monotonicNs();
        if (m_connecting)
            startConnects(now);
        if (now - m_lastTimeoutScan > 100 * kMsNs) {
            m_lastTimeoutScan = now;
            checkTimeouts(now);
        }
        if (m_signalling)
            paceSignalling(now);
        if (m_sending)
            paceTraffic(now);

        // Sleep until the next paced send is due, but never long: the control
        // block is polled, not signalled.
        long waitNs = 5 * static_cast<long>(kMsNs);
        if (m_sending && m_rate > 0) {
            const double nextDue = static_cast<double>(m_paceStartNs) + static_cast<double>(m_paced) * 1e9 / m_rate;
            const double delta = nextDue - static_cast<double>(monotonicNs());
            waitNs = static_cast<long>(std::clamp(delta, 50'000.0, 1e6));
        } else if (m_signalling || m_connecting) {
            waitNs = static_cast<long>(kMsNs);
        }
        timespec ts{0, waitNs};
        const int n = epoll_pwait2(m_epoll, events.data(), static_cast<int>(events.size()), &ts, nullptr);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            std::perror("epoll_pwait2");
            return;
        }
        now = monotonicNs();
        for (int i = 0; i < n; ++i)
            onEvent(static_cast<int>(events[static_cast<std::size_t>(i)].data.u32),
                    events[static_cast<std::size_t>(i)].events, now);
    }
}

void ClientWorker::enterPhase(Phase phase)
{
    m_phase = phase;
    m_sending = false;
    m_signalling = false;
    switch (phase) {
    case Phase::Connect:
        m_connecting = true;
        break;
    case Phase::Send:
    case Phase::Signal:
        m_paceStartNs = m_control.phaseStartNs.load(std::memory_order_acquire);
        m_rate = static_cast<double>(m_control.rateMilli.load(std::memory_order_acquire)) / 1000.0;
        m_paced = 0;
        m_sending = m_rate > 0;
        if (phase == Phase::Signal) {
            m_signalling = true;
            m_nextSignalRoom = 0;
        }
        break;
    case Phase::Idle:
    case Phase::Close:
        break;
    }
}

void ClientWorker::startConnects(std::uint64_t now)
{
    const int target = connectTarget();
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(m_config.port);
    inet_pton(AF_INET, m_config.host.c_str(), &addr.sin_addr);
    while (m_nextConnect < target && m_inflight < m_config.inflight) {
        const int index = m_nextConnect++;
        Client &c = m_clients[static_cast<std::size_t>(index)];
        c.startNs = now;
        if (load(m_stats.firstConnectNs) == 0)
            m_stats.firstConnectNs.store(now, std::memory_order_relaxed);
        bump(m_stats.connectStarted);
        c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) {
            fail(index, errno == EMFILE ? "socket: too many open files (ulimit -n)" : "socket() failed");
            continue;
        }
        const int one = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (m_config.sourceAddresses > 0) {
            sockaddr_in from{};
            from.sin_family = AF_INET;
            from.sin_addr.s_addr =
                htonl(0x7F010001u + static_cast<std::uint32_t>((m_config.firstClient + index) % m_config.sourceAddresses));
            if (::bind(c.fd, reinterpret_cast<const sockaddr *>(&from), sizeof from) != 0) {
                fail(index, "bind() to a source address failed");
                continue;
            }
        }
        if (!m_config.ports.empty()) {
            const int global = m_config.firstClient + index;
            const int slot = m_config.splitMembers ? global % m_config.roomSize : global / m_config.roomSize;
            addr.sin_port = htons(m_config.ports[static_cast<std::size_t>(slot) % m_config.ports.size()]);
        }
        const int rc = ::connect(c.fd, reinterpret_cast<const sockaddr *>(&addr), sizeof addr);
        if (rc < 0 && errno != EINPROGRESS) {
            fail(index, "connect() failed");
            continue;
        }
        c.state = State::Connecting;
        c.wantWrite = true;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.u32 = static_cast<std::uint32_t>(index);
        epoll_ctl(m_epoll, EPOLL_CTL_ADD, c.fd, &ev);
        ++m_inflight;
    }
    if (m_nextConnect >= m_config.clientCount)
        m_connecting = false;
}

void ClientWorker::checkTimeouts(std::uint64_t now)
{
    if (m_inflight == 0)
        return;
    const auto limit = static_cast<std::uint64_t>(m_config.connectTimeoutS * 1e9);
    for (int i = 0; i < m_nextConnect; ++i) {
        Client &c = m_clients[static_cast<std::size_t>(i)];
        if ((c.state == State::Connecting || c.state == State::TlsHandshaking || c.state == State::Handshaking
             || c.state == State::Joining)
            && now - c.startNs > limit)
            fail(i, "timed out before joining");
    }
}

void ClientWorker::fail(int index, const char *why)
{
    Client &c = m_clients[static_cast<std::size_t>(index)];
    const State was = c.state;
    if (c.ssl != nullptr) {
        SSL_free(c.ssl);
        c.ssl = nullptr;
    }
    if (c.fd >= 0) {
        ::close(c.fd); // also removes it from the epoll set
        c.fd = -1;
    }
    c.state = State::Closed;
    c.in.clear();
    c.in.shrink_to_fit();
    c.out.clear();
    c.out.shrink_to_fit();
    if (was == State::Joined) {
        bump(m_stats.disconnected);
        --m_joinedInRoom[static_cast<std::size_t>(roomOf(index))];
    } else if (was != State::Closed) {
        bump(m_stats.connectFailed);
        if (was != State::Unused)
            --m_inflight; // it was connecting, upgrading or joining
    }
    noteError(why);
}

void ClientWorker::noteError(std::string_view text, bool reply)
{
    char *dst = reply ? m_stats.firstErrorReply : m_stats.firstError;
    if (dst[0] != '\0')
        return;
    const std::size_t n = std::min(text.size(), sizeof m_stats.firstError - 1);
    std::memcpy(dst, text.data(), n);
    dst[n] = '\0';
}

void ClientWorker::onEvent(int index, std::uint32_t events, std::uint64_t now)
{
    Client &c = m_clients[static_cast<std::size_t>(index)];
    if (c.fd < 0)
        return;
    if (c.state == State::Connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
            fail(index, "connection refused or reset");
            return;
        }
        if (!(events & EPOLLOUT))
            return;
        if (m_tls != nullptr) {
            c.ssl = SSL_new(m_tls);
            SSL_set_fd(c.ssl, c.fd);
            SSL_set_connect_state(c.ssl);
            c.state = State::TlsHandshaking;
            tlsHandshake(index);
            return;
        }
        c.state = State::Handshaking;
        c.out = m_request;
        flush(index);
        return;
    }
    if (c.state == State::TlsHandshaking) {
        tlsHandshake(index);
        return;
    }
    if (events & EPOLLOUT)
        onWritable(index, now);
    if (c.fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        onReadable(index, now);
}

void ClientWorker::onWritable(int index, std::uint64_t)
{
    flush(index);
}

void ClientWorker::flush(int index)
{
    Client &c = m_clients[static_cast<std::size_t>(index)];
    while (!c.out.empty()) {
        const ssize_t n = ioSend(c, c.out.data(), c.out.size());
        if (n > 0) {
            bump(m_stats.bytesSent, static_cast<std::uint64_t>(n));
            c.out.erase(0, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0 && errno == EINTR)
            continue;
        fail(index, "send failed");
        return;
    }
    updateInterest(index);
}

void ClientWorker::updateInterest(int index)
{
    Client &c = m_clients[static_cast<std::size_t>(index)];
    const bool want = !c.out.empty();
    if (want == c.wantWrite || c.fd < 0)
        return;
    c.wantWrite = want;
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    ev.data.u32 = static_cast<std::uint32_t>(index);
    epoll_ctl(m_epoll, EPOLL_CTL_MOD, c.fd, &ev);
}

void ClientWorker::onReadable(int index, std::uint64_t)
{
    for (;;) {
        Client &c = m_clients[static_cast<std::size_t>(index)];
        if (c.fd < 0)
            return;
        const ssize_t n = ioRecv(c, m_readBuf.data(), m_readBuf.size());
        // Every message is stamped when the recv() that returned it does,
        // not once per epoll batch: handling the earlier sockets of a batch
        // takes time that belongs to the later messages' latency.
        const std::uint64_t now = monotonicNs();
        if (n == 0) {
            fail(index, "server closed the connection");
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR)
                continue;
            fail(index, "recv failed");
            return;
        }
        bump(m_stats.bytesReceived, static_cast<std::uint64_t>(n));
        bool open = false;
        if (c.in.empty()) {
            open = consume(index, m_readBuf.data(), static_cast<std::size_t>(n), now);
        } else {
            c.in.append(m_readBuf.data(), static_cast<std::size_t>(n));
            std::string pending;
            pending.swap(c.in);
            open = consume(index, pending.data(), pending.size(), now);
        }
        if (!open || static_cast<std::size_t>(n) < m_readBuf.size())
            return;
    }
}

bool ClientWorker::consume(int index, char *data, std::size_t len, std::uint64_t now)
{
    Client &c = m_clients[static_cast<std::size_t>(index)];
    std::size_t pos = 0;
    if (c.state == State::Handshaking) {
        const std::string_view view(data, len);
        const std::size_t end = view.find("\r\n\r\n");
        if (end == std::string_view::npos) {
            if (len > 16384) {
                fail(index, "oversized upgrade response");
                return false;
            }
            c.in.assign(data, len);
            return true;
        }
        if (view.substr(0, 12) != "HTTP/1.1 101") {
            const std::size_t eol = view.find("\r\n");
            fail(index, std::string(view.substr(0, eol)).c_str());
            return false;
        }
        bump(m_stats.upgraded);
        raiseTo(m_stats.lastUpgradeNs, now);
        m_stats.handshake.record(now - c.startNs);
        pos = end + 4;
        c.state = State::Joining;
        const int gRoom = globalRoomOf(index);
        m_json.clear();
        char buf[320];
        std::snprintf(buf, sizeof buf,
                      "{\"type\":\"telemedicine_user_joined\",\"roomId\":\"%s-%d\",\"appointmentId\":%d,"
                      "\"userId\":%lld,\"userName\":\"user %lld\",\"role\":\"%s\"}",
                      m_config.roomPrefix.c_str(), gRoom, gRoom + 1, userIdOf(index), userIdOf(index),
                      index % m_config.roomSize == 0 ? "doctor" : "patient");
        sendText(index, buf);
        if (c.fd < 0)
            return false;
    }
    while (pos < len) {
        std::size_t used = 0;
        bool malformed = false;
        const auto frame = parseFrame(data + pos, len - pos, used, malformed);
        if (malformed) {
            fail(index, "malformed frame from server");
            return false;
        }
        if (!frame)
            break;
        pos += used;
        switch (frame->opcode) {
        case Opcode::Text:
        case Opcode::Binary:
            if (frame->fin)
                onMessage(index, frame->payload, now);
            else
                c.frag.assign(frame->payload);
            break;
        case Opcode::Continuation:
            c.frag.append(frame->payload);
            if (frame->fin) {
                std::string whole;
                whole.swap(c.frag);
                onMessage(index, whole, now);
            }
            break;
        case Opcode::Ping:
            sendFrame(index, Opcode::Pong, frame->payload);
            break;
        case Opcode::Pong:
            break;
        case Opcode::Close:
            fail(index, "server sent a close frame");
            return false;
        }
        if (c.fd < 0)
            return false;
    }
    if (pos < len)
        c.in.assign(data + pos, len - pos);
    return true;
}

void ClientWorker::onMessage(int index, std::string_view text, std::uint64_t now)
{
    Client &c = m_clients[static_cast<std::size_t>(index)];
    if (const auto sent = jsonNumberField(text, kSentKey)) {
        const auto sentNs = static_cast<std::uint64_t>(*sent);
        const std::uint64_t latency = now > sentNs ? now - sentNs : 0;
        // Match the quoted kind anywhere rather than the first "type" key: a
        // server may order keys alphabetically, which puts the SDP's own
        // "type":"offer" ahead of the envelope's.
        const bool isOffer = text.find("\"telemedicine_offer\"") != std::string_view::npos;
        const bool isAnswer = !isOffer && text.find("\"telemedicine_answer\"") != std::string_view::npos;
        const bool signalling = isOffer || isAnswer
                             || text.find("\"telemedicine_ice_candidate\"") != std::string_view::npos;
        const int cls = static_cast<int>(signalling ? Latency::Signalling : Latency::Traffic);
        m_stats.latency[cls].record(latency);
        raiseTo(m_stats.stepMax[cls], latency);
        bump(m_stats.delivered);
        // Clinic: the patient answers an offer and sends its candidates; the
        // doctor sends its candidates once the answer arrives.
        const int first = index - index % m_config.roomSize;
        const int peer = index == first ? first + 1 : first;
        if (isOffer) {
            sendTimed(index, KindAnswer, peer, monotonicNs(), 1);
            for (int i = 0; i < m_config.iceBurst; ++i)
                sendTimed(index, KindIce, peer, monotonicNs(), 1);
        } else if (isAnswer) {
            for (int i = 0; i < m_config.iceBurst; ++i)
                sendTimed(index, KindIce, peer, monotonicNs(), 1);
        }
        return;
    }
    if (c.state == State::Joining && text.find("\"room_state\"") != std::string_view::npos) {
        c.state = State::Joined;
        --m_inflight;
        ++m_joinedInRoom[static_cast<std::size_t>(roomOf(index))];
        bump(m_stats.joined);
        raiseTo(m_stats.lastJoinNs, now);
        m_stats.join.record(now - c.startNs);
        return;
    }
    if (text.find("\"type\":\"error\"") != std::string_view::npos) {
        bump(m_stats.errorsReceived);
        noteError(text, true);
        return;
    }
    bump(m_stats.otherReceived);
}

void ClientWorker::sendFrame(int index, Opcode opcode, std::string_view payload)
{
    Client &c = m_clients[static_cast<std::size_t>(index)];
    if (c.fd < 0)
        return;
    const auto key = static_cast<std::uint32_t>(m_rng.next());
    if (c.out.empty()) {
        m_frame.clear();
        appendFrame(m_frame, opcode, payload, true, key);
        std::size_t off = 0;
        while (off < m_frame.size()) {
            const ssize_t n = ioSend(c, m_frame.data() + off, m_frame.size() - off);
            if (n > 0) {
                off += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            fail(index, "send failed");
            return;
        }
        bump(m_stats.bytesSent, off);
        if (off < m_frame.size()) {
            c.out.assign(m_frame.data() + off, m_frame.size() - off);
            updateInterest(index);
        }
        return;
    }
    appendFrame(c.out, opcode, payload, true, key);
}

void ClientWorker::sendText(int index, std::string_view text)
{
    sendFrame(index, Opcode::Text, text);
}

void ClientWorker::sendTimed(int index, int kind, int toIndex, std::uint64_t sentNs, int)
{
    Client &c = m_clients[static_cast<std::size_t>(index)];
    if (c.state != State::Joined)
        return;
    if (c.out.size() > m_config.maxPendingBytes) {
        bump(m_stats.sendSkipped);
        return;
    }
    const int gRoom = globalRoomOf(index);
    const int room = roomOf(index);
    const int members = m_joinedInRoom[static_cast<std::size_t>(room)];
    ++m_seq;
    char head[256];
    std::snprintf(head, sizeof head, "{\"type\":\"%s\",\"roomId\":\"%s-%d\",\"appointmentId\":%d,",
                  kind == KindChat         ? "telemedicine_chat_message"
                  : kind == KindWhiteboard ? "whiteboard_update"
                  : kind == KindOffer      ? "telemedicine_offer"
                  : kind == KindAnswer     ? "telemedicine_answer"
                                           : "telemedicine_ice_candidate",
                  m_config.roomPrefix.c_str(), gRoom, gRoom + 1);
    m_json.assign(head);
    char buf[320];
    std::uint64_t expect = 0;
    switch (kind) {
    case KindChat:
        m_json += "\"message\":\"";
        m_json += m_payload;
        std::snprintf(buf, sizeof buf, "\",\"userId\":%lld,\"userName\":\"user %lld\",", userIdOf(index),
                      userIdOf(index));
        m_json += buf;
        expect = members > 0 ? static_cast<std::uint64_t>(members - 1) : 0;
        break;
    case KindWhiteboard: {
        const auto x = static_cast<int>(m_rng.next() % 1000);
        const auto y = static_cast<int>(m_rng.next() % 700);
        std::snprintf(buf, sizeof buf,
                      "\"data\":{\"tool\":\"pen\",\"color\":\"#1f77b4\",\"width\":2,\"points\":[[%d,%d],[%d,%d],"
                      "[%d,%d],[%d,%d],[%d,%d],[%d,%d],[%d,%d],[%d,%d]]},",
                      x, y, x + 1, y + 2, x + 3, y + 3, x + 4, y + 5, x + 6, y + 6, x + 8, y + 7, x + 9, y + 9,
                      x + 11, y + 10);
        m_json += buf;
        expect = members > 0 ? static_cast<std::uint64_t>(members - 1) : 0;
        break;
    }
    case KindOffer:
    case KindAnswer:
        std::snprintf(buf, sizeof buf, "\"to\":%lld,\"%s\":{\"type\":\"%s\",\"sdp\":\"", userIdOf(toIndex),
                      kind == KindOffer ? "offer" : "answer", kind == KindOffer ? "offer" : "answer");
        m_json += buf;
        m_json += m_sdp;
        m_json += "\"},";
        expect = m_clients[static_cast<std::size_t>(toIndex)].state == State::Joined ? 1 : 0;
        break;
    case KindIce:
        std::snprintf(buf, sizeof buf,
                      "\"to\":%lld,\"candidate\":{\"candidate\":\"candidate:842163049 1 udp 1677729535 192.0.2.%d "
                      "%d typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag sC0b network-cost 999\","
                      "\"sdpMid\":\"0\",\"sdpMLineIndex\":0},",
                      userIdOf(toIndex), static_cast<int>(m_seq % 250) + 1, 50000 + static_cast<int>(m_seq % 10000));
        m_json += buf;
        expect = m_clients[static_cast<std::size_t>(toIndex)].state == State::Joined ? 1 : 0;
        break;
    default:
        break;
    }
    std::snprintf(buf, sizeof buf, "\"seq\":%llu,\"sentNs\":%llu}", static_cast<unsigned long long>(m_seq),
                  static_cast<unsigned long long>(sentNs));
    m_json += buf;
    bump(m_stats.sent);
    bump(m_stats.expected, expect);
    sendText(index, m_json);
}

void ClientWorker::paceTraffic(std::uint64_t now)
{
    if (now < m_paceStartNs || m_clients.empty())
        return;
    const double elapsed = static_cast<double>(now - m_paceStartNs) / 1e9;
    // Message k is due at k / rate, so k + 1 messages are due at that instant.
    const auto due = static_cast<std::uint64_t>(elapsed * m_rate) + 1;
    // Each message carries the time it was due, not the time it left: a
    // sender that falls behind must not hide the delay (coordinated omission).
    std::size_t guard = m_clients.size();
    while (m_paced < due) {
        if (guard == 0)
            break; // nobody joined to send from
        const int index = m_nextSender;
        m_nextSender = (m_nextSender + 1) % static_cast<int>(m_clients.size());
        if (m_clients[static_cast<std::size_t>(index)].state != State::Joined) {
            --guard;
            continue;
        }
        guard = m_clients.size();
        const auto dueNs = m_paceStartNs + static_cast<std::uint64_t>(static_cast<double>(m_paced) * 1e9 / m_rate);
        int kind = KindChat;
        if (m_phase == Phase::Signal) {
            m_wbCredit += m_config.whiteboardShare;
            if (m_wbCredit >= 1.0) {
                m_wbCredit -= 1.0;
                kind = KindWhiteboard;
            }
        }
        sendTimed(index, kind, index, dueNs, 0);
        ++m_paced;
    }
}

void ClientWorker::paceSignalling(std::uint64_t now)
{
    const int rooms = m_config.clientCount / m_config.roomSize;
    if (m_config.roomSize < 2 || rooms == 0) {
        m_signalling = false;
        return;
    }
    const std::uint64_t start = m_control.phaseStartNs.load(std::memory_order_relaxed);
    const double spreadNs = m_config.signalSpreadS * 1e9;
    while (m_nextSignalRoom < rooms) {
        const auto dueNs = start + static_cast<std::uint64_t>(spreadNs * m_nextSignalRoom / rooms);
        if (dueNs > now)
            return;
        const int doctor = m_nextSignalRoom * m_config.roomSize;
        sendTimed(doctor, KindOffer, doctor + 1, now, 1);
        ++m_nextSignalRoom;
    }
    m_signalling = false;
}

} // namespace medrelay::bench

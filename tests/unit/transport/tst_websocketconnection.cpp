// WebSocketConnection and EpollPoller over real socket pairs (AF_UNIX and
// loopback TCP), with the poller inside this test's event loop. The test
// plays the client on the other end with raw, non-blocking syscalls.

#include "ClientFrames.h"
#include "HeapUsage.h"
#include "transport/EpollPoller.h"
#include "transport/WebSocketConnection.h"

#include <QElapsedTimer>
#include <QFile>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

#include <memory>
#include <vector>

#include <arpa/inet.h>
#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace Qt::StringLiterals;
using namespace medrelay::transport;
using namespace medrelay::transport::test;

namespace {

// The client end of a pair: raw fd, with everything read kept in `inbox`.
class TestClient final
{
public:
    explicit TestClient(int fd)
        : m_fd(fd)
    {
    }
    ~TestClient() { closeFd(); }
    Q_DISABLE_COPY_MOVE(TestClient)

    void closeFd()
    {
        if (m_fd >= 0)
            ::close(m_fd);
        m_fd = -1;
    }
    [[nodiscard]] int fd() const { return m_fd; }
    [[nodiscard]] bool eof() const { return m_eof; }

    // Reads whatever is available now; returns the frames completed so far.
    QList<ServerFrame> &pump()
    {
        readAvailable();
        m_frames.append(takeServerFrames(m_inbox));
        return m_frames;
    }
    // Takes an HTTP response head (through the empty line) once it is complete.
    bool takeHttpHead(QByteArray &head)
    {
        readAvailable();
        const qsizetype end = m_inbox.indexOf("\r\n\r\n");
        if (end < 0)
            return false;
        head = m_inbox.first(end + 4);
        m_inbox.remove(0, end + 4);
        return true;
    }
    [[nodiscard]] QList<ServerFrame> &frames() { return m_frames; }
    [[nodiscard]] qint64 bytesRead() const { return m_bytes; }

private:
    void readAvailable()
    {
        char buffer[65536];
        while (m_fd >= 0 && !m_eof) {
            const ssize_t n = ::recv(m_fd, buffer, sizeof(buffer), MSG_DONTWAIT);
            if (n > 0) {
                m_bytes += n;
                m_inbox.append(buffer, n);
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                m_eof = true;
            if (n < 0 && errno == EINTR)
                continue;
            break;
        }
    }

public:
    // Writes all of `data`, letting the event loop run while the socket is full.
    bool send(QByteArrayView data)
    {
        QElapsedTimer timer;
        timer.start();
        while (!data.isEmpty() && timer.elapsed() < 5000) {
            const ssize_t n = ::send(m_fd, data.data(), static_cast<size_t>(data.size()), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                data = data.sliced(n);
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
            } else {
                return false;
            }
        }
        return data.isEmpty();
    }

private:
    QByteArray m_inbox;
    QList<ServerFrame> m_frames;
    qint64 m_bytes = 0;
    int m_fd = -1;
    bool m_eof = false;
};

struct Pair
{
    int server = -1;
    int client = -1;
};

Pair unixPair()
{
    int fds[2] = {-1, -1};
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
        qFatal("socketpair failed: %s", strerror(errno));
    return {fds[0], fds[1]};
}

// A connected loopback TCP pair, made without Qt so the server end is a
// plain fd like the one the server hands over.
Pair tcpPair()
{
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr *>(&address), sizeof(address)) != 0
        || ::listen(listener, 4) != 0 || ::getsockname(listener, reinterpret_cast<sockaddr *>(&address), &length) != 0)
        qFatal("listen failed: %s", strerror(errno));
    const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (client < 0 || ::connect(client, reinterpret_cast<sockaddr *>(&address), sizeof(address)) != 0)
        qFatal("connect failed: %s", strerror(errno));
    const int server = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (server < 0)
        qFatal("accept failed: %s", strerror(errno));
    ::close(listener);
    return {server, client};
}

QByteArray textFrame(QByteArrayView text)
{
    return WebSocketCodec::encodeFrame(Opcode::Text, text);
}

// Bytes waiting in a socket's receive buffer.
int unreadBytes(int fd)
{
    int n = -1;
    return ::ioctl(fd, FIONREAD, &n) == 0 ? n : -1;
}

} // namespace

class TestWebSocketConnection final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();
    void textEcho();
    void initialDataComesFirst();
    void binaryAndFragments();
    void pingPong();
    void pongsCoalesceWhileThePeerDoesNotRead();
    void clientInitiatedClose();
    void serverInitiatedClose();
    void closeTimesOutWithoutAnswer();
    void peerVanishes();
    void sendToVanishedPeerReportsLater();
    void protocolErrorSendsCloseCode();
    void oversizedMessageSends1009();
    void slowReaderDoesNotBlockOthers();
    void reentrantCallsFromHandlers();
    void nestedEventLoopInHandler();
    void loopbackTcp();
    void handoverFromQTcpSocket();
    void pollerDropsEventsOfRemovedFds();
    void idleConnectionsHoldNoBuffers();

private:
    std::unique_ptr<EpollPoller> m_poller;
};

void TestWebSocketConnection::init()
{
    m_poller = std::make_unique<EpollPoller>();
    QVERIFY(m_poller->isValid());
}

void TestWebSocketConnection::cleanup()
{
    // Let queued disconnected() calls and deleteLater()s run before the
    // poller goes.
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    QCoreApplication::processEvents();
    QCOMPARE(m_poller->count(), 0);
    m_poller.reset();
}

void TestWebSocketConnection::textEcho()
{
    const Pair pair = unixPair();
    TestClient client(pair.client);
    WebSocketConnection connection(*m_poller, pair.server);
    QVERIFY(connection.isOpen());
    connect(&connection, &WebSocketConnection::textReceived, &connection,
            [&connection](const QByteArray &text) { connection.sendFrame(textFrame("echo:" + text)); });

    QVERIFY(client.send(clientFrame(1, "hello")));
    QTRY_COMPARE(client.pump().size(), 1);
    QCOMPARE(client.frames()[0].opcode, quint8(1));
    QCOMPARE(client.frames()[0].payload, QByteArray("echo:hello"));

    // Several frames in one write come out in order.
    QVERIFY(client.send(clientFrame(1, "a") + clientFrame(1, "b") + clientFrame(1, "c")));
    QTRY_COMPARE(client.pump().size(), 4);
    QCOMPARE(client.frames()[3].payload, QByteArray("echo:c"));
    QCOMPARE(connection.bytesQueued(), 0);
    QCOMPARE(connection.closeCode(), quint16(0));
}

void TestWebSocketConnection::initialDataComesFirst()
{
    const Pair pair = unixPair();
    TestClient client(pair.client);
    // One whole frame and half of the next arrived with the handshake.
    const QByteArray second = clientFrame(1, "second");
    const QByteArray initial = clientFrame(1, "first") + second.first(4);
    // The rest is already in the socket before the connection exists.
    QVERIFY(client.send(second.sliced(4) + clientFrame(1, "third")));

    WebSocketConnection connection(*m_poller, pair.server, initial);
    QList<QByteArray> received;
    connect(&connection, &WebSocketConnection::textReceived, this,
            [&received](const QByteArray &text) { received.append(text); });
    QTRY_COMPARE(received.size(), 3);
    QCOMPARE(received, (QList<QByteArray>{"first", "second", "third"}));
}

void TestWebSocketConnection::binaryAndFragments()
{
    const Pair pair = unixPair();
    TestClient client(pair.client);
    WebSocketConnection connection(*m_poller, pair.server);
    QSignalSpy binary(&connection, &WebSocketConnection::binaryReceived);
    QSignalSpy text(&connection, &WebSocketConnection::textReceived);
    QVERIFY(client.send(clientFrame(2, QByteArray("\x00\x01\x02", 3))));
    QVERIFY(client.send(clientFrame(1, "frag", false)));
    QVERIFY(client.send(clientFrame(9, "mid")));
    QVERIFY(client.send(clientFrame(0, "ment")));
    QTRY_COMPARE(text.size(), 1);
    QCOMPARE(binary.size(), 1);
    QCOMPARE(binary[0][0].toByteArray(), QByteArray("\x00\x01\x02", 3));
    QCOMPARE(text[0][0].toByteArray(), QByteArray("fragment"));
    QTRY_COMPARE(client.pump().size(), 1); // the pong for "mid"
    QCOMPARE(client.frames()[0].opcode, quint8(0xA));
}

void TestWebSocketConnection::pingPong()
{
    const Pair pair = unixPair();
    TestClient client(pair.client);
    WebSocketConnection connection(*m_poller, pair.server);
    QSignalSpy controls(&connection, &WebSocketConnection::controlReceived);

    QVERIFY(client.send(clientFrame(9, "are you there")));
    QTRY_COMPARE(client.pump().size(), 1);
    QCOMPARE(client.frames()[0].opcode, quint8(0xA));
    QCOMPARE(client.frames()[0].payload, QByteArray("are you there"));
    // The owner hears of the ping too (it counts against its rate limit).
    QCOMPARE(controls.size(), 1);
    QCOMPARE(controls[0][0].value<Opcode>(), Opcode::Ping);
    QCOMPARE(controls[0][1].toByteArray(), QByteArray("are you there"));

    connection.ping("hb");
    QTRY_COMPARE(client.pump().size(), 2);
    QCOMPARE(client.frames()[1].opcode, quint8(0x9));
    QCOMPARE(client.frames()[1].payload, QByteArray("hb"));
    QVERIFY(client.send(clientFrame(10, "hb")));
    QTRY_COMPARE(controls.size(), 2);
    QCOMPARE(controls[1][0].value<Opcode>(), Opcode::Pong);
    QCOMPARE(controls[1][1].toByteArray(), QByteArray("hb"));
}

void TestWebSocketConnection::pongsCoalesceWhileThePeerDoesNotRead()
{
    const Pair pair = unixPair();
    TestClient client(pair.client);
    WebSocketConnection connection(*m_poller, pair.server);
    // Fill the kernel's buffers: the client reads nothing yet.
    const QByteArray big = textFrame(QByteArray(60000, 'x'));
    while (connection.bytesQueued() == 0) {
        QVERIFY(connection.sendFrame(big));
        QCoreApplication::processEvents();
    }
    const qint64 backlog = connection.bytesQueued();

    // Thousands of pings: at most one pong waits behind the backlog (two if
    // the queue's head were a half-written pong), whatever their number.
    constexpr int kPings = 5000;
    QByteArray pings;
    for (int i = 0; i < kPings; ++i)
        pings += clientFrame(9, QByteArray::number(i));
    QVERIFY(client.send(pings));
    QTRY_VERIFY(connection.bytesQueued() > backlog);
    QTRY_COMPARE(unreadBytes(pair.server), 0); // every ping read and handled
    QVERIFY2(connection.bytesQueued() <= backlog + 2 * (2 + 4),
             qPrintable(u"%1 queued over a backlog of %2"_s.arg(connection.bytesQueued()).arg(backlog)));

    // Once the client reads, it gets the data and one pong, for the last ping.
    QTRY_VERIFY(client.pump().size() > 0 && connection.bytesQueued() == 0);
    QTRY_VERIFY(!client.pump().isEmpty() && client.frames().constLast().opcode == 0xA);
    int pongs = 0;
    for (const ServerFrame &frame : client.frames()) {
        if (frame.opcode == 0xA) {
            ++pongs;
            QCOMPARE(frame.payload, QByteArray::number(kPings - 1));
        }
    }
    QCOMPARE(pongs, 1);
}

void TestWebSocketConnection::clientInitiatedClose()
{
    const Pair pair = unixPair();
    TestClient client(pair.client);
    WebSocketConnection connection(*m_poller, pair.server);
    QSignalSpy disconnected(&connection, &WebSocketConnection::disconnected);

    QVERIFY(client.send(clientFrame(8, closePayload(1001, "leaving"))));
    QTRY_VERIFY(client.pump().size() == 1 && client.eof());
    QCOMPARE(client.frames()[0].opcode, quint8(0x8));
    QCOMPARE(client.frames()[0].payload.first(2), closePayload(1001)); // code echoed
    QTRY_COMPARE(disconnected.size(), 1);
    QVERIFY(!connection.isOpen());
    QCOMPARE(connection.closeCode(), quint16(1001));
    QCOMPARE(connection.closeReason(), u"leaving"_s);
    QTest::qWait(50);
    QCOMPARE(disconnected.size(), 1);
}

void TestWebSocketConnection::serverInitiatedClose()
{
    const Pair pair = unixPair();
    TestClient client(pair.client);
    WebSocketConnection connection(*m_poller, pair.server);
    QSignalSpy disconnected(&connection, &WebSocketConnection::disconnected);
    QSignalSpy text(&connection, &WebSocketConnection::textReceived);

    connection.close(4000, u"done"_s);
    QCOMPARE(disconnected.size(), 0);
    QVERIFY(!connection.sendFrame(textFrame("after close")));
    QTRY_COMPARE(client.pump().size(), 1);
    QCOMPARE(client.frames()[0].opcode, quint8(0x8));
    QCOMPARE(client.frames()[0].payload, closePayload(4000, "done"));
    QVERIFY(connection.isOpen()); // waiting for the client's answer
    // Data still in flight from the client is not delivered after our close.
    QVERIFY(client.send(clientFrame(1, "late") + clientFrame(8, closePayload(4000))));
    QTRY_COMPARE(disconnected.size(), 1);
    QCOMPARE(text.size(), 0);
    QCOMPARE(connection.closeCode(), quint16(4000));
    QTRY_VERIFY((client.pump(), client.eof()));
}

void TestWebSocketConnection::closeTimesOutWithoutAnswer()
{
    const Pair pair = unixPair();
    TestClient client(pair.client);
    ConnectionLimits limits;
    limits.closeTimeoutMs = 100;
    WebSocketConnection connection(*m_poller, pair.server, {}, limits);
    QSignalSpy disconnected(&connection, &WebSocketConnection::disconnected);
    connection.close(1001, u"shutdown"_s);
    QTRY_COMPARE_WITH_TIMEOUT(disconnected.size(), 1, 2000);
    QCOMPARE(connection.closeCode(), quint16(1001));
    QTRY_VERIFY((client.pump(), client.eof()));
}

void TestWebSocketConnection::peerVanishes()
{
    const Pair pair = unixPair();
    auto client = std::make_unique<TestClient>(pair.client);
    WebSocketConnection connection(*m_poller, pair.server);
    QSignalSpy disconnected(&connection, &WebSocketConnection::disconnected);
    QVERIFY(client->send(clientFrame(1, "partial").first(3)));
    client.reset();
    QTRY_COMPARE(disconnected.size(), 1);
    QCOMPARE(connection.closeCode(), CloseCode::Abnormal);
    QVERIFY(!connection.isOpen());
    QTest::qWait(50);
    QCOMPARE(disconnected.size(), 1);
    // Calls after the end are harmless no-ops.
    QVERIFY(!connection.sendFrame(textFrame("x")));
    connection.ping();
    connection.close();
    connection.abort();
    QTest::qWait(20);
    QCOMPARE(disconnected.size(), 1);
}

void TestWebSocketConnection::sendToVanishedPeerReportsLater()
{
    const Pair pair = unixPair();
    WebSocketConnection connection(*m_poller, pair.server);
    QSignalSpy disconnected(&connection, &WebSocketConnection::disconnected);
    ::close(pair.client);
    // Writes are corked until the end of the dispatch: the frame is accepted,
    // the write fails when it is flushed, and the owner learns it from the loop.
    QVERIFY(connection.sendFrame(textFrame("into the void")));
    QCOMPARE(disconnected.size(), 0);
    QTRY_COMPARE(disconnected.size(), 1);
    QVERIFY(!connection.isOpen());
    QCOMPARE(connection.closeCode(), CloseCode::Abnormal);
}

void TestWebSocketConnection::protocolErrorSendsCloseCode()
{
    const Pair pair = unixPair();
    TestClient client(pair.client);
    WebSocketConnection connection(*m_poller, pair.server);
    QSignalSpy disconnected(&connection, &WebSocketConnection::disconnected);
    QSignalSpy text(&connection, &WebSocketConnection::textReceived);
    FrameSpec unmasked;
    unmasked.masked = false;
    QVERIFY(client.send(clientFrame("not masked", unmasked) + clientFrame(1, "ignored")));
    QTRY_VERIFY((client.pump(), client.eof()));
    QCOMPARE(client.frames().size(), 1);
    QCOMPARE(client.frames()[0].opcode, quint8(0x8));
    QCOMPARE(client.frames()[0].payload, closePayload(CloseCode::ProtocolError));
    QTRY_COMPARE(disconnected.size(), 1);
    QCOMPARE(connection.closeCode(), CloseCode::ProtocolError);
    QCOMPARE(text.size(), 0);
}

void TestWebSocketConnection::oversizedMessageSends1009()
{
    const Pair pair = unixPair();
    TestClient client(pair.client);
    ConnectionLimits limits;
    limits.maxFrameSize = 1000;
    limits.maxMessageSize = 1500;
    WebSocketConnection connection(*m_poller, pair.server, {}, limits);
    QSignalSpy disconnected(&connection, &WebSocketConnection::disconnected);
    QVERIFY(client.send(clientFrame(1, QByteArray(900, 'a'), false) + clientFrame(0, QByteArray(900, 'b'))));
    QTRY_VERIFY((client.pump(), client.eof()));
    QCOMPARE(client.frames()[0].payload, closePayload(CloseCode::TooBig));
    QTRY_COMPARE(disconnected.size(), 1);
    QCOMPARE(connection.closeCode(), CloseCode::TooBig);
}

void TestWebSocketConnection::slowReaderDoesNotBlockOthers()
{
    const Pair slowPair = unixPair();
    const Pair fastPair = unixPair();
    TestClient slowClient(slowPair.client);
    TestClient fastClient(fastPair.client);
    WebSocketConnection slow(*m_poller, slowPair.server);
    WebSocketConnection fast(*m_poller, fastPair.server);
    connect(&fast, &WebSocketConnection::textReceived, &fast,
            [&fast](const QByteArray &text) { fast.sendFrame(textFrame(text)); });

    // One encoded frame shared by every send, as in a fan-out.
    const QByteArray big = WebSocketCodec::encodeFrame(Opcode::Binary, QByteArray(64 * 1024, 'z'));
    const QByteArray original = big;
    int sent = 0;
    while (sent < 1000) {
        QVERIFY(slow.sendFrame(big));
        ++sent;
        if (sent % 8 == 0) {
            // The corked flush hands the kernel what it takes; the rest stays queued.
            QCoreApplication::processEvents();
            if (slow.bytesQueued() >= 4 * big.size())
                break;
        }
    }
    QVERIFY(slow.bytesQueued() >= 4 * big.size());
    const qint64 queued = slow.bytesQueued();
    QVERIFY(slow.sendFrame(big));
    ++sent;
    QCOMPARE(slow.bytesQueued(), queued + big.size());
    QCOMPARE(big, original); // shared, never modified
    qInfo("slow reader: %d frames sent, %lld bytes queued", sent, qlonglong(slow.bytesQueued()));

    // The other client is served meanwhile.
    for (int i = 0; i < 20; ++i)
        QVERIFY(fastClient.send(clientFrame(1, QByteArray::number(i))));
    QTRY_COMPARE(fastClient.pump().size(), 20);
    QCOMPARE(fastClient.frames()[19].payload, QByteArray("19"));
    QVERIFY(slow.bytesQueued() >= queued);

    // Once the slow client reads, everything arrives, in order, intact.
    QTRY_COMPARE_WITH_TIMEOUT(slowClient.pump().size(), sent, 10000);
    QCOMPARE(slow.bytesQueued(), 0);
    for (const ServerFrame &frame : slowClient.frames()) {
        QCOMPARE(frame.opcode, quint8(2));
        QCOMPARE(frame.payload.size(), 64 * 1024);
    }
    QCOMPARE(slowClient.frames().constLast().payload, QByteArray(64 * 1024, 'z'));

    // A slow reader that vanishes with a full queue ends cleanly.
    for (int i = 0; i < 10; ++i)
        slow.sendFrame(big);
    QSignalSpy disconnected(&slow, &WebSocketConnection::disconnected);
    slowClient.closeFd();
    for (int i = 0; i < 10; ++i)
        slow.sendFrame(big);
    QTRY_COMPARE(disconnected.size(), 1);
    QCOMPARE(slow.bytesQueued(), 0);
}

void TestWebSocketConnection::reentrantCallsFromHandlers()
{
    constexpr int kCount = 8;
    std::vector<std::unique_ptr<TestClient>> clients;
    QList<QPointer<WebSocketConnection>> connections;
    int disconnects = 0;
    for (int i = 0; i < kCount; ++i) {
        const Pair pair = unixPair();
        clients.push_back(std::make_unique<TestClient>(pair.client));
        auto *connection = new WebSocketConnection(*m_poller, pair.server);
        connections.append(connection);
        // A text handler that sends, closes, sends again and aborts.
        connect(connection, &WebSocketConnection::textReceived, connection, [connection](const QByteArray &text) {
            connection->sendFrame(textFrame(text));
            connection->close(1000, u"handler"_s);
            connection->sendFrame(textFrame(text));
            connection->ping();
            connection->abort();
            connection->close(1001, {});
        });
        // A disconnect handler that pokes this and every other connection,
        // as an owner broadcasting "user left" would.
        connect(connection, &WebSocketConnection::disconnected, this, [&, connection] {
            ++disconnects;
            connection->sendFrame(textFrame("gone"));
            connection->close();
            connection->abort();
            for (const QPointer<WebSocketConnection> &other : std::as_const(connections)) {
                if (other && other != connection) {
                    other->sendFrame(textFrame("someone left"));
                    other->close(1001, u"room closed"_s);
                }
            }
            connection->deleteLater();
        });
    }
    // The first client triggers the handler; its end closes the others.
    QVERIFY(clients[0]->send(clientFrame(1, "boom") + clientFrame(1, "again")));
    // The rest answer the close from their side.
    QTRY_COMPARE(disconnects, 1);
    for (int i = 1; i < kCount; ++i) {
        QTRY_VERIFY(!clients[i]->pump().isEmpty());
        QCOMPARE(clients[i]->frames().constLast().opcode, quint8(0x8));
        QVERIFY(clients[i]->send(clientFrame(8, closePayload(1001))));
    }
    QTRY_COMPARE(disconnects, kCount);
    QTRY_VERIFY(std::all_of(connections.cbegin(), connections.cend(), [](const auto &c) { return c.isNull(); }));
    QTest::qWait(20);
    QCOMPARE(disconnects, kCount);
}

void TestWebSocketConnection::nestedEventLoopInHandler()
{
    // A slot that spins a nested event loop must not be re-entered, and no
    // other connection may be dispatched into the middle of it (handlers
    // share the poller's read buffer).
    const Pair pairA = unixPair();
    const Pair pairB = unixPair();
    TestClient clientA(pairA.client);
    TestClient clientB(pairB.client);
    WebSocketConnection a(*m_poller, pairA.server);
    WebSocketConnection b(*m_poller, pairB.server);
    bool inHandler = false;
    bool reentered = false;
    QList<QByteArray> received;
    auto handler = [&](const QByteArray &text) {
        if (inHandler)
            reentered = true;
        inHandler = true;
        received.append(text);
        if (text == "a1") {
            QVERIFY(clientB.send(clientFrame(1, "b1")));
            QTest::qWait(50);
        }
        inHandler = false;
    };
    connect(&a, &WebSocketConnection::textReceived, this, handler);
    connect(&b, &WebSocketConnection::textReceived, this, handler);
    QVERIFY(clientA.send(clientFrame(1, "a1") + clientFrame(1, "a2")));
    QTRY_COMPARE(received.size(), 3);
    QVERIFY(!reentered);
    QCOMPARE(received[0], QByteArray("a1"));
    QCOMPARE(received[1], QByteArray("a2"));
    QCOMPARE(received[2], QByteArray("b1"));
    // The poller still works afterwards.
    QVERIFY(clientB.send(clientFrame(1, "b2")));
    QTRY_COMPARE(received.size(), 4);
}

void TestWebSocketConnection::loopbackTcp()
{
    const Pair pair = tcpPair();
    TestClient client(pair.client);
    sockaddr_in local{};
    socklen_t length = sizeof(local);
    QCOMPARE(::getsockname(pair.client, reinterpret_cast<sockaddr *>(&local), &length), 0);

    ConnectionLimits limits;
    limits.maxFrameSize = 1024 * 1024;
    limits.maxMessageSize = 1024 * 1024;
    WebSocketConnection connection(*m_poller, pair.server, {}, limits);
    QCOMPARE(connection.peerAddress(), QHostAddress(QHostAddress::LocalHost));
    QCOMPARE(connection.peerPort(), ntohs(local.sin_port));
    int noDelay = 0;
    socklen_t optionLength = sizeof(noDelay);
    QCOMPARE(::getsockopt(connection.socketDescriptor(), IPPROTO_TCP, TCP_NODELAY, &noDelay, &optionLength), 0);
    QVERIFY(noDelay != 0);
    QVERIFY((::fcntl(connection.socketDescriptor(), F_GETFL) & O_NONBLOCK) != 0);

    connect(&connection, &WebSocketConnection::textReceived, &connection,
            [&connection](const QByteArray &text) { connection.sendFrame(textFrame(text)); });
    const QByteArray large(300 * 1024, 'q');
    QVERIFY(client.send(clientFrame(1, "tcp") + clientFrame(1, large)));
    QTRY_COMPARE(client.pump().size(), 2);
    QCOMPARE(client.frames()[0].payload, QByteArray("tcp"));
    QCOMPARE(client.frames()[1].payload.size(), large.size());

    QSignalSpy disconnected(&connection, &WebSocketConnection::disconnected);
    connection.close(1000, {});
    QTRY_COMPARE(client.pump().size(), 3);
    QVERIFY(client.send(clientFrame(8, closePayload(1000))));
    QTRY_COMPARE(disconnected.size(), 1);
    QCOMPARE(connection.closeCode(), CloseCode::Normal);
}

void TestWebSocketConnection::handoverFromQTcpSocket()
{
    // The way the server hands a plain upgrade over: read the request head
    // with QTcpSocket, dup the fd, take what QTcpSocket already buffered as
    // initialData, abort the QTcpSocket, and send the 101 through the
    // connection. QTcpSocket::abort() only close()s its own descriptor on
    // Unix (no shutdown()), so the duplicate stays connected.
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    QVERIFY(client >= 0);
    TestClient testClient(client);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(server.serverPort());
    QCOMPARE(::connect(client, reinterpret_cast<sockaddr *>(&address), sizeof(address)), 0);
    const QByteArray head = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    // The first frame arrives in the same segment as the head.
    QVERIFY(testClient.send(head + clientFrame(1, "early")));

    QTRY_VERIFY(server.hasPendingConnections());
    QTcpSocket *socket = server.nextPendingConnection();
    QTRY_VERIFY(socket->bytesAvailable() >= head.size());
    QCOMPARE(socket->read(head.size()), head);
    const int fd = ::fcntl(int(socket->socketDescriptor()), F_DUPFD_CLOEXEC, 0);
    QVERIFY(fd >= 0);
    const QByteArray buffered = socket->readAll();
    socket->abort();
    delete socket;

    WebSocketConnection connection(*m_poller, fd, buffered);
    QVERIFY(connection.sendFrame(WebSocketCodec::handshakeResponse("dGhlIHNhbXBsZSBub25jZQ==")));
    connect(&connection, &WebSocketConnection::textReceived, &connection,
            [&connection](const QByteArray &text) { connection.sendFrame(textFrame(text)); });
    QVERIFY(testClient.send(clientFrame(1, "late")));

    QByteArray response;
    // QTRY_VERIFY evaluates once more after success: keep the call idempotent.
    QTRY_VERIFY((testClient.takeHttpHead(response), !response.isEmpty()));
    QVERIFY(response.startsWith("HTTP/1.1 101 Switching Protocols\r\n"));
    QVERIFY(response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    QTRY_COMPARE(testClient.pump().size(), 2);
    QCOMPARE(testClient.frames()[0].payload, QByteArray("early"));
    QCOMPARE(testClient.frames()[1].payload, QByteArray("late"));
    QVERIFY(!testClient.eof());
    QCOMPARE(connection.peerAddress(), QHostAddress(QHostAddress::LocalHost));
    QVERIFY(connection.isOpen());
}

void TestWebSocketConnection::pollerDropsEventsOfRemovedFds()
{
    // Two readable fds in one batch; whichever handler runs first removes
    // the other, whose already fetched event must then be dropped.
    struct Recorder final : EpollPoller::Handler
    {
        Recorder() = default;
        Q_DISABLE_COPY_MOVE(Recorder)
        void epollEvents(quint32) override
        {
            ++calls;
            char byte = 0;
            if (::recv(fd, &byte, 1, MSG_DONTWAIT) != 1)
                ++failedReads;
            if (poller && victim >= 0) {
                poller->remove(victim);
                victim = -1;
            }
        }
        EpollPoller *poller = nullptr;
        int fd = -1;
        int victim = -1;
        int calls = 0;
        int failedReads = 0;
    };
    const Pair a = unixPair();
    const Pair b = unixPair();
    Recorder first;
    Recorder second;
    first.poller = m_poller.get();
    second.poller = m_poller.get();
    first.fd = a.server;
    second.fd = b.server;
    first.victim = b.server;
    second.victim = a.server;
    QVERIFY(m_poller->add(a.server, &first));
    QVERIFY(m_poller->add(b.server, &second));
    QVERIFY(!m_poller->add(a.server, &second)); // already registered
    QCOMPARE(::send(a.client, "x", 1, MSG_NOSIGNAL), 1);
    QCOMPARE(::send(b.client, "x", 1, MSG_NOSIGNAL), 1);
    QTRY_COMPARE(first.calls + second.calls, 1);
    QTest::qWait(20);
    QCOMPARE(first.calls + second.calls, 1);
    QCOMPARE(first.failedReads + second.failedReads, 0);
    QCOMPARE(m_poller->count(), 1);
    QVERIFY(m_poller->remove(first.calls == 1 ? a.server : b.server));
    QVERIFY(!m_poller->remove(a.server));
    QVERIFY(!m_poller->modify(a.server, true));
    for (int fd : {a.server, a.client, b.server, b.client})
        ::close(fd);
}

void TestWebSocketConnection::idleConnectionsHoldNoBuffers()
{
    constexpr int kConnections = 2000;
    std::vector<int> clientFds;
    std::vector<int> serverFds;
    for (int i = 0; i < kConnections; ++i) {
        const Pair pair = unixPair();
        clientFds.push_back(pair.client);
        serverFds.push_back(pair.server);
    }
    QObject owner;
    int texts = 0;
    // Warm up allocator and Qt internals with one connection first.
    {
        const Pair pair = unixPair();
        WebSocketConnection warm(*m_poller, pair.server);
        connect(&warm, &WebSocketConnection::textReceived, &owner, [](const QByteArray &) {});
        ::close(pair.client);
        QTRY_VERIFY(!warm.isOpen());
        QCoreApplication::processEvents();
    }

    std::vector<std::unique_ptr<WebSocketConnection>> connections;
    connections.reserve(kConnections);
    QCoreApplication::processEvents();
    QVERIFY2(heapMeasurable(), "small allocations do not show: run with GLIBC_TUNABLES=glibc.malloc.tcache_count=0");
    const qint64 heapBefore = heapInUse();
    for (int i = 0; i < kConnections; ++i)
        connections.push_back(std::make_unique<WebSocketConnection>(*m_poller, serverFds[size_t(i)]));
    for (const auto &connection : connections) {
        // The four connections an owner makes.
        connect(connection.get(), &WebSocketConnection::textReceived, &owner,
                [&texts](const QByteArray &) { ++texts; });
        connect(connection.get(), &WebSocketConnection::binaryReceived, &owner, [](const QByteArray &) {});
        connect(connection.get(), &WebSocketConnection::controlReceived, &owner, [](Opcode, const QByteArray &) {});
        connect(connection.get(), &WebSocketConnection::disconnected, &owner, [] {});
    }
    QCoreApplication::processEvents();
    const qint64 heapIdle = heapInUse();

    // One message each way per connection, then idle again: the read goes
    // through the poller's shared buffer, the queue gives its storage back.
    const QByteArray hello = clientFrame(1, "hello");
    for (int fd : clientFds)
        QCOMPARE(::send(fd, hello.constData(), size_t(hello.size()), MSG_NOSIGNAL), ssize_t(hello.size()));
    QTRY_COMPARE(texts, kConnections);
    const QByteArray reply = textFrame("welcome");
    for (const auto &connection : connections)
        QVERIFY(connection->sendFrame(reply));
    QCoreApplication::processEvents();
    for (const auto &connection : connections)
        QCOMPARE(connection->bytesQueued(), 0);
    const qint64 heapAfterTraffic = heapInUse();

    const double idlePer = double(heapIdle - heapBefore) / kConnections;
    const double keptPer = double(heapAfterTraffic - heapIdle) / kConnections;
    qInfo("heap per idle connection with 4 signal connections: %.0f bytes; kept after one message each way: %.0f "
          "(sizeof(WebSocketConnection) = %zu)", idlePer, keptPer, sizeof(WebSocketConnection));
    // The object, its QObjectPrivate and the owner's signal connections;
    // nothing else, and nothing kept from traffic (a read buffer of its own
    // would be 64 KiB, a queue's storage at least a few hundred bytes).
    QVERIFY2(idlePer < 1536, qPrintable(u"%1 bytes per idle connection"_s.arg(idlePer)));
    QVERIFY2(keptPer < 32, qPrintable(u"%1 bytes per connection kept after traffic"_s.arg(keptPer)));

    connections.clear();
    QCOMPARE(m_poller->count(), 0);
    for (int fd : clientFds)
        ::close(fd);
}

QTEST_GUILESS_MAIN(TestWebSocketConnection)
#include "tst_websocketconnection.moc"

// WebSocketConnection over TLS (transport::Stream with an OpenSSL session on
// the fd), over real socket pairs, against a client made with OpenSSL
// directly: handshake, frames larger than a record under back-pressure,
// pong coalescing, closing, and what an idle TLS connection keeps.

#include "ClientFrames.h"
#include "HeapUsage.h"
#include "transport/EpollPoller.h"
#include "transport/Stream.h"
#include "transport/TlsContext.h"
#include "transport/WebSocketConnection.h"

#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <memory>
#include <vector>

#include <cerrno>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

using namespace Qt::StringLiterals;
using namespace medrelay::transport;
using namespace medrelay::transport::test;

namespace {

// The client end: a non-blocking OpenSSL session on the other fd, with
// everything decrypted kept in `inbox`.
class TlsClient final
{
public:
    TlsClient(SSL_CTX *ctx, int fd)
        : m_fd(fd)
        , m_ssl(SSL_new(ctx))
    {
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        SSL_set_fd(m_ssl, fd);
        SSL_set_connect_state(m_ssl);
    }
    ~TlsClient()
    {
        SSL_free(m_ssl);
        if (m_fd >= 0)
            ::close(m_fd);
    }
    Q_DISABLE_COPY_MOVE(TlsClient)

    // One step of the handshake; true once done.
    bool handshakeStep()
    {
        ERR_clear_error();
        return SSL_do_handshake(m_ssl) == 1;
    }
    // Writes all of `data`, letting the event loop run while OpenSSL waits.
    bool send(QByteArrayView data)
    {
        QElapsedTimer t;
        t.start();
        while (!data.isEmpty() && t.elapsed() < 10000) {
            ERR_clear_error();
            const int n = SSL_write(m_ssl, data.data(), static_cast<int>(data.size()));
            if (n > 0) {
                data = data.sliced(n);
                continue;
            }
            const int e = SSL_get_error(m_ssl, n);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                return false;
            QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
        }
        return data.isEmpty();
    }
    // Reads what is there now; returns the frames completed so far.
    QList<ServerFrame> &pump()
    {
        char buffer[16384];
        while (!m_closed) {
            ERR_clear_error();
            const int n = SSL_read(m_ssl, buffer, sizeof(buffer));
            if (n > 0) {
                m_inbox.append(buffer, n);
                continue;
            }
            const int e = SSL_get_error(m_ssl, n);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                m_closed = true;
            break;
        }
        m_frames.append(takeServerFrames(m_inbox));
        return m_frames;
    }
    [[nodiscard]] bool closed() const { return m_closed; }
    [[nodiscard]] bool receivedCloseNotify() const { return (SSL_get_shutdown(m_ssl) & SSL_RECEIVED_SHUTDOWN) != 0; }
    [[nodiscard]] QList<ServerFrame> &frames() { return m_frames; }
    // Drops what was received, storage included.
    void forget()
    {
        m_frames = QList<ServerFrame>();
        m_inbox = QByteArray();
    }

private:
    int m_fd = -1;
    SSL *m_ssl = nullptr;
    QByteArray m_inbox;
    QList<ServerFrame> m_frames;
    bool m_closed = false;
};

QByteArray textFrame(QByteArrayView text)
{
    return WebSocketCodec::encodeFrame(Opcode::Text, text);
}

int unreadBytes(int fd)
{
    int n = -1;
    return ::ioctl(fd, FIONREAD, &n) == 0 ? n : -1;
}

} // namespace

class TestTlsConnection final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();
    void cleanup();
    void handshakeThenFramesBothWays();
    void largeFramesUnderBackPressure();
    void pongsCoalesceOverTls();
    void closeHandshakeEndsTlsPolitely();
    void handshakeFailureIsReported();
    void idleConnectionsReleaseRecordBuffers();

private:
    // A handshaken server stream and its client, over a socket pair.
    struct Pair
    {
        Stream server;
        std::unique_ptr<TlsClient> client;
    };
    Pair tlsPair();

    QTemporaryDir m_dir;
    std::shared_ptr<TlsContext> m_context;
    SSL_CTX *m_clientCtx = nullptr;
    std::unique_ptr<EpollPoller> m_poller;
};

void TestTlsConnection::initTestCase()
{
    const QString cert = m_dir.filePath(u"cert.pem"_s);
    const QString key = m_dir.filePath(u"key.pem"_s);
    QProcess openssl;
    openssl.start(u"openssl"_s, {u"req"_s, u"-x509"_s, u"-newkey"_s, u"ec"_s, u"-pkeyopt"_s,
                                 u"ec_paramgen_curve:prime256v1"_s, u"-nodes"_s, u"-keyout"_s, key, u"-out"_s, cert,
                                 u"-days"_s, u"1"_s, u"-subj"_s, u"/CN=test"_s});
    QVERIFY(openssl.waitForFinished(60000));
    QCOMPARE(openssl.exitCode(), 0);
    QString error;
    m_context = TlsContext::load(cert, key, &error);
    QVERIFY2(m_context, qPrintable(error));
    m_clientCtx = SSL_CTX_new(TLS_client_method());
    QVERIFY(m_clientCtx);
    SSL_CTX_set_verify(m_clientCtx, SSL_VERIFY_NONE, nullptr);
}

void TestTlsConnection::cleanupTestCase()
{
    SSL_CTX_free(m_clientCtx);
}

void TestTlsConnection::init()
{
    m_poller = std::make_unique<EpollPoller>();
    QVERIFY(m_poller->isValid());
}

void TestTlsConnection::cleanup()
{
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    QCoreApplication::processEvents();
    QCOMPARE(m_poller->count(), 0);
    m_poller.reset();
}

TestTlsConnection::Pair TestTlsConnection::tlsPair()
{
    int fds[2] = {-1, -1};
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
        qFatal("socketpair failed");
    Pair pair;
    pair.server = Stream(fds[0], m_context->newSession(fds[0]));
    pair.server.prepareSocket();
    pair.client = std::make_unique<TlsClient>(m_clientCtx, fds[1]);
    bool clientDone = false;
    bool serverDone = false;
    for (int i = 0; i < 100 && !(clientDone && serverDone); ++i) {
        clientDone = clientDone || pair.client->handshakeStep();
        serverDone = serverDone || pair.server.handshake().status == Stream::Status::Ok;
    }
    if (!clientDone || !serverDone)
        qFatal("TLS handshake over the socket pair did not complete");
    // The client takes the session tickets TLS 1.3 servers send after the
    // handshake now, so that its allocations do not blur later figures.
    pair.client->pump();
    return pair;
}

void TestTlsConnection::handshakeThenFramesBothWays()
{
    Pair pair = tlsPair();
    QVERIFY(pair.server.isTls());
    QVERIFY(pair.server.tlsVersion().startsWith("TLSv1."));
    TlsClient &client = *pair.client;
    WebSocketConnection connection(*m_poller, std::move(pair.server));
    QVERIFY(connection.isTls());
    connect(&connection, &WebSocketConnection::textReceived, &connection,
            [&connection](const QByteArray &text) { connection.sendFrame(textFrame("echo:" + text)); });
    QVERIFY(client.send(clientFrame(1, "hello") + clientFrame(1, "again")));
    QTRY_COMPARE(client.pump().size(), 2);
    QCOMPARE(client.frames()[0].payload, QByteArray("echo:hello"));
    QCOMPARE(client.frames()[1].payload, QByteArray("echo:again"));
    // A message spread over several TLS records arrives whole.
    const QByteArray big(50000, 'q');
    QVERIFY(client.send(clientFrame(1, big)));
    QTRY_COMPARE(client.pump().size(), 3);
    QCOMPARE(client.frames()[2].payload, "echo:" + big);
}

void TestTlsConnection::largeFramesUnderBackPressure()
{
    Pair pair = tlsPair();
    TlsClient &client = *pair.client;
    WebSocketConnection connection(*m_poller, std::move(pair.server));
    // One shared frame for every send, as in a fan-out, larger than a record.
    const QByteArray frame = WebSocketCodec::encodeFrame(Opcode::Binary, QByteArray(40000, 'z'));
    const QByteArray original = frame;
    int sent = 0;
    while (connection.bytesQueued() == 0 && sent < 1000) {
        QVERIFY(connection.sendFrame(frame));
        ++sent;
        QCoreApplication::processEvents();
    }
    QVERIFY2(connection.bytesQueued() > 0, "the client reads nothing: the kernel must fill up");
    for (int i = 0; i < 10; ++i, ++sent)
        QVERIFY(connection.sendFrame(frame));
    QCOMPARE(frame, original); // never modified, however it was encrypted
    // Now the client reads: everything arrives, whole and in order.
    QTRY_VERIFY_WITH_TIMEOUT(client.pump().size() == sent, 20000);
    for (const ServerFrame &f : client.frames()) {
        QCOMPARE(f.opcode, quint8(2));
        QCOMPARE(f.payload.size(), 40000);
    }
    QTRY_COMPARE(connection.bytesQueued(), 0);
}

void TestTlsConnection::pongsCoalesceOverTls()
{
    Pair pair = tlsPair();
    TlsClient &client = *pair.client;
    const int serverFd = pair.server.fd();
    WebSocketConnection connection(*m_poller, std::move(pair.server));
    const QByteArray big = textFrame(QByteArray(60000, 'x'));
    while (connection.bytesQueued() == 0) {
        QVERIFY(connection.sendFrame(big));
        QCoreApplication::processEvents();
    }
    const qint64 backlog = connection.bytesQueued();
    QByteArray pings;
    constexpr int kPings = 3000;
    for (int i = 0; i < kPings; ++i)
        pings += clientFrame(9, QByteArray::number(i));
    QVERIFY(client.send(pings));
    QTRY_COMPARE(unreadBytes(serverFd), 0);
    QVERIFY(connection.bytesQueued() > backlog);
    // Over TLS the queue's head may be a pong OpenSSL has already taken: at
    // most two pongs wait, whatever the number of pings.
    QVERIFY2(connection.bytesQueued() <= backlog + 2 * (2 + 4),
             qPrintable(u"%1 queued over a backlog of %2"_s.arg(connection.bytesQueued()).arg(backlog)));
    QTRY_VERIFY_WITH_TIMEOUT((client.pump(), connection.bytesQueued() == 0 && !client.frames().isEmpty()
                                                 && client.frames().constLast().opcode == 0xA),
                             20000);
    QCOMPARE(client.frames().constLast().payload, QByteArray::number(kPings - 1));
}

void TestTlsConnection::closeHandshakeEndsTlsPolitely()
{
    Pair pair = tlsPair();
    TlsClient &client = *pair.client;
    WebSocketConnection connection(*m_poller, std::move(pair.server));
    QSignalSpy disconnected(&connection, &WebSocketConnection::disconnected);
    connection.close(CloseCode::GoingAway, u"bye"_s);
    QTRY_COMPARE(client.pump().size(), 1);
    QCOMPARE(client.frames()[0].opcode, quint8(0x8));
    QCOMPARE(client.frames()[0].payload, closePayload(CloseCode::GoingAway, "bye"));
    QVERIFY(client.send(clientFrame(8, closePayload(CloseCode::GoingAway))));
    QTRY_COMPARE(disconnected.size(), 1);
    // The server sent TLS close_notify before closing the socket.
    QTRY_VERIFY((client.pump(), client.closed()));
    QVERIFY(client.receivedCloseNotify());
    QCOMPARE(connection.closeCode(), CloseCode::GoingAway);
}

void TestTlsConnection::handshakeFailureIsReported()
{
    int fds[2] = {-1, -1};
    QCOMPARE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    Stream server(fds[0], m_context->newSession(fds[0]));
    QVERIFY(server.prepareSocket());
    QCOMPARE(server.handshake().status, Stream::Status::WantRead);
    const QByteArray plain = "GET / HTTP/1.1\r\n\r\n";
    QCOMPARE(::write(fds[1], plain.constData(), size_t(plain.size())), ssize_t(plain.size()));
    QCOMPARE(server.handshake().status, Stream::Status::Failed);
    QCOMPARE(ERR_peek_error(), 0UL); // nothing left in this thread's error queue
    ::close(fds[1]);
}

void TestTlsConnection::idleConnectionsReleaseRecordBuffers()
{
    constexpr int kConnections = 200;
    QObject owner;
    int texts = 0;
    // Warm up the allocator and OpenSSL's one-time tables with one pair.
    {
        Pair warm = tlsPair();
        WebSocketConnection c(*m_poller, std::move(warm.server));
        QVERIFY(warm.client->send(clientFrame(1, "warm")));
        QTRY_VERIFY(c.isOpen());
    }
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    QCoreApplication::processEvents();

    QVERIFY2(heapMeasurable(), "small allocations do not show: run with GLIBC_TUNABLES=glibc.malloc.tcache_count=0");
    const qint64 heapBefore = heapInUse();
    std::vector<Pair> pairs;
    pairs.reserve(kConnections);
    std::vector<std::unique_ptr<WebSocketConnection>> connections;
    for (int i = 0; i < kConnections; ++i) {
        pairs.push_back(tlsPair());
        connections.push_back(std::make_unique<WebSocketConnection>(*m_poller, std::move(pairs.back().server)));
        connect(connections.back().get(), &WebSocketConnection::textReceived, &owner,
                [&texts](const QByteArray &) { ++texts; });
    }
    // One message each way, twice: OpenSSL allocates a read and a write
    // record buffer (about 17 KiB each) for it, and must give them back.
    for (const char *text : {"hello", "again"}) {
        texts = 0;
        for (Pair &p : pairs)
            QVERIFY(p.client->send(clientFrame(1, text)));
        QTRY_COMPARE(texts, kConnections);
        for (const auto &c : connections)
            QVERIFY(c->sendFrame(textFrame(text)));
        QTRY_VERIFY(std::all_of(pairs.begin(), pairs.end(), [](Pair &p) { return !p.client->pump().isEmpty(); }));
        for (Pair &p : pairs)
            p.client->forget();
    }
    for (const auto &c : connections)
        QCOMPARE(c->bytesQueued(), 0);
    // What is left of the clients goes (without running the event loop, so
    // the server side does not notice): the heap now holds the server side
    // of each idle connection, whole: its TLS session and its objects.
    for (Pair &p : pairs)
        p.client.reset();
    const double perConnection = double(heapInUse() - heapBefore) / kConnections;
    qInfo("heap per idle TLS connection, server side: %.0f bytes (OpenSSL session and WebSocketConnection)",
          perConnection);
    // OpenSSL 3.0's session alone is about 15 KiB (its SSL structure is 7.9
    // KiB). With the two record buffers kept it would be over 48 KiB.
    QVERIFY2(perConnection < 24 * 1024, qPrintable(u"%1 bytes per idle TLS connection"_s.arg(perConnection)));
    connections.clear();
}

QTEST_GUILESS_MAIN(TestTlsConnection)
#include "tst_tlsconnection.moc"

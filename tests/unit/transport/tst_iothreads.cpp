// I/O threads: a fan-out reaches each worker as one batch; what a worker
// receives in one dispatch reaches the main thread as one batch, in order,
// and everything it causes to be sent leaves as one hand-over; frames on
// their way to a worker count against the client's send-queue cap until the
// worker has taken them. Real sockets (pairs), real worker threads.

#include "ClientFrames.h"
#include "model/OutboundMessage.h"
#include "realtime/IoThreads.h"

#include <QJsonObject>
#include <QTest>

#include <algorithm>
#include <memory>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace Qt::StringLiterals;
using namespace medrelay::server;
using namespace medrelay::transport::test;

namespace {

struct Client
{
    int fd = -1;
    QByteArray inbox;
    bool upgraded = false; // the 101 answer came
    int frames = 0;

    // Reads what is there; counts the complete frames after the 101 answer.
    void pump()
    {
        char buffer[65536];
        for (;;) {
            const ssize_t n = ::recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
            if (n <= 0)
                break;
            inbox.append(buffer, n);
        }
        if (!upgraded) {
            const qsizetype head = inbox.indexOf("\r\n\r\n");
            if (head < 0)
                return;
            upgraded = true;
            inbox.remove(0, head + 4);
        }
        frames += static_cast<int>(takeServerFrames(inbox).size());
    }
};

// A socket pair: one end carried by `worker` (its 101 answer written
// first), the other the client's. Null when no pair could be made.
std::unique_ptr<ThreadedClientSocket> carried(IoWorker *worker, Client &client)
{
    int fds[2] = {-1, -1};
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
        return nullptr;
    client.fd = fds[1];
    return std::make_unique<ThreadedClientSocket>(
        worker, medrelay::transport::Stream(fds[0], nullptr), QByteArray(), medrelay::transport::ConnectionLimits{},
        QByteArray("HTTP/1.1 101 Switching Protocols\r\n\r\n"), QHostAddress(), RequestTarget());
}

OutboundMessage chat(const QString &text)
{
    return OutboundMessage(medrelay::protocol::MessageKind::ChatMessage,
                           QJsonObject{{u"type"_s, u"telemedicine_chat_message"_s}, {u"message"_s, text}});
}

} // namespace

class TestIoThreads final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void fanOutIsOneBatchPerWorker();
    void stagedFramesCountAgainstTheCap();
    void receivedTogetherIsHandledAsOneBatch();
};

void TestIoThreads::fanOutIsOneBatchPerWorker()
{
    IoThreads threads(2);
    constexpr int kSockets = 40;
    std::vector<std::unique_ptr<ThreadedClientSocket>> sockets;
    std::vector<Client> clients(kSockets);
    for (Client &client : clients) {
        sockets.push_back(carried(threads.next(), client));
        QVERIFY(sockets.back());
    }
    QTRY_VERIFY(std::all_of(clients.begin(), clients.end(), [](Client &c) {
        c.pump();
        return c.upgraded;
    }));
    const quint64 before = threads.worker(0)->batchesHandedOver() + threads.worker(1)->batchesHandedOver();
    {
        // What one incoming message sends: the same frame to every socket.
        IoThreads::Batch batch(threads);
        const OutboundMessage message = chat(u"to everyone"_s);
        for (const auto &s : sockets)
            s->sendText(message);
        QCOMPARE(threads.worker(0)->batchesHandedOver() + threads.worker(1)->batchesHandedOver(), before);
    }
    // One batch per worker, however many of its sockets the message went to.
    QCOMPARE(threads.worker(0)->batchesHandedOver() + threads.worker(1)->batchesHandedOver(), before + 2);
    QTRY_VERIFY(std::all_of(clients.begin(), clients.end(), [](Client &c) {
        c.pump();
        return c.frames == 1;
    }));
    sockets.clear();
    for (Client &c : clients)
        ::close(c.fd);
}

void TestIoThreads::stagedFramesCountAgainstTheCap()
{
    IoThreads threads(1);
    Client client;
    const std::unique_ptr<ThreadedClientSocket> carriedSocket = carried(threads.next(), client);
    QVERIFY(carriedSocket);
    ThreadedClientSocket &socket = *carriedSocket;
    const OutboundMessage message = chat(QString(1000, u'x'));
    const qint64 frameSize = message.wsFrame().size();
    {
        IoThreads::Batch batch(threads);
        for (int i = 0; i < 10; ++i)
            socket.sendText(message);
        // Not handed to the worker yet, but already the client's backlog.
        QCOMPARE(socket.bytesQueued(), 10 * frameSize);
    }
    // Once written (the client reads everything), nothing is counted.
    QTRY_VERIFY((client.pump(), client.frames == 10));
    QTRY_COMPARE(socket.bytesQueued(), 0);
    ::close(client.fd);
}

namespace {

// Echoes every message it gets back on the socket, and notes what came.
struct Echo final : ClientSocket::Receiver
{
    ClientSocket *socket = nullptr;
    QList<QByteArray> messages;
    bool gone = false;
    void receivedMessage(const QByteArray &utf8) override
    {
        messages.append(utf8);
        socket->sendText(chat(QString::fromUtf8(utf8)));
    }
    void receivedControl(medrelay::transport::Opcode, const QByteArray &) override {}
    void socketDisconnected() override { gone = true; }
};

} // namespace

void TestIoThreads::receivedTogetherIsHandledAsOneBatch()
{
    IoThreads threads(1);
    Client client;
    const std::unique_ptr<ThreadedClientSocket> carriedSocket = carried(threads.next(), client);
    QVERIFY(carriedSocket);
    ThreadedClientSocket &socket = *carriedSocket;
    Echo echo;
    echo.socket = &socket;
    socket.setReceiver(&echo);
    QTRY_VERIFY((client.pump(), client.upgraded));
    const quint64 before = threads.worker(0)->batchesHandedOver();

    // Five messages in one write, then the close: the worker reads them in
    // one dispatch, so they cross to the main thread together.
    QByteArray burst;
    for (int i = 0; i < 5; ++i)
        burst += clientFrame(QByteArray::number(i));
    QCOMPARE(::send(client.fd, burst.constData(), size_t(burst.size()), MSG_NOSIGNAL), ssize_t(burst.size()));
    QTRY_COMPARE(echo.messages.size(), 5);
    QCOMPARE(echo.messages, (QList<QByteArray>{"0", "1", "2", "3", "4"}));
    // The five echoes were staged while the batch was handled: one hand-over.
    QCOMPARE(threads.worker(0)->batchesHandedOver(), before + 1);
    QTRY_VERIFY((client.pump(), client.frames == 5));

    // The disconnection comes after everything received before it.
    ::shutdown(client.fd, SHUT_WR);
    QTRY_VERIFY(echo.gone);
    QCOMPARE(echo.messages.size(), 5);
    ::close(client.fd);
}

QTEST_GUILESS_MAIN(TestIoThreads)
#include "tst_iothreads.moc"

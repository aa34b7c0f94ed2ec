#pragma once
// One WebSocket client on a raw, already upgraded socket, plain or TLS (a
// Stream), driven by the thread's EpollPoller instead of QTcpSocket or
// QWebSocket. Built to be small while idle: reads go through the poller's
// shared scratch buffer, OpenSSL releases its record buffers when they are
// empty, and the connection keeps only an unfinished frame and the frames
// the kernel would not yet take. Frames are sent pre-encoded, so a fan-out
// encodes once and every recipient queues the same implicitly shared bytes
// (over TLS, each recipient's copy is encrypted straight from them).

#include "transport/EpollPoller.h"
#include "transport/Stream.h"
#include "transport/WebSocketCodec.h"

#include <QHostAddress>
#include <QList>
#include <QObject>
#include <QPointer>

#include <atomic>

namespace medrelay::transport {

struct ConnectionLimits
{
    qint64 maxFrameSize = 64 * 1024;
    qint64 maxMessageSize = 64 * 1024;
    // How long to wait for the peer's close frame after sending ours.
    int closeTimeoutMs = 2000;
};

class WebSocketConnection final : public QObject, private EpollPoller::Handler
{
    Q_OBJECT
public:
    // An owner that wants the events as direct calls: no signal connections
    // (each costs memory per connection) and no signal dispatch per message.
    // Called exactly when the signals below are emitted (which they still are).
    class Observer
    {
    public:
        virtual void textReceived(const QByteArray &utf8) = 0;
        virtual void binaryReceived(const QByteArray &data) = 0;
        virtual void controlReceived(Opcode opcode, const QByteArray &payload) = 0;
        virtual void disconnected() = 0;

    protected:
        Observer() = default;
        ~Observer() = default;
        Q_DISABLE_COPY_MOVE(Observer)
    };

    // Takes ownership of `stream` (an accepted socket, with its TLS session
    // when there is one, handshake done) and makes it non-blocking and
    // close-on-exec, with TCP_NODELAY for TCP. `initialData` are bytes
    // already read past the upgrade request; they are decoded from the event
    // loop before anything else, so signals connected right after
    // construction see them.
    WebSocketConnection(EpollPoller &poller, Stream stream, const QByteArray &initialData = {},
                        const ConnectionLimits &limits = {}, QObject *parent = nullptr);
    // The same for a plain socket.
    WebSocketConnection(EpollPoller &poller, int fd, const QByteArray &initialData = {},
                        const ConnectionLimits &limits = {}, QObject *parent = nullptr);
    ~WebSocketConnection() override;
    Q_DISABLE_COPY_MOVE(WebSocketConnection)

    // False once the fd is closed (or if it could not be registered).
    [[nodiscard]] bool isOpen() const { return m_stream.isOpen(); }
    // False once this side sent a close frame or the fd is closed; frames
    // passed to sendFrame() then are dropped.
    [[nodiscard]] bool isWritable() const { return m_stream.isOpen() && !m_sentClose; }
    [[nodiscard]] bool isTls() const { return m_stream.isTls(); }

    // Sends an encoded frame (see WebSocketCodec::encodeFrame) or any raw
    // bytes. The array is never modified; when the kernel does not take it
    // all at once, an implicitly shared copy is queued. Returns false when
    // the connection no longer sends (closing, closed, or the write failed).
    bool sendFrame(const QByteArray &frame);
    // Bytes waiting because the kernel would not take more: the backlog of a
    // client that does not read. Frames merely corked until the end of the
    // current dispatch do not count, so a burst to a healthy reader is not
    // mistaken for a slow one.
    [[nodiscard]] qint64 bytesQueued() const { return m_wantWrite ? m_queuedBytes : 0; }
    // Keeps `*mirror` equal to bytesQueued() whenever it changes, for an
    // owner in another thread (I/O threads); null to stop.
    void mirrorBytesQueued(std::atomic<qint64> *mirror);
    // At most one; null to stop. It must outlive the connection or unset itself.
    void setObserver(Observer *observer) { m_observer = observer; }
    void ping(QByteArrayView payload = {});
    // Sends a close frame; the fd is closed when the peer answers (or its
    // connection ends), or after ConnectionLimits::closeTimeoutMs.
    void close(quint16 code = CloseCode::Normal, const QString &reason = {});
    // Closes the fd now, dropping queued frames.
    void abort();

    [[nodiscard]] QHostAddress peerAddress() const;
    [[nodiscard]] quint16 peerPort() const { return m_peerPort; }
    // The close code received from the peer, or the one we sent if we closed
    // first; 1006 when the connection ended without a close frame; 0 while
    // open.
    [[nodiscard]] quint16 closeCode() const { return m_closeCode; }
    [[nodiscard]] const QString &closeReason() const { return m_closeReason; }
    [[nodiscard]] int socketDescriptor() const { return m_stream.fd(); }

Q_SIGNALS:
    void textReceived(const QByteArray &utf8);
    void binaryReceived(const QByteArray &data);
    // A ping (already answered) or a pong from the peer, with its payload.
    // One signal for both, so an owner that rate-limits control frames and
    // checks pongs against its pings pays for one connection, not two.
    void controlReceived(medrelay::transport::Opcode opcode, const QByteArray &payload);
    // Exactly once, after the fd is closed; always delivered from the event
    // loop (queued), never from inside a call made by the owner.
    void disconnected();

private:
    void epollEvents(quint32 events) override;
    void timerEvent(QTimerEvent *event) override;
    void flushDeferred() override;

    void readSocket();
    // Reacts to why a read or write stopped; false when the socket closed.
    bool handleStop(Stream::Status status, bool writing);
    void processInput(QByteArrayView data);
    void handleEvent(DecoderEvent &event);
    void processInitialData();
    // Queues or writes; used for data and for our control frames.
    bool write(const QByteArray &bytes);
    // Answers a ping. At most one pong waits in the queue: a newer ping
    // replaces the payload of one not yet started (RFC 6455 5.5.3 allows
    // answering only the most recent), so pings from a client that does not
    // read cannot grow the queue.
    void queuePong(QByteArrayView payload);
    // Writes queued frames until done or EAGAIN; false when the fd was closed.
    bool flush();
    void setWantWrite(bool want);
    void sendCloseFrame(quint16 code, QByteArrayView reasonUtf8);
    // Closes the fd once nothing is queued, if the close handshake allows.
    void closeIfDone();
    void closeSocket(quint16 codeIfUnset, bool abortive = false);

    void updateMirror()
    {
        if (m_mirror != nullptr)
            m_mirror->store(bytesQueued(), std::memory_order_relaxed);
    }

    QPointer<EpollPoller> m_poller;
    Observer *m_observer = nullptr;
    std::atomic<qint64> *m_mirror = nullptr;
    Stream m_stream;
    FrameDecoder m_decoder;
    QByteArray m_initialData;
    QList<QByteArray> m_queue; // shared with other recipients; never modified
    QString m_closeReason;
    qint64 m_queuedBytes = 0;
    qsizetype m_headOffset = 0; // bytes of m_queue.first() already written
    quint8 m_peerIp[16] = {};
    int m_pongIndex = -1; // where the unsent pong waits in m_queue, or -1
    int m_closeTimeoutMs = 2000;
    int m_timerId = 0;
    quint16 m_peerPort = 0;
    quint16 m_closeCode = 0;
    quint8 m_peerFamily = 0; // 0 unknown, 4 or 6
    bool m_sentClose = false;
    bool m_receivedClose = false;
    bool m_failed = false; // we closed because of a protocol error
    bool m_wantWrite = false;
    bool m_disconnectQueued = false;
    bool m_flushPending = false; // asked the poller for flushDeferred()
    // TLS only: a read that must wait for writability, or the other way
    // round (a key update in progress, say).
    bool m_readWantsWrite = false;
    bool m_writeWantsRead = false;
    bool m_readPending = false; // OpenSSL holds decrypted input: read again
};

} // namespace medrelay::transport

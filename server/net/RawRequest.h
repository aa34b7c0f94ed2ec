#pragma once
// One accepted socket on the lean (epoll) path, from accept until its
// request is answered or upgraded: the TLS handshake and the request head
// are read on the raw fd by the listener's EpollPoller, with no QTcpSocket
// or QSslSocket. The listener decides what the bytes mean (Client); this
// only moves them. Afterwards the socket either leaves as a
// transport::Stream (a WebSocket upgrade: the same fd and TLS session go on
// to a WebSocketConnection, in this thread or an I/O thread), or gets its
// HTTP answer written here and is closed: TLS close_notify, no more writes,
// and the rest of the client's bytes read and dropped until it closes (or
// the timeout), so the answer is not lost to a reset.

#include "net/PendingPool.h"
#include "transport/EpollPoller.h"
#include "transport/Stream.h"

#include <QByteArray>
#include <QHostAddress>
#include <QList>
#include <QObject>
#include <QPointer>

namespace medrelay::server {

class RawRequest final : public QObject, public PendingPool::Entry, private transport::EpollPoller::Handler
{
    Q_OBJECT
public:
    class Client
    {
    public:
        // New request bytes arrived (data()). The client answers (respond()),
        // takes the socket (takeStream()), or waits for more.
        virtual void requestData(RawRequest &request) = 0;
        // The request was not complete in time: answer (408) or close.
        virtual void requestTimedOut(RawRequest &request) = 0;

    protected:
        Client() = default;
        ~Client() = default;
        Q_DISABLE_COPY_MOVE(Client)
    };

    // Takes `stream` (an accepted, prepared socket, with a TLS session
    // waiting for its handshake when TLS is on). Reads at most `maxBytes`
    // of request; `timeoutMs` bounds the handshake and request, and then
    // again the answer and the close.
    RawRequest(transport::EpollPoller &poller, transport::Stream stream, QHostAddress peer, Client &client,
               qsizetype maxBytes, int timeoutMs, QObject *parent = nullptr);
    ~RawRequest() override;
    Q_DISABLE_COPY_MOVE(RawRequest)

    // Reads what already arrived (a client usually sends its request, or
    // its TLS hello, right after connecting), so that a socket whose head
    // is complete leaves the pending pool at once instead of waiting there
    // for the poller's next round. Call it after admitting the socket; it
    // may answer, hand the socket over or close, so do not touch this
    // object afterwards.
    void begin();

    [[nodiscard]] const QHostAddress &peer() const { return m_peer; }
    [[nodiscard]] bool isTls() const { return m_stream.isTls(); }
    // TLS: the handshake is done (an HTTP answer can be sent).
    [[nodiscard]] bool isSecured() const { return m_state != State::Handshake; }
    // Request bytes read so far (plaintext), and whether the limit is hit.
    [[nodiscard]] const QByteArray &data() const { return m_data; }
    [[nodiscard]] bool isFull() const { return m_data.size() >= m_maxBytes; }
    // For the client: how much of data() is the head, once it knows.
    int headLength = 0;

    // Sends `response` and closes; the request leaves the pending pool.
    void respond(const QByteArray &response);
    // Hands the socket over (the request leaves the pool and the poller);
    // this object then deletes itself.
    [[nodiscard]] transport::Stream takeStream();
    // Closes at once (reset).
    void abort();

protected:
    void evicted() override;
    void timerEvent(QTimerEvent *event) override;

private:
    enum class State : quint8 { Handshake, Request, Answering, Draining, Done };

    void epollEvents(quint32 events) override;
    void handshake();
    void readRequest();
    void writeAnswer();
    void drain();
    void want(transport::Stream::Status status);
    void finish(bool abortive);

    QPointer<transport::EpollPoller> m_poller;
    transport::Stream m_stream;
    Client &m_client;
    QHostAddress m_peer;
    QByteArray m_data;
    QList<QByteArray> m_answer;
    qsizetype m_answerOffset = 0;
    qsizetype m_maxBytes = 0;
    int m_timeoutMs = 0;
    int m_timerId = 0;
    State m_state = State::Handshake;
    bool m_wantWrite = false;
};

} // namespace medrelay::server

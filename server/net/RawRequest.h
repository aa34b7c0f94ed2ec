#pragma once
// One accepted socket on the lean (epoll) path, from accept until its
// request is answered or upgraded: the TLS handshake and the request head
// are read on the raw fd by the listener's EpollPoller, with no QTcpSocket
// or QSslSocket. The listener decides what the bytes mean (Client); this
// only moves them. Afterwards the socket either leaves as a
// transport::Stream (a WebSocket upgrade: the same fd and TLS session go on
// to a WebSocketConnection, in this thread or an I/O thread), or gets its
// HTTP answer written here and then either waits for the client's next
// request (keep-alive: back in the pending pool, with the same time limit)
// or is closed: TLS close_notify, no more writes, and the rest of the
// client's bytes read and dropped until it closes (or the timeout), so the
// answer is not lost to a reset.
//
// Requests on a kept connection are answered one at a time, in order: a
// pipelined request waits in the buffer until the answer before it is
// written. Bytes beyond one request's limit sent ahead of an answer end the
// connection after that answer.

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
        // An answer went out and the connection is kept: it waits for the
        // next request, which must count like any other. False: close it.
        virtual bool requestIdle(RawRequest &request) = 0;

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

    // Sends `response`; the request leaves the pending pool. Then closes,
    // or with `keepAlive` drops the first `consumed` bytes of data() (the
    // request answered) and waits for the next request.
    void respond(const QByteArray &response, qsizetype consumed = 0, bool keepAlive = false);
    // Requests answered on this connection so far.
    [[nodiscard]] int served() const { return m_served; }
    // Kept open after an answer and nothing of a next request has come.
    [[nodiscard]] bool isIdle() const { return m_served > 0 && m_state == State::Request && m_data.isEmpty(); }
    // Closes an idle kept connection (FIN, or close_notify), not a reset.
    void closeIdle();
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
    void readAhead();
    void nextRequest();
    void processBuffered();
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
    qsizetype m_consumed = 0; // of m_data, the request being answered
    qsizetype m_maxBytes = 0;
    int m_timeoutMs = 0;
    int m_timerId = 0;
    int m_served = 0;
    State m_state = State::Handshake;
    bool m_wantWrite = false;
    bool m_keepAlive = false;   // the answer being written keeps the connection
    bool m_overflowed = false;  // pipelined bytes beyond the limit: close after the answer
};

} // namespace medrelay::server

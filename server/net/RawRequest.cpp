#include "net/RawRequest.h"

#include <QLoggingCategory>
#include <QTimerEvent>

#ifdef Q_OS_LINUX
#include <sys/epoll.h>
#endif

Q_DECLARE_LOGGING_CATEGORY(lcHttp)

namespace medrelay::server {

using transport::Stream;

RawRequest::RawRequest(transport::EpollPoller &poller, Stream stream, QHostAddress peer, Client &client,
                       qsizetype maxBytes, int timeoutMs, QObject *parent)
    : QObject(parent)
    , m_poller(&poller)
    , m_stream(std::move(stream))
    , m_client(client)
    , m_peer(std::move(peer))
    , m_maxBytes(maxBytes)
    , m_timeoutMs(timeoutMs)
{
    m_state = m_stream.isTls() ? State::Handshake : State::Request;
    if (!m_stream.isOpen() || !poller.add(m_stream.fd(), this)) {
        finish(true);
        return;
    }
    m_timerId = startTimer(m_timeoutMs);
}

RawRequest::~RawRequest()
{
    if (m_stream.isOpen() && m_poller)
        m_poller->remove(m_stream.fd());
}

void RawRequest::epollEvents(quint32 events)
{
    switch (m_state) {
    case State::Handshake:
        handshake();
        break;
    case State::Request:
        readRequest();
        break;
    case State::Answering:
        writeAnswer();
#ifdef Q_OS_LINUX
        if (m_state == State::Answering && (events & EPOLLIN) != 0)
            readAhead();
#else
        Q_UNUSED(events);
#endif
        break;
    case State::Draining:
        drain();
        break;
    case State::Done:
        break;
    }
}

void RawRequest::begin()
{
    if (m_state == State::Handshake)
        handshake();
    else if (m_state == State::Request)
        readRequest();
}

void RawRequest::handshake()
{
    const Stream::Result r = m_stream.handshake();
    if (r.status == Stream::Status::Ok) {
        m_state = State::Request;
        want(Stream::Status::Ok);
        readRequest(); // the request may have come with the handshake's last flight
        return;
    }
    if (r.status == Stream::Status::WantRead || r.status == Stream::Status::WantWrite) {
        want(r.status);
        return;
    }
    // Plain text on a TLS port, an old protocol, no common cipher, a reset.
    qCDebug(lcHttp) << "TLS handshake failed from" << m_peer;
    finish(true);
}

void RawRequest::readRequest()
{
    char *buffer = m_poller ? m_poller->scratch() : nullptr;
    if (buffer == nullptr)
        return;
    const Stream::Result r = m_stream.read(buffer, transport::EpollPoller::ScratchSize);
    if (r.bytes > 0) {
        // Bytes beyond the limit are dropped: the client answers 431 or 413.
        m_data.append(buffer, qMin(r.bytes, m_maxBytes - m_data.size()));
        m_client.requestData(*this);
        if (m_state != State::Request)
            return;
        if (isFull()) {
            // The client did not answer a full buffer: nothing more can come.
            finish(true);
            return;
        }
    }
    switch (r.status) {
    case Stream::Status::Closed:
    case Stream::Status::Failed:
        finish(true); // gone before the request was complete
        return;
    case Stream::Status::Ok:
    case Stream::Status::WantRead:
    case Stream::Status::WantWrite:
        want(r.status);
        break;
    }
    // Decrypted bytes OpenSSL still holds do not make the socket readable.
    if (m_stream.hasBufferedInput())
        QMetaObject::invokeMethod(this, &RawRequest::readRequest, Qt::QueuedConnection);
}

void RawRequest::readAhead()
{
    // While an answer is written: a kept connection buffers what comes next
    // (a pipelined request), within one request's limit; anything else is
    // dropped, so a readable socket does not wake the (level-triggered)
    // poller again and again.
    char *buffer = m_poller ? m_poller->scratch() : nullptr;
    if (buffer == nullptr)
        return;
    const Stream::Result r = m_stream.read(buffer, transport::EpollPoller::ScratchSize);
    if (r.status == Stream::Status::Closed || r.status == Stream::Status::Failed) {
        finish(true);
        return;
    }
    if (r.bytes <= 0 || !m_keepAlive)
        return;
    const qsizetype room = m_maxBytes - (m_data.size() - m_consumed);
    if (r.bytes > room)
        m_overflowed = true;
    m_data.append(buffer, qMax<qsizetype>(0, qMin(r.bytes, room)));
}

void RawRequest::respond(const QByteArray &response, qsizetype consumed, bool keepAlive)
{
    if (m_state == State::Done || m_state == State::Answering || m_state == State::Draining)
        return;
    leavePool();
    m_answer = {response};
    m_answerOffset = 0;
    m_consumed = qBound<qsizetype>(0, consumed, m_data.size());
    m_keepAlive = keepAlive;
    ++m_served;
    m_state = State::Answering;
    // A client that does not read its answer cannot hold the socket open.
    killTimer(m_timerId);
    m_timerId = startTimer(m_timeoutMs);
    writeAnswer();
}

void RawRequest::writeAnswer()
{
    const Stream::Result r = m_stream.write(m_answer, m_answerOffset);
    m_answerOffset += r.bytes;
    if (m_answerOffset >= m_answer.constFirst().size()) {
        m_answer.clear();
        if (m_keepAlive && !m_overflowed) {
            nextRequest();
            return;
        }
        m_stream.shutdown();
        m_state = State::Draining;
        want(Stream::Status::Ok);
        drain();
        return;
    }
    if (r.status == Stream::Status::Closed || r.status == Stream::Status::Failed) {
        finish(true);
        return;
    }
    want(r.status);
}

void RawRequest::nextRequest()
{
    m_data.remove(0, m_consumed);
    m_consumed = 0;
    m_keepAlive = false;
    headLength = 0;
    m_state = State::Request;
    // The same limit as the first request: the next one must come (and be
    // complete) within the request timeout, or the connection is closed.
    killTimer(m_timerId);
    m_timerId = startTimer(m_timeoutMs);
    want(Stream::Status::Ok);
    if (!m_client.requestIdle(*this)) {
        closeIdle();
        return;
    }
    // A request that came while the last answer was written is answered
    // next, in order.
    if (!m_data.isEmpty() || m_stream.hasBufferedInput())
        QMetaObject::invokeMethod(this, &RawRequest::processBuffered, Qt::QueuedConnection);
}

void RawRequest::processBuffered()
{
    if (m_state != State::Request)
        return;
    if (!m_data.isEmpty()) {
        m_client.requestData(*this);
        if (m_state != State::Request)
            return;
        if (isFull()) {
            finish(true);
            return;
        }
    }
    if (m_stream.hasBufferedInput())
        readRequest();
}

void RawRequest::closeIdle()
{
    if (m_state == State::Done || m_state == State::Draining)
        return;
    leavePool();
    m_data.clear();
    m_stream.shutdown();
    m_state = State::Draining;
    if (m_timerId != 0)
        killTimer(m_timerId);
    m_timerId = startTimer(m_timeoutMs);
    want(Stream::Status::Ok);
    drain();
}

void RawRequest::drain()
{
    char *buffer = m_poller ? m_poller->scratch() : nullptr;
    if (buffer == nullptr)
        return;
    for (int i = 0; i < 4; ++i) {
        const Stream::Result r = m_stream.read(buffer, transport::EpollPoller::ScratchSize);
        if (r.status == Stream::Status::Closed || r.status == Stream::Status::Failed) {
            finish(false);
            return;
        }
        if (r.status != Stream::Status::Ok)
            return;
    }
}

void RawRequest::want(Stream::Status status)
{
    const bool write = status == Stream::Status::WantWrite;
    if (write != m_wantWrite && m_poller && m_stream.isOpen() && m_poller->modify(m_stream.fd(), write))
        m_wantWrite = write;
}

Stream RawRequest::takeStream()
{
    leavePool();
    if (m_stream.isOpen() && m_poller)
        m_poller->remove(m_stream.fd());
    if (m_timerId != 0)
        killTimer(m_timerId);
    m_timerId = 0;
    m_state = State::Done;
    deleteLater();
    return std::move(m_stream);
}

void RawRequest::abort()
{
    finish(true);
}

void RawRequest::evicted()
{
    // A kept connection between requests loses nothing by a quiet close.
    if (isIdle())
        closeIdle();
    else
        finish(true);
}

void RawRequest::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_timerId)
        return;
    killTimer(m_timerId);
    m_timerId = 0;
    if (m_state == State::Handshake || m_state == State::Request)
        m_client.requestTimedOut(*this);
    else
        finish(true);
}

void RawRequest::finish(bool abortive)
{
    if (m_state == State::Done)
        return;
    m_state = State::Done;
    leavePool();
    if (m_stream.isOpen()) {
        if (m_poller)
            m_poller->remove(m_stream.fd());
        m_stream.close(abortive);
    }
    if (m_timerId != 0)
        killTimer(m_timerId);
    m_timerId = 0;
    deleteLater();
}

} // namespace medrelay::server

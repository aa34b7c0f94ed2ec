#include "transport/EpollPoller.h"

#include <QLoggingCategory>
#include <QSocketNotifier>

#ifdef Q_OS_LINUX
#include <cerrno>
#include <cstring>
#include <sys/epoll.h>
#include <unistd.h>
#endif

Q_LOGGING_CATEGORY(lcEpoll, "medrelay.transport.epoll")

namespace medrelay::transport {

#ifdef Q_OS_LINUX

namespace {

quint32 interest(bool wantWrite)
{
    return EPOLLIN | EPOLLRDHUP | (wantWrite ? quint32(EPOLLOUT) : 0U);
}

// The registration carries fd and generation, so an event queued for an fd
// that was removed (and perhaps reused) within the same batch is dropped.
quint64 token(int fd, quint32 generation)
{
    return (quint64(generation) << 32) | quint32(fd);
}

} // namespace

EpollPoller::EpollPoller(QObject *parent)
    : QObject(parent)
{
    m_epollFd = ::epoll_create1(EPOLL_CLOEXEC);
    if (m_epollFd < 0) {
        qCWarning(lcEpoll, "epoll_create1 failed: %s", std::strerror(errno));
        return;
    }
    m_scratch.resize(ScratchSize);
    m_notifier = new QSocketNotifier(m_epollFd, QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &EpollPoller::activate);
}

EpollPoller::~EpollPoller()
{
    if (m_count > 0)
        qCWarning(lcEpoll, "EpollPoller destroyed with %d registered fds", m_count);
    delete m_notifier;
    if (m_epollFd >= 0)
        ::close(m_epollFd);
}

bool EpollPoller::add(int fd, Handler *handler, bool wantWrite)
{
    if (m_epollFd < 0 || fd < 0 || handler == nullptr)
        return false;
    if (static_cast<size_t>(fd) >= m_entries.size())
        m_entries.resize(qMax<size_t>(static_cast<size_t>(fd) + 1, m_entries.size() * 2));
    Entry &entry = m_entries[static_cast<size_t>(fd)];
    if (entry.handler != nullptr)
        return false;
    const quint32 generation = ++m_generation;
    epoll_event ev{};
    ev.events = interest(wantWrite);
    ev.data.u64 = token(fd, generation);
    if (::epoll_ctl(m_epollFd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        qCWarning(lcEpoll, "epoll_ctl(ADD, %d) failed: %s", fd, std::strerror(errno));
        return false;
    }
    entry = Entry{handler, generation};
    ++m_count;
    return true;
}

bool EpollPoller::modify(int fd, bool wantWrite)
{
    if (m_epollFd < 0 || fd < 0 || static_cast<size_t>(fd) >= m_entries.size())
        return false;
    const Entry &entry = m_entries[static_cast<size_t>(fd)];
    if (entry.handler == nullptr)
        return false;
    epoll_event ev{};
    ev.events = interest(wantWrite);
    ev.data.u64 = token(fd, entry.generation);
    if (::epoll_ctl(m_epollFd, EPOLL_CTL_MOD, fd, &ev) != 0) {
        qCWarning(lcEpoll, "epoll_ctl(MOD, %d) failed: %s", fd, std::strerror(errno));
        return false;
    }
    return true;
}

bool EpollPoller::remove(int fd)
{
    if (m_epollFd < 0 || fd < 0 || static_cast<size_t>(fd) >= m_entries.size())
        return false;
    Entry &entry = m_entries[static_cast<size_t>(fd)];
    if (entry.handler == nullptr)
        return false;
    entry.handler = nullptr;
    --m_count;
    // ENOENT/EBADF only mean the kernel already forgot the fd; the entry is
    // cleared either way so no event reaches the handler again.
    if (::epoll_ctl(m_epollFd, EPOLL_CTL_DEL, fd, nullptr) != 0 && errno != ENOENT && errno != EBADF)
        qCWarning(lcEpoll, "epoll_ctl(DEL, %d) failed: %s", fd, std::strerror(errno));
    return true;
}

void EpollPoller::activate()
{
    if (m_dispatching) {
        // A handler's slot runs a nested event loop. Handlers share the
        // scratch buffer and are not re-entrant, so wait for the outer
        // dispatch; mute the notifier meanwhile so the nested loop does not
        // spin on our (level-triggered) readable epoll fd.
        m_reentered = true;
        m_notifier->setEnabled(false);
        return;
    }
    m_dispatching = true;
    epoll_event events[BatchSize];
    for (int round = 0; round < MaxRounds; ++round) {
        const int n = ::epoll_wait(m_epollFd, events, BatchSize, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            qCWarning(lcEpoll, "epoll_wait failed: %s", std::strerror(errno));
            break;
        }
        for (int i = 0; i < n; ++i) {
            const int fd = static_cast<int>(events[i].data.u64 & 0xFFFFFFFFU);
            const auto generation = static_cast<quint32>(events[i].data.u64 >> 32);
            if (static_cast<size_t>(fd) >= m_entries.size())
                continue;
            const Entry &entry = m_entries[static_cast<size_t>(fd)];
            if (entry.handler == nullptr || entry.generation != generation)
                continue;
            entry.handler->epollEvents(events[i].events);
        }
        if (n < BatchSize)
            break;
    }
    runDeferredFlushes();
    m_dispatching = false;
    if (m_reentered) {
        m_reentered = false;
        m_notifier->setEnabled(true);
    }
}

EpollPoller::Cork::Cork(EpollPoller &poller)
    : m_poller(poller)
    , m_outer(!poller.m_dispatching)
{
    m_poller.m_dispatching = true;
}

EpollPoller::Cork::~Cork()
{
    if (!m_outer)
        return;
    m_poller.runDeferredFlushes();
    m_poller.m_dispatching = false;
    if (m_poller.m_reentered) {
        m_poller.m_reentered = false;
        m_poller.m_notifier->setEnabled(true);
    }
}

void EpollPoller::deferFlush(Handler *handler)
{
    m_flushes.push_back(handler);
    if (!m_dispatching && !m_flushScheduled) {
        m_flushScheduled = true;
        QMetaObject::invokeMethod(this, &EpollPoller::runDeferredFlushes, Qt::QueuedConnection);
    }
}

void EpollPoller::cancelFlush(Handler *handler)
{
    std::erase(m_flushes, handler);
}

void EpollPoller::runDeferredFlushes()
{
    m_flushScheduled = false;
    // A flush may defer again (rarely): bounded passes, the rest next turn.
    for (int pass = 0; pass < 4 && !m_flushes.empty(); ++pass) {
        std::vector<Handler *> batch;
        batch.swap(m_flushes);
        for (Handler *h : batch)
            h->flushDeferred();
    }
    if (!m_flushes.empty() && !m_flushScheduled) {
        m_flushScheduled = true;
        QMetaObject::invokeMethod(this, &EpollPoller::runDeferredFlushes, Qt::QueuedConnection);
    }
}

#else // !Q_OS_LINUX

EpollPoller::Cork::Cork(EpollPoller &poller) : m_poller(poller) { (void)m_poller; (void)m_outer; }
EpollPoller::Cork::~Cork() = default;
void EpollPoller::deferFlush(Handler *) { }
void EpollPoller::cancelFlush(Handler *) { }
void EpollPoller::runDeferredFlushes() { }

EpollPoller::EpollPoller(QObject *parent)
    : QObject(parent)
{
}

EpollPoller::~EpollPoller() = default;

bool EpollPoller::add(int, Handler *, bool)
{
    return false;
}

bool EpollPoller::modify(int, bool)
{
    return false;
}

bool EpollPoller::remove(int)
{
    return false;
}

void EpollPoller::activate() { }

#endif

} // namespace medrelay::transport

#pragma once
// One epoll instance per thread, plugged into that thread's Qt event loop
// through a single QSocketNotifier. Qt's own dispatcher polls every notifier
// on every wake-up, so thousands of sockets make each wake-up cost thousands
// of pollfd entries; here Qt watches one fd and the kernel tells us which
// sockets are ready. Level-triggered: a handler that does not drain its
// socket is simply called again, which keeps reads bounded and fair.
// Linux only; elsewhere the class exists but isValid() is false.

#include <QObject>

#include <vector>

QT_BEGIN_NAMESPACE
class QSocketNotifier;
QT_END_NAMESPACE

namespace medrelay::transport {

class EpollPoller final : public QObject
{
    Q_OBJECT
public:
    // Receives readiness for one fd. Events are EPOLLIN/EPOLLOUT/EPOLLHUP/
    // EPOLLERR/EPOLLRDHUP bits as epoll reports them.
    class Handler
    {
    public:
        virtual void epollEvents(quint32 events) = 0;
        // Called once for each deferFlush(), after the dispatch that asked.
        virtual void flushDeferred() {}

    protected:
        Handler() = default;
        ~Handler() = default;
        Q_DISABLE_COPY_MOVE(Handler)
    };

    // Events handled per epoll_wait() call, and rounds per activation before
    // control goes back to Qt's loop (level-triggered, so nothing is lost).
    static constexpr int BatchSize = 256;
    static constexpr int MaxRounds = 4;
    // Size of the read buffer shared by every connection of this thread.
    static constexpr qsizetype ScratchSize = 64 * 1024;

    explicit EpollPoller(QObject *parent = nullptr);
    ~EpollPoller() override;
    Q_DISABLE_COPY_MOVE(EpollPoller)

    [[nodiscard]] bool isValid() const { return m_epollFd >= 0; }
    // Watches `fd` for reading (and writing when `wantWrite`). The handler
    // must stay alive until remove(fd); remove before closing the fd, since
    // a dup()ed descriptor keeps the epoll registration alive otherwise.
    bool add(int fd, Handler *handler, bool wantWrite = false);
    bool modify(int fd, bool wantWrite);
    bool remove(int fd);
    [[nodiscard]] int count() const { return m_count; }

    // Read buffer for handlers; valid only inside epollEvents(), since the
    // next handler overwrites it.
    [[nodiscard]] char *scratch() { return m_scratch.data(); }

    // Corking: a handler that has output asks to be flushed once, at the end
    // of the current dispatch (or in the next turn of the event loop when
    // none is running). Everything a connection is sent while one batch of
    // events is handled then leaves in one sendmsg(). cancelFlush() before a
    // handler goes away.
    void deferFlush(Handler *handler);
    void cancelFlush(Handler *handler);

    // Work done outside a dispatch (frames handed over by another thread)
    // corks the same way while a Cork lives: the flushes it defers run when
    // it ends, in this turn of the loop, not in the next.
    class Cork
    {
    public:
        explicit Cork(EpollPoller &poller);
        ~Cork();
        Q_DISABLE_COPY_MOVE(Cork)

    private:
        EpollPoller &m_poller;
        bool m_outer = false;
    };

private:
    struct Entry
    {
        Handler *handler = nullptr;
        quint32 generation = 0;
    };

    void activate();
    void runDeferredFlushes();

    std::vector<Entry> m_entries; // indexed by fd
    std::vector<char> m_scratch;
    QSocketNotifier *m_notifier = nullptr;
    int m_epollFd = -1;
    int m_count = 0;
    quint32 m_generation = 0;
    std::vector<Handler *> m_flushes;
    bool m_dispatching = false;
    bool m_reentered = false;
    bool m_flushScheduled = false;
};

} // namespace medrelay::transport

#pragma once
// Turns SIGTERM and SIGINT (shutdown) and SIGHUP (reload) into Qt signals on
// the main thread (self-pipe), so they run as ordinary event-loop code.

#include <QObject>

QT_BEGIN_NAMESPACE
class QSocketNotifier;
QT_END_NAMESPACE

namespace medrelay::server {

class SignalWatcher final : public QObject
{
    Q_OBJECT
public:
    explicit SignalWatcher(QObject *parent = nullptr);
    ~SignalWatcher() override;
    Q_DISABLE_COPY_MOVE(SignalWatcher)

Q_SIGNALS:
    // count: 1 for the first signal, 2 for the second, ...
    void terminationRequested(int signalNumber, int count);
    // SIGHUP: reread what can be reread without a restart (the TLS certificate).
    void reloadRequested();

private:
    void onReadable();
    QSocketNotifier *m_notifier = nullptr;
    int m_count = 0;
};

} // namespace medrelay::server

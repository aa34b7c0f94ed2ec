#pragma once
// A stand-in for systemd's notification socket in tests: a datagram socket
// bound in a temporary directory whose path goes in NOTIFY_SOCKET; every
// datagram the server sends is kept, in order. Like systemd it reads as
// soon as a datagram arrives (on the event loop): sd_notify blocks once the
// receiver's queue is full.

#include <QByteArray>
#include <QList>
#include <QString>
#include <QTemporaryDir>

QT_BEGIN_NAMESPACE
class QSocketNotifier;
QT_END_NAMESPACE

namespace medrelay::test {

class NotifySocket final
{
public:
    NotifySocket();
    ~NotifySocket();
    Q_DISABLE_COPY_MOVE(NotifySocket)

    [[nodiscard]] bool isValid() const { return m_fd >= 0; }
    [[nodiscard]] QString path() const { return m_path; }
    // Every message so far (reading what has arrived but was not yet read).
    const QList<QByteArray> &messages();
    // How many messages so far contain `line` as one of their lines.
    [[nodiscard]] int countLine(const QByteArray &line);

private:
    QTemporaryDir m_dir;
    QString m_path;
    int m_fd = -1;
    QSocketNotifier *m_notifier = nullptr;
    QList<QByteArray> m_messages;
};

} // namespace medrelay::test

#include "NotifySocket.h"

#include <QFile>
#include <QSocketNotifier>

#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace medrelay::test {

NotifySocket::NotifySocket()
{
    m_path = m_dir.filePath(QStringLiteral("notify.sock"));
    const QByteArray native = QFile::encodeName(m_path);
    sockaddr_un address = {};
    address.sun_family = AF_UNIX;
    if (native.size() >= static_cast<qsizetype>(sizeof(address.sun_path)))
        return;
    std::memcpy(address.sun_path, native.constData(), static_cast<size_t>(native.size()));
    m_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (m_fd >= 0 && ::bind(m_fd, reinterpret_cast<const sockaddr *>(&address), sizeof(address)) != 0) {
        ::close(m_fd);
        m_fd = -1;
    }
    if (m_fd >= 0) {
        m_notifier = new QSocketNotifier(m_fd, QSocketNotifier::Read);
        QObject::connect(m_notifier, &QSocketNotifier::activated, m_notifier, [this] { messages(); });
    }
}

NotifySocket::~NotifySocket()
{
    delete m_notifier;
    if (m_fd >= 0)
        ::close(m_fd);
}

const QList<QByteArray> &NotifySocket::messages()
{
    char buffer[4096];
    while (m_fd >= 0) {
        const ssize_t n = ::recv(m_fd, buffer, sizeof(buffer), 0);
        if (n < 0)
            break;
        m_messages.append(QByteArray(buffer, static_cast<qsizetype>(n)));
    }
    return m_messages;
}

int NotifySocket::countLine(const QByteArray &line)
{
    int n = 0;
    for (const QByteArray &m : messages()) {
        if (m.split('\n').contains(line))
            ++n;
    }
    return n;
}

} // namespace medrelay::test

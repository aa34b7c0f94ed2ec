#include "ServerProcess.h"

#include <QElapsedTimer>
#include <QFile>
#include <QRegularExpression>

namespace medrelay::test {

using namespace Qt::StringLiterals;

ServerProcess::ServerProcess(const QStringList &args)
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const QString &k : env.keys()) {
        if (k.startsWith(u"MEDRELAY_"_s) || k.startsWith(u"WS_"_s) || k == u"NODE_ENV"_s || k == u"DEBUG"_s)
            env.remove(k);
    }
    env.insert(u"MEDRELAY_DATA_DIR"_s, m_dataDir.path()); // its own audit log
    // Under AddressSanitizer, freed memory is held in a quarantine (256 MB by
    // default) that would read as growth; keep it small for the child.
    const QString asan = env.value(u"ASAN_OPTIONS"_s);
    env.insert(u"ASAN_OPTIONS"_s, (asan.isEmpty() ? QString() : asan + u':') + u"quarantine_size_mb=2"_s);
    m_process.setProcessEnvironment(env);
    m_process.setProcessChannelMode(QProcess::SeparateChannels);
    m_process.start(QString::fromLatin1(MEDRELAY_SERVER_BINARY),
                    QStringList{u"--host"_s, u"127.0.0.1"_s, u"--port"_s, u"0"_s} + args);
    if (!m_process.waitForStarted(10000))
        return;
    static const QRegularExpression re(u"listening on .*:(\\d+)"_s);
    QByteArray out;
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < 20000 && m_process.state() == QProcess::Running) {
        m_process.waitForReadyRead(100);
        out += m_process.readAllStandardOutput();
        const auto m = re.match(QString::fromUtf8(out));
        if (m.hasMatch()) {
            m_port = m.captured(1).toUShort();
            break;
        }
    }
}

ServerProcess::~ServerProcess()
{
    if (m_process.state() != QProcess::NotRunning) {
        m_process.kill();
        m_process.waitForFinished(10000);
    }
}

qint64 ServerProcess::statusKiB(const char *field) const
{
    QFile f(u"/proc/%1/status"_s.arg(pid()));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    const QByteArray prefix = QByteArray(field) + ':';
    for (const QByteArray &line : f.readAll().split('\n')) {
        if (line.startsWith(prefix))
            return line.mid(prefix.size()).trimmed().split(' ').value(0).toLongLong();
    }
    return -1;
}

int ServerProcess::acceptQueue() const
{
    QFile f(u"/proc/net/tcp"_s);
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    // "sl local_address rem_address st tx_queue:rx_queue ..."; for a socket
    // in LISTEN (0A), rx_queue is its accept backlog.
    const QByteArray local = "0100007F:" + QByteArray::number(m_port, 16).toUpper().rightJustified(4, '0');
    for (const QByteArray &line : f.readAll().split('\n')) {
        const QList<QByteArray> fields = line.simplified().split(' ');
        if (fields.size() > 4 && fields[1] == local && fields[3] == "0A")
            return fields[4].split(':').value(1).toInt(nullptr, 16);
    }
    return -1;
}

QByteArray ServerProcess::standardError()
{
    return m_process.readAllStandardError();
}

} // namespace medrelay::test

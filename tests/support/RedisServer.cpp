#include "RedisServer.h"

#include "ProcessSignal.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>

#include <csignal>
#include <optional>

namespace medrelay::test {

using namespace Qt::StringLiterals;

namespace {

QString redisBinary()
{
    return QStandardPaths::findExecutable(u"redis-server"_s);
}

quint16 freePort()
{
    QTcpServer probe;
    if (!probe.listen(QHostAddress::LocalHost, 0))
        return 0;
    return probe.serverPort();
}

// RESP reply parser over a growing buffer: nullopt until a whole reply is in.
std::optional<QVariant> parse(const QByteArray &buf, qsizetype &pos)
{
    const qsizetype eol = buf.indexOf("\r\n", pos);
    if (eol < 0)
        return std::nullopt;
    const char kind = buf.at(pos);
    const QByteArray line = buf.mid(pos + 1, eol - pos - 1);
    qsizetype next = eol + 2;
    switch (kind) {
    case '+':
        pos = next;
        return QVariant(line);
    case '-':
        pos = next;
        return QVariant(QString::fromUtf8(line));
    case ':':
        pos = next;
        return QVariant(line.toLongLong());
    case '$': {
        const qsizetype len = line.toLongLong();
        if (len < 0) {
            pos = next;
            return QVariant();
        }
        if (buf.size() < next + len + 2)
            return std::nullopt;
        pos = next + len + 2;
        return QVariant(buf.mid(next, len));
    }
    case '*': {
        const qsizetype n = line.toLongLong();
        QVariantList out;
        qsizetype p = next;
        for (qsizetype i = 0; i < n; ++i) {
            auto v = parse(buf, p);
            if (!v)
                return std::nullopt;
            out.append(*v);
        }
        pos = p;
        return QVariant(out);
    }
    default:
        pos = buf.size();
        return QVariant(u"unparseable reply"_s);
    }
}

} // namespace

RedisServer::RedisServer()
{
    m_process.setProcessChannelMode(QProcess::MergedChannels);
}

RedisServer::~RedisServer()
{
    stop();
}

bool RedisServer::available()
{
    return !redisBinary().isEmpty();
}

QString RedisServer::url(int db) const
{
    return u"redis://127.0.0.1:%1/%2"_s.arg(m_port).arg(db);
}

bool RedisServer::start(const QStringList &extraArgs, int timeoutMs)
{
    m_error.clear();
    if (!m_dir.isValid()) {
        m_error = u"no temporary directory"_s;
        return false;
    }
    const QString binary = redisBinary();
    if (binary.isEmpty()) {
        m_error = u"redis-server is not installed (scripts/install-deps.sh installs it)"_s;
        return false;
    }
    const bool pickPort = m_port == 0;
    for (int attempt = 0; attempt < 5; ++attempt) {
        if (pickPort)
            m_port = freePort();
        QStringList args{u"--port"_s,       QString::number(m_port), u"--bind"_s,       u"127.0.0.1"_s,
                         u"--dir"_s,        m_dir.path(),            u"--appendonly"_s, u"yes"_s,
                         u"--appendfsync"_s, u"always"_s,            u"--save"_s,       u""_s,
                         u"--daemonize"_s,  u"no"_s,                 u"--logfile"_s,    u"redis.log"_s,
                         u"--protected-mode"_s, u"yes"_s};
        args += extraArgs;
        m_process.start(binary, args);
        if (!m_process.waitForStarted(5000)) {
            m_error = u"redis-server did not start: %1"_s.arg(m_process.errorString());
            return false;
        }
        const QDeadlineTimer deadline(timeoutMs);
        while (!deadline.hasExpired() && m_process.state() == QProcess::Running) {
            const QVariant pong = command({"PING"}, 500);
            if (pong.toByteArray() == "PONG" || pong.toString().startsWith("NOAUTH"_L1))
                return true;
            QThread::msleep(20);
        }
        m_process.kill();
        m_process.waitForFinished(3000);
        if (!pickPort)
            break;
    }
    m_error = u"redis-server did not answer on port %1"_s.arg(m_port);
    return false;
}

void RedisServer::stop()
{
    if (m_process.state() == QProcess::NotRunning)
        return;
    resume();
    m_process.terminate();
    if (!m_process.waitForFinished(10000)) {
        m_process.kill();
        m_process.waitForFinished(3000);
    }
}

void RedisServer::kill()
{
    if (m_process.state() == QProcess::NotRunning)
        return;
    m_process.kill();
    m_process.waitForFinished(5000);
}

bool RedisServer::pause()
{
    return signalProcess(m_process, SIGSTOP);
}

bool RedisServer::resume()
{
    return signalProcess(m_process, SIGCONT);
}

bool RedisServer::wipe()
{
    if (m_process.state() != QProcess::NotRunning || !m_dir.isValid())
        return false;
    QDir dir(m_dir.path());
    bool ok = true;
    for (const QFileInfo &entry : dir.entryInfoList(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden)) {
        if (entry.fileName() == "redis.log"_L1)
            continue;
        ok = (entry.isDir() ? QDir(entry.filePath()).removeRecursively() : dir.remove(entry.fileName())) && ok;
    }
    return ok;
}

bool RedisServer::startEmpty()
{
    if (!isRunning() && !start())
        return false;
    const QVariant reply = command({"FLUSHALL"});
    if (reply.toByteArray() == "OK")
        return true;
    m_error = u"FLUSHALL answered %1"_s.arg(reply.toString());
    return false;
}

QVariant RedisServer::command(const QList<QByteArray> &args, int timeoutMs) const
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, m_port);
    if (!socket.waitForConnected(timeoutMs))
        return QVariant(u"cannot connect: %1"_s.arg(socket.errorString()));
    QByteArray request = "*" + QByteArray::number(args.size()) + "\r\n";
    for (const QByteArray &a : args)
        request += "$" + QByteArray::number(a.size()) + "\r\n" + a + "\r\n";
    socket.write(request);
    QByteArray buf;
    const QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        qsizetype pos = 0;
        if (!buf.isEmpty()) {
            if (auto v = parse(buf, pos))
                return *v;
        }
        if (!socket.waitForReadyRead(static_cast<int>(std::max<qint64>(1, deadline.remainingTime()))))
            break;
        buf += socket.readAll();
    }
    return QVariant(u"no reply"_s);
}

} // namespace medrelay::test

#include "ServerBinary.h"

#include "ProcessSignal.h"

#include <QElapsedTimer>
#include <QRegularExpression>

#include <csignal>

namespace medrelay::test {

using namespace Qt::StringLiterals;

ServerBinary::~ServerBinary()
{
    stop(3000);
}

bool ServerBinary::start(const QStringList &args, int timeoutMs)
{
    m_output.clear();
    m_error.clear();
    m_port = 0;
    m_process.setProcessChannelMode(QProcess::MergedChannels);
    m_process.start(QString::fromLatin1(MEDRELAY_SERVER_BINARY),
                    QStringList{u"--host"_s, u"127.0.0.1"_s, u"--port"_s, u"0"_s} + args);
    if (!m_process.waitForStarted(timeoutMs)) {
        m_error = u"did not start: %1"_s.arg(m_process.errorString());
        return false;
    }
    static const QRegularExpression listening(u"listening on [^:]+:(\\d+)"_s);
    QElapsedTimer timer;
    timer.start();
    while (timer.elapsed() < timeoutMs) {
        m_process.waitForReadyRead(100);
        m_output += m_process.readAll();
        const auto match = listening.match(QString::fromUtf8(m_output));
        if (match.hasMatch()) {
            m_port = match.captured(1).toUShort();
            return true;
        }
        if (m_process.state() != QProcess::Running)
            break;
    }
    m_error = u"no 'listening on' line: %1"_s.arg(QString::fromUtf8(m_output).left(2000));
    return false;
}

void ServerBinary::kill()
{
    if (m_process.state() == QProcess::NotRunning)
        return;
    medrelay::test::signalPid(m_process.processId(), SIGKILL);
    m_process.waitForFinished(10000);
    m_output += m_process.readAll();
}

void ServerBinary::stop(int graceMs)
{
    if (m_process.state() == QProcess::NotRunning)
        return;
    m_process.terminate();
    if (!m_process.waitForFinished(graceMs))
        kill();
    m_output += m_process.readAll();
}

QUrl ServerBinary::wsUrl() const
{
    return QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(m_port));
}

QString ServerBinary::output()
{
    m_output += m_process.readAll();
    return QString::fromUtf8(m_output);
}

} // namespace medrelay::test

// The real medrelay-server writing to a real systemd-journald. The test runs
// in its own mount namespace with a private /run (and journal directories),
// starts journald there, and starts the server the way systemd starts a
// service: stderr connected to a journal stream and JOURNAL_STREAM naming it.
// In the default (auto) log format the server must then send native journal
// records with EVENT / ROOM_ID / CONNECTION_ID / PRIORITY / CODE_CATEGORY
// fields, and no participant's name or chat text may reach the journal.
// Needs root (namespaces, mounts, journald); elsewhere it exits 77, which
// CTest reports as skipped.

#include "ProcessSignal.h"
#include "TestClient.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <cstdio>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

using namespace medrelay::test;
using namespace Qt::StringLiterals;

namespace {

constexpr auto kJournald = "/lib/systemd/systemd-journald";
const QString kSecretName = u"Dr Yolanda Pemberton"_s;
const QString kSecretChat = u"the rash spread to both arms overnight"_s;

// A private mount namespace where /run, the persistent journal directory
// and journald's configuration are the test's own. Returns the reason when
// that is not possible here.
QString isolateMounts(const QString &configFile)
{
    if (::geteuid() != 0)
        return u"needs root (a mount namespace and a private systemd-journald)"_s;
    if (::access(kJournald, X_OK) != 0)
        return u"%1 is missing (scripts/install-deps.sh installs systemd)"_s.arg(QLatin1StringView(kJournald));
    if (::unshare(CLONE_NEWNS) != 0)
        return u"cannot make a mount namespace here"_s;
    // Nothing mounted from here on is seen outside this process.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        return u"cannot make mounts private"_s;
    if (::mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") != 0)
        return u"cannot mount a private /run"_s;
    ::mkdir("/run/systemd", 0755);
    ::mkdir("/run/systemd/journal", 0755);
    ::mkdir("/run/log", 0755);
    struct stat st = {};
    if (::stat("/var/log/journal", &st) == 0 && ::mount("tmpfs", "/var/log/journal", "tmpfs", 0, "mode=0755") != 0)
        return u"cannot hide /var/log/journal"_s;
    if (::stat("/etc/systemd/journald.conf", &st) == 0
        && ::mount(QFile::encodeName(configFile).constData(), "/etc/systemd/journald.conf", nullptr, MS_BIND, nullptr)
               != 0)
        return u"cannot bind the test's journald.conf"_s;
    return {};
}

QTemporaryDir *g_dir = nullptr;

} // namespace

class TestJournal final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void serviceRecordsCarryFields();

private:
    QList<QJsonObject> journal(const QString &match = {}) const;

    QProcess m_journald;
};

void TestJournal::initTestCase()
{
    m_journald.setProcessChannelMode(QProcess::MergedChannels);
    m_journald.start(QString::fromLatin1(kJournald), {});
    QVERIFY(m_journald.waitForStarted(5000));
    QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(u"/run/systemd/journal/socket"_s)
                                 && QFile::exists(u"/run/systemd/journal/stdout"_s),
                             10000);
}

void TestJournal::cleanupTestCase()
{
    if (m_journald.state() != QProcess::NotRunning) {
        m_journald.terminate();
        if (!m_journald.waitForFinished(5000))
            m_journald.kill();
    }
}

QList<QJsonObject> TestJournal::journal(const QString &match) const
{
    QProcess p;
    QStringList args{u"-D"_s, u"/run/log/journal"_s, u"-o"_s, u"json"_s, u"--no-pager"_s,
                     u"SYSLOG_IDENTIFIER=medrelay-server"_s};
    if (!match.isEmpty())
        args.append(match);
    p.start(u"journalctl"_s, args);
    p.waitForFinished(10000);
    QList<QJsonObject> out;
    for (const QByteArray &line : p.readAllStandardOutput().split('\n')) {
        const QJsonObject o = QJsonDocument::fromJson(line).object();
        if (!o.isEmpty())
            out.append(o);
    }
    return out;
}

void TestJournal::serviceRecordsCarryFields()
{
    // What systemd gives a service: stderr is a stream into the journal.
    const int stream = sd_journal_stream_fd("medrelay-server", LOG_INFO, 0);
    QVERIFY2(stream >= 0, "cannot open a journal stream");
    struct stat st = {};
    QCOMPARE(::fstat(stream, &st), 0);
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const QString &k : env.keys()) {
        if (k.startsWith(u"MEDRELAY_"_s) || k.startsWith(u"WS_"_s) || k == u"NODE_ENV"_s || k == u"DEBUG"_s
            || k == u"QT_LOGGING_RULES"_s)
            env.remove(k);
    }
    env.insert(u"JOURNAL_STREAM"_s, u"%1:%2"_s.arg(qulonglong(st.st_dev)).arg(qulonglong(st.st_ino)));
    env.insert(u"MEDRELAY_DATA_DIR"_s, g_dir->filePath(u"data"_s));

    QProcess server;
    server.setProcessEnvironment(env);
    server.setChildProcessModifier([stream] { ::dup2(stream, STDERR_FILENO); });
    server.start(QString::fromLatin1(MEDRELAY_SERVER_BINARY),
                 {u"--port"_s, u"0"_s, u"--host"_s, u"127.0.0.1"_s, u"--env"_s, u"development"_s});
    ::close(stream);
    QVERIFY(server.waitForStarted(5000));
    const qint64 serverPid = server.processId();
    static const QRegularExpression listening(u"listening on .*:(\\d+)"_s);
    QByteArray out;
    QTRY_VERIFY_WITH_TIMEOUT((out += server.readAllStandardOutput(), listening.match(QString::fromUtf8(out)).hasMatch()),
                             10000);
    const quint16 port = listening.match(QString::fromUtf8(out)).captured(1).toUShort();

    QString connectionId;
    {
        TestClient alice;
        TestClient bob;
        const QUrl url(u"ws://127.0.0.1:%1/ws"_s.arg(port));
        QVERIFY(alice.open(url));
        QVERIFY(bob.open(url));
        connectionId = alice.join(u"room-journal"_s, 5, u"u-alice"_s, kSecretName);
        QVERIFY(!connectionId.isEmpty());
        QVERIFY(!bob.join(u"room-journal"_s, 5, u"u-bob"_s, u"Bob"_s).isEmpty());
        alice.send({{u"type"_s, u"telemedicine_chat_message"_s},
                    {u"roomId"_s, u"room-journal"_s},
                    {u"appointmentId"_s, 5},
                    {u"message"_s, kSecretChat}});
        QVERIFY(bob.waitFor(u"telemedicine_chat_message"_s).has_value());
    }
    medrelay::test::signalPid(server.processId(), SIGTERM);
    QVERIFY(server.state() == QProcess::NotRunning || server.waitForFinished(10000));
    QCOMPARE(server.exitCode(), 0);

    // The join, as a native record (not a line of the stderr stream) with
    // its ids as fields.
    QList<QJsonObject> joins;
    QTRY_VERIFY_WITH_TIMEOUT(
        !(joins = journal(u"CONNECTION_ID=%1"_s.arg(connectionId))).isEmpty()
            && std::any_of(joins.cbegin(), joins.cend(),
                           [](const QJsonObject &r) { return r.value("EVENT"_L1).toString() == u"join"_s; }),
        10000);
    const auto join = *std::find_if(joins.cbegin(), joins.cend(),
                                    [](const QJsonObject &r) { return r.value("EVENT"_L1).toString() == u"join"_s; });
    QCOMPARE(join.value("ROOM_ID"_L1).toString(), u"room-journal"_s);
    QCOMPARE(join.value("CODE_CATEGORY"_L1).toString(), u"medrelay.events"_s);
    QCOMPARE(join.value("PRIORITY"_L1).toString(), u"6"_s);
    QCOMPARE(join.value("_TRANSPORT"_L1).toString(), u"journal"_s);
    QCOMPARE(join.value("_PID"_L1).toString(), QString::number(serverPid));
    // The record's location is its own (when the build records one), never
    // the log handler's.
    QVERIFY(!join.value("CODE_FILE"_L1).toString().contains(u"LogHandler"_s));

    // Lifecycle and warnings too, each with its priority and category.
    const QList<QJsonObject> all = journal();
    QVERIFY(std::any_of(all.cbegin(), all.cend(), [](const QJsonObject &r) {
        return r.value("EVENT"_L1).toString() == u"stop_requested"_s
            && r.value("CODE_CATEGORY"_L1).toString() == u"medrelay.server"_s;
    }));
    QVERIFY(std::any_of(all.cbegin(), all.cend(), [](const QJsonObject &r) {
        return r.value("PRIORITY"_L1).toString() == u"4"_s && r.value("_TRANSPORT"_L1).toString() == u"journal"_s;
    }));
    // Nothing went through the stderr stream as plain text.
    QVERIFY(std::none_of(all.cbegin(), all.cend(), [](const QJsonObject &r) {
        return r.value("_TRANSPORT"_L1).toString() == u"stdout"_s
            && r.value("MESSAGE"_L1).toString().contains(u"medrelay."_s);
    }));

    // No name, no chat text, in any field of any record.
    QProcess exported;
    exported.start(u"journalctl"_s, {u"-D"_s, u"/run/log/journal"_s, u"-o"_s, u"export"_s, u"--no-pager"_s});
    QVERIFY(exported.waitForFinished(10000));
    const QByteArray everything = exported.readAllStandardOutput();
    QVERIFY(everything.contains("room-journal"));
    QVERIFY(!everything.contains(kSecretName.toUtf8()));
    QVERIFY(!everything.contains(kSecretChat.toUtf8()));
}

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QTemporaryDir dir;
    g_dir = &dir;
    // A journald that keeps everything in memory and talks to nothing else.
    const QString config = dir.filePath(u"journald.conf"_s);
    QFile conf(config);
    if (!conf.open(QIODevice::WriteOnly))
        return 1;
    conf.write("[Journal]\nStorage=volatile\nReadKMSG=no\nAudit=no\nForwardToSyslog=no\nForwardToKMsg=no\n"
               "ForwardToConsole=no\nForwardToWall=no\nRateLimitBurst=0\n");
    conf.close();
    if (const QString reason = isolateMounts(config); !reason.isEmpty()) {
        std::printf("SKIPPED: %s\n", qPrintable(reason));
        return 77;
    }
    TestJournal test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_journal.moc"

// The real medrelay-server's logs: JSON lines with the event, room and
// connection ids as keys (--log-format json or MEDRELAY_LOG_FORMAT=json),
// text lines as before otherwise, text rather than the journal when
// JOURNAL_STREAM names some other file, and never a participant's name or
// chat text in any of them.

#include "ProcessSignal.h"
#include "TestClient.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace medrelay::test;
using namespace Qt::StringLiterals;

namespace {

const QString kSecretName = u"Dr Zelda Quintessa"_s;
const QString kSecretChat = u"patient reports dizziness since tuesday"_s;

QProcessEnvironment cleanEnv()
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const QString &k : env.keys()) {
        if (k.startsWith(u"MEDRELAY_"_s) || k.startsWith(u"WS_"_s) || k == u"NODE_ENV"_s || k == u"DEBUG"_s
            || k == u"JOURNAL_STREAM"_s || k == u"NOTIFY_SOCKET"_s || k == u"QT_LOGGING_RULES"_s)
            env.remove(k);
    }
    return env;
}

// Runs a server, lets two clients join a room and chat, stops it with
// SIGTERM, and returns everything it wrote to stderr.
struct Session
{
    QString stdErr;
    QString connectionId;
    int exitCode = -1;
};

Session runSession(const QStringList &args, QProcessEnvironment env)
{
    Session s;
    QTemporaryDir dataDir;
    env.insert(u"MEDRELAY_DATA_DIR"_s, dataDir.path());
    QProcess p;
    p.setProcessEnvironment(env);
    p.start(QString::fromLatin1(MEDRELAY_SERVER_BINARY),
            QStringList{u"--port"_s, u"0"_s, u"--host"_s, u"127.0.0.1"_s} + args);
    if (!p.waitForStarted(5000))
        return s;
    static const QRegularExpression listening(u"listening on .*:(\\d+)"_s);
    QByteArray out;
    QElapsedTimer t;
    t.start();
    quint16 port = 0;
    while (t.elapsed() < 10000 && port == 0 && p.state() == QProcess::Running) {
        p.waitForReadyRead(100);
        out += p.readAllStandardOutput();
        if (const auto m = listening.match(QString::fromUtf8(out)); m.hasMatch())
            port = m.captured(1).toUShort();
    }
    if (port != 0) {
        TestClient alice;
        TestClient bob;
        const QUrl url(u"ws://127.0.0.1:%1/ws"_s.arg(port));
        if (alice.open(url) && bob.open(url)) {
            s.connectionId = alice.join(u"room-log-1"_s, 77, u"u-alice"_s, kSecretName);
            bob.join(u"room-log-1"_s, 77, u"u-bob"_s, u"Bob"_s);
            alice.send({{u"type"_s, u"telemedicine_chat_message"_s},
                        {u"roomId"_s, u"room-log-1"_s},
                        {u"appointmentId"_s, 77},
                        {u"message"_s, kSecretChat}});
            bob.waitFor(u"telemedicine_chat_message"_s);
        }
        medrelay::test::signalPid(p.processId(), SIGTERM);
        p.waitForFinished(15000);
    } else {
        p.kill();
        p.waitForFinished(5000);
    }
    s.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    s.stdErr = QString::fromUtf8(p.readAllStandardError());
    return s;
}

QList<QJsonObject> jsonLines(const QString &text, QString *badLine)
{
    QList<QJsonObject> out;
    for (const QString &line : text.split(u'\n', Qt::SkipEmptyParts)) {
        QJsonParseError e;
        const QJsonDocument d = QJsonDocument::fromJson(line.toUtf8(), &e);
        if (e.error != QJsonParseError::NoError || !d.isObject()) {
            *badLine = line;
            return {};
        }
        out.append(d.object());
    }
    return out;
}

} // namespace

class TestLoggingProcess final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void jsonLinesCarryIdsAsFields_data();
    void jsonLinesCarryIdsAsFields();
    void textStaysTheDefault();
    void journalStreamOfAnotherFileMeansText();
};

void TestLoggingProcess::jsonLinesCarryIdsAsFields_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<bool>("viaEnvironment");
    QTest::addRow("--log-format json") << QStringList{u"--log-format"_s, u"json"_s} << false;
    QTest::addRow("MEDRELAY_LOG_FORMAT=json") << QStringList{} << true;
}

void TestLoggingProcess::jsonLinesCarryIdsAsFields()
{
    QFETCH(QStringList, args);
    QFETCH(bool, viaEnvironment);
    QProcessEnvironment env = cleanEnv();
    if (viaEnvironment)
        env.insert(u"MEDRELAY_LOG_FORMAT"_s, u"json"_s);
    const Session s = runSession(args, env);
    QCOMPARE(s.exitCode, 0);
    QVERIFY(!s.connectionId.isEmpty());

    QString bad;
    const QList<QJsonObject> records = jsonLines(s.stdErr, &bad);
    QVERIFY2(bad.isEmpty(), qPrintable(u"not a JSON line: "_s + bad));
    QVERIFY(!records.isEmpty());
    bool sawJoin = false;
    bool sawStop = false;
    for (const QJsonObject &r : records) {
        for (const char *key : {"time", "level", "priority", "category", "message"})
            QVERIFY2(r.contains(QLatin1StringView(key)), qPrintable(u"missing "_s + QLatin1StringView(key)));
        QVERIFY(r.value("category"_L1).toString().startsWith(u"medrelay."_s)
                || r.value("category"_L1).toString() == u"default"_s);
        if (r.value("event"_L1).toString() == u"join"_s && r.value("connection_id"_L1).toString() == s.connectionId) {
            sawJoin = true;
            QCOMPARE(r.value("room_id"_L1).toString(), u"room-log-1"_s);
            QCOMPARE(r.value("category"_L1).toString(), u"medrelay.events"_s);
            QCOMPARE(r.value("priority"_L1).toInt(), 6);
        }
        if (r.value("event"_L1).toString() == u"stop_requested"_s)
            sawStop = r.value("message"_L1).toString().startsWith(u"draining"_s);
    }
    QVERIFY2(sawJoin, qPrintable(s.stdErr));
    QVERIFY2(sawStop, qPrintable(s.stdErr));
    QVERIFY(!s.stdErr.contains(kSecretName));
    QVERIFY(!s.stdErr.contains(kSecretChat));
}

void TestLoggingProcess::textStaysTheDefault()
{
    const Session s = runSession({}, cleanEnv());
    QCOMPARE(s.exitCode, 0);
    static const QRegularExpression textLine(
        u"^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3} (debug|info|warning|error|fatal) [a-z.]+: "_s);
    const QStringList lines = s.stdErr.split(u'\n', Qt::SkipEmptyParts);
    QVERIFY(!lines.isEmpty());
    for (const QString &line : lines)
        QVERIFY2(textLine.match(line).hasMatch(), qPrintable(line));
    QVERIFY(s.stdErr.contains(u" info medrelay.server: draining"_s));
    // Event records are for sinks that keep fields; in text the rooms and
    // auth categories say the same in prose.
    QVERIFY(!s.stdErr.contains(u"medrelay.events"_s));
    QVERIFY(!s.stdErr.contains(kSecretName));
    QVERIFY(!s.stdErr.contains(kSecretChat));
}

void TestLoggingProcess::journalStreamOfAnotherFileMeansText()
{
    // Inherited from a parent whose stderr was the journal; ours is a pipe.
    QProcessEnvironment env = cleanEnv();
    env.insert(u"JOURNAL_STREAM"_s, u"8:12345"_s);
    const Session s = runSession({}, env);
    QCOMPARE(s.exitCode, 0);
    QVERIFY2(s.stdErr.contains(u" info medrelay.server: "_s), qPrintable(s.stdErr));
}

QTEST_GUILESS_MAIN(TestLoggingProcess)
#include "tst_logging_process.moc"

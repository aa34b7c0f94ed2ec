// The log record formats (JSON lines, journal fields), the structured fields
// a LogScope attaches, and the test that tells the journal stream apart.

#include "logging/LogFields.h"
#include "logging/LogHandler.h"
#include "logging/LogRecord.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>
#include <QThread>

#include <sys/stat.h>
#include <unistd.h>

using namespace medrelay::logging;
using namespace Qt::StringLiterals;

namespace {

LogRecord sample()
{
    LogRecord r;
    r.type = QtWarningMsg;
    r.category = "medrelay.rooms";
    r.message = u"room \"r1\" closed\nsecond line"_s;
    r.time = QDateTime(QDate(2026, 11, 27), QTime(10, 11, 12, 345), Qt::UTC);
    r.fields = {{Field::Event, u"room_closed"_s}, {Field::RoomId, u"r1"_s}, {Field::ConnectionId, u"c-7"_s}};
    return r;
}

} // namespace

class TestLogFormat final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void priorities();
    void jsonLineIsOneObjectPerLine();
    void journalFields();
    void journalFieldsLeaveOutUnknownLocation();
    void scopesNestAndRestore();
    void scopesArePerThread();
    void longValuesAreBounded();
    void journalStreamMatchesOnlyItsFile();
};

void TestLogFormat::priorities()
{
    QCOMPARE(syslogPriority(QtDebugMsg), 7);
    QCOMPARE(syslogPriority(QtInfoMsg), 6);
    QCOMPARE(syslogPriority(QtWarningMsg), 4);
    QCOMPARE(syslogPriority(QtCriticalMsg), 3);
    QCOMPARE(syslogPriority(QtFatalMsg), 2);
    QCOMPARE(levelName(QtCriticalMsg), u"error"_s);
}

void TestLogFormat::jsonLineIsOneObjectPerLine()
{
    const QByteArray line = toJsonLine(sample());
    QVERIFY(line.endsWith('\n'));
    QCOMPARE(line.count('\n'), 1); // the message's newline is escaped
    QJsonParseError error;
    const QJsonObject o = QJsonDocument::fromJson(line, &error).object();
    QCOMPARE(error.error, QJsonParseError::NoError);
    QCOMPARE(o.value("time"_L1).toString(), u"2026-11-27T10:11:12.345Z"_s);
    QCOMPARE(o.value("level"_L1).toString(), u"warning"_s);
    QCOMPARE(o.value("priority"_L1).toInt(), 4);
    QCOMPARE(o.value("category"_L1).toString(), u"medrelay.rooms"_s);
    QCOMPARE(o.value("message"_L1).toString(), u"room \"r1\" closed\nsecond line"_s);
    QCOMPARE(o.value("event"_L1).toString(), u"room_closed"_s);
    QCOMPARE(o.value("room_id"_L1).toString(), u"r1"_s);
    QCOMPARE(o.value("connection_id"_L1).toString(), u"c-7"_s);
    QCOMPARE(o.size(), 8);
}

void TestLogFormat::journalFields()
{
    LogRecord r = sample();
    r.file = "server/rooms/Room.cpp";
    r.line = 42;
    r.function = "void Room::close()";
    const QList<QByteArray> fields = toJournalFields(r, "medrelay-server");
    const QList<QByteArray> expected = {
        "MESSAGE=room \"r1\" closed\nsecond line",
        "PRIORITY=4",
        "SYSLOG_IDENTIFIER=medrelay-server",
        "CODE_CATEGORY=medrelay.rooms",
        "CODE_FILE=server/rooms/Room.cpp",
        "CODE_LINE=42",
        "CODE_FUNC=void Room::close()",
        "EVENT=room_closed",
        "ROOM_ID=r1",
        "CONNECTION_ID=c-7",
    };
    QCOMPARE(fields, expected);
}

void TestLogFormat::journalFieldsLeaveOutUnknownLocation()
{
    LogRecord r;
    r.type = QtInfoMsg;
    r.category = "medrelay.server";
    r.message = u"listening"_s;
    const QList<QByteArray> fields = toJournalFields(r, "x");
    QCOMPARE(fields, (QList<QByteArray>{"MESSAGE=listening", "PRIORITY=6", "SYSLOG_IDENTIFIER=x",
                                        "CODE_CATEGORY=medrelay.server"}));
}

void TestLogFormat::scopesNestAndRestore()
{
    QVERIFY(currentFields().isEmpty());
    {
        const LogScope outer{{Field::Event, u"join"_s}, {Field::RoomId, u"r1"_s}, {Field::ConnectionId, {}}};
        QCOMPARE(currentFields().size(), 2); // the empty value is left out
        {
            const LogScope inner{{Field::RoomId, u"r2"_s}, {Field::ConnectionId, u"c1"_s}};
            const QList<FieldValue> f = currentFields();
            QCOMPARE(f.size(), 3);
            QStringList pairs;
            for (const FieldValue &v : f)
                pairs.append(QString::fromLatin1(journalName(v.field)) + u'=' + v.value);
            pairs.sort();
            QCOMPARE(pairs, (QStringList{u"CONNECTION_ID=c1"_s, u"EVENT=join"_s, u"ROOM_ID=r2"_s}));
        }
        const QList<FieldValue> f = currentFields();
        QCOMPARE(f.size(), 2);
        QCOMPARE(f.at(1).value, u"r1"_s);
    }
    QVERIFY(currentFields().isEmpty());
}

void TestLogFormat::scopesArePerThread()
{
    const LogScope scope{{Field::RoomId, u"main-room"_s}};
    qsizetype seenOnWorker = -1;
    QThread *worker = QThread::create([&seenOnWorker] { seenOnWorker = currentFields().size(); });
    worker->start();
    QVERIFY(worker->wait(5000));
    delete worker;
    QCOMPARE(seenOnWorker, 0);
    QCOMPARE(currentFields().size(), 1);
}

void TestLogFormat::longValuesAreBounded()
{
    const LogScope scope{{Field::RoomId, QString(10000, u'x')}};
    QCOMPARE(currentFields().constFirst().value.size(), 256);
}

void TestLogFormat::journalStreamMatchesOnlyItsFile()
{
    int fds[2];
    QCOMPARE(::pipe(fds), 0);
    struct stat st = {};
    QCOMPARE(::fstat(fds[1], &st), 0);
    const QByteArray mine = QByteArray::number(qulonglong(st.st_dev)) + ':' + QByteArray::number(qulonglong(st.st_ino));
    const QByteArray other = QByteArray::number(qulonglong(st.st_dev)) + ':' + QByteArray::number(qulonglong(st.st_ino) + 1);
    QVERIFY(isJournalStream(mine, fds[1]));
    QVERIFY(!isJournalStream(other, fds[1]));
    QVERIFY(!isJournalStream("", fds[1]));
    QVERIFY(!isJournalStream("garbage", fds[1]));
    QVERIFY(!isJournalStream(":", fds[1]));
    QVERIFY(!isJournalStream(mine, -1));
    ::close(fds[0]);
    ::close(fds[1]);
}

QTEST_GUILESS_MAIN(TestLogFormat)
#include "tst_logformat.moc"

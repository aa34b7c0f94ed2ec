// medrelay-console run as a process: the unattended mode (a screenshot and
// exit 0 when connected; non-zero with the reason on stderr when unauthorised
// or unreachable), and --help and --version on a machine without a display.
#include "ServerProcess.h"

#include <QImage>
#include <QProcess>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QtTest>

#include <memory>

using namespace Qt::StringLiterals;
using medrelay::consoletest::RoomClient;
using medrelay::consoletest::ServerProcess;

namespace {

const QString kToken = u"console-headless-token-0123456789"_s;

struct Run
{
    int exitCode = -1;
    QString out;
    QString err;
};

enum class Platform { Offscreen, None };

Run runConsole(const QStringList &args, const QString &envToken = {}, Platform platform = Platform::Offscreen)
{
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    if (platform == Platform::Offscreen) {
        env.insert(u"QT_QPA_PLATFORM"_s, u"offscreen"_s);
    } else {
        // As on a server reached over ssh: no platform chosen, nothing to draw on.
        for (const QString &name : {u"QT_QPA_PLATFORM"_s, u"DISPLAY"_s, u"WAYLAND_DISPLAY"_s})
            env.remove(name);
    }
    env.remove(u"MEDRELAY_ADMIN_TOKEN"_s);
    if (!envToken.isEmpty())
        env.insert(u"MEDRELAY_ADMIN_TOKEN"_s, envToken);
    p.setProcessEnvironment(env);
    p.start(QStringLiteral(MEDRELAY_CONSOLE_EXECUTABLE), args);
    Run run;
    // The event loop keeps running so the test's own clients and server pipes are served.
    QSignalSpy finished(&p, &QProcess::finished);
    if (!finished.wait(30000)) {
        p.kill();
        p.waitForFinished(3000);
        run.err = u"timed out"_s;
        return run;
    }
    run.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
    run.out = QString::fromUtf8(p.readAllStandardOutput());
    run.err = QString::fromUtf8(p.readAllStandardError());
    return run;
}

} // namespace

class TestConsoleHeadless final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void screenshotWhenConnected()
    {
        ServerProcess server(kToken);
        QVERIFY2(server.start(), qPrintable(server.error()));
        RoomClient a;
        RoomClient b;
        QVERIFY(a.open(server.wsUrl()) && a.join(u"room-1"_s, 1, 1, u"A"_s, u"doctor"_s));
        QVERIFY(b.open(server.wsUrl()) && b.join(u"room-1"_s, 1, 2, u"B"_s, u"patient"_s));
        QTemporaryDir dir;
        const QString png = dir.filePath(u"console.png"_s);
        const Run run = runConsole({u"--server"_s, server.httpUrl().toString(), u"--token"_s, kToken,
                                    u"--screenshot"_s, png, u"--quit-after"_s, u"2"_s, u"--size"_s, u"1280x800"_s});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const QImage image(png);
        QVERIFY(!image.isNull());
        QCOMPARE(image.size() / image.devicePixelRatio(), QSize(1280, 800));
        QVERIFY(run.out.contains(u"wrote"_s));
    }

    // --watch opens a room's consultation view in the window that is shot.
    // With MEDRELAY_KEEP_SCREENSHOT=FILE the picture is kept there (this is
    // how docs/images/consultation.png is made).
    void screenshotOfTheConsultationView()
    {
        ServerProcess server(kToken, {u"--waiting-room"_s, u"on"_s});
        QVERIFY2(server.start(), qPrintable(server.error()));
        const QString room = u"derma-88"_s;
        RoomClient doctor, nurse, patient, waiting;
        QVERIFY(doctor.open(server.wsUrl()) && doctor.join(room, 88, 11, u"Dr Ada Lovell"_s, u"doctor"_s));
        QVERIFY(nurse.open(server.wsUrl()) && nurse.join(room, 88, 12, u"Sam Ortiz"_s, u"nurse"_s));
        const auto admitted = [&](RoomClient &guest, qint64 user, const QString &name) {
            guest.send({{u"type"_s, u"telemedicine_user_joined"_s}, {u"roomId"_s, room}, {u"appointmentId"_s, 88},
                        {u"userId"_s, user}, {u"userName"_s, name}});
            return guest.waitFor(u"waiting"_s, 10000);
        };
        QVERIFY(patient.open(server.wsUrl()) && admitted(patient, 21, u"Pat Doe"_s));
        QVERIFY(doctor.waitFor(u"admission_request"_s, 10000));
        QString patientConnection;
        for (const QJsonObject &m : doctor.received()) {
            if (m.value("type"_L1).toString() == "admission_request"_L1)
                patientConnection = m.value("connectionId"_L1).toString();
        }
        doctor.send({{u"type"_s, u"admit"_s}, {u"roomId"_s, room}, {u"connectionId"_s, patientConnection}});
        QVERIFY(patient.waitFor(u"admitted"_s, 10000));
        for (int i = 0; i < 4; ++i)
            doctor.chat(u"note %1"_s.arg(i));
        patient.chat(u"hello"_s);
        for (int i = 0; i < 3; ++i)
            nurse.send({{u"type"_s, u"whiteboard_update"_s}, {u"roomId"_s, room}, {u"appointmentId"_s, 88},
                        {u"data"_s, QJsonObject{{u"stroke"_s, i}}}});
        QVERIFY(waiting.open(server.wsUrl()) && admitted(waiting, 22, u"Lee Carter"_s));

        // While it is watched: the waiting guest is admitted, the nurse leaves.
        QTimer::singleShot(2000, &doctor, [&] {
            QString guest;
            for (const QJsonObject &m : doctor.received()) {
                if (m.value("type"_L1).toString() == "admission_request"_L1)
                    guest = m.value("connectionId"_L1).toString();
            }
            doctor.send({{u"type"_s, u"admit"_s}, {u"roomId"_s, room}, {u"connectionId"_s, guest}});
        });
        QTimer::singleShot(2500, &nurse, [&] {
            nurse.send({{u"type"_s, u"telemedicine_user_left"_s}, {u"roomId"_s, room}});
        });

        QTemporaryDir dir;
        const QString png = dir.filePath(u"consultation.png"_s);
        const Run run = runConsole({u"--server"_s, server.httpUrl().toString(), u"--token"_s, kToken, u"--watch"_s,
                                    room, u"--select-room"_s, room, u"--screenshot"_s, png, u"--quit-after"_s,
                                    u"4"_s, u"--size"_s, u"1440x900"_s});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const QImage image(png);
        QVERIFY(!image.isNull());
        QCOMPARE(image.size() / image.devicePixelRatio(), QSize(1440, 900));
        QVERIFY(waiting.waitFor(u"admitted"_s, 10000));
        if (const QString keep = qEnvironmentVariable("MEDRELAY_KEEP_SCREENSHOT"); !keep.isEmpty()) {
            QFile::remove(keep);
            QVERIFY(QFile::copy(png, keep));
        }
    }

    void tokenFromEnvironment()
    {
        ServerProcess server(kToken);
        QVERIFY2(server.start(), qPrintable(server.error()));
        const Run run = runConsole({u"--server"_s, server.httpUrl().toString(), u"--quit-after"_s, u"1.5"_s}, kToken);
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
    }

    void unauthorisedExitsAtOnce_data()
    {
        QTest::addColumn<QString>("token");
        QTest::addColumn<QString>("says");
        QTest::addRow("wrong token") << u"wrong-wrong-wrong-wrong"_s << u"refused the admin token"_s;
        QTest::addRow("no token") << QString() << u"give the admin token with MEDRELAY_ADMIN_TOKEN"_s;
    }

    void unauthorisedExitsAtOnce()
    {
        QFETCH(QString, token);
        QFETCH(QString, says);
        ServerProcess server(kToken);
        QVERIFY2(server.start(), qPrintable(server.error()));
        QTemporaryDir dir;
        const QString png = dir.filePath(u"never.png"_s);
        // The deadline is an hour away and runConsole gives up after 30 s: an
        // exit at all means the refusal ended the run, not the deadline.
        QStringList args{u"--server"_s, server.httpUrl().toString(), u"--screenshot"_s, png, u"--quit-after"_s,
                         u"3600"_s};
        if (!token.isEmpty())
            args << u"--token"_s << token;
        const Run run = runConsole(args);
        QCOMPARE(run.exitCode, 2);
        QVERIFY2(run.err.contains(u"unauthorised"_s), qPrintable(run.err));
        QVERIFY2(run.err.contains(says), qPrintable(run.err));
        QVERIFY(!QFile::exists(png));
    }

    void helpAndVersionNeedNoDisplay()
    {
        const Run help = runConsole({u"--help"_s}, {}, Platform::None);
        QVERIFY2(help.exitCode == 0, qPrintable(help.err));
        QVERIFY2(help.out.startsWith(u"Usage: medrelay-console"_s), qPrintable(help.out));
        QVERIFY(help.out.contains(u"--server"_s));
        QVERIFY2(help.err.isEmpty(), qPrintable(help.err)); // no platform plugin was even looked for

        const Run version = runConsole({u"--version"_s}, {}, Platform::None);
        QVERIFY2(version.exitCode == 0, qPrintable(version.err));
        QVERIFY(version.out.startsWith(u"medrelay-console "_s));
        QVERIFY(version.err.isEmpty());

        const Run wrong = runConsole({u"--no-such-option"_s}, {}, Platform::None);
        QCOMPARE(wrong.exitCode, 64);
        QVERIFY(wrong.err.contains(u"no-such-option"_s));
    }

    void unreachableExitsNonZero()
    {
        // A port that was just free: nothing listens there.
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
        const quint16 port = probe.serverPort();
        probe.close();
        const Run run = runConsole({u"--server"_s, u"http://127.0.0.1:%1"_s.arg(port), u"--token"_s, kToken,
                                    u"--screenshot"_s, u"/nonexistent/x.png"_s, u"--quit-after"_s, u"1"_s});
        QCOMPARE(run.exitCode, 3);
        QVERIFY2(run.err.contains(u"unreachable"_s), qPrintable(run.err));
    }

    void badCommandLine()
    {
        const Run run = runConsole({u"--screenshot"_s, u"x.png"_s});
        QCOMPARE(run.exitCode, 64);
        QVERIFY(run.err.contains(u"--server"_s));
    }
};

QTEST_GUILESS_MAIN(TestConsoleHeadless)
#include "tst_console_headless.moc"

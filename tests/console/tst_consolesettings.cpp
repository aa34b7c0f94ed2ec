// ConsoleSettings, TokenStore and LaunchOptions: recent servers, tokens stored
// only when asked and only in a file of mode 0600, and the command line of
// the unattended mode.
#include "core/ConsoleSettings.h"
#include "core/LaunchOptions.h"
#include "core/TokenStore.h"

#include <QFile>
#include <QSettings>
#include <QTemporaryDir>
#include <QtTest>

#include <sys/stat.h>

using namespace Qt::StringLiterals;
using medrelay::console::ConsoleSettings;
using medrelay::console::LaunchOptions;
using medrelay::console::parseLaunchOptions;
using medrelay::console::parseServerUrl;

namespace {

QByteArray contents(const QString &file)
{
    QFile f(file);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

unsigned modeOf(const QString &file)
{
    struct stat st{};
    if (::stat(QFile::encodeName(file).constData(), &st) != 0)
        return 0;
    return static_cast<unsigned>(st.st_mode & 0777);
}

} // namespace

class TestConsoleSettings final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void recentServersMostRecentFirstAndCapped()
    {
        QTemporaryDir dir;
        QSettings qs(dir.filePath(u"c.ini"_s), QSettings::IniFormat);
        ConsoleSettings s(&qs);
        s.addRecentServer(QUrl(u"http://a:9003/"_s));
        s.addRecentServer(QUrl(u"https://b.example/relay"_s));
        s.addRecentServer(QUrl(u"http://a:9003"_s)); // same as the first, normalised
        QCOMPARE(s.recentServers(), (QStringList{u"http://a:9003"_s, u"https://b.example/relay"_s}));
        for (int i = 0; i < 20; ++i)
            s.addRecentServer(QUrl(u"http://host%1:9003"_s.arg(i)));
        QCOMPARE(s.recentServers().size(), ConsoleSettings::kMaxRecentServers);
        QCOMPARE(s.recentServers().constFirst(), u"http://host19:9003"_s);
        s.removeRecentServer(QUrl(u"http://host19:9003"_s));
        QCOMPARE(s.recentServers().constFirst(), u"http://host18:9003"_s);
    }

    void tokenOnlyWhenAsked()
    {
        QTemporaryDir dir;
        const QString file = dir.filePath(u"c.ini"_s);
        const QUrl server(u"http://127.0.0.1:9003"_s);
        const QString secret = u"s3cret-token-value"_s;
        QString tokenFile;
        {
            QSettings qs(file, QSettings::IniFormat);
            ConsoleSettings s(&qs);
            s.addRecentServer(server);
            QVERIFY(!s.rememberedToken(server));
            s.sync();
            tokenFile = s.tokenFileName();
        }
        QCOMPARE(tokenFile, dir.filePath(u"c-tokens.ini"_s));
        QVERIFY(!QFile::exists(tokenFile)); // nothing asked, nothing written
        {
            QSettings qs(file, QSettings::IniFormat);
            ConsoleSettings s(&qs);
            QVERIFY(s.rememberToken(server, secret));
            s.sync();
        }
        // In the token file, never in the settings file.
        QVERIFY(!contents(file).contains(secret.toUtf8()));
        QVERIFY(contents(tokenFile).contains(secret.toUtf8()));
        {
            QSettings qs(file, QSettings::IniFormat);
            ConsoleSettings s(&qs);
            QCOMPARE(s.rememberedToken(QUrl(u"http://127.0.0.1:9003/"_s)).value_or(QString()), secret);
            QVERIFY(!s.rememberedToken(QUrl(u"http://127.0.0.1:9004"_s)));
            s.forgetToken(server);
            s.sync();
        }
        // The last token forgotten: the file is gone.
        QVERIFY(!QFile::exists(tokenFile));
    }

    void tokenFileIsPrivate()
    {
        // Whatever the user's umask, the file only they can read.
        const mode_t old = ::umask(022);
        QTemporaryDir dir;
        const QString file = dir.filePath(u"sub/tokens.ini"_s);
        {
            medrelay::console::TokenStore store(file);
            QVERIFY(store.setToken(u"k1"_s, u"first-secret"_s));
            QCOMPARE(modeOf(file), 0600u);
            // Rewritten (QSettings replaces the file), still private.
            QVERIFY(store.setToken(u"k2"_s, u"second-secret"_s));
            QVERIFY(store.setToken(u"k1"_s, u"first-secret-changed"_s));
            QCOMPARE(modeOf(file), 0600u);
        }
        // A file opened up by hand (or an older version) is closed again on start.
        QVERIFY(QFile::setPermissions(file, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ReadGroup
                                                | QFileDevice::ReadOther));
        QCOMPARE(modeOf(file), 0644u);
        {
            medrelay::console::TokenStore store(file);
            QCOMPARE(modeOf(file), 0600u);
            QCOMPARE(store.token(u"k1"_s).value_or(QString()), u"first-secret-changed"_s);
            QCOMPARE(store.keys().size(), 2);
        }
        ::umask(old);
    }

    void oldTokensMoveOutOfTheSettingsFile()
    {
        QTemporaryDir dir;
        const QString file = dir.filePath(u"c.ini"_s);
        const QUrl server(u"http://127.0.0.1:9003"_s);
        QString key;
        {
            // What versions before the token file wrote.
            QSettings qs(file, QSettings::IniFormat);
            ConsoleSettings s(&qs);
            QVERIFY(s.rememberToken(server, u"old-secret"_s));
            const QStringList keys = medrelay::console::TokenStore(s.tokenFileName()).keys();
            QCOMPARE(keys.size(), 1);
            key = keys.constFirst();
            s.forgetToken(server);
            qs.setValue(u"tokens/"_s + key, u"old-secret"_s);
            qs.sync();
        }
        QVERIFY(contents(file).contains("old-secret"));
        {
            QSettings qs(file, QSettings::IniFormat);
            ConsoleSettings s(&qs);
            QCOMPARE(s.rememberedToken(server).value_or(QString()), u"old-secret"_s);
            QCOMPARE(modeOf(s.tokenFileName()), 0600u);
        }
        QVERIFY(!contents(file).contains("old-secret"));
    }

    void windowState()
    {
        QTemporaryDir dir;
        QSettings qs(dir.filePath(u"c.ini"_s), QSettings::IniFormat);
        ConsoleSettings s(&qs);
        s.setWindowGeometry("geom");
        s.setWindowState("state");
        s.setViewState(u"roomsView"_s, "header");
        QCOMPARE(s.windowGeometry(), QByteArray("geom"));
        QCOMPARE(s.windowState(), QByteArray("state"));
        QCOMPARE(s.viewState(u"roomsView"_s), QByteArray("header"));
        QVERIFY(s.viewState(u"other"_s).isEmpty());
        QCOMPARE(s.waitingAlertMinutes(), 0); // not set: the default applies
        s.setWaitingAlertMinutes(12);
        QCOMPARE(s.waitingAlertMinutes(), 12);
        qs.setValue(u"alerts/waitingMinutes"_s, 999999); // edited by hand
        QCOMPARE(s.waitingAlertMinutes(), 24 * 60);
    }

    void serverUrls_data()
    {
        QTest::addColumn<QString>("input");
        QTest::addColumn<QString>("expected"); // empty: rejected
        QTest::addRow("http") << u"http://127.0.0.1:9003"_s << u"http://127.0.0.1:9003"_s;
        QTest::addRow("https path") << u"https://relay.example/admin"_s << u"https://relay.example/admin"_s;
        QTest::addRow("bare host") << u"localhost:9003"_s << u"http://localhost:9003"_s;
        QTest::addRow("ws") << u"ws://127.0.0.1:9003"_s << QString();
        QTest::addRow("empty") << u"  "_s << QString();
        QTest::addRow("no host") << u"http://"_s << QString();
    }

    void serverUrls()
    {
        QFETCH(QString, input);
        QFETCH(QString, expected);
        const auto url = parseServerUrl(input);
        QCOMPARE(url ? url->toString() : QString(), expected);
    }

    void launchOptions()
    {
        QProcessEnvironment env;
        env.insert(u"MEDRELAY_ADMIN_TOKEN"_s, u"from-env"_s);
        auto o = parseLaunchOptions({u"medrelay-console"_s, u"--server"_s, u"http://127.0.0.1:1"_s, u"--screenshot"_s,
                                     u"out.png"_s, u"--quit-after"_s, u"2.5"_s, u"--size"_s, u"1280x800"_s},
                                    env);
        QVERIFY2(o.error.isEmpty(), qPrintable(o.error));
        QCOMPARE(o.server, QUrl(u"http://127.0.0.1:1"_s));
        QCOMPARE(o.token, u"from-env"_s);
        QVERIFY(o.tokenFromEnvironment);
        QCOMPARE(o.screenshot, u"out.png"_s);
        QCOMPARE(o.quitAfter.value_or(-1), 2.5);
        QCOMPARE(o.windowSize, QSize(1280, 800));
        QVERIFY(o.headless());

        o = parseLaunchOptions({u"medrelay-console"_s, u"--server"_s, u"127.0.0.1:1"_s, u"--token"_s, u"cli"_s}, env);
        QCOMPARE(o.token, u"cli"_s);
        QVERIFY(!o.tokenFromEnvironment);
        QVERIFY(!o.headless());

        o = parseLaunchOptions({u"medrelay-console"_s, u"--screenshot"_s, u"a.png"_s}, {});
        QVERIFY(!o.error.isEmpty()); // needs --server
        o = parseLaunchOptions({u"medrelay-console"_s, u"--server"_s, u"ftp://x"_s}, {});
        QVERIFY(!o.error.isEmpty());
        o = parseLaunchOptions({u"medrelay-console"_s, u"--quit-after"_s, u"soon"_s}, {});
        QVERIFY(!o.error.isEmpty());
        o = parseLaunchOptions({u"medrelay-console"_s, u"--bogus"_s}, {});
        QVERIFY(!o.error.isEmpty());
        o = parseLaunchOptions({u"medrelay-console"_s, u"--palette"_s, u"dark"_s, u"--poll-interval"_s, u"250"_s}, {});
        QVERIFY2(o.error.isEmpty(), qPrintable(o.error));
        QCOMPARE(o.palette, LaunchOptions::Palette::Dark);
        QCOMPARE(o.pollIntervalMs, 250);
        o = parseLaunchOptions({u"medrelay-console"_s, u"--server"_s, u"http://h:1"_s, u"--screenshot"_s, u"a.png"_s}, {});
        QCOMPARE(o.quitAfter.value_or(-1), 3.0); // a screenshot waits 3 s by default
        o = parseLaunchOptions({u"medrelay-console"_s, u"--select-room"_s, u"cardio-1"_s}, {});
        QCOMPARE(o.selectRoom, u"cardio-1"_s);
        o = parseLaunchOptions({u"medrelay-console"_s, u"--watch"_s, u"derma-88"_s, u"--waiting-alert"_s, u"10"_s}, {});
        QVERIFY2(o.error.isEmpty(), qPrintable(o.error));
        QCOMPARE(o.watchRoom, u"derma-88"_s);
        QCOMPARE(o.waitingAlertMinutes, 10);
        for (const QString &bad : {u"0"_s, u"1441"_s, u"soon"_s}) {
            o = parseLaunchOptions({u"medrelay-console"_s, u"--waiting-alert"_s, bad}, {});
            QVERIFY2(o.error.contains(u"--waiting-alert"_s), qPrintable(bad));
        }
        o = parseLaunchOptions({u"medrelay-console"_s, u"--help"_s}, {});
        QVERIFY(o.showHelp);
        QVERIFY(o.helpText.contains(u"--screenshot"_s));
    }
};

QTEST_GUILESS_MAIN(TestConsoleSettings)
#include "tst_consolesettings.moc"

// The service definitions shipped in installer/ agree with the server: the
// systemd unit and the launchd job wait longer than the production drain
// before killing it, launchd runs the program the macOS bundle holds, and
// every shipped configuration file loads (no unknown or invalid key) in
// production mode with the data directory its platform expects.

#include "config/ConfigLoader.h"
#include "service/ServiceController.h"

#include <QFile>
#include <QRegularExpression>
#include <QTemporaryFile>
#include <QTest>
#include <QXmlStreamReader>

using namespace medrelay;
using namespace medrelay::server;
using namespace Qt::StringLiterals;

namespace {

QString source(const QString &relative)
{
    return QStringLiteral(MEDRELAY_SOURCE_DIR "/") + relative;
}

QString readAll(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
}

// The time systemd allows, in ms, from a value like "40s", "1min 30s" or "40".
int systemdSpanMs(const QString &value)
{
    static const QRegularExpression part(u"(\\d+)\\s*(min|s|ms)?"_s);
    int total = 0;
    for (auto it = part.globalMatch(value); it.hasNext();) {
        const auto m = it.next();
        const int n = m.captured(1).toInt();
        const QString unit = m.captured(2);
        total += unit == u"min"_s ? n * 60000 : unit == u"ms"_s ? n : n * 1000;
    }
    return total;
}

QString unitValue(const QString &unit, const QString &key)
{
    QString value;
    for (const QString &line : unit.split(u'\n')) {
        if (line.startsWith(key + u'='))
            value = line.mid(key.size() + 1).trimmed();
    }
    return value;
}

// A launchd property list's top-level dictionary: keys to their text, with
// arrays joined by '\n' and nested dictionaries as "key=value" lines.
QHash<QString, QString> plistTopLevel(const QString &path, QString *error)
{
    QFile f(path);
    QHash<QString, QString> out;
    if (!f.open(QIODevice::ReadOnly)) {
        *error = u"cannot read"_s;
        return out;
    }
    QXmlStreamReader xml(&f);
    int depth = 0;
    QString key;
    QString nestedKey;
    while (!xml.atEnd()) {
        xml.readNext();
        if (xml.isStartElement()) {
            const auto name = xml.name();
            if (name == "plist"_L1)
                continue;
            if (name == "dict"_L1 || name == "array"_L1) {
                ++depth;
                continue;
            }
            if (name == "key"_L1) {
                if (depth == 1)
                    key = xml.readElementText();
                else
                    nestedKey = xml.readElementText();
                continue;
            }
            QString value = name == "true"_L1 ? u"true"_s : name == "false"_L1 ? u"false"_s : xml.readElementText();
            if (depth >= 2 && !nestedKey.isEmpty())
                value = nestedKey + u'=' + value;
            QString &slot = out[key];
            slot += (slot.isEmpty() ? QString() : u"\n"_s) + value;
        } else if (xml.isEndElement() && (xml.name() == "dict"_L1 || xml.name() == "array"_L1)) {
            --depth;
            nestedKey.clear();
        }
    }
    if (xml.hasError())
        *error = xml.errorString();
    return out;
}

int productionDrainMs()
{
    return defaultConfig(Mode::Production).drainTimeoutMs;
}

} // namespace

class TestServiceFiles final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void systemdUnitOutwaitsTheDrain();
    void launchdJob();
    void shippedConfigurationsLoad_data();
    void shippedConfigurationsLoad();
};

void TestServiceFiles::systemdUnitOutwaitsTheDrain()
{
    const QString unit = readAll(source(u"installer/medrelay-server.service.in"_s));
    QVERIFY(!unit.isEmpty());
    QCOMPARE(unitValue(unit, u"Type"_s), u"notify"_s);
    QCOMPARE(unitValue(unit, u"KillSignal"_s), u"SIGTERM"_s);
    const int stopMs = systemdSpanMs(unitValue(unit, u"TimeoutStopSec"_s));
    QVERIFY2(stopMs >= productionDrainMs() + service::ServiceController::kStopMarginMs,
             qPrintable(u"TimeoutStopSec %1 ms, drain %2 ms"_s.arg(stopMs).arg(productionDrainMs())));
    // The watchdog is fed at half its period; a period under a second would
    // be fed by a timer busier than the event loop it is meant to watch.
    QVERIFY(systemdSpanMs(unitValue(unit, u"WatchdogSec"_s)) >= 10000);
    QCOMPARE(unitValue(unit, u"ExecStart"_s), u"@MEDRELAY_PACKAGE_BINDIR@/medrelay-server --config /etc/medrelay/medrelay.ini"_s);
}

void TestServiceFiles::launchdJob()
{
    QString error;
    const auto plist = plistTopLevel(source(u"installer/macos/org.medrelay.server.plist"_s), &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(plist.value(u"Label"_s), u"org.medrelay.server"_s);
    const QStringList args = plist.value(u"ProgramArguments"_s).split(u'\n');
    QCOMPARE(args.size(), 3);
    // The bundle CMake makes of the medrelay-server target (MACOSX_BUNDLE).
    QCOMPARE(args.at(0), u"/Applications/medrelay-server.app/Contents/MacOS/medrelay-server"_s);
    QCOMPARE(args.at(1), u"--config"_s);
    QCOMPARE(args.at(2), u"/Library/Application Support/medrelay/medrelay.ini"_s);
    QVERIFY(plist.value(u"ExitTimeOut"_s).toInt() * 1000
            >= productionDrainMs() + service::ServiceController::kStopMarginMs);
    QCOMPARE(plist.value(u"KeepAlive"_s), u"SuccessfulExit=false"_s);
    QCOMPARE(plist.value(u"UserName"_s), u"_medrelay"_s);
    QCOMPARE(plist.value(u"RunAtLoad"_s), u"true"_s);
}

void TestServiceFiles::shippedConfigurationsLoad_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("dataDir");
    QTest::addRow("Debian") << u"resources/medrelay.ini"_s << u"/var/lib/medrelay"_s;
    QTest::addRow("macOS") << u"installer/macos/medrelay.ini"_s << u"/Library/Application Support/medrelay/data"_s;
    QTest::addRow("Windows") << u"installer/windows/medrelay.ini"_s << u"C:/ProgramData/medrelay/data"_s;
}

void TestServiceFiles::shippedConfigurationsLoad()
{
    QFETCH(QString, file);
    QFETCH(QString, dataDir);
    QProcessEnvironment env;
    env.insert(u"MEDRELAY_ADMIN_TOKEN"_s, u"0123456789abcdef0123"_s);
    env.insert(u"MEDRELAY_JWT_SECRET"_s, u"a-secret-for-the-test"_s);
    // The keys the Debian package generates at installation, here a stand-in.
    QTemporaryFile key;
    QVERIFY(key.open());
    key.write(QByteArray(32, 'k'));
    key.close();
    env.insert(u"MEDRELAY_HISTORY_KEY_FILE"_s, key.fileName());
    env.insert(u"MEDRELAY_AUDIT_KEY_FILE"_s, key.fileName());
    const auto loaded = ConfigLoader::load({u"medrelay-server"_s, u"--config"_s, source(file)}, env);
    const auto *error = std::get_if<ConfigError>(&loaded);
    QVERIFY2(!error, error ? qPrintable(error->message) : "");
    const ServerConfig &c = std::get<LoadedConfig>(loaded).config;
    QCOMPARE(c.mode, Mode::Production);
    QCOMPARE(c.port, quint16(9003));
    QCOMPARE(c.dataDir, dataDir);

    // Without the secrets, production refuses to start, naming what is missing.
    const auto refused = ConfigLoader::load({u"medrelay-server"_s, u"--config"_s, source(file)}, {});
    QVERIFY(std::holds_alternative<ConfigError>(refused));
}

QTEST_GUILESS_MAIN(TestServiceFiles)
#include "tst_servicefiles.moc"

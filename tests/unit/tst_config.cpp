// Configuration: defaults by mode, and the precedence defaults < file <
// environment < command line.

#include "cluster/RedisUrl.h"
#include "config/ConfigLoader.h"

#include <QTemporaryFile>
#include <QTest>

using namespace medrelay::server;
using namespace Qt::StringLiterals;

namespace {

std::variant<LoadedConfig, ConfigError> load(const QStringList &args, const QList<QPair<QString, QString>> &env = {})
{
    QProcessEnvironment e;
    for (const auto &kv : env)
        e.insert(kv.first, kv.second);
    return ConfigLoader::load(QStringList{u"medrelay-server"_s} + args, e);
}

ServerConfig ok(const std::variant<LoadedConfig, ConfigError> &r)
{
    if (const auto *e = std::get_if<ConfigError>(&r))
        qWarning() << e->message;
    return std::get<LoadedConfig>(r).config;
}

QString error(const std::variant<LoadedConfig, ConfigError> &r)
{
    const auto *e = std::get_if<ConfigError>(&r);
    return e ? e->message : QString();
}

} // namespace

class TestConfig final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaultsByMode();
    void modeSources();
    void precedence();
    void debugEnvironment();
    void errorsNameTheSetting();
    void auditSettings();
    void verifyAuditArguments();
    void clusterSettings();
};

void TestConfig::defaultsByMode()
{
    const ServerConfig dev = ok(load({}));
    QCOMPARE(dev.mode, Mode::Development);
    QCOMPARE(dev.port, 9003);
    QCOMPARE(dev.host, u"localhost"_s);
    QCOMPARE(dev.wsPath, u"/ws"_s);
    QCOMPARE(dev.maxMessageBytes, 64 * 1024);
    QCOMPARE(dev.sendQueueLimitBytes, 1024 * 1024);
    QCOMPARE(dev.maxConnectionsPerAddress, 0);
    QCOMPARE(dev.idleRoomTimeoutMs, 600000);
    const QStringList prodArgs{u"--env"_s, u"production"_s, u"--jwt-secret"_s, QString(32, u's'),
                               u"--admin-token"_s, u"admin-token-0123456789"_s, u"--history"_s, u"off"_s};
    const ServerConfig prod = ok(load(prodArgs));
    QCOMPARE(prod.host, u"0.0.0.0"_s);
    QCOMPARE(prod.pingIntervalMs, 30000);
    QVERIFY(prod.maxConnectionsPerAddress >= 100);
    QVERIFY(prod.drainTimeoutMs > dev.drainTimeoutMs);
}

void TestConfig::modeSources()
{
    const QList<QPair<QString, QString>> keys{{u"MEDRELAY_INSECURE_NO_AUTH"_s, u"1"_s},
                                              {u"MEDRELAY_ADMIN_TOKEN"_s, u"admin-token-0123456789"_s},
                                              {u"MEDRELAY_HISTORY"_s, u"off"_s}};
    QCOMPARE(ok(load({}, keys + QList<QPair<QString, QString>>{{u"NODE_ENV"_s, u"production"_s}})).mode,
             Mode::Production);
    QCOMPARE(ok(load({}, keys + QList<QPair<QString, QString>>{{u"MEDRELAY_ENV"_s, u"production"_s},
                                                                {u"NODE_ENV"_s, u"development"_s}}))
                 .mode,
             Mode::Production);
    QCOMPARE(ok(load({u"--env"_s, u"development"_s}, {{u"NODE_ENV"_s, u"production"_s}})).mode, Mode::Development);
}

void TestConfig::precedence()
{
    QTemporaryFile ini;
    QVERIFY(ini.open());
    ini.write("env=production\nport=7001\nhost=127.0.0.1\nrate-limit=50\nidle-room-timeout=120\n"
              "insecure-no-auth=true\nadmin-token=admin-token-0123456789\nhistory=off\n");
    ini.close();
    const QString file = ini.fileName();

    ServerConfig c = ok(load({u"--config"_s, file}));
    QCOMPARE(c.mode, Mode::Production); // the file may set the mode
    QCOMPARE(c.port, 7001);
    QCOMPARE(c.host, u"127.0.0.1"_s);
    QCOMPARE(c.rateLimitPerSecond, 50.0);
    QCOMPARE(c.idleRoomTimeoutMs, 120000);

    c = ok(load({u"--config"_s, file}, {{u"WS_PORT"_s, u"7002"_s}}));
    QCOMPARE(c.port, 7002); // environment beats the file

    c = ok(load({u"--config"_s, file, u"--port"_s, u"7003"_s}, {{u"WS_PORT"_s, u"7002"_s}}));
    QCOMPARE(c.port, 7003); // command line beats both
    QCOMPARE(c.rateLimitPerSecond, 50.0);

    QTemporaryFile bad;
    QVERIFY(bad.open());
    bad.write("colour=blue\n");
    bad.close();
    QVERIFY(error(load({u"--config"_s, bad.fileName()})).contains(u"colour"_s));
}

void TestConfig::debugEnvironment()
{
    QVERIFY(ok(load({}, {{u"DEBUG"_s, u"websocket:*"_s}})).debugLogging);
    QVERIFY(!ok(load({}, {{u"DEBUG"_s, u"express:*"_s}})).debugLogging);
}

void TestConfig::errorsNameTheSetting()
{
    // Production refuses to run open unless told so explicitly.
    QVERIFY(error(load({u"--env"_s, u"production"_s, u"--admin-token"_s, u"admin-token-0123456789"_s}))
                .contains(u"--insecure-no-auth"_s));
    QVERIFY(error(load({u"--env"_s, u"production"_s, u"--insecure-no-auth"_s})).contains(u"--admin-token"_s));
    QVERIFY(error(load({u"--port"_s, u"70000"_s})).startsWith(u"--port"_s));
    QVERIFY(error(load({}, {{u"WS_PORT"_s, u"x"_s}})).startsWith(u"WS_PORT"_s));
    QVERIFY(error(load({u"--env"_s, u"staging"_s})).contains(u"staging"_s));
    QVERIFY(error(load({u"--admin-token"_s, u"short"_s})).startsWith(u"--admin-token"_s));
    QVERIFY(error(load({u"--tls-cert"_s, u"/nonexistent.pem"_s})).startsWith(u"--tls-cert"_s));
    QVERIFY(error(load({u"--ping-interval"_s, u"0"_s})).startsWith(u"--ping-interval"_s));
    // Production keeps history only encrypted.
    QVERIFY(error(load({u"--env"_s, u"production"_s, u"--insecure-no-auth"_s, u"--admin-token"_s,
                        u"admin-token-0123456789"_s}))
                .contains(u"--history-key-file"_s));
    QVERIFY(error(load({u"--appointment-room-pattern"_s, u"appointment_{id}_{id}"_s}))
                .startsWith(u"--appointment-room-pattern"_s));
    QVERIFY(error(load({u"--waiting-room"_s, u"maybe"_s})).startsWith(u"--waiting-room"_s));
    QVERIFY(error(load({u"--max-message-size"_s, u"10"_s})).startsWith(u"--max-message-size"_s));
    QVERIFY(error(load({u"--trusted-proxies"_s, u"10.0.0.1,nonsense"_s})).contains(u"nonsense"_s));
    QCOMPARE(ok(load({u"--trusted-proxies"_s, u"10.0.0.0/8, ::1"_s})).trustedProxies,
             (QStringList{u"10.0.0.0/8"_s, u"::1"_s}));
}

void TestConfig::auditSettings()
{
    const ServerConfig dev = ok(load({}));
    QVERIFY(dev.auditKeyFile.isEmpty()); // <data-dir>/audit.key
    QCOMPARE(dev.auditRotateBytes, 64 * 1024 * 1024);
    QVERIFY(dev.auditRotateDaily);
    QCOMPARE(dev.auditRetentionDays, 0); // keep everything
    QVERIFY(dev.adminAllowedOrigins.isEmpty());
    const ServerConfig c = ok(load({u"--audit-rotate-size"_s, u"0"_s, u"--audit-rotate-daily"_s, u"false"_s,
                                    u"--audit-retention-days"_s, u"2192"_s, u"--audit-backlog"_s, u"1000"_s,
                                    u"--audit-checkpoint-interval"_s, u"5"_s, u"--admin-allowed-origins"_s,
                                    u"https://ops.example, https://noc.example"_s}));
    QCOMPARE(c.auditRotateBytes, 0);
    QVERIFY(!c.auditRotateDaily);
    QCOMPARE(c.auditRetentionDays, 2192);
    QCOMPARE(c.auditBacklogLimit, 1000);
    QCOMPARE(c.auditCheckpointIntervalMs, 5000);
    QCOMPARE(c.adminAllowedOrigins, (QStringList{u"https://ops.example"_s, u"https://noc.example"_s}));
    QVERIFY(ok(load({}, {{u"MEDRELAY_AUDIT_RETENTION_DAYS"_s, u"30"_s}})).auditRetentionDays == 30);
    QVERIFY(error(load({u"--audit-rotate-size"_s, u"100"_s})).startsWith(u"--audit-rotate-size"_s));
    QVERIFY(error(load({u"--audit-retention-days"_s, u"-1"_s})).startsWith(u"--audit-retention-days"_s));
    QVERIFY(error(load({u"--audit-key-file"_s, u"/nonexistent/audit.key"_s})).startsWith(u"--audit-key-file"_s));
    QVERIFY(error(load({u"--audit-rotate-daily"_s, u"maybe"_s})).startsWith(u"--audit-rotate-daily"_s));
}

void TestConfig::verifyAuditArguments()
{
    auto r = load({u"--verify-audit"_s, u"/var/lib/medrelay"_s, u"--audit-key-file"_s, u"/etc/k1"_s,
                   u"--audit-key-file"_s, u"/etc/k2"_s, u"--audit-checkpoint"_s, u"/tmp/journal.txt"_s});
    auto lc = std::get<LoadedConfig>(r);
    QCOMPARE(lc.action, ConfigAction::VerifyAudit);
    QCOMPARE(lc.verifyPaths, QStringList{u"/var/lib/medrelay"_s});
    QCOMPARE(lc.verifyKeyFiles, (QStringList{u"/etc/k1"_s, u"/etc/k2"_s}));
    QCOMPARE(lc.verifyCheckpointFiles, QStringList{u"/tmp/journal.txt"_s});
    // Several files, and the key as the server would find it.
    lc = std::get<LoadedConfig>(load({u"--verify-audit"_s, u"a.jsonl"_s, u"b.jsonl"_s},
                                     {{u"MEDRELAY_AUDIT_KEY_FILE"_s, u"/etc/medrelay/audit.key"_s}}));
    QCOMPARE(lc.verifyPaths, (QStringList{u"a.jsonl"_s, u"b.jsonl"_s}));
    QCOMPARE(lc.verifyKeyFiles, QStringList{u"/etc/medrelay/audit.key"_s});
    QTemporaryFile ini;
    QVERIFY(ini.open());
    ini.write("env=production\naudit-key-file=/etc/medrelay/from-config.key\n");
    ini.flush();
    lc = std::get<LoadedConfig>(load({u"--config"_s, ini.fileName(), u"--verify-audit"_s, u"/d"_s}));
    QCOMPARE(lc.verifyKeyFiles, QStringList{u"/etc/medrelay/from-config.key"_s});
    // Extra paths belong to --verify-audit only.
    QVERIFY(error(load({u"stray"_s})).contains(u"stray"_s));
    QVERIFY(error(load({u"--audit-checkpoint"_s, u"x"_s})).contains(u"--verify-audit"_s));
}

void TestConfig::clusterSettings()
{
    // Off by default: one instance, no Redis.
    const ServerConfig single = ok(load({}));
    QVERIFY(!single.clustered());
    QCOMPARE(single.clusterPresenceTtlMs, 15000);
    // From the command line or the environment.
    const ServerConfig c = ok(load({u"--redis"_s, u"redis://:s3cret@10.0.0.5:6380/2"_s,
                                    u"--cluster-presence-ttl"_s, u"5"_s}));
    QVERIFY(c.clustered());
    QCOMPARE(c.clusterPresenceTtlMs, 5000);
    QVERIFY(ok(load({}, {{u"MEDRELAY_REDIS_URL"_s, u"redis://127.0.0.1:6379/0"_s}})).clustered());
    // Bad URLs name the setting and say what is wrong, never echoing a password.
    const QString tls = error(load({u"--redis"_s, u"rediss://:pw-secret@host:6380/0"_s}));
    QVERIFY(tls.startsWith(u"--redis"_s));
    QVERIFY(tls.contains(u"stunnel"_s));
    QVERIFY(!tls.contains(u"pw-secret"_s));
    QVERIFY(error(load({u"--redis"_s, u"http://host:6379"_s})).contains(u"redis://"_s));
    QVERIFY(error(load({u"--redis"_s, u"redis://host:6379/x"_s})).contains(u"database"_s));
    QVERIFY(error(load({u"--redis"_s, u"redis://user@host:6379/0"_s})).contains(u"password"_s));
    QVERIFY(error(load({}, {{u"MEDRELAY_REDIS_URL"_s, u"redis:///0"_s}})).startsWith(u"MEDRELAY_REDIS_URL"_s));
    QVERIFY(error(load({u"--cluster-presence-ttl"_s, u"0"_s})).startsWith(u"--cluster-presence-ttl"_s));
    // What a room holds while Redis is out of reach: 1,000 by default, 0 refuses, bounded.
    QCOMPARE(single.clusterOutageMessages, 1000);
    QCOMPARE(ok(load({u"--cluster-outage-messages"_s, u"0"_s})).clusterOutageMessages, 0);
    QCOMPARE(ok(load({}, {{u"MEDRELAY_CLUSTER_OUTAGE_MESSAGES"_s, u"50"_s}})).clusterOutageMessages, 50);
    QVERIFY(error(load({u"--cluster-outage-messages"_s, u"100001"_s})).startsWith(u"--cluster-outage-messages"_s));
    QVERIFY(error(load({u"--cluster-outage-messages"_s, u"-1"_s})).startsWith(u"--cluster-outage-messages"_s));
    // Logs show the URL without its password.
    const auto url = medrelay::cluster::RedisUrl::parse(u"redis://:s3cret@10.0.0.5:6380/2"_s);
    QVERIFY(std::holds_alternative<medrelay::cluster::RedisUrl>(url));
    QCOMPARE(std::get<medrelay::cluster::RedisUrl>(url).redacted(), u"redis://:***@10.0.0.5:6380/2"_s);
}

QTEST_GUILESS_MAIN(TestConfig)
#include "tst_config.moc"

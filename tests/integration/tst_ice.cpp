// ICE servers and TURN credentials over real sockets: ice_servers right
// after room_state with credentials for the verified user (checked against
// an independent HMAC), none for a room the token does not grant or for a
// guest still waiting, one refresh entry per connection however often it
// joins (credentials are computed, not stored), nothing at all without STUN
// or TURN, the secret and passwords never logged, and the settings'
// validation.

#include "TestClient.h"
#include "TestServer.h"
#include "Tokens.h"

#include "config/ConfigLoader.h"
#include "ice/IceServerIssuer.h"

#include <QDateTime>
#include <QJsonArray>
#include <QLoggingCategory>
#include <QMessageAuthenticationCode>
#include <QTest>

using namespace medrelay::test;
using namespace medrelay::server;
using namespace Qt::StringLiterals;

namespace {

const QByteArray kJwtSecret = "ice-test-jwt-secret-0123456789-abcdef";
const QString kTurnSecret = u"ice-test-turn-secret-abcdef123456"_s;

void withTurn(ServerConfig &c)
{
    c.jwtSecret = QString::fromLatin1(kJwtSecret);
    c.stunUris = {u"stun:192.0.2.1:3478"_s};
    c.turnUris = {u"turn:192.0.2.1:3478?transport=udp"_s, u"turns:turn.example:5349"_s};
    c.turnSecret = kTurnSecret;
    c.turnCredentialLifetimeSeconds = 600;
}

QJsonObject join(const QString &room, qint64 appointment)
{
    return {{u"type"_s, u"telemedicine_user_joined"_s}, {u"roomId"_s, room},
            {u"appointmentId"_s, static_cast<double>(appointment)}};
}

QUrl tokenUrl(const TestServer &s, const QString &sub, const QString &role, const QStringList &rooms)
{
    return s.wsUrl(u"access_token="_s
                   + QString::fromLatin1(makeHs256Token(kJwtSecret, claimsFor(sub, u"User "_s + sub, role, rooms))));
}

// Every log line while a test runs, to look for secrets in.
QStringList g_log;
QtMessageHandler g_previous = nullptr;
void capture(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    g_log.append(message);
    if (g_previous)
        g_previous(type, context, message);
}

// Every medrelay category on, debug included, whatever QT_LOGGING_RULES says.
QLoggingCategory::CategoryFilter g_previousFilter = nullptr;
void everything(QLoggingCategory *category)
{
    if (g_previousFilter)
        g_previousFilter(category);
    if (qstrncmp(category->categoryName(), "medrelay", 8) == 0) {
        for (QtMsgType t : {QtDebugMsg, QtInfoMsg, QtWarningMsg, QtCriticalMsg})
            category->setEnabled(t, true);
    }
}

} // namespace

class TestIce final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void iceServersFollowRoomState();
    void claimedIdentityWithoutAuthentication();
    void noCredentialsForARoomNotGranted();
    void waitingGuestGetsNoneUntilAdmitted();
    void floodOfJoinsKeepsOneEntryPerConnection();
    void stunOnlyAndNothing();
    void secretAndPasswordsNeverLogged();
    void settings_data();
    void settings();
};

void TestIce::iceServersFollowRoomState()
{
    TestServer server(withTurn);
    QVERIFY2(server.started(), qPrintable(server.error()));
    TestClient c;
    QVERIFY(c.open(tokenUrl(server, u"202"_s, u"patient"_s, {u"appointment_1"_s})));
    const qint64 before = QDateTime::currentSecsSinceEpoch();
    c.send(join(u"appointment_1"_s, 1));
    QVERIFY(c.waitFor(u"room_state"_s));
    const auto next = c.waitFor(QString());
    QVERIFY(next);
    QCOMPARE(next->value("type"_L1).toString(), u"ice_servers"_s); // the very next message

    const QJsonArray servers = next->value("iceServers"_L1).toArray();
    QCOMPARE(servers.size(), 2);
    QCOMPARE(servers[0].toObject().value("urls"_L1).toArray(), QJsonArray{u"stun:192.0.2.1:3478"_s});
    const QJsonObject turn = servers[1].toObject();
    QCOMPARE(turn.value("urls"_L1).toArray().size(), 2);
    const QString username = turn.value("username"_L1).toString();
    const qint64 expiry = username.section(u':', 0, 0).toLongLong();
    QCOMPARE(username.section(u':', 1), u"202"_s); // the token's sub
    QVERIFY(expiry >= before + 600 && expiry <= before + 602);
    const QByteArray expected = QMessageAuthenticationCode::hash(username.toUtf8(), kTurnSecret.toUtf8(),
                                                                 QCryptographicHash::Sha1)
                                    .toBase64();
    QCOMPARE(turn.value("credential"_L1).toString().toLatin1(), expected);
    QCOMPARE(next->value("expiresAt"_L1).toDouble(), static_cast<double>(expiry * 1000));
}

void TestIce::claimedIdentityWithoutAuthentication()
{
    TestServer server([](ServerConfig &c) {
        withTurn(c);
        c.jwtSecret.clear();
    });
    QVERIFY(server.started());
    TestClient c;
    QVERIFY(c.open(server.wsUrl()));
    QVERIFY(!c.join(u"r1"_s, 1, u"u-9"_s, u"Nine"_s).isEmpty());
    const auto ice = c.waitFor(u"ice_servers"_s);
    QVERIFY(ice);
    QVERIFY(ice->value("iceServers"_L1).toArray()[1].toObject().value("username"_L1).toString().endsWith(u":u-9"_s));
}

void TestIce::noCredentialsForARoomNotGranted()
{
    TestServer server(withTurn);
    QVERIFY(server.started());
    TestClient c;
    QVERIFY(c.open(tokenUrl(server, u"202"_s, u"patient"_s, {u"appointment_1"_s})));
    c.send(join(u"appointment_2"_s, 2));
    const auto refused = c.waitFor(u"error"_s);
    QVERIFY(refused);
    QCOMPARE(refused->value("code"_L1).toString(), u"forbidden"_s);
    QVERIFY(c.staysQuiet(u"ice_servers"_s, 500));
    QCOMPARE(server.app().iceServers()->tracked(), 0);
    // Before authenticating at all: nothing either.
    TestClient anonymous;
    QVERIFY(anonymous.open(server.wsUrl()));
    anonymous.send(join(u"appointment_1"_s, 1));
    QVERIFY(anonymous.waitFor(u"error"_s));
    QVERIFY(anonymous.staysQuiet(u"ice_servers"_s, 300));
}

void TestIce::waitingGuestGetsNoneUntilAdmitted()
{
    TestServer server([](ServerConfig &c) {
        withTurn(c);
        c.waitingRoomByDefault = true;
    });
    QVERIFY(server.started());
    TestClient host;
    QVERIFY(host.open(tokenUrl(server, u"101"_s, u"clinician"_s, {u"appointment_3"_s})));
    host.send(join(u"appointment_3"_s, 3));
    QVERIFY(host.waitFor(u"ice_servers"_s));
    TestClient guest;
    QVERIFY(guest.open(tokenUrl(server, u"202"_s, u"patient"_s, {u"appointment_3"_s})));
    guest.send(join(u"appointment_3"_s, 3));
    QVERIFY(guest.waitFor(u"waiting"_s));
    const auto request = host.waitFor(u"admission_request"_s);
    QVERIFY(request);
    QVERIFY(guest.staysQuiet(u"ice_servers"_s, 400));
    host.send({{u"type"_s, u"admit"_s}, {u"roomId"_s, u"appointment_3"_s},
               {u"connectionId"_s, request->value("connectionId"_L1)}});
    QVERIFY(guest.waitFor(u"room_state"_s));
    const auto ice = guest.waitFor(QString());
    QVERIFY(ice);
    QCOMPARE(ice->value("type"_L1).toString(), u"ice_servers"_s);
}

void TestIce::floodOfJoinsKeepsOneEntryPerConnection()
{
    TestServer server([](ServerConfig &c) {
        withTurn(c);
        c.jwtSecret.clear();
        c.rateLimitPerSecond = 0;
    });
    QVERIFY(server.started());
    ice::IceServerIssuer *issuer = server.app().iceServers();
    QVERIFY(issuer);
    TestClient c;
    QVERIFY(c.open(server.wsUrl()));
    const QJsonObject again{{u"type"_s, u"telemedicine_user_joined"_s}, {u"roomId"_s, u"flood"_s},
                            {u"appointmentId"_s, 1}, {u"userId"_s, u"f"_s}};
    for (int i = 0; i < 300; ++i)
        c.send(again);
    for (int i = 0; i < 300; ++i)
        QVERIFY2(c.waitFor(u"ice_servers"_s, 5000), qPrintable(QString::number(i)));
    QCOMPARE(issuer->tracked(), 1);

    std::vector<std::unique_ptr<TestClient>> many;
    for (int i = 0; i < 40; ++i) {
        many.push_back(std::make_unique<TestClient>());
        QVERIFY(many.back()->open(server.wsUrl()));
        QVERIFY(!many.back()->join(u"flood-%1"_s.arg(i % 4), 1, u"m%1"_s.arg(i), u"M"_s).isEmpty());
    }
    QTRY_COMPARE(issuer->tracked(), 41);
    // Gone from every room: forgotten.
    for (auto &m : many)
        m->close();
    c.send({{u"type"_s, u"telemedicine_user_left"_s}, {u"roomId"_s, u"flood"_s}});
    QTRY_COMPARE(issuer->tracked(), 0);
}

void TestIce::stunOnlyAndNothing()
{
    TestServer stun([](ServerConfig &c) { c.stunUris = {u"stun:stun.example:3478"_s}; });
    QVERIFY(stun.started());
    TestClient a;
    QVERIFY(a.open(stun.wsUrl()));
    QVERIFY(!a.join(u"r"_s, 1, u"a"_s, u"A"_s).isEmpty());
    const auto ice = a.waitFor(u"ice_servers"_s);
    QVERIFY(ice);
    const QJsonArray expected{QJsonObject{{u"urls"_s, QJsonArray{u"stun:stun.example:3478"_s}}}};
    QCOMPARE(ice->value("iceServers"_L1).toArray(), expected);
    QVERIFY(!ice->contains("expiresAt"_L1));
    QCOMPARE(stun.app().iceServers()->tracked(), 0); // nothing to refresh

    TestServer none;
    QVERIFY(none.started());
    QVERIFY(!none.app().iceServers());
    TestClient b;
    QVERIFY(b.open(none.wsUrl()));
    QVERIFY(!b.join(u"r"_s, 1, u"b"_s, u"B"_s).isEmpty());
    QVERIFY(b.staysQuiet(u"ice_servers"_s, 300));
}

void TestIce::secretAndPasswordsNeverLogged()
{
    g_log.clear();
    g_previousFilter = QLoggingCategory::installFilter(everything);
    g_previous = qInstallMessageHandler(capture);
    QStringList passwords;
    {
        TestServer server(withTurn);
        QVERIFY(server.started());
        TestClient c;
        QVERIFY(c.open(tokenUrl(server, u"404"_s, u"doctor"_s, {u"appointment_4"_s})));
        c.send(join(u"appointment_4"_s, 4));
        const auto ice = c.waitFor(u"ice_servers"_s);
        QVERIFY(ice);
        passwords.append(ice->value("iceServers"_L1).toArray()[1].toObject().value("credential"_L1).toString());
        c.close();
        QVERIFY(c.waitDisconnected());
    }
    qInstallMessageHandler(g_previous);
    QLoggingCategory::installFilter(g_previousFilter);
    QVERIFY(g_log.size() > 3); // it did log: joins, ice servers sent
    QVERIFY(g_log.join(u'\n').contains(u"ice servers sent"_s));
    for (const QString &line : std::as_const(g_log)) {
        QVERIFY2(!line.contains(kTurnSecret), qPrintable(line));
        for (const QString &p : std::as_const(passwords))
            QVERIFY2(!line.contains(p), qPrintable(line));
    }
}

void TestIce::settings_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("error"); // empty: accepted
    const QStringList base{u"medrelay-server"_s};
    QTest::addRow("turn with secret") << base + QStringList{u"--turn-uris"_s, u"turn:t.example:3478"_s,
                                                            u"--turn-secret"_s, u"0123456789abcdef"_s}
                                      << QString();
    QTest::addRow("turn without secret") << base + QStringList{u"--turn-uris"_s, u"turn:t.example:3478"_s}
                                         << u"--turn-uris and --turn-secret must be given together"_s;
    QTest::addRow("secret without turn") << base + QStringList{u"--turn-secret"_s, u"0123456789abcdef"_s}
                                         << u"--turn-uris and --turn-secret must be given together"_s;
    QTest::addRow("short secret") << base + QStringList{u"--turn-uris"_s, u"turn:t"_s, u"--turn-secret"_s, u"short"_s}
                                  << u"--turn-secret must be 16 to 4096 characters"_s;
    QTest::addRow("stun as turn") << base + QStringList{u"--turn-uris"_s, u"stun:t.example"_s}
                                  << u"--turn-uris must list URIs starting with turn or turns, not 'stun:t.example'"_s;
    QTest::addRow("quote in a uri") << base + QStringList{u"--stun-uris"_s, u"stun:a\"b"_s}
                                    << u"--stun-uris must list URIs starting with stun or stuns, not 'stun:a\"b'"_s;
    QTest::addRow("lifetime too short") << base + QStringList{u"--turn-credential-lifetime"_s, u"5"_s}
                                        << u"--turn-credential-lifetime must be an integer from 10 to 604800"_s;
    QTest::addRow("missing web root") << base + QStringList{u"--web-root"_s, u"/nonexistent/medrelay-web"_s}
                                      << u"--web-root names no readable directory: /nonexistent/medrelay-web"_s;
}

void TestIce::settings()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, error);
    const auto loaded = ConfigLoader::load(arguments, QProcessEnvironment());
    if (error.isEmpty()) {
        QVERIFY(std::holds_alternative<LoadedConfig>(loaded));
    } else {
        QVERIFY(std::holds_alternative<ConfigError>(loaded));
        QCOMPARE(std::get<ConfigError>(loaded).message, error);
    }
}

QTEST_MAIN(TestIce)
#include "tst_ice.moc"

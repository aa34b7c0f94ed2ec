// Identities from verified tokens, room grants, token expiry, the audit
// trail and Origin checks, over real sockets; bad input of every kind gets
// its error or close code while a well-behaved client keeps being served.

#include "RawHttp.h"
#include "TestClient.h"
#include "TestServer.h"
#include "Tokens.h"

#include "audit/AuditRecorder.h"
#include "security/AuditFiles.h"
#include "security/AuditKeyFile.h"
#include "security/AuditVerifier.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonArray>
#include <QTemporaryDir>
#include <QTest>

using namespace medrelay::test;
using namespace medrelay::server;
using namespace Qt::StringLiterals;

namespace {

const QByteArray kSecret = "test-secret-that-is-at-least-32-bytes-long";

QUrl withToken(const TestServer &s, const QByteArray &token)
{
    return s.wsUrl(u"access_token="_s + QString::fromLatin1(token));
}

QByteArray patientToken(const QStringList &rooms = {u"appointment_123"_s}, qint64 seconds = 3600)
{
    return makeHs256Token(kSecret, claimsFor(u"42"_s, u"Pat Ient"_s, u"patient"_s, rooms, seconds));
}

QByteArray clinicianToken(const QStringList &rooms = {u"appointment_123"_s})
{
    return makeHs256Token(kSecret, claimsFor(u"dr-7"_s, u"Dr Who"_s, u"clinician"_s, rooms));
}

auto authConfig(int requestTimeoutMs = 10000)
{
    return [requestTimeoutMs](ServerConfig &c) {
        c.jwtSecret = QString::fromLatin1(kSecret);
        c.jwtLeewaySeconds = 0;
        c.requestTimeoutMs = requestTimeoutMs;
    };
}

// What --verify-audit DIR checks: every file, with the key and checkpoint
// the server keeps beside them.
medrelay::security::AuditVerifyResult verifyAuditDir(const QString &dir)
{
    using namespace medrelay::security;
    AuditVerifyOptions o;
    const auto key = loadAuditKeyFile(QDir(dir).filePath(AuditFiles::kKey), false);
    if (key.key)
        o.keys.insert(key.key->id, key.key->secret);
    QFile cp(QDir(dir).filePath(AuditFiles::kCheckpoint));
    if (cp.open(QIODevice::ReadOnly)) {
        if (const auto c = AuditCheckpoint::parse(cp.readAll()))
            o.checkpoints.append(*c);
    }
    return verifyAuditFiles(AuditFiles::chainFiles(dir), o);
}

QJsonObject join(const QString &room, qint64 appointment, const QJsonValue &claimedUser = {})
{
    QJsonObject m{{u"type"_s, u"telemedicine_user_joined"_s}, {u"roomId"_s, room},
                  {u"appointmentId"_s, static_cast<double>(appointment)}};
    if (!claimedUser.isNull())
        m.insert(u"userId"_s, claimedUser);
    return m;
}

} // namespace

class TestSecurity final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void identityComesFromToken();
    void tokenForAnotherRoomIsForbidden();
    void badTokensAreRefused_data();
    void badTokensAreRefused();
    void authMessageFirst();
    void noAuthInTimeCloses();
    void expiryClosesUnlessRefreshed();
    void refreshForAnotherUserCloses();
    void abuseTableKeepsServingOthers();
    void auditTrailRecordsWhoDidWhat();
    void failedLoginNamesItsSource();
    void refusedAdminRequestsAreCounted();
    void originAllowList();
};

void TestSecurity::identityComesFromToken()
{
    TestServer server(authConfig());
    QVERIFY(server.started());
    TestClient doctor, patient;
    QVERIFY(doctor.open(withToken(server, clinicianToken())));
    QVERIFY(patient.open(withToken(server, patientToken())));
    doctor.send(join(u"appointment_123"_s, 123));
    QVERIFY(doctor.waitFor(u"room_state"_s));
    // The patient claims to be the clinician: ignored.
    QJsonObject spoof = join(u"appointment_123"_s, 123, u"dr-7"_s);
    spoof.insert(u"userName"_s, u"Dr Who"_s);
    patient.send(spoof);
    const auto state = patient.waitFor(u"room_state"_s);
    QVERIFY(state);
    const auto joined = doctor.waitFor(u"telemedicine_user_joined"_s);
    QVERIFY(joined);
    QCOMPARE(joined->value("userId"_L1).toInt(), 42);
    QCOMPARE(joined->value("userName"_L1).toString(), u"Pat Ient"_s);
    QCOMPARE(joined->value("role"_L1).toString(), u"patient"_s);

    QJsonObject chat{{u"type"_s, u"telemedicine_chat_message"_s}, {u"roomId"_s, u"appointment_123"_s},
                     {u"appointmentId"_s, 123}, {u"message"_s, u"hello"_s}, {u"userId"_s, u"dr-7"_s},
                     {u"userName"_s, u"Dr Who"_s}, {u"from"_s, u"dr-7"_s}, {u"role"_s, u"clinician"_s}};
    patient.send(chat);
    const auto got = doctor.waitFor(u"telemedicine_chat_message"_s);
    QVERIFY(got);
    QCOMPARE(got->value("userId"_L1).toInt(), 42);
    QCOMPARE(got->value("from"_L1).toString(), u"42"_s);
    QCOMPARE(got->value("userName"_L1).toString(), u"Pat Ient"_s);
    QCOMPARE(got->value("role"_L1).toString(), u"patient"_s);
}

void TestSecurity::tokenForAnotherRoomIsForbidden()
{
    TestServer server(authConfig());
    QVERIFY(server.started());
    TestClient c;
    QVERIFY(c.open(withToken(server, patientToken({u"appointment_123"_s}))));
    c.send(join(u"appointment_456"_s, 456));
    const auto err = c.waitFor(u"error"_s);
    QVERIFY(err);
    QCOMPARE(err->value("code"_L1).toString(), u"forbidden"_s);
    QVERIFY(!server.app().rooms().find(u"appointment_456"_s));
    // Appointment grants work too.
    QJsonObject claims = claimsFor(u"5"_s, u"N"_s, u"patient"_s, {});
    claims.insert(u"appointments"_s, QJsonArray{456});
    TestClient byAppointment;
    QVERIFY(byAppointment.open(withToken(server, makeHs256Token(kSecret, claims))));
    byAppointment.send(join(u"appointment_456"_s, 456));
    QVERIFY(byAppointment.waitFor(u"room_state"_s));
    QVERIFY(c.isConnected());
}

void TestSecurity::badTokensAreRefused_data()
{
    QTest::addColumn<QByteArray>("token");
    QTest::addColumn<QString>("reason");
    QTest::addColumn<QString>("code");
    const QJsonObject good = claimsFor(u"1"_s, u"A"_s, u"patient"_s, {u"r"_s});
    QTest::addRow("wrong secret") << makeHs256Token("another-secret-another-secret-12345", good) << u"bad_signature"_s
                                  << u"unauthorized"_s;
    QJsonObject expired = good;
    expired.insert(u"exp"_s, static_cast<double>(QDateTime::currentSecsSinceEpoch() - 60));
    QTest::addRow("expired") << makeHs256Token(kSecret, expired) << u"expired"_s << u"token_expired"_s;
    QJsonObject future = good;
    future.insert(u"nbf"_s, static_cast<double>(QDateTime::currentSecsSinceEpoch() + 600));
    QTest::addRow("not yet valid") << makeHs256Token(kSecret, future) << u"not_yet_valid"_s << u"unauthorized"_s;
    QJsonObject noSub = good;
    noSub.remove(u"sub"_s);
    QTest::addRow("no subject") << makeHs256Token(kSecret, noSub) << u"missing_claim"_s << u"unauthorized"_s;
    // alg none, hand made: header {"alg":"none","typ":"JWT"}
    const QByteArray none = QByteArray(R"({"alg":"none","typ":"JWT"})").toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals)
        + '.' + QJsonDocument(good).toJson(QJsonDocument::Compact).toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals) + '.';
    QTest::addRow("alg none") << none << u"algorithm_not_allowed"_s << u"unauthorized"_s;
    QTest::addRow("garbage") << QByteArray("not.a.token") << u"malformed"_s << u"unauthorized"_s;
}

void TestSecurity::badTokensAreRefused()
{
    QFETCH(QByteArray, token);
    QFETCH(QString, reason);
    QFETCH(QString, code);
    TestServer server(authConfig());
    QVERIFY(server.started());
    TestClient c;
    c.open(withToken(server, token));
    const auto err = c.waitFor(u"error"_s);
    QVERIFY(err);
    QCOMPARE(err->value("code"_L1).toString(), code);
    QVERIFY(err->value("message"_L1).toString().contains(reason));
    QVERIFY(!err->value("message"_L1).toString().contains(QString::fromLatin1(token.left(20))));
    QVERIFY(c.waitDisconnected());
    QCOMPARE(c.closeCode(), 4001);
    QCOMPARE(server.app().metrics().authFailures().value(reason), 1);
    const auto metrics = httpGet(server.port(), "/metrics");
    QVERIFY(metrics.body.contains("medrelay_auth_failures_total{reason=\"" + reason.toLatin1() + "\"} 1"));
}

void TestSecurity::authMessageFirst()
{
    TestServer server(authConfig());
    QVERIFY(server.started());
    TestClient c;
    QVERIFY(c.open(server.wsUrl()));
    c.send(join(u"appointment_123"_s, 123, 42));
    auto err = c.waitFor(u"error"_s);
    QVERIFY(err);
    QCOMPARE(err->value("code"_L1).toString(), u"unauthorized"_s);
    QVERIFY(c.isConnected());
    c.send({{u"type"_s, u"auth"_s}, {u"token"_s, QString::fromLatin1(patientToken())}, {u"requestId"_s, 1}});
    const auto ok = c.waitFor(u"auth_ok"_s);
    QVERIFY(ok);
    QCOMPARE(ok->value("userId"_L1).toInt(), 42);
    QCOMPARE(ok->value("role"_L1).toString(), u"patient"_s);
    QCOMPARE(ok->value("requestId"_L1).toInt(), 1);
    c.send(join(u"appointment_123"_s, 123));
    QVERIFY(c.waitFor(u"room_state"_s));
}

void TestSecurity::noAuthInTimeCloses()
{
    TestServer server(authConfig(300));
    QVERIFY(server.started());
    TestClient c;
    QVERIFY(c.open(server.wsUrl()));
    QVERIFY(c.waitDisconnected(3000));
    QCOMPARE(c.closeCode(), 4001);
    QCOMPARE(server.app().metrics().authFailures().value(u"auth_timeout"_s), 1);
}

void TestSecurity::expiryClosesUnlessRefreshed()
{
    TestServer server(authConfig());
    QVERIFY(server.started());
    TestClient shortLived, refreshed;
    // exp has whole-second resolution: a 3 s token has 2-3 s left, enough
    // room for the refresh below even on a loaded machine.
    QVERIFY(shortLived.open(withToken(server, patientToken({u"appointment_123"_s}, 3))));
    QVERIFY(refreshed.open(withToken(server, clinicianToken())));
    // The clinician's token is replaced by one that expires in 3 s, then by a
    // long one before that: it stays.
    refreshed.send({{u"type"_s, u"auth"_s},
                    {u"token"_s, QString::fromLatin1(makeHs256Token(
                                     kSecret, claimsFor(u"dr-7"_s, u"Dr Who"_s, u"clinician"_s, {u"appointment_123"_s}, 3)))}});
    QVERIFY(refreshed.waitFor(u"auth_ok"_s));
    QTest::qWait(1000);
    refreshed.send({{u"type"_s, u"auth"_s}, {u"token"_s, QString::fromLatin1(clinicianToken())}});
    QVERIFY(refreshed.waitFor(u"auth_ok"_s));

    QVERIFY(shortLived.waitDisconnected(5000));
    QCOMPARE(shortLived.closeCode(), 4002);
    QTest::qWait(1500);
    QVERIFY(refreshed.isConnected());
}

void TestSecurity::refreshForAnotherUserCloses()
{
    TestServer server(authConfig());
    QVERIFY(server.started());
    TestClient c;
    QVERIFY(c.open(withToken(server, patientToken())));
    c.send({{u"type"_s, u"auth"_s}, {u"token"_s, QString::fromLatin1(clinicianToken())}});
    const auto err = c.waitFor(u"error"_s);
    QVERIFY(err);
    QVERIFY(err->value("message"_L1).toString().contains(u"identity_mismatch"_s));
    QVERIFY(c.waitDisconnected());
    QCOMPARE(c.closeCode(), 4001);
}

void TestSecurity::abuseTableKeepsServingOthers()
{
    TestServer server([](ServerConfig &c) {
        authConfig()(c);
        c.maxMessageBytes = 4096;
        c.rateLimitPerSecond = 20;
        c.rateLimitBurst = 20;
    });
    QVERIFY(server.started());
    TestClient doctor, patient;
    QVERIFY(doctor.open(withToken(server, clinicianToken())));
    QVERIFY(patient.open(withToken(server, patientToken())));
    doctor.send(join(u"appointment_123"_s, 123));
    QVERIFY(doctor.waitFor(u"room_state"_s)); // in first, so it sees the patient's join
    patient.send(join(u"appointment_123"_s, 123));
    QVERIFY(patient.waitFor(u"room_state"_s));
    QVERIFY(doctor.waitFor(u"telemedicine_user_joined"_s));

    int round = 0;
    const auto stillServed = [&] {
        const QString text = u"still there %1"_s.arg(++round);
        patient.send({{u"type"_s, u"telemedicine_chat_message"_s}, {u"roomId"_s, u"appointment_123"_s},
                      {u"appointmentId"_s, 123}, {u"message"_s, text}});
        const auto m = doctor.waitFor(u"telemedicine_chat_message"_s);
        return m && m->value("message"_L1).toString() == text;
    };

    struct Abuse
    {
        const char *name;
        std::function<void(TestClient &)> act;
        QString error;  // expected error code, or empty
        int closeCode;  // expected close code, or 0 for stays open
    };
    const QList<Abuse> table = {
        {"wrong token", [](TestClient &) {}, u"unauthorized"_s, 4001},
        {"malformed", [](TestClient &c) { c.sendRaw(u"{\"type\":"_s); }, u"invalid_json"_s, 0},
        {"unknown type", [](TestClient &c) { c.sendRaw(u"{\"type\":\"x\"}"_s); }, u"unknown_type"_s, 0},
        {"other room", [](TestClient &c) { c.send(join(u"appointment_999"_s, 999)); }, u"forbidden"_s, 0},
        {"oversized", [](TestClient &c) { c.sendRaw(QString(5000, u'x')); }, {}, 1009},
        // Valid messages, ten times the burst at once: the first burst is
        // served, the next are refused with one rate_limited error, and a
        // burst refused in a row closes the connection with 1008.
        {"flood",
         [](TestClient &c) {
             c.send(join(u"appointment_555"_s, 555));
             for (int i = 0; i < 200; ++i)
                 c.send({{u"type"_s, u"telemedicine_chat_message"_s}, {u"roomId"_s, u"appointment_555"_s},
                         {u"appointmentId"_s, 555}, {u"message"_s, u"flood %1"_s.arg(i)}});
         },
         u"rate_limited"_s, 1008},
    };
    for (const Abuse &a : table) {
        const qint64 floodsClosed = server.app().metrics().rejections(Rejection::RateLimited);
        TestClient attacker;
        const bool wrongToken = QByteArray(a.name) == "wrong token";
        attacker.open(withToken(server, wrongToken ? makeHs256Token("wrong-wrong-wrong-wrong-wrong-wrong!", {})
                                                   : patientToken({u"appointment_555"_s})));
        a.act(attacker);
        if (!a.error.isEmpty()) {
            const auto err = attacker.waitFor(u"error"_s);
            QVERIFY2(err, a.name);
            QCOMPARE(err->value("code"_L1).toString(), a.error);
        }
        if (a.closeCode) {
            QVERIFY2(attacker.waitDisconnected(), a.name);
            QCOMPARE(attacker.closeCode(), a.closeCode);
        }
        QCOMPARE(server.app().metrics().rejections(Rejection::RateLimited) - floodsClosed, a.closeCode == 1008 ? 1 : 0);
        QVERIFY2(stillServed(), a.name);
    }
}

void TestSecurity::auditTrailRecordsWhoDidWhat()
{
    QTemporaryDir dir;
    auto server = std::make_unique<TestServer>([&dir](ServerConfig &c) {
        authConfig()(c);
        c.dataDir = dir.path();
        c.adminToken = u"audit-admin-token-0123456789"_s;
    });
    QVERIFY(server->started());
    QVERIFY(server->app().audit());
    TestClient doctor, patient, intruder, forger;
    QVERIFY(doctor.open(withToken(*server, clinicianToken())));
    QVERIFY(patient.open(withToken(*server, patientToken())));
    doctor.send(join(u"appointment_123"_s, 123));
    QVERIFY(doctor.waitFor(u"room_state"_s));
    patient.send(join(u"appointment_123"_s, 123));
    QVERIFY(patient.waitFor(u"room_state"_s));
    patient.send({{u"type"_s, u"telemedicine_chat_message"_s}, {u"roomId"_s, u"appointment_123"_s},
                  {u"appointmentId"_s, 123}, {u"message"_s, u"my rash is worse"_s}});
    QVERIFY(doctor.waitFor(u"telemedicine_chat_message"_s));
    QVERIFY(intruder.open(withToken(*server, patientToken({u"appointment_777"_s}))));
    intruder.send(join(u"appointment_123"_s, 123));
    QVERIFY(intruder.waitFor(u"error"_s));
    forger.open(withToken(*server, "bogus.token.here"));
    QVERIFY(forger.waitDisconnected());
    doctor.send(join(u"appointment_321"_s, 321));
    QVERIFY(doctor.waitFor(u"error"_s)); // not granted
    QCOMPARE(httpGet(server->port(), "/stats", "wrong-admin-token-0000").status, 401);
    patient.close();
    QVERIFY(patient.waitDisconnected());
    QVERIFY(doctor.waitFor(u"telemedicine_user_left"_s));
    QCOMPARE(httpPost(server->port(), "/admin/rooms/appointment_123/close", {{u"reason"_s, u"done"_s}},
                      "audit-admin-token-0123456789").status, 200);
    QTest::qWait(100);
    const QString path = server->app().audit()->filePath();
    QVERIFY(server->app().audit()->flush());

    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QByteArray log = f.readAll();
    f.close();
    QVERIFY(!log.contains("rash"));       // no chat
    QVERIFY(!log.contains("Pat Ient"));   // no names
    QVERIFY(!log.contains("Dr Who"));
    QVERIFY(!log.contains("bogus.token"));
    const auto has = [&log](const QByteArray &event, const QByteArray &needle) {
        for (const QByteArray &line : log.split('\n')) {
            if (line.contains("\"event\":\"" + event + "\"") && line.contains(needle))
                return true;
        }
        return false;
    };
    QVERIFY(has("connect", "\"actor\":\"42\""));
    QVERIFY(has("connect", "\"address\":\"127.0.0.1\""));
    QVERIFY(has("join", "\"roomId\":\"appointment_123\""));
    QVERIFY(has("join", "\"appointmentId\":123"));
    QVERIFY(has("join_denied", "\"roomId\":\"appointment_123\""));
    QVERIFY(has("auth_failed", "malformed"));
    QVERIFY(has("admin_action", "admin:"));
    QVERIFY(has("room_closed", "appointment_123"));
    QVERIFY(has("disconnect", "\"actor\":\"42\""));
    QVERIFY(has("leave", "\"actor\":\"42\"")); // a socket closing leaves, and the record names who

    server.reset(); // releases the log, and writes the refused admin requests counted so far
    QVERIFY(f.open(QIODevice::ReadOnly));
    log = f.readAll();
    f.close();
    QVERIFY(has("admin_refused", "unauthorized=1"));
    const auto intact = verifyAuditDir(dir.path());
    QVERIFY2(intact.ok(), qPrintable(intact.reason));
    QVERIFY(intact.records >= 9);
    // Tampering with one record is caught, and names the record.
    QByteArray tampered = log;
    tampered.replace("\"actor\":\"dr-7\"", "\"actor\":\"dr-8\"");
    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    f.write(tampered);
    f.close();
    const auto broken = verifyAuditDir(dir.path());
    QVERIFY(!broken.ok());
    QVERIFY(broken.badLine >= 1);
    QVERIFY(log.split('\n').at(broken.badLine - 1).contains("dr-7"));
}

namespace {

QList<QJsonObject> auditRecords(const QString &path)
{
    QFile f(path);
    QList<QJsonObject> out;
    if (!f.open(QIODevice::ReadOnly))
        return out;
    for (const QByteArray &line : f.readAll().split('\n')) {
        if (!line.isEmpty())
            out.append(QJsonDocument::fromJson(line).object());
    }
    return out;
}

QList<QJsonObject> recordsOf(const QList<QJsonObject> &records, const QString &event)
{
    QList<QJsonObject> out;
    for (const QJsonObject &r : records) {
        if (r.value("event"_L1).toString() == event)
            out.append(r);
    }
    return out;
}

} // namespace

void TestSecurity::failedLoginNamesItsSource()
{
    QTemporaryDir dir;
    TestServer server([&dir](ServerConfig &c) {
        authConfig(400)(c);
        c.dataDir = dir.path();
    });
    QVERIFY(server.started());
    AuditRecorder *audit = server.app().audit();
    QVERIFY(audit);
    // Refused in the URL (before the socket could say anything), in an auth
    // message, and by saying nothing at all.
    TestClient url, message, silent;
    url.open(withToken(server, "bogus.token.here"));
    QVERIFY(url.waitDisconnected());
    QVERIFY(message.open(server.wsUrl()));
    message.send({{u"type"_s, u"auth"_s}, {u"token"_s, u"also.bogus.token"_s}});
    QVERIFY(message.waitDisconnected());
    QVERIFY(silent.open(server.wsUrl()));
    QVERIFY(silent.waitDisconnected());

    QList<QJsonObject> records;
    QTRY_VERIFY_WITH_TIMEOUT((audit->flush(), records = auditRecords(audit->filePath()),
                              recordsOf(records, u"disconnect"_s).size() == 3),
                             5000);
    const auto failed = recordsOf(records, u"auth_failed"_s);
    QCOMPARE(failed.size(), 3);
    QStringList reasons;
    for (const QJsonObject &r : failed) {
        reasons.append(r.value("detail"_L1).toString());
        QCOMPARE(r.value("actor"_L1).toString(), u"anonymous"_s);
        QCOMPARE(r.value("address"_L1).toString(), u"127.0.0.1"_s);
        const QString id = r.value("connectionId"_L1).toString();
        QVERIFY2(!id.isEmpty(), qPrintable(reasons.constLast()));
        // The same connection's disconnect closes its story.
        bool closed = false;
        for (const QJsonObject &d : recordsOf(records, u"disconnect"_s))
            closed = closed || d.value("connectionId"_L1).toString() == id;
        QVERIFY(closed);
    }
    reasons.sort();
    QCOMPARE(reasons, (QStringList{u"auth_timeout"_s, u"malformed"_s, u"malformed"_s}));
    // Every record names its source: no connection-level record is the system's.
    for (const QJsonObject &r : records)
        QVERIFY2(r.value("actor"_L1).toString() != u"system"_s, qPrintable(r.value("event"_L1).toString()));
}

void TestSecurity::refusedAdminRequestsAreCounted()
{
    QTemporaryDir dir;
    const QByteArray token = "audit-admin-token-0123456789";
    const auto countOf = [](const QJsonObject &record, const QString &key) {
        for (const QString &part : record.value("detail"_L1).toString().split(u' ')) {
            if (part.startsWith(key + u'='))
                return part.mid(key.size() + 1).toLongLong();
        }
        return qint64(-1);
    };
    auto server = std::make_unique<TestServer>([&](ServerConfig &c) {
        c.dataDir = dir.path();
        c.adminToken = QString::fromLatin1(token);
    });
    QVERIFY(server->started());
    const QString path = server->app().audit()->filePath();
    QVERIFY(server->app().audit()->flush());
    const qint64 sizeBefore = QFileInfo(path).size();

    // A scanner guessing tokens, with attacker-chosen text in every path,
    // and a cross-site page trying the admin API with the right token.
    constexpr int kUnauthorised = 60;
    constexpr int kCrossSite = 15;
    for (int i = 0; i < kUnauthorised; ++i) {
        const QByteArray target = "/admin/rooms/attacker-text-" + QByteArray::number(i) + "-DROP_TABLE/close";
        QCOMPARE(httpPost(server->port(), target, {}, "guess-" + QByteArray::number(i) + "-0123456789abcdef").status,
                 401);
    }
    for (int i = 0; i < kCrossSite; ++i)
        QCOMPARE(rawHttp(server->port(), "GET /stats?attacker-text HTTP/1.1\r\nOrigin: https://evil.example\r\n"
                                         "Authorization: Bearer " + token + "\r\n\r\n").status,
                 403);
    // The legitimate administrator is still served.
    QCOMPARE(httpGet(server->port(), "/stats", token).status, 200);
    server.reset(); // closing writes the window counted so far

    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QByteArray log = f.readAll();
    f.close();
    const auto refused = recordsOf(auditRecords(path), u"admin_refused"_s);
    // One record for the one source in the one window, not one per request.
    QCOMPARE(refused.size(), 1);
    QCOMPARE(refused.at(0).value("address"_L1).toString(), u"127.0.0.1"_s);
    QCOMPARE(countOf(refused.at(0), u"count"_s), kUnauthorised + kCrossSite);
    QCOMPARE(countOf(refused.at(0), u"unauthorized"_s), kUnauthorised);
    QCOMPARE(countOf(refused.at(0), u"origin_forbidden"_s), kCrossSite);
    QVERIFY(!log.contains("attacker"));
    QVERIFY(!log.contains("DROP_TABLE"));
    QVERIFY(!log.contains("guess-"));
    QVERIFY(!log.contains("evil"));
    QVERIFY(!log.contains("auth_failed")); // refusals are not failed logins of a connection
    QVERIFY2(log.size() - sizeBefore < 2000, qPrintable(QString::number(log.size() - sizeBefore)));

    // Each window is written when it ends, while the server runs.
    server = std::make_unique<TestServer>([&](ServerConfig &c) {
        c.dataDir = dir.path();
        c.adminToken = QString::fromLatin1(token);
        c.auditRefusalWindowMs = 200;
    });
    QVERIFY(server->started());
    for (int i = 0; i < 3; ++i)
        QCOMPARE(httpGet(server->port(), "/metrics", "wrong-token-0123456789").status, 401);
    QList<QJsonObject> later;
    QTRY_VERIFY_WITH_TIMEOUT((server->app().audit()->flush(),
                              later = recordsOf(auditRecords(path), u"admin_refused"_s), later.size() >= 2),
                             5000);
    qint64 total = 0;
    for (qsizetype i = 1; i < later.size(); ++i)
        total += countOf(later.at(i), u"unauthorized"_s);
    QCOMPARE(total, 3);
}

void TestSecurity::originAllowList()
{
    TestServer server([](ServerConfig &c) { c.allowedOrigins = {u"https://clinic.example"_s}; });
    QVERIFY(server.started());
    const QByteArray upgrade = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    QCOMPARE(rawHttp(server.port(), upgrade + "Origin: https://evil.example\r\n\r\n").status, 403);
    QCOMPARE(server.app().metrics().rejections(Rejection::OriginForbidden), 1);
    QNetworkRequest good;
    good.setRawHeader("Origin", "https://clinic.example");
    TestClient c;
    QVERIFY(c.open(server.wsUrl(), 5000, good));
    QVERIFY(!c.join(u"r"_s, 1, 1, u"A"_s).isEmpty());
}

QTEST_GUILESS_MAIN(TestSecurity)
#include "tst_security.moc"

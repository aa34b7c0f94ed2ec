// The web root and the development token endpoint over real sockets: what is
// served and with which headers, every kind of odd or hostile path (parent
// segments plain and percent-encoded, absolute, NUL, very long, symlinks out
// of the root, devices, directories, unknown types, large files), the
// admin and health routes never shadowed, and /dev/token only in
// development with a JWT secret.

#include "RawHttp.h"
#include "TestClient.h"
#include "TestServer.h"

#include "web/WebRoutes.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QTemporaryDir>
#include <QTest>

#include <sys/stat.h>

using namespace medrelay::test;
using namespace medrelay::server;
using namespace Qt::StringLiterals;

namespace {

const QByteArray kSecret = "web-test-jwt-secret-0123456789-abcdef";

void write(const QString &path, const QByteArray &content)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(content);
}

HttpResult get(quint16 port, const QByteArray &target, const QByteArray &extraHeaders = {})
{
    return rawHttp(port, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + QByteArray::number(port) + "\r\n"
                             + extraHeaders + "\r\n");
}

QByteArray headerOf(const HttpResult &r, const QByteArray &name)
{
    for (const QByteArray &line : r.headers.split('\n')) {
        const qsizetype colon = line.indexOf(':');
        if (colon > 0 && line.left(colon).trimmed().toLower() == name.toLower())
            return line.mid(colon + 1).trimmed();
    }
    return {};
}

} // namespace

class TestWeb final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void servesTheRootWithHeaders();
    void headAndConditionalGet();
    void hostilePathsAre404_data();
    void hostilePathsAre404();
    void ownRoutesAreNeverShadowed();
    void largeFilesAndMethods();
    void webRootOffServesNothing();
    void bundledDemoPageIsServed();
    void devTokenInDevelopmentWithSecret();
    void devTokenRefusals();
    void devTokenAbsentInProductionOrWithoutSecret();

private:
    QTemporaryDir m_dir;
    QString m_root;
    std::unique_ptr<TestServer> m_server;
};

void TestWeb::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_root = m_dir.filePath(u"root"_s);
    QVERIFY(QDir().mkpath(m_root + u"/img"_s));
    write(m_root + u"/index.html"_s, "<!doctype html><title>demo</title>");
    write(m_root + u"/app.js"_s, "export const x = 1;\n");
    write(m_root + u"/img/logo.svg"_s, "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    write(m_root + u"/secret.key"_s, "-----BEGIN PRIVATE KEY-----");
    write(m_root + u"/.hidden.js"_s, "hidden");
    write(m_root + u"/health"_s, "a file named like a route");
    write(m_root + u"/big.js"_s, QByteArray(5 * 1024 * 1024, 'x'));
    write(m_dir.filePath(u"outside.js"_s), "outside the root");
    QVERIFY(QFile::link(m_dir.filePath(u"outside.js"_s), m_root + u"/escape.js"_s));
    QVERIFY(QFile::link(u"/etc/passwd"_s, m_root + u"/passwd.js"_s));
    QVERIFY(QFile::link(m_root + u"/app.js"_s, m_root + u"/alias.js"_s)); // inside: fine
    QVERIFY(QFile::link(m_dir.path(), m_root + u"/up"_s));                 // a directory out of the root
    QCOMPARE(::mkfifo(QFile::encodeName(m_root + u"/pipe.js"_s).constData(), 0600), 0);
    m_server = std::make_unique<TestServer>([this](ServerConfig &c) { c.webRoot = m_root; });
    QVERIFY2(m_server->started(), qPrintable(m_server->error()));
}

void TestWeb::servesTheRootWithHeaders()
{
    const HttpResult index = get(m_server->port(), "/");
    QCOMPARE(index.status, 200);
    QCOMPARE(index.body, "<!doctype html><title>demo</title>"_ba);
    QCOMPARE(headerOf(index, "Content-Type"), "text/html; charset=utf-8"_ba);
    QCOMPARE(headerOf(index, "Cache-Control"), "no-cache"_ba);
    QVERIFY(headerOf(index, "Content-Security-Policy").contains("default-src 'self'"));
    QVERIFY(headerOf(index, "Content-Security-Policy").contains("frame-ancestors 'none'"));
    QCOMPARE(headerOf(index, "X-Frame-Options"), "DENY"_ba);
    QCOMPARE(headerOf(index, "X-Content-Type-Options"), "nosniff"_ba);
    QVERIFY(!headerOf(index, "ETag").isEmpty());

    const HttpResult js = get(m_server->port(), "/app.js");
    QCOMPARE(js.status, 200);
    QCOMPARE(headerOf(js, "Content-Type"), "text/javascript; charset=utf-8"_ba);
    QCOMPARE(js.body, "export const x = 1;\n"_ba);
    QCOMPARE(get(m_server->port(), "/img/logo.svg").status, 200);
    QCOMPARE(get(m_server->port(), "/alias.js").body, "export const x = 1;\n"_ba); // a symlink inside the root
    QCOMPARE(get(m_server->port(), "/app.js?v=3").status, 200);                    // a query is ignored
}

void TestWeb::headAndConditionalGet()
{
    const HttpResult head = rawHttp(m_server->port(), "HEAD /app.js HTTP/1.1\r\nHost: x\r\n\r\n");
    QCOMPARE(head.status, 200);
    QCOMPARE(headerOf(head, "Content-Length"), "20"_ba);
    QVERIFY(head.body.isEmpty());

    const QByteArray etag = headerOf(get(m_server->port(), "/app.js"), "ETag");
    const HttpResult same = get(m_server->port(), "/app.js", "If-None-Match: " + etag + "\r\n");
    QCOMPARE(same.status, 304);
    QVERIFY(same.body.isEmpty());
    QCOMPARE(get(m_server->port(), "/app.js", "If-None-Match: \"other\"\r\n").status, 200);
}

void TestWeb::hostilePathsAre404_data()
{
    QTest::addColumn<QByteArray>("target");
    QTest::addRow("parent") << "/../outside.js"_ba;
    QTest::addRow("parent encoded") << "/%2e%2e/outside.js"_ba;
    QTest::addRow("parent encoded upper") << "/%2E%2E/%2E%2E/etc/passwd"_ba;
    QTest::addRow("parent in a subdirectory") << "/img/../../outside.js"_ba;
    QTest::addRow("encoded slash") << "/img%2f..%2f..%2foutside.js"_ba;
    QTest::addRow("double encoded") << "/%252e%252e/outside.js"_ba;
    QTest::addRow("absolute") << "//etc/passwd"_ba;
    QTest::addRow("absolute-form target") << "http://evil.example/../outside.js"_ba;
    QTest::addRow("backslash") << "/..%5coutside.js"_ba;
    QTest::addRow("NUL") << "/app.js%00.html"_ba;
    QTest::addRow("NUL alone") << "/%00"_ba;
    QTest::addRow("overlong UTF-8 dot") << "/%c0%ae%c0%ae/outside.js"_ba;
    QTest::addRow("hidden") << "/.hidden.js"_ba;
    QTest::addRow("unknown type") << "/secret.key"_ba;
    QTest::addRow("symlink out of the root") << "/escape.js"_ba;
    QTest::addRow("symlink to /etc/passwd") << "/passwd.js"_ba;
    QTest::addRow("through a symlinked directory") << "/up/outside.js"_ba;
    QTest::addRow("fifo") << "/pipe.js"_ba;
    QTest::addRow("directory") << "/img"_ba;
    QTest::addRow("directory slash") << "/img/"_ba;
    QTest::addRow("missing") << "/nope.js"_ba;
    QTest::addRow("long but allowed by the parser") << "/" + QByteArray(1500, 'a') + ".js";
}

void TestWeb::hostilePathsAre404()
{
    QFETCH(QByteArray, target);
    const HttpResult r = get(m_server->port(), target);
    QVERIFY2(r.status == 404 || r.status == 400, r.headers.constData());
    QVERIFY2(!r.body.contains("outside the root") && !r.body.contains("root:") && !r.body.contains("PRIVATE"),
             r.body.constData());
    // And the server goes on serving.
    QCOMPARE(get(m_server->port(), "/app.js").status, 200);
}

void TestWeb::ownRoutesAreNeverShadowed()
{
    const HttpResult health = get(m_server->port(), "/health");
    QCOMPARE(health.status, 200);
    QCOMPARE(health.json().value("status"_L1).toString(), u"healthy"_s);
    QCOMPARE(get(m_server->port(), "/stats").json().contains("connections"_L1), true);
    QCOMPARE(get(m_server->port(), "/admin/nope").status, 405);
    QCOMPARE(get(m_server->port(), "/ws").status, 426);
    QCOMPARE(get(m_server->port(), "/metrics").status, 200);
    // A very long target is refused by the parser before any route.
    QCOMPARE(get(m_server->port(), "/" + QByteArray(5000, 'a')).status, 414);
}

void TestWeb::largeFilesAndMethods()
{
    const HttpResult big = get(m_server->port(), "/big.js");
    QCOMPARE(big.status, 403);
    QVERIFY(big.body.size() < 1024);
    const HttpResult post = rawHttp(m_server->port(),
                                    "POST /app.js HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
    QCOMPARE(post.status, 405);
    QCOMPARE(headerOf(post, "Allow"), "GET, HEAD"_ba);
}

void TestWeb::webRootOffServesNothing()
{
    TestServer off([](ServerConfig &c) { c.webRoot.clear(); });
    QVERIFY(off.started());
    QCOMPARE(get(off.port(), "/").status, 404);
    QCOMPARE(get(off.port(), "/index.html").status, 404);
    QCOMPARE(get(off.port(), "/health").status, 200);
}

void TestWeb::bundledDemoPageIsServed()
{
    // Development's default: the source tree's resources/web.
    TestServer dev;
    QVERIFY(dev.started());
    QVERIFY2(dev.app().config().webRoot.endsWith(u"resources/web"_s), qPrintable(dev.app().config().webRoot));
    const HttpResult page = get(dev.port(), "/");
    QCOMPARE(page.status, 200);
    QVERIFY(page.body.contains("demo.js"));
    const HttpResult lib = get(dev.port(), "/medrelay-client.js");
    QCOMPARE(lib.status, 200);
    QVERIFY(lib.body.contains("export class MedrelayClient"));
    QCOMPARE(get(dev.port(), "/medrelay-client.d.ts").status, 200);
    // Production has none unless configured.
    QVERIFY(defaultConfig(Mode::Production).webRoot.isEmpty());
    QCOMPARE(web::demoPageUrl(dev.app().config(), 9003), u"http://127.0.0.1:9003/"_s);
    ServerConfig wildcard = defaultConfig(Mode::Production);
    QCOMPARE(web::demoPageUrl(wildcard, 9003), u"http://localhost:9003/"_s);
}

void TestWeb::devTokenInDevelopmentWithSecret()
{
    TestServer dev([](ServerConfig &c) { c.jwtSecret = QString::fromLatin1(kSecret); });
    QVERIFY2(dev.started(), qPrintable(dev.error()));
    const HttpResult r = get(dev.port(), "/dev/token?user=pat-7&role=patient&room=appointment_77&name=Pat+Jones");
    QCOMPARE(r.status, 200);
    QCOMPARE(headerOf(r, "Cache-Control"), "no-store"_ba);
    const QJsonObject body = r.json();
    QCOMPARE(body.value("appointmentId"_L1).toInt(), 77);
    const QString token = body.value("token"_L1).toString();
    QVERIFY(!token.isEmpty());

    // The token is a real one: it opens that room under that identity, and no other room.
    TestClient client;
    QVERIFY(client.open(dev.wsUrl(u"access_token="_s + token)));
    client.send({{u"type"_s, u"telemedicine_user_joined"_s}, {u"roomId"_s, u"appointment_77"_s},
                 {u"appointmentId"_s, 77}});
    const auto state = client.waitFor(u"room_state"_s);
    QVERIFY(state);
    const QJsonObject me = state->value("participants"_L1).toArray().first().toObject();
    QCOMPARE(me.value("userId"_L1).toString(), u"pat-7"_s);
    QCOMPARE(me.value("userName"_L1).toString(), u"Pat Jones"_s);
    QCOMPARE(me.value("role"_L1).toString(), u"patient"_s);
    client.send({{u"type"_s, u"telemedicine_user_joined"_s}, {u"roomId"_s, u"appointment_78"_s},
                 {u"appointmentId"_s, 78}});
    const auto refused = client.waitFor(u"error"_s);
    QVERIFY(refused);
    QCOMPARE(refused->value("code"_L1).toString(), u"forbidden"_s);
}

void TestWeb::devTokenRefusals()
{
    TestServer dev([](ServerConfig &c) { c.jwtSecret = QString::fromLatin1(kSecret); });
    QVERIFY(dev.started());
    QCOMPARE(get(dev.port(), "/dev/token?user=a&role=patient").status, 400);                 // no room
    QCOMPARE(get(dev.port(), "/dev/token?user=a&role=superuser&room=r").status, 400);       // unknown role
    QCOMPARE(get(dev.port(), "/dev/token?user=a%2fb&role=patient&room=r").status, 400);     // odd id
    QCOMPARE(get(dev.port(), "/dev/token?user=a&role=patient&room=" + QByteArray(200, 'r')).status, 400);
    // Another web page cannot mint tokens through the developer's browser.
    QCOMPARE(get(dev.port(), "/dev/token?user=a&role=patient&room=r", "Origin: http://evil.example\r\n").status, 403);
    const QByteArray own = "Origin: http://127.0.0.1:" + QByteArray::number(dev.port()) + "\r\n";
    QCOMPARE(get(dev.port(), "/dev/token?user=a&role=patient&room=r", own).status, 200);
    const HttpResult post = rawHttp(dev.port(), "POST /dev/token HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    QCOMPARE(post.status, 405);
}

void TestWeb::devTokenAbsentInProductionOrWithoutSecret()
{
    TestServer production([](ServerConfig &c) {
        c.mode = Mode::Production;
        c.jwtSecret = QString::fromLatin1(kSecret);
    });
    QVERIFY2(production.started(), qPrintable(production.error()));
    QCOMPARE(get(production.port(), "/dev/token?user=a&role=doctor&room=r").status, 404);
    QVERIFY(!production.app().web().devTokensEnabled());

    TestServer noSecret;
    QVERIFY(noSecret.started());
    QCOMPARE(get(noSecret.port(), "/dev/token?user=a&role=doctor&room=r").status, 404);
}

QTEST_MAIN(TestWeb)
#include "tst_web.moc"

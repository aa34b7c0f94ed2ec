// The nginx example (installer/nginx/medrelay.conf) in front of a real
// medrelay-server: Debian's nginx on loopback with a certificate made for the
// test, TLS on /ws and /health, medrelay started with --trusted-proxies
// 127.0.0.1. A client connects over wss:// through nginx from 127.0.0.2, so
// the address nginx forwards differs from the proxy's own; medrelay must
// record 127.0.0.2 (in /stats and the audit log), never 127.0.0.1.

#include "RawHttp.h"

#include "adminapi/AdminTypes.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace medrelay::test;
using namespace Qt::StringLiterals;

namespace {

constexpr auto kServerName = "relay.clinic.example";
constexpr auto kAdminToken = "nginx-test-admin-token-0123456789";

quint16 freePort()
{
    QTcpServer s;
    s.listen(QHostAddress::LocalHost, 0);
    return s.serverPort();
}

bool run(const QString &program, const QStringList &args, QString *output = nullptr)
{
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(program, args);
    const bool ok = p.waitForFinished(30000) && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
    if (output)
        *output = QString::fromUtf8(p.readAll());
    return ok;
}

// Replaces `from` with `to` and reports how many times it was found, so the
// test notices when the example changes under it.
int replaceAll(QString &text, const QString &from, const QString &to)
{
    const auto n = static_cast<int>(text.count(from));
    text.replace(from, to);
    return n;
}

// One WebSocket client over TLS, bound to a chosen local address, speaking
// RFC 6455 itself (QWebSocket cannot choose its source address).
class BoundWssClient
{
public:
    bool connect(const QHostAddress &local, quint16 port, const QSslCertificate &ca, QString *error)
    {
        QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
        tls.setCaCertificates({ca});
        tls.setPeerVerifyMode(QSslSocket::VerifyPeer);
        m_socket.setSslConfiguration(tls);
        if (!m_socket.bind(local, 0)) {
            *error = u"bind %1: %2"_s.arg(local.toString(), m_socket.errorString());
            return false;
        }
        m_socket.connectToHostEncrypted(u"127.0.0.1"_s, port, QString::fromLatin1(kServerName));
        if (!m_socket.waitForEncrypted(10000)) {
            *error = u"TLS: %1"_s.arg(m_socket.errorString());
            return false;
        }
        QByteArray nonce(16, '\0');
        for (auto &c : nonce)
            c = static_cast<char>(QRandomGenerator::global()->bounded(256));
        const QByteArray key = nonce.toBase64();
        m_socket.write("GET /ws HTTP/1.1\r\nHost: " + QByteArray(kServerName)
                       + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                         "Sec-WebSocket-Key: "
                       + key + "\r\nOrigin: https://" + QByteArray(kServerName) + "\r\n\r\n");
        while (!m_buffer.contains("\r\n\r\n")) {
            if (!m_socket.waitForReadyRead(10000)) {
                *error = u"no handshake answer: %1"_s.arg(m_socket.errorString());
                return false;
            }
            m_buffer += m_socket.readAll();
        }
        const qsizetype end = m_buffer.indexOf("\r\n\r\n") + 4;
        const QByteArray head = m_buffer.left(end);
        m_buffer.remove(0, end);
        const QByteArray accept =
            QCryptographicHash::hash(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", QCryptographicHash::Sha1).toBase64();
        if (!head.startsWith("HTTP/1.1 101") || !head.contains("Sec-WebSocket-Accept: " + accept)) {
            *error = u"handshake refused: %1"_s.arg(QString::fromLatin1(head));
            return false;
        }
        return true;
    }

    void sendText(const QJsonObject &message)
    {
        m_socket.write(clientTextFrame(QJsonDocument(message).toJson(QJsonDocument::Compact)));
        m_socket.flush();
    }

    // The next text message of `type`, skipping others; nullopt on timeout.
    std::optional<QJsonObject> waitFor(const QString &type, int timeoutMs = 10000)
    {
        QElapsedTimer timer;
        timer.start();
        for (;;) {
            while (auto text = takeTextFrame()) {
                const QJsonObject o = QJsonDocument::fromJson(*text).object();
                if (o.value("type"_L1).toString() == type)
                    return o;
            }
            const auto left = timeoutMs - timer.elapsed();
            if (left <= 0 || !m_socket.waitForReadyRead(static_cast<int>(left)))
                return std::nullopt;
            m_buffer += m_socket.readAll();
        }
    }

private:
    // Unmasked server frames; only complete text frames are returned.
    std::optional<QByteArray> takeTextFrame()
    {
        for (;;) {
            if (m_buffer.size() < 2)
                return std::nullopt;
            const auto b0 = static_cast<quint8>(m_buffer.at(0));
            const auto b1 = static_cast<quint8>(m_buffer.at(1));
            qsizetype offset = 2;
            quint64 length = b1 & 0x7f;
            if (length == 126) {
                if (m_buffer.size() < 4)
                    return std::nullopt;
                length = (quint64(quint8(m_buffer.at(2))) << 8) | quint8(m_buffer.at(3));
                offset = 4;
            } else if (length == 127) {
                if (m_buffer.size() < 10)
                    return std::nullopt;
                length = 0;
                for (int i = 2; i < 10; ++i)
                    length = (length << 8) | quint8(m_buffer.at(i));
                offset = 10;
            }
            if (quint64(m_buffer.size() - offset) < length)
                return std::nullopt;
            const QByteArray payload = m_buffer.mid(offset, static_cast<qsizetype>(length));
            m_buffer.remove(0, offset + static_cast<qsizetype>(length));
            if ((b0 & 0x0f) == 0x1)
                return payload;
        }
    }

    QSslSocket m_socket;
    QByteArray m_buffer;
};

} // namespace

class TestNginxProxy final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void healthThroughTheProxy();
    void plainHttpRedirectsToHttps();
    void clientAddressComesFromForwardedFor();

private:
    QString startNginx();

    QTemporaryDir m_dir;
    QSslCertificate m_certificate;
    std::unique_ptr<QProcess> m_server;
    std::unique_ptr<QProcess> m_nginx;
    quint16 m_serverPort = 0;
    quint16 m_tlsPort = 0;
    quint16 m_httpPort = 0;
};

void TestNginxProxy::initTestCase()
{
    QVERIFY(m_dir.isValid());
    const QString nginx = QStandardPaths::findExecutable(u"nginx"_s, {u"/usr/sbin"_s, u"/usr/bin"_s});
    QVERIFY2(!nginx.isEmpty(), "nginx is missing (scripts/install-deps.sh installs nginx-light)");
    const QString openssl = QStandardPaths::findExecutable(u"openssl"_s);
    QVERIFY2(!openssl.isEmpty(), "openssl is missing");

    // A certificate for the example's server name, made for this run.
    const QString cert = m_dir.filePath(u"fullchain.pem"_s);
    const QString key = m_dir.filePath(u"privkey.pem"_s);
    QString out;
    QVERIFY2(run(openssl,
                 {u"req"_s, u"-x509"_s, u"-newkey"_s, u"ec"_s, u"-pkeyopt"_s, u"ec_paramgen_curve:P-256"_s,
                  u"-nodes"_s, u"-days"_s, u"1"_s, u"-subj"_s, u"/CN=%1"_s.arg(QLatin1StringView(kServerName)),
                  u"-addext"_s, u"subjectAltName=DNS:%1"_s.arg(QLatin1StringView(kServerName)), u"-keyout"_s, key,
                  u"-out"_s, cert},
                 &out),
             qPrintable(out));
    const auto certs = QSslCertificate::fromPath(cert);
    QCOMPARE(certs.size(), 1);
    m_certificate = certs.constFirst();

    // medrelay on loopback, believing X-Forwarded-For from the proxy only.
    m_server = std::make_unique<QProcess>();
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const QString &k : env.keys()) {
        if (k.startsWith(u"MEDRELAY_"_s) || k.startsWith(u"WS_"_s) || k == u"NODE_ENV"_s || k == u"DEBUG"_s)
            env.remove(k);
    }
    m_server->setProcessEnvironment(env);
    m_server->start(QString::fromLatin1(MEDRELAY_SERVER_BINARY),
                    {u"--port"_s, u"0"_s, u"--host"_s, u"127.0.0.1"_s, u"--env"_s, u"development"_s,
                     u"--trusted-proxies"_s, u"127.0.0.1"_s, u"--admin-token"_s, QString::fromLatin1(kAdminToken),
                     u"--data-dir"_s, m_dir.filePath(u"data"_s)});
    QVERIFY(m_server->waitForStarted(5000));
    static const QRegularExpression listening(u"listening on .*:(\\d+)"_s);
    QByteArray stdoutText;
    QTRY_VERIFY_WITH_TIMEOUT((stdoutText += m_server->readAllStandardOutput(),
                              listening.match(QString::fromUtf8(stdoutText)).hasMatch()),
                             10000);
    m_serverPort = listening.match(QString::fromUtf8(stdoutText)).captured(1).toUShort();
    QVERIFY(m_serverPort != 0);

    const QString error = startNginx();
    QVERIFY2(error.isEmpty(), qPrintable(error));
}

// The example as shipped, with only the edits its header asks of a clinic
// (certificate paths, listen addresses) plus the upstream's port.
QString TestNginxProxy::startNginx()
{
    QFile example(QStringLiteral(MEDRELAY_SOURCE_DIR "/installer/nginx/medrelay.conf"));
    if (!example.open(QIODevice::ReadOnly))
        return u"cannot read %1"_s.arg(example.fileName());
    QString site = QString::fromUtf8(example.readAll());
    m_tlsPort = freePort();
    m_httpPort = freePort();
    const struct
    {
        QString from;
        QString to;
        int expected;
    } edits[] = {
        {u"server 127.0.0.1:9003;"_s, u"server 127.0.0.1:%1;"_s.arg(m_serverPort), 1},
        {u"listen 443 ssl;"_s, u"listen 127.0.0.1:%1 ssl;"_s.arg(m_tlsPort), 1},
        {u"listen [::]:443 ssl;"_s, {}, 1},
        {u"listen 80;"_s, u"listen 127.0.0.1:%1;"_s.arg(m_httpPort), 1},
        {u"listen [::]:80;"_s, {}, 1},
        {u"/etc/ssl/medrelay/fullchain.pem"_s, m_dir.filePath(u"fullchain.pem"_s), 1},
        {u"/etc/ssl/medrelay/privkey.pem"_s, m_dir.filePath(u"privkey.pem"_s), 1},
    };
    for (const auto &e : edits) {
        const int n = replaceAll(site, e.from, e.to);
        if (n != e.expected)
            return u"the example has %1 x '%2', expected %3"_s.arg(n).arg(e.from).arg(e.expected);
    }
    const QString prefix = m_dir.path() + u'/';
    QFile siteFile(prefix + u"medrelay.conf"_s);
    QFile mainFile(prefix + u"nginx.conf"_s);
    if (!siteFile.open(QIODevice::WriteOnly) || !mainFile.open(QIODevice::WriteOnly))
        return u"cannot write the nginx configuration"_s;
    siteFile.write(site.toUtf8());
    siteFile.close();
    mainFile.write(u"worker_processes 1;\n"
                   "daemon off;\n"
                   "pid %1nginx.pid;\n"
                   "error_log %1error.log info;\n"
                   "events { worker_connections 64; }\n"
                   "http {\n"
                   "    access_log %1access.log;\n"
                   "    client_body_temp_path %1client_body;\n"
                   "    proxy_temp_path %1proxy;\n"
                   "    fastcgi_temp_path %1fastcgi;\n"
                   "    uwsgi_temp_path %1uwsgi;\n"
                   "    scgi_temp_path %1scgi;\n"
                   "    include %1medrelay.conf;\n"
                   "}\n"_s.arg(prefix)
                       .toUtf8());
    mainFile.close();
    // Workers drop to an unprivileged user when nginx starts as root; they
    // must be able to reach the temp paths (the key stays 0600, read by the
    // master before it forks).
    QFile::setPermissions(m_dir.path(), QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner
                                            | QFileDevice::ReadGroup | QFileDevice::ExeGroup
                                            | QFileDevice::ReadOther | QFileDevice::ExeOther);

    const QString nginx = QStandardPaths::findExecutable(u"nginx"_s, {u"/usr/sbin"_s, u"/usr/bin"_s});
    QString out;
    if (!run(nginx, {u"-t"_s, u"-q"_s, u"-p"_s, prefix, u"-c"_s, prefix + u"nginx.conf"_s, u"-e"_s, prefix + u"error.log"_s},
             &out))
        return u"nginx -t: %1"_s.arg(out);
    m_nginx = std::make_unique<QProcess>();
    m_nginx->setProcessChannelMode(QProcess::MergedChannels);
    m_nginx->start(nginx, {u"-p"_s, prefix, u"-c"_s, prefix + u"nginx.conf"_s, u"-e"_s, prefix + u"error.log"_s});
    if (!m_nginx->waitForStarted(5000))
        return u"nginx did not start"_s;
    // Ready when the TLS port accepts.
    QElapsedTimer timer;
    timer.start();
    while (timer.elapsed() < 10000) {
        QTcpSocket probe;
        probe.connectToHost(QHostAddress::LocalHost, m_tlsPort);
        if (probe.waitForConnected(500))
            return {};
        if (m_nginx->state() != QProcess::Running)
            break;
        QTest::qWait(50);
    }
    QFile log(prefix + u"error.log"_s);
    log.open(QIODevice::ReadOnly);
    return u"nginx is not listening on %1: %2 %3"_s.arg(m_tlsPort).arg(QString::fromUtf8(m_nginx->readAll()),
                                                                        QString::fromUtf8(log.readAll()));
}

void TestNginxProxy::cleanupTestCase()
{
    for (auto *p : {m_nginx.get(), m_server.get()}) {
        if (p && p->state() != QProcess::NotRunning) {
            p->terminate();
            if (!p->waitForFinished(10000)) {
                p->kill();
                p->waitForFinished(5000);
            }
        }
    }
}

void TestNginxProxy::healthThroughTheProxy()
{
    QSslSocket socket;
    QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
    tls.setCaCertificates({m_certificate});
    socket.setSslConfiguration(tls);
    socket.connectToHostEncrypted(u"127.0.0.1"_s, m_tlsPort, QString::fromLatin1(kServerName));
    QVERIFY2(socket.waitForEncrypted(10000), qPrintable(socket.errorString()));
    QVERIFY(socket.sslConfiguration().sessionProtocol() >= QSsl::TlsV1_2);
    socket.write("GET /health HTTP/1.1\r\nHost: " + QByteArray(kServerName) + "\r\nConnection: close\r\n\r\n");
    QByteArray answer;
    while (socket.waitForReadyRead(5000))
        answer += socket.readAll();
    answer += socket.readAll();
    QVERIFY2(answer.startsWith("HTTP/1.1 200"), answer.constData());
    const QJsonObject health = QJsonDocument::fromJson(answer.mid(answer.indexOf("\r\n\r\n") + 4)).object();
    QCOMPARE(health.value("status"_L1).toString(), u"healthy"_s);

    // The admin side is not published through the proxy.
    QSslSocket stats;
    stats.setSslConfiguration(tls);
    stats.connectToHostEncrypted(u"127.0.0.1"_s, m_tlsPort, QString::fromLatin1(kServerName));
    QVERIFY(stats.waitForEncrypted(10000));
    stats.write("GET /stats HTTP/1.1\r\nHost: " + QByteArray(kServerName) + "\r\nConnection: close\r\n\r\n");
    QByteArray statsAnswer;
    while (stats.waitForReadyRead(5000))
        statsAnswer += stats.readAll();
    QVERIFY2(statsAnswer.startsWith("HTTP/1.1 404"), statsAnswer.constData());
}

void TestNginxProxy::plainHttpRedirectsToHttps()
{
    const HttpResult r = rawHttp(m_httpPort, "GET /ws HTTP/1.1\r\nHost: " + QByteArray(kServerName)
                                                 + "\r\nConnection: close\r\n\r\n");
    QCOMPARE(r.status, 301);
    QVERIFY2(r.headers.contains("Location: https://" + QByteArray(kServerName) + "/ws"), r.headers.constData());
}

void TestNginxProxy::clientAddressComesFromForwardedFor()
{
    BoundWssClient client;
    QString error;
    QVERIFY2(client.connect(QHostAddress(u"127.0.0.2"_s), m_tlsPort, m_certificate, &error), qPrintable(error));
    client.sendText({{"type"_L1, u"telemedicine_user_joined"_s},
                     {"roomId"_L1, u"proxy-room"_s},
                     {"appointmentId"_L1, 4242},
                     {"userId"_L1, u"u-proxy"_s},
                     {"userName"_L1, u"Proxy Test"_s}});
    const auto state = client.waitFor(u"room_state"_s);
    QVERIFY2(state.has_value(), "no room_state through the proxy");
    const QString connectionId = state->value("connectionId"_L1).toString();
    QVERIFY(!connectionId.isEmpty());

    // /stats, asked on medrelay itself: the participant's address is the
    // client's, as nginx forwarded it, not the proxy's.
    const HttpResult stats = httpGet(m_serverPort, "/stats", kAdminToken);
    QCOMPARE(stats.status, 200);
    const auto parsed = medrelay::adminapi::Stats::fromJson(stats.json());
    QVERIFY(parsed.has_value());
    QString address;
    for (const auto &room : parsed->rooms) {
        for (const auto &p : room.participants) {
            if (p.connectionId == connectionId)
                address = p.address;
        }
    }
    QCOMPARE(address, u"127.0.0.2"_s);

    // The audit log records the connection from the same address.
    const QString auditPath = m_dir.filePath(u"data/audit.jsonl"_s);
    const auto auditAddress = [&]() -> QString {
        QFile f(auditPath);
        if (!f.open(QIODevice::ReadOnly))
            return {};
        while (!f.atEnd()) {
            const QJsonObject e = QJsonDocument::fromJson(f.readLine()).object();
            if (e.value("event"_L1).toString() == u"connect"_s
                && e.value("connectionId"_L1).toString() == connectionId)
                return e.value("address"_L1).toString();
        }
        return {};
    };
    QTRY_COMPARE_WITH_TIMEOUT(auditAddress(), u"127.0.0.2"_s, 10000);
}

QTEST_GUILESS_MAIN(TestNginxProxy)
#include "tst_nginx_proxy.moc"

// TLS on the one port, on both transports: the lean one (OpenSSL on the
// epoll connections, the default) and QWebSocket over QSslSocket
// (--transport qt). https:// and wss:// with a certificate the test makes,
// the same policy on both (TLS 1.2 or later, the same ciphers), handshake
// timeouts, and certificate reload (ServerApp::reloadTls, SIGHUP).

#include "ProcessSignal.h"
#include "RawHttp.h"
#include "ServerProcess.h"
#include "TestClient.h"
#include "TestServer.h"
#include "net/Listener.h"
#include "transport/TlsContext.h"

#include <QFile>
#include <QProcess>
#include <QSignalSpy>
#include <QSslCipher>
#include <QSslSocket>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace medrelay::test;
using namespace medrelay::server;
using namespace Qt::StringLiterals;

namespace {

bool makeCertificate(const QString &cert, const QString &key, const QString &commonName)
{
    QProcess openssl;
    openssl.start(u"openssl"_s, {u"req"_s, u"-x509"_s, u"-newkey"_s, u"rsa:2048"_s, u"-nodes"_s, u"-keyout"_s, key,
                                 u"-out"_s, cert, u"-days"_s, u"1"_s, u"-subj"_s, u"/CN="_s + commonName,
                                 u"-addext"_s, u"subjectAltName=IP:127.0.0.1"_s});
    return openssl.waitForFinished(60000) && openssl.exitCode() == 0;
}

QSslConfiguration trusting(const QStringList &certFiles)
{
    QSslConfiguration conf = QSslConfiguration::defaultConfiguration();
    QList<QSslCertificate> cas;
    for (const QString &f : certFiles)
        cas += QSslCertificate::fromPath(f);
    conf.setCaCertificates(cas);
    return conf;
}

// An encrypted QSslSocket to the server (the event loop runs while it
// waits, since the server may be in this thread), or null.
std::unique_ptr<QSslSocket> encryptedSocket(quint16 port, const QSslConfiguration &conf)
{
    auto s = std::make_unique<QSslSocket>();
    s->setSslConfiguration(conf);
    s->connectToHostEncrypted(u"127.0.0.1"_s, port);
    QElapsedTimer t;
    t.start();
    while (!s->isEncrypted() && s->state() != QAbstractSocket::UnconnectedState && t.elapsed() < 10000)
        QTest::qWait(5);
    return s->isEncrypted() ? std::move(s) : nullptr;
}

QByteArray httpsGet(QSslSocket &s, const QByteArray &path)
{
    s.write("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    QByteArray data;
    QElapsedTimer t;
    t.start();
    // The server closes after its answer.
    while (s.state() == QAbstractSocket::ConnectedState && t.elapsed() < 10000) {
        QTest::qWait(5);
        data += s.readAll();
    }
    return data + s.readAll();
}

// Runs an openssl command line to the end, letting the event loop run (the
// server under test may be in this process). Returns its standard output
// and error.
QString runOpenssl(const QStringList &args, int timeoutMs = 15000)
{
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(u"openssl"_s, args);
    if (!p.waitForStarted())
        return {};
    p.closeWriteChannel();
    QElapsedTimer t;
    t.start();
    while (p.state() != QProcess::NotRunning && t.elapsed() < timeoutMs)
        QTest::qWait(10);
    if (p.state() != QProcess::NotRunning) {
        p.kill();
        p.waitForFinished();
    }
    return QString::fromUtf8(p.readAll());
}

quint16 freePort()
{
    QTcpServer s;
    s.listen(QHostAddress::LocalHost, 0);
    return s.serverPort();
}

} // namespace

class TestTls final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void httpsHealth_data();
    void httpsHealth();
    void wssRelay_data();
    void wssRelay();
    void plainTextIsNotServed_data();
    void plainTextIsNotServed();
    void oldProtocolsRefused_data();
    void oldProtocolsRefused();
    void sameCiphersAsQt();
    void samePolicyOnBothTransports();
    void unfinishedHandshakeTimesOut();
    void reloadReplacesTheCertificate_data();
    void reloadReplacesTheCertificate();
    void sighupReloads();

private:
    void transports();
    TestServer &server(const QString &transport);

    QTemporaryDir m_dir;
    QString m_cert;
    QString m_key;
    std::unique_ptr<TestServer> m_lean;
    std::unique_ptr<TestServer> m_qt;
};

void TestTls::initTestCase()
{
    QVERIFY(QSslSocket::supportsSsl());
    m_cert = m_dir.filePath(u"cert.pem"_s);
    m_key = m_dir.filePath(u"key.pem"_s);
    QVERIFY(makeCertificate(m_cert, m_key, u"127.0.0.1"_s));
    for (const Transport t : {Transport::Epoll, Transport::Qt}) {
        auto s = std::make_unique<TestServer>([this, t](ServerConfig &c) {
            c.transport = t;
            c.tlsCertFile = m_cert;
            c.tlsKeyFile = m_key;
        });
        QVERIFY2(s->started(), qPrintable(s->error()));
        (t == Transport::Epoll ? m_lean : m_qt) = std::move(s);
    }
    QVERIFY(m_lean->app().listener().isLean());
    QVERIFY(!m_qt->app().listener().isLean());
}

void TestTls::transports()
{
    QTest::addColumn<QString>("transport");
    QTest::addRow("lean") << u"epoll"_s;
    QTest::addRow("qt") << u"qt"_s;
}

TestServer &TestTls::server(const QString &transport)
{
    return transport == u"qt"_s ? *m_qt : *m_lean;
}

void TestTls::httpsHealth_data()
{
    transports();
}

void TestTls::httpsHealth()
{
    QFETCH(QString, transport);
    auto s = encryptedSocket(server(transport).port(), trusting({m_cert}));
    QVERIFY(s);
    QVERIFY(s->sessionProtocol() >= QSsl::TlsV1_2);
    const QByteArray data = httpsGet(*s, "/health");
    QVERIFY2(data.startsWith("HTTP/1.1 200"), data.constData());
    QVERIFY(data.contains("\"status\":\"healthy\""));
}

void TestTls::wssRelay_data()
{
    transports();
}

void TestTls::wssRelay()
{
    QFETCH(QString, transport);
    TestClient a, b;
    a.socket().setSslConfiguration(trusting({m_cert}));
    b.socket().setSslConfiguration(trusting({m_cert}));
    const QUrl url(u"wss://127.0.0.1:%1/ws"_s.arg(server(transport).port()));
    QVERIFY(a.open(url, 10000));
    QVERIFY(b.open(url, 10000));
    const QString room = u"secure-"_s + transport;
    a.join(room, 1, 1, u"A"_s);
    b.join(room, 1, 2, u"B"_s);
    a.send({{u"type"_s, u"telemedicine_chat_message"_s}, {u"roomId"_s, room}, {u"appointmentId"_s, 1},
            {u"message"_s, u"over TLS"_s}});
    const auto got = b.waitFor(u"telemedicine_chat_message"_s);
    QVERIFY(got);
    QCOMPARE(got->value("message"_L1).toString(), u"over TLS"_s);
    // Larger than a TLS record (16 KiB) both ways: split into records and
    // frames, and put together again.
    const QString big(60 * 1024, u'w');
    b.send({{u"type"_s, u"whiteboard_update"_s}, {u"roomId"_s, room}, {u"data"_s, big}});
    const auto board = a.waitFor(u"whiteboard_update"_s, 10000);
    QVERIFY(board);
    QCOMPARE(board->value("data"_L1).toString(), big);
}

void TestTls::plainTextIsNotServed_data()
{
    transports();
}

void TestTls::plainTextIsNotServed()
{
    QFETCH(QString, transport);
    QTcpSocket s;
    s.connectToHost(u"127.0.0.1"_s, server(transport).port());
    QVERIFY(s.waitForConnected(5000));
    s.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    // The server closes without an answer: no plain HTTP on a TLS port.
    QTRY_COMPARE_WITH_TIMEOUT(s.state(), QAbstractSocket::UnconnectedState, 10000);
    QVERIFY(!s.readAll().contains("HTTP/1.1"));
    QVERIFY(server(transport).app().admin().isDraining() == false); // and it goes on serving
    auto ok = encryptedSocket(server(transport).port(), trusting({m_cert}));
    QVERIFY(ok);
}

void TestTls::oldProtocolsRefused_data()
{
    QTest::addColumn<QString>("transport");
    QTest::addColumn<QString>("flag");
    QTest::addColumn<QString>("protocol");
    QTest::addColumn<bool>("accepted");
    for (const QString &t : {u"epoll"_s, u"qt"_s}) {
        const QString tag = t == u"qt"_s ? u"qt"_s : u"lean"_s;
        QTest::addRow("%s TLS 1.0", qPrintable(tag)) << t << u"-tls1"_s << u"TLSv1"_s << false;
        QTest::addRow("%s TLS 1.1", qPrintable(tag)) << t << u"-tls1_1"_s << u"TLSv1.1"_s << false;
        QTest::addRow("%s TLS 1.2", qPrintable(tag)) << t << u"-tls1_2"_s << u"TLSv1.2"_s << true;
        QTest::addRow("%s TLS 1.3", qPrintable(tag)) << t << u"-tls1_3"_s << u"TLSv1.3"_s << true;
    }
}

void TestTls::oldProtocolsRefused()
{
    QFETCH(QString, transport);
    QFETCH(QString, flag);
    QFETCH(QString, protocol);
    QFETCH(bool, accepted);
    // SECLEVEL=0 lets this client offer TLS 1.0/1.1 (Debian disables them by
    // default). So that a refusal below is the server's and not the client
    // failing by itself, the same client first completes a handshake with
    // that protocol against a server that allows it (openssl s_server).
    const QStringList client = {u"s_client"_s, flag, u"-CAfile"_s, m_cert, u"-cipher"_s, u"DEFAULT@SECLEVEL=0"_s};
    const quint16 controlPort = freePort();
    QProcess control;
    control.setProcessChannelMode(QProcess::MergedChannels);
    control.start(u"openssl"_s, {u"s_server"_s, u"-accept"_s, u"127.0.0.1:%1"_s.arg(controlPort), u"-cert"_s, m_cert,
                                 u"-key"_s, m_key, flag, u"-cipher"_s, u"DEFAULT@SECLEVEL=0"_s, u"-naccept"_s, u"1"_s,
                                 u"-quiet"_s});
    QVERIFY(control.waitForStarted());
    QTRY_VERIFY_WITH_TIMEOUT(QTcpSocket().bind(QHostAddress::LocalHost, controlPort) == false, 10000); // listening
    const QString withControl =
        runOpenssl(client + QStringList{u"-connect"_s, u"127.0.0.1:%1"_s.arg(controlPort)});
    control.kill();
    control.waitForFinished();
    if (!withControl.contains(u"Protocol  : "_s + protocol) && !withControl.contains(u", "_s + protocol + u", "_s))
        QSKIP(qPrintable(u"this machine's OpenSSL client cannot speak %1 at all, so a refusal proves nothing"_s
                             .arg(protocol)));

    const QString out = runOpenssl(client + QStringList{u"-connect"_s, u"127.0.0.1:%1"_s.arg(server(transport).port())});
    const bool handshake = out.contains(u"Verify return code: 0 (ok)"_s) && !out.contains(u"Cipher is (NONE)"_s);
    QCOMPARE(handshake, accepted);
    if (!accepted) {
        // The refusal came from the server: its protocol_version alert.
        QVERIFY2(out.contains(u"alert protocol version"_s), qPrintable(out));
    }
}

void TestTls::sameCiphersAsQt()
{
    // The lean transport offers exactly the cipher list Qt's TLS backend
    // (and so the QWebSocket transport) uses by default.
    const auto context = m_lean->app().listener().tlsContext();
    QVERIFY(context);
    QStringList qt;
    for (const QSslCipher &c : QSslConfiguration::defaultConfiguration().ciphers())
        qt.append(c.name());
    QCOMPARE(context->cipherNames(), qt);
}

void TestTls::samePolicyOnBothTransports()
{
    // A TLS 1.2 client and a TLS 1.3 client get the same protocol and cipher
    // from both transports.
    for (const QSsl::SslProtocol protocol : {QSsl::TlsV1_2, QSsl::TlsV1_3}) {
        QSslConfiguration conf = trusting({m_cert});
        conf.setProtocol(protocol);
        auto lean = encryptedSocket(m_lean->port(), conf);
        auto qt = encryptedSocket(m_qt->port(), conf);
        QVERIFY(lean && qt);
        QCOMPARE(lean->sessionProtocol(), protocol);
        QCOMPARE(qt->sessionProtocol(), protocol);
        QCOMPARE(lean->sessionCipher().name(), qt->sessionCipher().name());
    }
}

void TestTls::unfinishedHandshakeTimesOut()
{
    TestServer s([this](ServerConfig &c) {
        c.tlsCertFile = m_cert;
        c.tlsKeyFile = m_key;
        c.requestTimeoutMs = 300;
    });
    QVERIFY2(s.started(), qPrintable(s.error()));
    QVERIFY(s.app().listener().isLean());
    // Half a ClientHello's record header, then nothing.
    QTcpSocket idle;
    idle.connectToHost(u"127.0.0.1"_s, s.port());
    QVERIFY(idle.waitForConnected(5000));
    idle.write("\x16\x03\x01", 3);
    QTRY_COMPARE_WITH_TIMEOUT(idle.state(), QAbstractSocket::UnconnectedState, 10000);
    QCOMPARE(s.app().metrics().rejections(Rejection::RequestTimeout), 1);
    QCOMPARE(s.app().listener().pendingPool().size(), 0);
}

void TestTls::reloadReplacesTheCertificate_data()
{
    transports();
}

void TestTls::reloadReplacesTheCertificate()
{
    QFETCH(QString, transport);
    QTemporaryDir dir;
    const QString cert = dir.filePath(u"cert.pem"_s);
    const QString key = dir.filePath(u"key.pem"_s);
    const QString cert2 = dir.filePath(u"cert2.pem"_s);
    const QString key2 = dir.filePath(u"key2.pem"_s);
    QVERIFY(makeCertificate(cert, key, u"first"_s));
    QVERIFY(makeCertificate(cert2, key2, u"second"_s));
    TestServer s([&](ServerConfig &c) {
        c.transport = transport == u"qt"_s ? Transport::Qt : Transport::Epoll;
        c.tlsCertFile = cert;
        c.tlsKeyFile = key;
    });
    QVERIFY2(s.started(), qPrintable(s.error()));
    const QSslConfiguration conf = trusting({cert, cert2});
    TestClient before;
    before.socket().setSslConfiguration(conf);
    QVERIFY(before.open(s.wsUrl(), 10000));
    QVERIFY(!before.join(u"r"_s, 1, 1, u"Before"_s).isEmpty());

    // New files in place of the old, then a reload.
    QVERIFY(QFile::remove(cert) && QFile::copy(cert2, cert));
    QVERIFY(QFile::remove(key) && QFile::copy(key2, key));
    QCOMPARE(s.app().reloadTls(), QString());
    auto fresh = encryptedSocket(s.port(), conf);
    QVERIFY(fresh);
    QCOMPARE(fresh->peerCertificate().subjectInfo(QSslCertificate::CommonName), QStringList{u"second"_s});

    // A broken file is refused and the certificate in use stays.
    QFile broken(key);
    QVERIFY(broken.open(QIODevice::WriteOnly | QIODevice::Truncate));
    broken.write("not a key\n");
    broken.close();
    QVERIFY(!s.app().reloadTls().isEmpty());
    auto still = encryptedSocket(s.port(), conf);
    QVERIFY(still);
    QCOMPARE(still->peerCertificate().subjectInfo(QSslCertificate::CommonName), QStringList{u"second"_s});

    // The connection opened before the reload goes on.
    TestClient after;
    after.socket().setSslConfiguration(conf);
    QVERIFY(after.open(s.wsUrl(), 10000));
    after.join(u"r"_s, 1, 2, u"After"_s);
    QVERIFY(before.waitFor(u"telemedicine_user_joined"_s));
}

void TestTls::sighupReloads()
{
    QTemporaryDir dir;
    const QString cert = dir.filePath(u"cert.pem"_s);
    const QString key = dir.filePath(u"key.pem"_s);
    const QString cert2 = dir.filePath(u"cert2.pem"_s);
    const QString key2 = dir.filePath(u"key2.pem"_s);
    QVERIFY(makeCertificate(cert, key, u"first"_s));
    QVERIFY(makeCertificate(cert2, key2, u"second"_s));
    ServerProcess server({u"--tls-cert"_s, cert, u"--tls-key"_s, key});
    QVERIFY2(server.started(), server.standardError().constData());
    const QSslConfiguration conf = trusting({cert, cert2});
    auto first = encryptedSocket(server.port(), conf);
    QVERIFY(first);
    QCOMPARE(first->peerCertificate().subjectInfo(QSslCertificate::CommonName), QStringList{u"first"_s});

    QVERIFY(QFile::remove(cert) && QFile::copy(cert2, cert));
    QVERIFY(QFile::remove(key) && QFile::copy(key2, key));
    medrelay::test::signalPid(server.pid(), SIGHUP);
    // The reload happens on the server's event loop; connect until it shows.
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
            auto s = encryptedSocket(server.port(), conf);
            return s && s->peerCertificate().subjectInfo(QSslCertificate::CommonName) == QStringList{u"second"_s};
        }(),
        10000);
    QVERIFY(server.isRunning());
}

QTEST_GUILESS_MAIN(TestTls)
#include "tst_tls.moc"

// TLS on the one port: https:// and wss:// with a certificate the test makes,
// TLS 1.2 or later only.

#include "RawHttp.h"
#include "TestClient.h"
#include "TestServer.h"

#include <QProcess>
#include <QSignalSpy>
#include <QSslSocket>
#include <QTemporaryDir>
#include <QTest>

using namespace medrelay::test;
using namespace Qt::StringLiterals;

class TestTls final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void httpsHealth();
    void wssRelay();
    void plainTextIsNotServed();
    void oldProtocolsRefused_data();
    void oldProtocolsRefused();

private:
    QSslConfiguration trusting() const;
    QTemporaryDir m_dir;
    QString m_cert;
    QString m_key;
    std::unique_ptr<TestServer> m_server;
};

void TestTls::initTestCase()
{
    QVERIFY(QSslSocket::supportsSsl());
    m_cert = m_dir.filePath(u"cert.pem"_s);
    m_key = m_dir.filePath(u"key.pem"_s);
    QProcess openssl;
    openssl.start(u"openssl"_s, {u"req"_s, u"-x509"_s, u"-newkey"_s, u"rsa:2048"_s, u"-nodes"_s, u"-keyout"_s, m_key,
                                 u"-out"_s, m_cert, u"-days"_s, u"1"_s, u"-subj"_s, u"/CN=127.0.0.1"_s,
                                 u"-addext"_s, u"subjectAltName=IP:127.0.0.1"_s});
    QVERIFY(openssl.waitForFinished(60000));
    QCOMPARE(openssl.exitCode(), 0);
    m_server = std::make_unique<TestServer>([this](medrelay::server::ServerConfig &c) {
        c.tlsCertFile = m_cert;
        c.tlsKeyFile = m_key;
    });
    QVERIFY2(m_server->started(), qPrintable(m_server->error()));
}

QSslConfiguration TestTls::trusting() const
{
    QSslConfiguration conf = QSslConfiguration::defaultConfiguration();
    conf.setCaCertificates(QSslCertificate::fromPath(m_cert));
    return conf;
}

void TestTls::httpsHealth()
{
    QSslSocket s;
    s.setSslConfiguration(trusting());
    QSignalSpy encrypted(&s, &QSslSocket::encrypted);
    s.connectToHostEncrypted(u"127.0.0.1"_s, m_server->port());
    // The server runs in this thread: wait with the event loop running.
    QVERIFY2(encrypted.wait(10000), qPrintable(s.errorString()));
    QVERIFY(s.sessionProtocol() >= QSsl::TlsV1_2);
    s.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    QByteArray data;
    QElapsedTimer t;
    t.start();
    while (!data.contains("\"status\"") && t.elapsed() < 5000) {
        QTest::qWait(10);
        data += s.readAll();
    }
    QVERIFY(data.startsWith("HTTP/1.1 200"));
    QVERIFY(data.contains("\"status\":\"healthy\""));
}

void TestTls::wssRelay()
{
    TestClient a, b;
    a.socket().setSslConfiguration(trusting());
    b.socket().setSslConfiguration(trusting());
    const QUrl url(u"wss://127.0.0.1:%1/ws"_s.arg(m_server->port()));
    QVERIFY(a.open(url, 10000));
    QVERIFY(b.open(url, 10000));
    a.join(u"secure"_s, 1, 1, u"A"_s);
    b.join(u"secure"_s, 1, 2, u"B"_s);
    a.send({{u"type"_s, u"telemedicine_chat_message"_s}, {u"roomId"_s, u"secure"_s}, {u"appointmentId"_s, 1},
            {u"message"_s, u"over TLS"_s}});
    const auto got = b.waitFor(u"telemedicine_chat_message"_s);
    QVERIFY(got);
    QCOMPARE(got->value("message"_L1).toString(), u"over TLS"_s);
}

void TestTls::plainTextIsNotServed()
{
    const auto r = rawHttp(m_server->port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 2000);
    QCOMPARE(r.status, 0);
}

void TestTls::oldProtocolsRefused_data()
{
    QTest::addColumn<QString>("flag");
    QTest::addColumn<bool>("accepted");
    QTest::addRow("TLS 1.0") << u"-tls1"_s << false;
    QTest::addRow("TLS 1.1") << u"-tls1_1"_s << false;
    QTest::addRow("TLS 1.2") << u"-tls1_2"_s << true;
    QTest::addRow("TLS 1.3") << u"-tls1_3"_s << true;
}

void TestTls::oldProtocolsRefused()
{
    QFETCH(QString, flag);
    QFETCH(bool, accepted);
    QProcess client;
    // SECLEVEL=0 lets this client offer TLS 1.0/1.1 (Debian disables them
    // client-side by default), so a refusal here is the server's.
    client.start(u"openssl"_s, {u"s_client"_s, u"-connect"_s, u"127.0.0.1:%1"_s.arg(m_server->port()), flag,
                                u"-CAfile"_s, m_cert, u"-cipher"_s, u"DEFAULT@SECLEVEL=0"_s});
    QVERIFY(client.waitForStarted());
    client.closeWriteChannel();
    // The server answers the handshake only while the test's event loop runs.
    QElapsedTimer t;
    t.start();
    while (client.state() != QProcess::NotRunning && t.elapsed() < 10000)
        QTest::qWait(20);
    QCOMPARE(client.state(), QProcess::NotRunning);
    const QString out = QString::fromUtf8(client.readAllStandardOutput());
    const bool handshake = out.contains(u"Verify return code: 0 (ok)"_s) && !out.contains(u"Cipher is (NONE)"_s);
    QCOMPARE(handshake, accepted);
}

QTEST_GUILESS_MAIN(TestTls)
#include "tst_tls.moc"

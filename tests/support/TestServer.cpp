#include "TestServer.h"

#include <QProcess>
#include <QSslCertificate>
#include <QTemporaryDir>

#include <memory>

namespace medrelay::test {

using namespace Qt::StringLiterals;

namespace {

// Made once per test process, removed when it ends.
const QTemporaryDir &certificateDir()
{
    static const std::unique_ptr<QTemporaryDir> dir = [] {
        auto made = std::make_unique<QTemporaryDir>();
        const QTemporaryDir &d = *made;
        QProcess openssl;
        // An EC key: quick to make, quick to handshake.
        openssl.start(u"openssl"_s, {u"req"_s, u"-x509"_s, u"-newkey"_s, u"ec"_s, u"-pkeyopt"_s,
                                     u"ec_paramgen_curve:prime256v1"_s, u"-nodes"_s, u"-keyout"_s,
                                     d.filePath(u"key.pem"_s), u"-out"_s, d.filePath(u"cert.pem"_s), u"-days"_s,
                                     u"2"_s, u"-subj"_s, u"/CN=127.0.0.1"_s, u"-addext"_s,
                                     u"subjectAltName=IP:127.0.0.1"_s});
        if (!openssl.waitForFinished(60000) || openssl.exitCode() != 0)
            qFatal("openssl could not make the test certificate: %s", openssl.readAllStandardError().constData());
        return made;
    }();
    return *dir;
}

} // namespace

bool testTls()
{
    return qEnvironmentVariableIntValue("MEDRELAY_TEST_TLS") != 0;
}

QString testCertificateFile()
{
    return certificateDir().filePath(u"cert.pem"_s);
}

QString testKeyFile()
{
    return certificateDir().filePath(u"key.pem"_s);
}

QSslConfiguration trustingTestCertificate()
{
    QSslConfiguration conf = QSslConfiguration::defaultConfiguration();
    conf.setCaCertificates(QSslCertificate::fromPath(testCertificateFile()));
    return conf;
}

server::ServerConfig testConfig()
{
    server::ServerConfig c = server::defaultConfig(server::Mode::Development);
    c.host = u"127.0.0.1"_s;
    c.port = 0;
    c.dataDir.clear();
    // The suite runs once per transport (see tests/integration/CMakeLists.txt).
    if (qEnvironmentVariable("MEDRELAY_TEST_TRANSPORT") == u"qt"_s)
        c.transport = server::Transport::Qt;
    c.ioThreads = qEnvironmentVariableIntValue("MEDRELAY_TEST_IO_THREADS");
    if (testTls()) {
        c.tlsCertFile = testCertificateFile();
        c.tlsKeyFile = testKeyFile();
    }
    return c;
}

TestServer::TestServer(const std::function<void(server::ServerConfig &)> &tweak)
{
    server::ServerConfig c = testConfig();
    if (tweak)
        tweak(c);
    m_app = std::make_unique<server::ServerApp>(c);
    m_error = m_app->start();
}

TestServer::~TestServer() = default;

QUrl TestServer::wsUrl(const QString &query) const
{
    const bool tls = m_app->config().tlsEnabled();
    QUrl url(u"%1://127.0.0.1:%2/ws"_s.arg(tls ? u"wss"_s : u"ws"_s).arg(port()));
    if (!query.isEmpty())
        url.setQuery(query);
    return url;
}

} // namespace medrelay::test

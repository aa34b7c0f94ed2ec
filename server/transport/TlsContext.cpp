#include "transport/TlsContext.h"

#include <QFile>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

using namespace Qt::StringLiterals;

namespace medrelay::transport {

namespace {

QString lastSslError()
{
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0)
        return u"unknown error"_s;
    char text[256];
    ERR_error_string_n(e, text, sizeof(text));
    return QString::fromLatin1(text);
}

QString readable(const QString &file, const char *option)
{
    QFile f(file);
    if (!f.open(QIODevice::ReadOnly))
        return u"%1: cannot read %2"_s.arg(QLatin1StringView(option), file);
    return {};
}

} // namespace

TlsContext::TlsContext(SSL_CTX *ctx)
    : m_ctx(ctx)
{
}

TlsContext::~TlsContext()
{
    SSL_CTX_free(m_ctx); // open connections keep their own reference
}

std::shared_ptr<TlsContext> TlsContext::load(const QString &certFile, const QString &keyFile, QString *error)
{
    auto fail = [error](const QString &text) {
        if (error != nullptr)
            *error = text;
        return std::shared_ptr<TlsContext>();
    };
    if (QString e = readable(certFile, "--tls-cert"); !e.isEmpty())
        return fail(e);
    if (QString e = readable(keyFile, "--tls-key"); !e.isEmpty())
        return fail(e);
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr)
        return fail(u"TLS: cannot create a context: %1"_s.arg(lastSslError()));
    std::shared_ptr<TlsContext> context(new TlsContext(ctx));

    const QByteArray cert = QFile::encodeName(certFile);
    const QByteArray key = QFile::encodeName(keyFile);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert.constData()) != 1)
        return fail(u"--tls-cert: no usable PEM certificate chain in %1 (%2)"_s.arg(certFile, lastSslError()));
    if (SSL_CTX_use_PrivateKey_file(ctx, key.constData(), SSL_FILETYPE_PEM) != 1)
        return fail(u"--tls-key: no usable PEM private key in %1 (%2)"_s.arg(keyFile, lastSslError()));
    if (SSL_CTX_check_private_key(ctx) != 1)
        return fail(u"--tls-key: the key in %1 does not match the certificate in %2"_s.arg(keyFile, certFile));

    // TLS 1.2 or later, as QSsl::TlsV1_2OrLater. Ciphers and groups stay
    // OpenSSL's defaults (and the system's openssl.cnf), as Qt's do.
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // DHE suites are in the default list; let OpenSSL pick matching groups.
    SSL_CTX_set_dh_auto(ctx, 1);
    // The options Qt sets for a server by default.
    SSL_CTX_set_options(ctx, SSL_OP_ALL | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION
                                 | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE
                              | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);

    if (X509 *leaf = SSL_CTX_get0_certificate(ctx)) {
        char subject[256] = {};
        X509_NAME_oneline(X509_get_subject_name(leaf), subject, sizeof(subject));
        context->m_subject = QString::fromUtf8(subject);
    }
    return context;
}

SSL *TlsContext::newSession(int fd) const
{
    SSL *ssl = SSL_new(m_ctx);
    if (ssl == nullptr)
        return nullptr;
    if (SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        return nullptr;
    }
    SSL_set_accept_state(ssl);
    return ssl;
}

QStringList TlsContext::cipherNames() const
{
    QStringList names;
    SSL *probe = SSL_new(m_ctx);
    if (probe == nullptr)
        return names;
    const STACK_OF(SSL_CIPHER) *ciphers = SSL_get_ciphers(probe);
    for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i)
        names.append(QString::fromLatin1(SSL_CIPHER_get_name(sk_SSL_CIPHER_value(ciphers, i))));
    SSL_free(probe);
    return names;
}

} // namespace medrelay::transport

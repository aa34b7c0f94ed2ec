#pragma once
// The server's TLS configuration for the lean transport: one OpenSSL SSL_CTX
// (certificate chain, private key, policy) shared by every connection of
// every thread. The policy is the one the QWebSocket transport gets from Qt:
// TLS 1.2 or later, OpenSSL's default cipher list and groups (which is what
// QSslConfiguration::defaultConfiguration() uses), no client certificates.
// Idle connections stay small: record buffers are released whenever they
// are empty (SSL_MODE_RELEASE_BUFFERS), there is no server-side session
// cache (resumption uses tickets, which cost the server no memory), and
// client-initiated renegotiation is refused.
//
// Reloading a certificate means making a new TlsContext: each connection's
// SSL object holds a reference to the SSL_CTX it was made from, so open
// connections keep the old one and new ones get the new one.

#include <QString>
#include <QStringList>

#include <memory>

using SSL = struct ssl_st;
using SSL_CTX = struct ssl_ctx_st;

namespace medrelay::transport {

class TlsContext final
{
public:
    // Loads a PEM certificate chain and an unencrypted PEM private key.
    // Returns nullptr and sets `error` to one line naming the problem.
    static std::shared_ptr<TlsContext> load(const QString &certFile, const QString &keyFile, QString *error);
    ~TlsContext();
    Q_DISABLE_COPY_MOVE(TlsContext)

    // A server-side session for an accepted socket, or nullptr (out of
    // memory). The caller owns it (SSL_free) and does the handshake.
    [[nodiscard]] SSL *newSession(int fd) const;

    // The TLS 1.2 cipher suites and TLS 1.3 cipher suites on offer, in
    // OpenSSL's order and naming (for tests and logs).
    [[nodiscard]] QStringList cipherNames() const;
    // The certificate's subject, for logs.
    [[nodiscard]] QString subject() const { return m_subject; }

private:
    explicit TlsContext(SSL_CTX *ctx);

    SSL_CTX *m_ctx = nullptr;
    QString m_subject;
};

} // namespace medrelay::transport

#include "ice/TurnCredentials.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace medrelay::server::ice {

TurnCredentials::TurnCredentials(QByteArray secret, qint64 lifetimeSeconds)
    : m_secret(std::move(secret))
    , m_lifetimeSeconds(lifetimeSeconds)
{}

TurnCredential TurnCredentials::issue(const QString &userId, qint64 nowSeconds) const
{
    TurnCredential c;
    c.expiresAtSeconds = nowSeconds + m_lifetimeSeconds;
    c.username = QString::number(c.expiresAtSeconds) + u':' + userId;
    c.password = QString::fromLatin1(password(m_secret, c.username.toUtf8()));
    return c;
}

QByteArray TurnCredentials::password(const QByteArray &secret, const QByteArray &username)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    // An empty key is valid HMAC; OpenSSL wants a non-null pointer for it.
    static const char empty = 0;
    const unsigned char *mac = HMAC(EVP_sha1(), secret.isEmpty() ? &empty : secret.constData(),
                                    static_cast<int>(secret.size()),
                                    reinterpret_cast<const unsigned char *>(username.constData()),
                                    static_cast<size_t>(username.size()), digest, &length);
    if (!mac)
        return {};
    return QByteArray(reinterpret_cast<const char *>(digest), static_cast<qsizetype>(length)).toBase64();
}

} // namespace medrelay::server::ice

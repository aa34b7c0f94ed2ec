#pragma once
// Short-lived TURN credentials in the form a TURN server with a shared secret
// accepts (coturn's use-auth-secret, the "TURN REST API" scheme): the user
// name is "<expiry>:<userId>" with the expiry in seconds since the epoch, and
// the password is base64(HMAC-SHA1(secret, user name)). The TURN server
// recomputes the password from the name, so nothing is stored here or there,
// and a credential stops working by itself once its expiry has passed.

#include <QByteArray>
#include <QString>

namespace medrelay::server::ice {

struct TurnCredential
{
    QString username;
    QString password;          // never logged
    qint64 expiresAtSeconds = 0;
};

class TurnCredentials final
{
public:
    // `lifetimeSeconds` is how long each credential is valid from its issue.
    TurnCredentials(QByteArray secret, qint64 lifetimeSeconds);

    [[nodiscard]] TurnCredential issue(const QString &userId, qint64 nowSeconds) const;
    [[nodiscard]] qint64 lifetimeSeconds() const { return m_lifetimeSeconds; }

    // base64(HMAC-SHA1(secret, username)), computed with OpenSSL.
    [[nodiscard]] static QByteArray password(const QByteArray &secret, const QByteArray &username);

private:
    QByteArray m_secret;
    qint64 m_lifetimeSeconds = 3600;
};

} // namespace medrelay::server::ice

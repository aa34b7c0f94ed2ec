#include "cluster/RedisUrl.h"

#include <QHostAddress>
#include <QUrl>

namespace medrelay::cluster {

using namespace Qt::StringLiterals;

std::variant<RedisUrl, QString> RedisUrl::parse(const QString &text)
{
    const QString trimmed = text.trimmed();
    if (trimmed.size() > 2048)
        return u"is too long"_s;
    const QUrl url(trimmed, QUrl::StrictMode);
    if (!url.isValid())
        return u"is not a URL of the form redis://[:password@]host:port/db"_s;
    if (url.scheme() == "rediss"_L1)
        return u"uses rediss:// (TLS), which this build's Redis client (hiredis 0.14) cannot speak; reach Redis "
               "over a private network or through stunnel and give redis://"_s;
    if (url.scheme() != "redis"_L1)
        return u"must start with redis://"_s;
    RedisUrl out;
    out.host = url.host(QUrl::FullyDecoded);
    if (out.host.isEmpty())
        return u"names no host"_s;
    const int port = url.port(6379);
    if (port <= 0 || port > 65535)
        return u"has an invalid port"_s;
    out.port = static_cast<quint16>(port);
    const QString path = url.path(QUrl::FullyDecoded);
    if (!path.isEmpty() && path != "/"_L1) {
        bool ok = false;
        const int db = path.mid(1).toInt(&ok);
        if (!ok || db < 0 || db > 1023 || path.mid(1) != QString::number(db))
            return u"has an invalid database number (the path must be /0 to /1023)"_s;
        out.db = db;
    }
    if (url.hasQuery() || url.hasFragment())
        return u"takes no query or fragment"_s;
    out.user = url.userName(QUrl::FullyDecoded);
    out.password = url.password(QUrl::FullyDecoded);
    if (!out.user.isEmpty() && out.password.isEmpty())
        return u"names a user without a password"_s;
    return out;
}

QString RedisUrl::redacted() const
{
    const bool v6 = QHostAddress(host).protocol() == QAbstractSocket::IPv6Protocol;
    const QString h = v6 ? u"["_s + host + u"]"_s : host;
    QString auth;
    if (!password.isEmpty())
        auth = (user.isEmpty() ? QString() : user) + u":***@"_s;
    return u"redis://%1%2:%3/%4"_s.arg(auth, h).arg(port).arg(db);
}

} // namespace medrelay::cluster

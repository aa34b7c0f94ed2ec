#include "Tokens.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>

#include <jwt.h>

#include <cstdlib>

namespace medrelay::test {

using namespace Qt::StringLiterals;

QByteArray makeHs256Token(const QByteArray &secret, const QJsonObject &claims)
{
    jwt_t *jwt = nullptr;
    if (jwt_new(&jwt) != 0)
        return {};
    QByteArray out;
    const QByteArray json = QJsonDocument(claims).toJson(QJsonDocument::Compact);
    if (jwt_add_grants_json(jwt, json.constData()) == 0
        && jwt_set_alg(jwt, JWT_ALG_HS256, reinterpret_cast<const unsigned char *>(secret.constData()),
                       static_cast<int>(secret.size()))
               == 0) {
        if (char *encoded = jwt_encode_str(jwt)) {
            out = encoded;
            std::free(encoded);
        }
    }
    jwt_free(jwt);
    return out;
}

QJsonObject claimsFor(const QString &sub, const QString &name, const QString &role, const QStringList &rooms,
                      qint64 seconds)
{
    const qint64 now = QDateTime::currentSecsSinceEpoch();
    return {{u"sub"_s, sub},
            {u"name"_s, name},
            {u"role"_s, role},
            {u"rooms"_s, QJsonArray::fromStringList(rooms)},
            {u"iat"_s, static_cast<double>(now)},
            {u"exp"_s, static_cast<double>(now + seconds)}};
}

} // namespace medrelay::test

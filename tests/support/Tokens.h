#pragma once
// Signs test JWTs with libjwt, the same library the server verifies with.

#include <QByteArray>
#include <QJsonObject>

namespace medrelay::test {

// HS256 token with the given claims (exp/iat not added unless present).
QByteArray makeHs256Token(const QByteArray &secret, const QJsonObject &claims);
// Claims for a patient or clinician token valid for `seconds` from now.
QJsonObject claimsFor(const QString &sub, const QString &name, const QString &role, const QStringList &rooms,
                      qint64 seconds = 3600);

} // namespace medrelay::test

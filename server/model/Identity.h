#pragma once
// Who a connection is. Set once per connection: from a verified token when
// authentication is on, otherwise from the first join (the original
// protocol's behaviour). Never changed by later client messages.

#include <QList>
#include <QString>
#include <QStringList>
#include <QDateTime>

namespace medrelay::server {

struct Identity
{
    QString userId;
    QString userName;
    QString role;         // clinician, patient, observer, admin; free text when unverified
    bool verified = false; // came from a checked token
    QStringList grantedRooms;
    QList<qint64> grantedAppointments;
    QDateTime expiresAt;  // token expiry; invalid when unverified

    [[nodiscard]] bool isSet() const { return !userId.isEmpty(); }
};

} // namespace medrelay::server

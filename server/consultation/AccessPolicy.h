#pragma once
// Who may enter which room, which appointment a room belongs to, and who is
// a host. One rule a clinic can reason about:
// - an explicit room grant (the token's `rooms` claim) lets a user into that
//   room id;
// - an appointment grant (`appointments`) lets a user into exactly one room:
//   the id the server derives from the appointment by a pattern (default
//   `appointment_{id}`), never a room id of the user's choosing;
// - a room whose id matches the pattern belongs to the appointment in its
//   id, whoever joins first; any other room belongs to the appointment its
//   first join names.
// Without authentication (development, --insecure-no-auth) every room is open
// and identities are claimed.

#include "model/Identity.h"

#include <QString>
#include <QStringList>

#include <optional>

namespace medrelay::server {

struct AccessRules
{
    bool authEnabled = false;
    QString appointmentRoomPattern = QStringLiteral("appointment_{id}");
    QStringList hostRoles{QStringLiteral("doctor"), QStringLiteral("nurse"), QStringLiteral("clinician"),
                          QStringLiteral("admin")};
};

class AccessPolicy final
{
public:
    explicit AccessPolicy(AccessRules rules = {});

    // Whether a pattern is usable: exactly one {id}, and only room id
    // characters around it.
    [[nodiscard]] static bool isValidPattern(const QString &pattern);

    // The appointment a room id names through the pattern, if it matches.
    [[nodiscard]] std::optional<qint64> appointmentOf(const QString &roomId) const;
    // The room id an appointment grant opens.
    [[nodiscard]] QString roomFor(qint64 appointmentId) const;
    // Whether the identity may be in the room (always, without authentication).
    [[nodiscard]] bool mayEnter(const Identity &identity, const QString &roomId) const;
    [[nodiscard]] bool isHost(const Identity &identity) const;
    [[nodiscard]] bool authEnabled() const { return m_rules.authEnabled; }

private:
    AccessRules m_rules;
    QString m_prefix;
    QString m_suffix;
};

} // namespace medrelay::server

#include "consultation/AccessPolicy.h"

#include "protocol/Messages.h"

namespace medrelay::server {

using namespace Qt::StringLiterals;

namespace {
constexpr QLatin1StringView kPlaceholder("{id}");
}

AccessPolicy::AccessPolicy(AccessRules rules)
    : m_rules(std::move(rules))
{
    if (!isValidPattern(m_rules.appointmentRoomPattern))
        m_rules.appointmentRoomPattern = u"appointment_{id}"_s;
    const qsizetype at = m_rules.appointmentRoomPattern.indexOf(kPlaceholder);
    m_prefix = m_rules.appointmentRoomPattern.left(at);
    m_suffix = m_rules.appointmentRoomPattern.mid(at + kPlaceholder.size());
}

bool AccessPolicy::isValidPattern(const QString &pattern)
{
    const qsizetype at = pattern.indexOf(kPlaceholder);
    if (at < 0 || pattern.indexOf(kPlaceholder, at + 1) >= 0)
        return false;
    const QString rest = pattern.left(at) + pattern.mid(at + kPlaceholder.size());
    return rest.isEmpty() || (rest.size() < 100 && protocol::isValidId(rest));
}

std::optional<qint64> AccessPolicy::appointmentOf(const QString &roomId) const
{
    if (roomId.size() <= m_prefix.size() + m_suffix.size() || !roomId.startsWith(m_prefix)
        || !roomId.endsWith(m_suffix))
        return std::nullopt;
    const QStringView digits = QStringView(roomId).sliced(m_prefix.size(), roomId.size() - m_prefix.size()
                                                                                 - m_suffix.size());
    // Canonical decimal only: appointment_007 is not appointment 7's room.
    if (digits.size() > 15 || (digits.size() > 1 && digits.front() == u'0'))
        return std::nullopt;
    for (const QChar c : digits) {
        if (c < u'0' || c > u'9')
            return std::nullopt;
    }
    return digits.toLongLong();
}

QString AccessPolicy::roomFor(qint64 appointmentId) const
{
    return m_prefix + QString::number(appointmentId) + m_suffix;
}

bool AccessPolicy::mayEnter(const Identity &identity, const QString &roomId) const
{
    if (!m_rules.authEnabled || !identity.verified)
        return !m_rules.authEnabled;
    if (identity.grantedRooms.contains(roomId))
        return true;
    const auto appointment = appointmentOf(roomId);
    return appointment && identity.grantedAppointments.contains(*appointment);
}

bool AccessPolicy::isHost(const Identity &identity) const
{
    return !identity.role.isEmpty() && m_rules.hostRoles.contains(identity.role, Qt::CaseInsensitive);
}

} // namespace medrelay::server

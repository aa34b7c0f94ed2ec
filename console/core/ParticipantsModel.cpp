#include "core/ParticipantsModel.h"

#include "core/Format.h"

#include <algorithm>

namespace medrelay::console {

using namespace Qt::StringLiterals;

ParticipantsModel::ParticipantsModel(QObject *parent)
    : KeyedTableModel<adminapi::ParticipantInfo>(parent)
{
}

ParticipantsModel::ParticipantsModel(Kind kind, QObject *parent)
    : KeyedTableModel<adminapi::ParticipantInfo>(parent), m_kind(kind)
{
}

namespace {

QString stateText(const QString &state)
{
    if (state == "active"_L1)
        return ParticipantsModel::tr("in the room");
    if (state == "joining"_L1)
        return ParticipantsModel::tr("joining");
    if (state == "away"_L1)
        return ParticipantsModel::tr("away (may resume)");
    if (state == "waiting"_L1)
        return ParticipantsModel::tr("waiting");
    return state.isEmpty() ? u"-"_s : state;
}

} // namespace

void ParticipantsModel::setRoom(const QString &roomId, const QList<adminapi::ParticipantInfo> &participants)
{
    const QList<adminapi::ParticipantInfo> shown = roomId.isEmpty() ? QList<adminapi::ParticipantInfo>{}
                                                                    : participants;
    if (roomId != m_roomId) {
        // Another room's people are not "the same rows, changed": start afresh.
        m_roomId = roomId;
        replaceAll(shown);
        return;
    }
    sync(shown);
}

int ParticipantsModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ParticipantsModel::data(const QModelIndex &index, int role) const
{
    const adminapi::ParticipantInfo *p = itemAt(index.row());
    if (!p || index.column() < 0 || index.column() >= ColumnCount)
        return {};
    const int column = index.column();
    const auto orDash = [](const QString &s) { return s.isEmpty() ? u"-"_s : s; };
    switch (role) {
    case Qt::DisplayRole:
        switch (column) {
        case UserIdColumn: return orDash(p->userId);
        case UserNameColumn: return orDash(p->userName);
        case RoleColumn: return orDash(p->role);
        case HostColumn: return p->host ? tr("host") : QString();
        case StateColumn: return stateText(p->state);
        case JoinedColumn: return format::time(p->joinedAt);
        case LastActivityColumn: return format::time(p->lastActivity);
        case AddressColumn: return orDash(p->address);
        case ConnectionColumn: return p->connectionId;
        case InstanceColumn: return orDash(p->instance);
        }
        break;
    case SortRole:
        switch (column) {
        case UserIdColumn: {
            bool numeric = false;
            const qint64 n = p->userId.toLongLong(&numeric);
            return numeric ? QVariant(n) : QVariant(p->userId);
        }
        case UserNameColumn: return p->userName;
        case RoleColumn: return p->role;
        case HostColumn: return p->host;
        case StateColumn: return p->state;
        case JoinedColumn: return p->joinedAt;
        case LastActivityColumn: return p->lastActivity;
        case AddressColumn: return p->address;
        case ConnectionColumn: return p->connectionId;
        case InstanceColumn: return p->instance;
        }
        break;
    case Qt::ToolTipRole: {
        const QString text = tr("User %1 (%2)\nConnection %3 from %4\nJoined %5")
                                 .arg(orDash(p->userId), orDash(p->userName), p->connectionId, orDash(p->address),
                                      p->joinedAt.isValid() ? p->joinedAt.toLocalTime().toString(Qt::ISODate)
                                                            : u"-"_s);
        return p->instance.isEmpty() ? text : text + u'\n' + tr("On instance %1").arg(p->instance);
    }
    case ConnectionIdRole:
        return p->connectionId;
    case UserIdRole:
        return p->userId;
    default:
        break;
    }
    return {};
}

QVariant ParticipantsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case UserIdColumn: return tr("User");
    case UserNameColumn: return tr("Name");
    case RoleColumn: return tr("Role");
    case HostColumn: return tr("Host");
    case StateColumn: return tr("State");
    case JoinedColumn: return m_kind == Kind::WaitingGuests ? tr("Waiting since") : tr("Joined");
    case LastActivityColumn: return tr("Last activity");
    case AddressColumn: return tr("Address");
    case ConnectionColumn: return tr("Connection");
    case InstanceColumn: return tr("Instance");
    }
    return {};
}

bool ParticipantsModel::hasInstances() const
{
    return std::any_of(items().cbegin(), items().cend(), [](const auto &p) { return !p.instance.isEmpty(); });
}

} // namespace medrelay::console
